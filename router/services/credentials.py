"""API keys and OAuth2 clients: issuing, listing, rotating, revoking, and authenticating.

Secrets are random and long, so a SHA-256 digest is a sound way to store them: it can be looked up
directly, and a database leak does not reveal a usable key. A key shows its public prefix
(``escr_ab12cd34``) wherever it must be named again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from router.db import Executor, connection_of, utcnow
from router.domain.errors import (
    CredentialNotFound,
    MalformedRequest,
    NotAuthenticated,
    RuleViolation,
)
from router.models import ApiKey, OAuthClient, OAuthToken, Organisation
from router.precompiled import Precompiled
from router.services.caller import Caller, Scope, parse_scopes
from router.services.concurrency import serialised
from router.services.organisations import PARTNER_KINDS

KEY_PREFIX = "escr_"


def digest(secret: str) -> str:
    """SHA-256 hex digest of a secret, as stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def default_scopes(organisation: Organisation) -> tuple[str, ...]:
    """The scopes a credential gets when none are named: partners may only verify."""
    return Scope.PARTNER if organisation.kind in PARTNER_KINDS else Scope.INSTITUTION


def _scope_string(scopes: Iterable[str] | None, default: Iterable[str]) -> str:
    chosen = tuple(default) if scopes is None else tuple(scopes)
    return " ".join(parse_scopes(" ".join(chosen)))


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued API key: the stored record and the secret, shown only this once."""

    record: ApiKey
    secret: str


def create_api_key(
    session: Session,
    organisation: Organisation,
    *,
    name: str = "",
    scopes: Iterable[str] | None = None,
    expires_at: dt.datetime | None = None,
) -> IssuedKey:
    """Issue an API key for ``organisation``; its kind's default scopes unless told otherwise."""
    public_id = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
    record = ApiKey(
        organisation=organisation,
        name=name,
        prefix=f"{KEY_PREFIX}{public_id}",
        key_digest=digest(secret),
        scopes=_scope_string(scopes, default_scopes(organisation)),
        expires_at=expires_at,
    )
    session.add(record)
    session.commit()
    return IssuedKey(record=record, secret=secret)


def list_api_keys(session: Session, organisation: Organisation) -> list[ApiKey]:
    """The organisation's keys, newest first, revoked ones included (they show as revoked)."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.organisation_id == organisation.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def _find_key(session: Session, organisation: Organisation | None, prefix: str) -> ApiKey:
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if organisation is not None:
        query = query.where(ApiKey.organisation_id == organisation.id)
    key = session.scalar(query)
    if key is None:
        raise CredentialNotFound(f"No API key {prefix!r}.")
    return key


@serialised
def revoke_api_key(session: Session, organisation: Organisation | None, prefix: str) -> ApiKey:
    """Revoke a key by prefix (within ``organisation`` when given); twice is harmless."""
    key = _find_key(session, organisation, prefix)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()
    return key


@serialised
def rotate_api_key(session: Session, organisation: Organisation | None, prefix: str) -> IssuedKey:
    """Replace a key with a new one of the same name and scopes, and revoke the old one."""
    old = _find_key(session, organisation, prefix)
    if old.revoked_at is not None:
        raise CredentialNotFound(f"API key {prefix!r} is revoked; issue a new one instead.")
    old.revoked_at = utcnow()
    return create_api_key(
        session,
        old.organisation,
        name=old.name,
        scopes=old.scopes.split(),
        expires_at=old.expires_at,
    )


# --- the organisation's own keys, managed by one of its credentials (scope keys:manage) ---------
#
# A credential manages only keys no more powerful than itself: it issues keys with a subset of its
# scopes, and rotates or revokes only keys whose scopes it holds, so that no key (or OAuth2 token)
# ever yields a key with more scopes than it has.


def list_own_keys(session: Session, caller: Caller) -> list[ApiKey]:
    """The caller's organisation's keys (scope ``keys:manage``)."""
    caller.require(Scope.KEYS_MANAGE)
    return list_api_keys(session, caller.organisation)


def issue_own_key(
    session: Session,
    caller: Caller,
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.datetime | None = None,
) -> IssuedKey:
    """Issue a key for the caller's organisation with at most the caller's scopes."""
    caller.require(Scope.KEYS_MANAGE)
    wanted = tuple(dict.fromkeys(scopes))
    if not wanted:
        raise MalformedRequest("scopes: name at least one scope for the new key.")
    try:
        parse_scopes(" ".join(wanted))
    except ValueError as error:
        raise MalformedRequest(f"scopes: {error}.") from error
    caller.require_all(wanted, "The new key")
    if expires_at is not None and expires_at <= utcnow():
        raise RuleViolation(f"expiresAt ({expires_at.isoformat()}) is not in the future.")
    return create_api_key(
        session, caller.organisation, name=name, scopes=wanted, expires_at=expires_at
    )


def _manageable_key(session: Session, caller: Caller, prefix: str) -> ApiKey:
    caller.require(Scope.KEYS_MANAGE)
    key = _find_key(session, caller.organisation, prefix)
    caller.require_all(key.scopes.split(), f"The key {prefix}")
    return key


def rotate_own_key(session: Session, caller: Caller, prefix: str) -> IssuedKey:
    """Rotate a key of the caller's organisation whose scopes the caller holds."""
    _manageable_key(session, caller, prefix)
    return rotate_api_key(session, caller.organisation, prefix)


