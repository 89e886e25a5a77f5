"""The key directory: institutions register, rotate and revoke their public keys; anyone reads them.

An institution keeps its private keys in its own tools (``escr-sgc keys create``); the router only
ever receives the public half, refuses any JWK with private members, and serves each
institution's keys as a JWKS without authentication. Revoked keys stay listed, as revoked and
since when, so that old messages can still be judged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.errors import MalformedRequest, OrganisationNotFound
from router.federation.errors import (
    InstitutionKeyNotFound,
    InvalidPublicKey,
    KeyAlreadyRegistered,
    KeyAlreadyRevoked,
    PrivateKeyMaterial,
    RevokedSigningKey,
    UnknownSigningKey,
)
from router.federation.records import InstitutionKey
from router.models import Organisation
from router.services.caller import Caller, Scope
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError, Refusal

# A rotated key may stay valid this long beside its successor, so messages in flight still verify.
MAX_ROTATION_GRACE = dt.timedelta(days=7)
REASON_LENGTH = 255


def key_manager(caller: Caller) -> Organisation:
    """The caller's organisation, if its credential may manage keys (scope ``keys:manage``)."""
    caller.require(Scope.KEYS_MANAGE)
    return caller.organisation


def public_key_of(record: InstitutionKey) -> jose.PublicKey:
    """The validated public key of a stored record."""
    return jose.public_key_from_jwk(json.loads(record.jwk))


def _validated(jwk: Any) -> jose.PublicKey:
    try:
        return jose.public_key_from_jwk(jwk)
    except ProtocolError as error:
        if error.refusal is Refusal.PRIVATE_KEY:
            raise PrivateKeyMaterial(error.message) from error
        raise InvalidPublicKey(error.message) from error


def _new_record(
    session: Session, organisation: Organisation, key: jose.PublicKey, now: dt.datetime
) -> InstitutionKey:
    taken = session.scalar(
        select(InstitutionKey).where(
            (InstitutionKey.thumbprint == key.thumbprint)
            | (
                (InstitutionKey.organisation_id == organisation.id)
                & (InstitutionKey.kid == key.kid)
            )
        )
    )
    if taken is not None:
        raise KeyAlreadyRegistered(
            f"Key {key.kid} is registered already (a kid names one key, and a key is registered "
            "once); rotate to a new key instead."
        )
    record = InstitutionKey(
        organisation_id=organisation.id,
        kid=key.kid,
        use=key.use,
        alg=key.alg,
        jwk=json.dumps(key.jwk, sort_keys=True),
        thumbprint=key.thumbprint,
        created_at=now,
    )
    session.add(record)
    return record


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise KeyAlreadyRegistered("This key was registered at the same moment.") from error


def register_key(session: Session, organisation: Organisation, jwk: Any) -> InstitutionKey:
    """Register a public signing or encryption key (a JWK) for ``organisation``."""
    record = _new_record(session, organisation, _validated(jwk), utcnow())
    _commit(session)
    return record


def list_keys(session: Session, organisation: Organisation) -> list[InstitutionKey]:
    """An organisation's keys, oldest first, revoked ones included."""
    return list(
        session.scalars(
            select(InstitutionKey)
            .where(InstitutionKey.organisation_id == organisation.id)
            .order_by(InstitutionKey.created_at, InstitutionKey.id)
        )
    )


def get_key(session: Session, organisation: Organisation, kid: str) -> InstitutionKey:
    """One of the organisation's keys by kid."""
    record = session.scalar(
        select(InstitutionKey).where(
            InstitutionKey.organisation_id == organisation.id, InstitutionKey.kid == kid
        )
    )
    if record is None:
        raise InstitutionKeyNotFound(f"Your organisation has no key {kid!r}.")
    return record


def _reason(reason: str | None) -> str | None:
    cleaned = (reason or "").strip()[:REASON_LENGTH]
    return cleaned or None


def revoke_key(
    session: Session, organisation: Organisation, kid: str, reason: str | None = None
) -> InstitutionKey:
    """Revoke a key now (also one whose rotation grace is still running); twice is harmless."""
    record = get_key(session, organisation, kid)
    now = utcnow()
    if record.active_at(now):
        record.revoked_at = now
        record.revocation_reason = _reason(reason)
    session.commit()
    return record


