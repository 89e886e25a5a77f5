"""Per-request state shared by the REST and GraphQL adapters: the session and the caller."""

from __future__ import annotations

from flask import current_app, g, request
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from router.db import Database, Executor
from router.domain.errors import NotAuthenticated
from router.domain.escn import parse_escn
from router.federation.membership import Membership
from router.models import Organisation
from router.services.caller import Caller
from router.services.credentials import (
    authenticate,
    caller_of_key,
    caller_of_token,
    digest,
    organisation_loader,
)
from router.services.lookups import CardRead, key_and_card
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
    """The request's session, opened on first use and closed when the request ends.

    On the QR-scan path, whose lookup connection is already open, the session runs on that
    connection: one connection per request, whatever the services ask for.
    """
    session = g.get("db_session")
    if session is None:
        connection = g.get("db_connection")
        if connection is not None:
            session = database().session_on(connection)
        else:
            database().unpin()  # one connection per thread: the kept one back to the pool first
            session = database().sessions()
        g.db_session = session
    return session


def lookup_connection() -> Executor:
    """The request's Core connection, outside any transaction: for the QR-scan path only.

    Call it first in a view whose writes are each one statement (a verification record, a key's
    last use): every statement then commits alone and a lookup is one round trip to the
    database, without an ORM session's begin, rollback and close around it. A view that writes
    several rows together uses :func:`db_session`. Should a session have come first, that
    session is the request's executor (its commits must stay its own): not a second connection.
    """
    connection = g.get("db_connection")
    if connection is None:
        session = g.get("db_session")
        if session is not None:
            return session
        connection = g.db_connection = database().pinned_lookup_connection()
    return connection


def close_session(_exc: BaseException | None = None) -> None:
    """End the request's session and connection; what no service committed is rolled back."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
    connection: Connection | None = g.pop("db_connection", None)
    if connection is not None:
        # Kept by the thread for its next request; an open transaction is rolled back (none on
        # PostgreSQL's autocommit connection; on SQLite, only after an uncommitted write).
        database().release_pinned(connection)


def presented_credential() -> str | None:
    """The credential of the request: ``Authorization: Bearer …`` or the ``api_key`` header."""
    # Read from the WSGI environment, where werkzeug's headers read them too: ``api_key`` and
    # ``Api-Key`` are both HTTP_API_KEY there.
    environ = request.environ
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = environ.get("HTTP_API_KEY")
    return api_key.strip() if api_key else None


def _request_organisation(organisation_id: int) -> Organisation:
    """The caller's organisation in the request's session (loaded when a service needs it)."""
    return organisation_loader(db_session())(organisation_id)


def current_caller() -> Caller:
    """The authenticated caller of this request, or :class:`NotAuthenticated` (401).

    The credential is read with one statement, on the lookup connection when the request has
    one, else in the request's session.
    """
    caller = g.get("caller")
    if caller is None:
        executor: Executor | None = _lookup_connection_alone()
        if executor is None:
            executor = db_session()
        caller = _remember(authenticate(executor, presented_credential(), _request_organisation))
    return caller


def _lookup_connection_alone() -> Connection | None:
    """The request's lookup connection, unless it has none or a session runs on it."""
    if "db_session" in g:
        return None
    return g.get("db_connection")


def _remember(caller: Caller) -> Caller:
    """Make ``caller`` the request's caller."""
    g.caller = caller
    # Kept apart for the request log, which must not touch the session after a failure.
    g.caller_pic = caller.organisation_identifier
    return caller


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


def optional_caller_and_card(escn: str) -> tuple[Caller | None, CardRead | None]:
    """The caller as :func:`optional_caller` finds it, and the card ``escn`` read with its key.

    On the QR-scan path an API key and the card are read in one statement (one round trip, not
    two). The card is not read here (None) without a credential, for an access token or for a
    key that is refused: the service then reads it as the caller found may see it.
    """
    credential = presented_credential()
    connection = _lookup_connection_alone()
    if credential is None or connection is None or "caller" in g:
        return optional_caller(), None
    key_digest = digest(credential)
    found = key_and_card(connection, key_digest, parse_escn(escn).value)
    try:
        if found is None:
            return _remember(caller_of_token(connection, key_digest, _request_organisation)), None
        key, read = found
        return _remember(caller_of_key(connection, key, _request_organisation)), read
    except NotAuthenticated:
        return None, None