def revoke_own_key(session: Session, caller: Caller, prefix: str) -> ApiKey:
    """Revoke a key of the caller's organisation whose scopes the caller holds."""
    _manageable_key(session, caller, prefix)
    return revoke_api_key(session, caller.organisation, prefix)


@dataclass(frozen=True)
class IssuedClient:
    """A freshly registered OAuth2 client and its secret, shown only this once."""

    record: OAuthClient
    secret: str


def create_oauth_client(
    session: Session,
    organisation: Organisation,
    *,
    name: str = "",
    scopes: Iterable[str] | None = None,
) -> IssuedClient:
    """Register a client-credentials OAuth2 client for ``organisation``."""
    secret = secrets.token_urlsafe(32)
    record = OAuthClient(
        client_id=f"escr-client-{secrets.token_hex(8)}",
        secret_digest=digest(secret),
        organisation=organisation,
        name=name,
        scopes=_scope_string(scopes, default_scopes(organisation)),
    )
    session.add(record)
    session.commit()
    return IssuedClient(record=record, secret=secret)


def list_oauth_clients(session: Session, organisation: Organisation) -> list[OAuthClient]:
    """An organisation's OAuth2 clients, oldest first."""
    return list(
        session.scalars(
            select(OAuthClient)
            .where(OAuthClient.organisation_id == organisation.id)
            .order_by(OAuthClient.id)
        )
    )


def revoke_oauth_client(session: Session, client_id: str) -> OAuthClient:
    """Revoke a client and every token it holds."""
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise CredentialNotFound(f"No OAuth2 client {client_id!r}.")
    client.revoked_at = client.revoked_at or utcnow()
    for token in session.scalars(select(OAuthToken).where(OAuthToken.client_pk == client.id)):
        token.revoked = True
    session.commit()
    return client