def rotate_key(
    session: Session,
    organisation: Organisation,
    kid: str,
    jwk: Any,
    grace: dt.timedelta = dt.timedelta(0),
) -> InstitutionKey:
    """Register ``jwk`` in place of key ``kid``, valid for ``grace`` more (at most 7 days)."""
    if not dt.timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        # A bad number, not a bad key: ER-0400, as REST's schema refuses it.
        raise MalformedRequest("The grace period is between 0 and 7 days.")
    old = get_key(session, organisation, kid)
    now = utcnow()
    if not old.active_at(now) or old.revoked_at is not None:
        raise KeyAlreadyRevoked(f"Key {kid} is revoked already; register a new key instead.")
    new_key = _validated(jwk)
    if new_key.use != old.use:
        raise InvalidPublicKey(f"Key {kid} is a {old.use} key; its successor must be one too.")
    record = _new_record(session, organisation, new_key, now)
    old.revoked_at = now + grace
    old.revocation_reason = f"rotated to {new_key.kid}"
    old.replaced_by = new_key.kid
    _commit(session)
    return record


def _jwk_entry(record: InstitutionKey, *, revoked: bool) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(record.jwk)
    if revoked:
        entry["revoked_at"] = record.revoked_at.isoformat() if record.revoked_at else None
        if record.revocation_reason:
            entry["revocation_reason"] = record.revocation_reason
    elif record.revoked_at is not None:
        # A rotated key: valid until its grace period ends.
        entry["valid_until"] = record.revoked_at.isoformat()
    return entry


def jwks(session: Session, pic: str) -> dict[str, Any]:
    """The public JWKS of institution ``pic``: active keys in ``keys``, revoked in ``revoked``.

    Revoked keys are kept apart so that a generic JWKS reader never trusts one, yet anyone can
    see which keys were revoked and since when.
    """
    organisation = session.scalar(select(Organisation).where(Organisation.identifier == pic))
    if organisation is None:
        raise OrganisationNotFound(f"No organisation {pic!r} is registered here.")
    now = utcnow()
    records = list_keys(session, organisation)
    return {
        "keys": [_jwk_entry(r, revoked=False) for r in records if r.active_at(now)],
        "revoked": [_jwk_entry(r, revoked=True) for r in records if not r.active_at(now)],
    }


def find_key(session: Session, organisation_id: int, kid: str, use: str) -> InstitutionKey | None:
    """An organisation's key of one use by kid, revoked or not."""
    return session.scalar(
        select(InstitutionKey).where(
            InstitutionKey.organisation_id == organisation_id,
            InstitutionKey.kid == kid,
            InstitutionKey.use == use,
        )
    )


def signing_key(
    session: Session, organisation: Organisation, kid: str, at: dt.datetime
) -> tuple[InstitutionKey, jose.PublicKey]:
    """The signing key ``kid`` of ``organisation``, refused when unknown or revoked at ``at``."""
    record = find_key(session, organisation.id, kid, "sig")
    if record is None:
        raise UnknownSigningKey(f"{organisation.identifier} has no registered signing key {kid!r}.")
    if not record.active_at(at):
        raise RevokedSigningKey(
            f"Signing key {kid!r} of {organisation.identifier} was revoked at "
            f"{record.revoked_at.isoformat() if record.revoked_at else '?'}."
        )
    return record, public_key_of(record)


def is_active_encryption_key(
    session: Session, organisation_id: int, kid: str, at: dt.datetime
) -> bool:
    """Whether ``kid`` is an encryption key of the organisation, active at ``at``."""
    record = find_key(session, organisation_id, kid, "enc")
    return record is not None and record.active_at(at)


def key_view(record: InstitutionKey) -> Mapping[str, Any]:
    """A key as its owner lists it (REST and GraphQL alike)."""
    return {
        "kid": record.kid,
        "use": record.use,
        "alg": record.alg,
        "jwk": json.loads(record.jwk),
        "thumbprint": record.thumbprint,
        "createdAt": record.created_at,
        "revokedAt": record.revoked_at,
        "revocationReason": record.revocation_reason,
        "replacedBy": record.replaced_by,
    }
