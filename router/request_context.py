"""Per-request state shared by the REST and GraphQL adapters: the session and the caller."""

from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy.orm import Session

from router.db import Database
from router.domain.errors import NotAuthenticated
from router.federation.membership import Membership
from router.services.caller import Caller
from router.services.credentials import authenticate
from router.settings import Settings


def database() -> Database:
    """The application's database."""
    return current_app.extensions["escr.database"]


def settings() -> Settings:
    """The application's settings."""
    return current_app.extensions["escr.settings"]


def federation() -> Membership:
    """The router's membership of its federation (disabled when standalone)."""
    return current_app.extensions["escr.federation"]


def db_session() -> Session:
    """The request's session, opened on first use and closed when the request ends."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return g.db_session


def lookup_session() -> Session:
    """The request's session, opened outside any transaction: for the QR-scan path only.

    Call it first in a view whose writes are each one statement (a verification record, a key's
    last use): every statement then commits alone and a lookup is one round trip to the
    database. A view that writes several rows together uses :func:`db_session`.
    """
    if "db_session" not in g:
        g.db_session = database().lookup_sessions()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """End the request's session; anything not committed by a service is rolled back."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def presented_credential() -> str | None:
    """The credential of the request: ``Authorization: Bearer …`` or the ``api_key`` header."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = request.headers.get("api_key") or request.headers.get("Api-Key")
    return api_key.strip() if api_key else None


def current_caller() -> Caller:
    """The authenticated caller of this request, or :class:`NotAuthenticated` (401)."""
    if "caller" not in g:
        g.caller = authenticate(db_session(), presented_credential())
        # Kept apart for the request log, which must not touch the session after a failure.
        g.caller_pic = g.caller.organisation.identifier
    return g.caller


def optional_caller() -> Caller | None:
    """The caller if the request carries a valid credential, else None (public endpoints).

    A public endpoint must answer anyone, so a bad credential there is ignored, not refused.
    """
    if presented_credential() is None:
        return None
    try:
        return current_caller()
    except NotAuthenticated:
        return None
