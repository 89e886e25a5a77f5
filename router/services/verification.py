"""Partner verification: what a scanned card tells a partner, the log of lookups, its purge.

Minimal disclosure: a partner learns whether the card is valid, why not, the issuer's name, PIC and
country and the expiry; the holder's display name only with the ``verify:holder`` scope (or for the
issuer's own cards). Never an email address or an ESI. Every partner verification is recorded
without personal data, and the records are purged after the retention period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from router import metrics
from router.db import Executor, connection_of, engine_of, utcnow
from router.domain.errors import CardNotFound, MalformedRequest
from router.domain.escn import Escn, parse_escn
from router.domain.lifecycle import CardState
from router.domain.verification import VerdictReason, parse_scan, verdict_reason
from router.models import VerificationRecord
from router.precompiled import Precompiled
from router.services.caller import Caller, Scope
from router.services.group_commit import group_writer
from router.services.lookups import CardFacts, card_facts, organisation_id
from router.services.pagination import Page, PageRequest, paginate


@dataclass(frozen=True)
class IssuerInfo:
    """The public facts of a card's issuer."""

    identifier: str
    name: str
    country: str | None


@dataclass(frozen=True)
class Verdict:
    """What a verification tells: valid or not, why, and the minimal facts about the card."""

    valid: bool
    reason: VerdictReason | None
    card_number: str | None
    issuer: IssuerInfo | None
    expires_at: dt.date | None
    display_name: str | None
    checked_at: dt.datetime


def _judge(card: CardFacts | None, escn: Escn, now: dt.datetime, *, show_holder: bool) -> Verdict:
    if card is None:
        return Verdict(False, VerdictReason.UNKNOWN, escn.value, None, None, None, now)
    reason = verdict_reason(CardState(card.state), card.expires_at, now.date())
    return Verdict(
        valid=reason is None,
        reason=reason,
        card_number=card.card_number,
        issuer=IssuerInfo(card.issuer_identifier, card.issuer_name, card.issuer_country),
        expires_at=card.expires_at,
        display_name=card.display_name if show_holder else None,
        checked_at=now,
    )


def verify_scan(
    session: Executor,
    caller: Caller,
    scanned: str,
    *,
    public_url: str | None = None,
    now: dt.datetime | None = None,
) -> Verdict:
    """Verify what a partner scanned, and record the lookup (scope ``verify``).

    ``public_url`` is this router's public base URL: a verification URL of another host is then
    refused as a card of another router. Bad scans raise a 4xx error and record nothing.
    """
    caller.require(Scope.VERIFY)
    return verify_escn(session, caller, parse_scan(scanned, public_url), now=now)


def verify_escn(
    session: Executor, caller: Caller, escn: Escn, *, now: dt.datetime | None = None
) -> Verdict:
    """Verify a card of this router for a partner of this router, and record the lookup."""
    caller.require(Scope.VERIFY)
    checked_at = now or utcnow()
    # The display name is read only where it is shown: with verify:holder, or on the caller's
    # own cards.
    card = card_facts(
        session,
        escn.value,
        display_name=Scope.VERIFY_HOLDER in caller.scopes,
        display_name_for=caller.organisation_id,
    )
    show_holder = card is not None and (
        Scope.VERIFY_HOLDER in caller.scopes or card.issuer_id == caller.organisation_id
    )
    verdict = _judge(card, escn, checked_at, show_holder=show_holder)
    _record(
        session,
        card,
        escn,
        verdict,
        partner_id=caller.organisation_id,
        partner_credential=caller.credential,
    )
    return verdict


@dataclass(frozen=True)
class ForeignPartner:
    """A partner of another router of the federation, as that router vouches for it."""

    router_id: str
    identifier: str
    name: str


def verify_for_peer(
    session: Session,
    escn: Escn,
    partner: ForeignPartner,
    *,
    show_holder: bool,
    now: dt.datetime | None = None,
) -> Verdict:
    """Verify a card of this router for a partner of a peer router, and record it here.

    The record stays with the issuer's router: the partner's router keeps nothing about the
    card. ``show_holder`` is the peer's word that its partner holds ``verify:holder``.
    """
    checked_at = now or utcnow()
    card = card_facts(session, escn.value, display_name=show_holder)
    verdict = _judge(card, escn, checked_at, show_holder=show_holder and card is not None)
    _record(session, card, escn, verdict, foreign=partner)
    return verdict