# A credential and its organisation's PIC in one Core statement: no ORM object is built; the
# organisation itself is loaded only when a service needs it (Caller.organisation).
KEY_READ = (
    select(
        ApiKey.id,
        ApiKey.prefix,
        ApiKey.scopes,
        ApiKey.revoked_at,
        ApiKey.expires_at,
        ApiKey.last_used_at,
        ApiKey.organisation_id,
        Organisation.identifier,
    )
    .join(Organisation, Organisation.id == ApiKey.organisation_id)
    .where(ApiKey.key_digest == bindparam("digest"))
)
_TOKEN = (
    select(
        OAuthToken.revoked,
        OAuthToken.expires_at,
        OAuthToken.scope,
        OAuthClient.client_id,
        OAuthClient.revoked_at,
        OAuthClient.organisation_id,
        Organisation.identifier,
    )
    .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
    .join(Organisation, Organisation.id == OAuthClient.organisation_id)
    .where(OAuthToken.token_digest == bindparam("digest"))
)
# Run on the connection's DBAPI cursor (router.precompiled): every request with a key reads it.
_KEY_RUN = Precompiled(KEY_READ)
_TOKEN_RUN = Precompiled(_TOKEN)
# A plain UPDATE of the table, not a versioned one: concurrent uses of a key never conflict.
_KEY_USED = (
    update(ApiKey.__table__)
    .where(ApiKey.__table__.c.id == bindparam("key_id"))
    .values(last_used_at=bindparam("now"))
)


def organisation_loader(session: Session) -> Callable[[int], Organisation]:
    """Load a caller's organisation by id in ``session`` (401 if it was removed meanwhile)."""

    def load(organisation_id: int) -> Organisation:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotAuthenticated("The organisation of this credential no longer exists.")
        return organisation

    return load


def authenticate(
    executor: Executor,
    credential: str | None,
    load_organisation: Callable[[int], Organisation] | None = None,
) -> Caller:
    """Resolve a presented API key or OAuth2 access token to its caller, or raise 401.

    One statement (two for an access token, which is not an API key); no cache, so a revoked
    key is refused on its next use. ``load_organisation`` loads the caller's organisation by id
    when a service needs it (by default in ``executor``, which must then be a session).
    """
    if load_organisation is None:
        if not isinstance(executor, Session):
            raise TypeError("authenticate on a Core connection needs load_organisation")
        load_organisation = organisation_loader(executor)
    if not credential:
        raise NotAuthenticated(
            "Send an API key or access token as 'Authorization: Bearer <key>' "
            "or in the 'api_key' header."
        )
    key_digest = digest(credential)
    key = _KEY_RUN.first(connection_of(executor), {"digest": key_digest})
    if key is not None:
        return caller_of_key(executor, key, load_organisation)
    return caller_of_token(executor, key_digest, load_organisation)


def caller_of_key(
    executor: Executor, key: Sequence[Any], load_organisation: Callable[[int], Organisation]
) -> Caller:
    """The caller of an API key as :data:`KEY_READ` reads it, or 401 if revoked or expired.

    Its use is recorded in ``executor``, at most once a minute.
    """
    key_id, prefix, scopes, revoked_at, expires_at, last_used_at, organisation_id, pic = key
    now = utcnow()
    if revoked_at is not None:
        raise NotAuthenticated("This API key has been revoked.")
    if expires_at is not None and expires_at <= now:
        raise NotAuthenticated("This API key has expired.")
    # Recording use on every request would turn each read into a write; a minute is enough.
    if last_used_at is None or now - last_used_at > dt.timedelta(minutes=1):
        executor.execute(_KEY_USED, {"key_id": key_id, "now": now})
        executor.commit()
    return Caller(organisation_id, pic, prefix, frozenset(scopes.split()), load_organisation)


def caller_of_token(
    executor: Executor, token_digest: str, load_organisation: Callable[[int], Organisation]
) -> Caller:
    """The caller of the access token with this digest (no API key's), or 401."""
    token = _TOKEN_RUN.first(connection_of(executor), {"digest": token_digest})
    if token is None:
        raise NotAuthenticated("Unknown API key or access token.")
    revoked, expires_at, scope, client_id, client_revoked_at, organisation_id, pic = token
    if revoked or client_revoked_at is not None:
        raise NotAuthenticated("This access token has been revoked.")
    if expires_at <= utcnow():
        raise NotAuthenticated("This access token has expired; ask /oauth/token for another.")
    return Caller(organisation_id, pic, client_id, frozenset(scope.split()), load_organisation)