# Built once: compiled once per process, whatever the values. ``inline()``: nothing reads the new
# row's id, so no ``RETURNING id`` (and no result to build) on PostgreSQL.
_INSERT_RECORD = insert(VerificationRecord).inline()
_RECORD_COLUMNS = (
    "at",
    "partner_id",
    "partner_credential",
    "card_number",
    "issuer_id",
    "valid",
    "reason",
    "partner_router",
    "partner_identifier",
    "partner_name",
)
# Run on the connection's DBAPI cursor (router.precompiled), compiled for exactly these columns.
_INSERT_RECORD_RUN = Precompiled(_INSERT_RECORD, column_keys=_RECORD_COLUMNS)


def _record(
    session: Executor,
    card: CardFacts | None,
    escn: Escn,
    verdict: Verdict,
    *,
    partner_id: int | None = None,
    partner_credential: str | None = None,
    foreign: ForeignPartner | None = None,
) -> None:
    # For an unknown number, the issuer named by its PIC still sees that someone tried it.
    issuer_id = card.issuer_id if card is not None else organisation_id(session, escn.pic)
    values = {
        "at": verdict.checked_at,
        "partner_id": partner_id,
        "partner_credential": partner_credential,
        "card_number": escn.value,
        "issuer_id": issuer_id,
        "valid": verdict.valid,
        "reason": verdict.reason.value if verdict.reason else None,
        "partner_router": foreign.router_id if foreign else None,
        "partner_identifier": foreign.identifier if foreign else None,
        "partner_name": foreign.name if foreign else None,
    }
    # Committed before the verdict is answered: an acknowledged lookup is recorded. On SQLite,
    # records of verifications made at the same time share one commit (group_commit).
    writer = group_writer(engine_of(session), VerificationRecord.__table__)
    if writer is not None:
        writer.write(session, values)
    else:
        connection = connection_of(session)
        _INSERT_RECORD_RUN.execute(connection, values)
        session.commit()
    metrics.child(metrics.VERIFICATIONS, verdict.reason.value if verdict.reason else "VALID").inc()


def public_verdict(session: Executor, escn: str, *, now: dt.datetime | None = None) -> Verdict:
    """The verdict an anonymous visitor of the card's public page sees: nothing personal.

    Unknown cards raise :class:`CardNotFound`, as the v2 status does. Not recorded: the page is
    public and anonymous, and logging visitors' addresses would be personal data.
    """
    parsed = parse_escn(escn)
    card = card_facts(session, parsed.value)
    if card is None:
        raise CardNotFound(f"No card {parsed.value} is registered.")
    return _judge(card, parsed, now or utcnow(), show_holder=False)


VERIFICATION_SORTS = {
    "checkedAt": VerificationRecord.at,
    "cardNumber": VerificationRecord.card_number,
    "id": VerificationRecord.id,
}


def list_verifications(
    session: Session,
    caller: Caller,
    request: PageRequest,
    *,
    card_number: str | None = None,
    max_size: int = 1000,
) -> Page[VerificationRecord]:
    """The recorded verifications of the caller's own cards, paged (scope ``cards:read``)."""
    caller.require(Scope.CARDS_READ)
    query = select(VerificationRecord).where(VerificationRecord.issuer_id == caller.organisation_id)
    if card_number is not None:
        query = query.where(VerificationRecord.card_number == parse_escn(card_number).value)
    return paginate(
        session, query, request, sortable=VERIFICATION_SORTS, default_sort="id", max_size=max_size
    )


def purge_verifications(
    session: Session, *, retention_days: int, now: dt.datetime | None = None
) -> int:
    """Delete the verification records older than ``retention_days``; return how many."""
    if retention_days < 1:
        raise MalformedRequest("The retention is at least one day.")
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    result = session.execute(delete(VerificationRecord).where(VerificationRecord.at < cutoff))
    session.commit()
    return result.rowcount or 0
