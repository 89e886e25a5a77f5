"""The JSON that routers exchange about cards, and its strict reading.

A peer's answer is read as untrusted input even after its signature verified: every field is
checked, and an answer about another card, or about a card whose issuer is not hosted by the
router that answered, is refused. Nothing personal travels in a card answer; a verification
answer carries the holder's display name only when the partner holds ``verify:holder``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from router.domain import text
from router.domain.lifecycle import V2Status
from router.domain.verification import VerdictReason
from router.services.cards import CardStatus
from router.services.verification import ForeignPartner, IssuerInfo, Verdict

# Path of the peer endpoints, below a router's base URL.
PEER_CARD_PATH = "/api/x/federation/peer/cards/{escn}"
PEER_VERIFICATIONS_PATH = "/api/x/federation/peer/verifications"
PEER_ECHO_PATH = "/api/x/federation/peer/echo"


class WireError(ValueError):
    """A peer message that does not have the shape the protocol demands."""


@dataclass(frozen=True)
class PeerCard:
    """What a router tells another about one of its cards: the v2 status and the verdict."""

    status: CardStatus
    verdict: Verdict


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def timestamp_json(value: dt.datetime) -> str:
    """A UTC timestamp as the protocol writes it (ISO 8601, ``Z``)."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def issuer_json(issuer: IssuerInfo | None) -> dict[str, Any] | None:
    """An issuer as the protocol writes it."""
    if issuer is None:
        return None
    return {"identifier": issuer.identifier, "name": issuer.name, "country": issuer.country}


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """A verdict as the protocol writes it (the VerdictView of ``/api/x/verify``)."""
    return {
        "valid": verdict.valid,
        "reason": verdict.reason.value if verdict.reason else None,
        "cardNumber": verdict.card_number,
        "issuer": issuer_json(verdict.issuer),
        "expiresAt": _date(verdict.expires_at),
        "displayName": verdict.display_name,
        "checkedAt": timestamp_json(verdict.checked_at),
    }


def card_json(card: PeerCard) -> dict[str, Any]:
    """A card answer: the verdict's fields plus the v2 status and issue date."""
    return {
        **verdict_json(card.verdict),
        "displayName": None,
        "status": card.status.status.value,
        "issuedAt": _date(card.status.issued_at),
    }


def required_field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """A member that must be present with this type (a bool is not an int)."""
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise WireError(f"{name} is missing or of the wrong type")
    return value


def optional_field(data: Mapping[str, Any], name: str, kind: type) -> Any:
    """A member that may be null or absent, else of this type."""
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise WireError(f"{name} is of the wrong type")
    return value


def parse_date(value: str | None, name: str) -> dt.date | None:
    """A date written yyyy-MM-dd, as routers write them and clients must (or ``None``)."""
    if value is None:
        return None
    try:
        return text.parse_date(value)
    except ValueError as error:
        raise WireError(f"{name} is not a date written yyyy-MM-dd") from error


def parse_timestamp(value: str, name: str) -> dt.datetime:
    """An ISO 8601 timestamp with its time zone, in UTC."""
    try:
        return text.parse_timestamp(value)
    except ValueError as error:
        raise WireError(f"{name} {error}") from error


def _parse_issuer(value: Any) -> IssuerInfo | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise WireError("issuer must be an object")
    return IssuerInfo(
        identifier=required_field(value, "identifier", str),
        name=required_field(value, "name", str),
        country=optional_field(value, "country", str),
    )


def parse_verdict(data: Any, *, card_number: str, hosted_pics: frozenset[str]) -> Verdict:
    """A peer's verdict about ``card_number``, checked field by field."""
    if not isinstance(data, Mapping):
        raise WireError("a verdict is a JSON object")
    if data.get("cardNumber") != card_number:
        raise WireError("the answer is about another card")
    reason_text = optional_field(data, "reason", str)
    try:
        reason = VerdictReason(reason_text) if reason_text is not None else None
    except ValueError as error:
        raise WireError(f"unknown reason {reason_text!r}") from error
    valid = required_field(data, "valid", bool)
    if valid != (reason is None):
        raise WireError("a verdict is valid exactly when it gives no reason")
    issuer = _parse_issuer(data.get("issuer"))
    if issuer is not None and issuer.identifier not in hosted_pics:
        raise WireError("the answering router does not host the card's issuer")
    return Verdict(
        valid=valid,
        reason=reason,
        card_number=card_number,
        issuer=issuer,
        expires_at=parse_date(optional_field(data, "expiresAt", str), "expiresAt"),
        display_name=optional_field(data, "displayName", str),
        checked_at=parse_timestamp(required_field(data, "checkedAt", str), "checkedAt"),
    )


def parse_card(data: Any, *, card_number: str, hosted_pics: frozenset[str]) -> PeerCard:
    """A peer's card answer about ``card_number``: public facts only, checked field by field."""
    verdict = parse_verdict(data, card_number=card_number, hosted_pics=hosted_pics)
    if verdict.issuer is None or verdict.expires_at is None:
        raise WireError("a card answer names the issuer and the expiry")
    try:
        status = V2Status(required_field(data, "status", str))
    except ValueError as error:
        raise WireError("unknown status") from error
    issued_at = parse_date(required_field(data, "issuedAt", str), "issuedAt")
    assert issued_at is not None
    public = replace(verdict, display_name=None)
    return PeerCard(
        status=CardStatus(
            card_number=card_number,
            status=status,
            issued_at=issued_at,
            expires_at=verdict.expires_at,
            issuer_identifier=verdict.issuer.identifier,
            issuer_name=verdict.issuer.name,
            display_name=None,
        ),
        verdict=public,
    )


def verification_request_json(
    card_number: str, partner_identifier: str, partner_name: str, *, holder_scope: bool
) -> dict[str, Any]:
    """What a router sends the issuer's router when one of its partners verifies a card."""
    return {
        "cardNumber": card_number,
        "partner": {"identifier": partner_identifier, "name": partner_name},
        "holderScope": holder_scope,
    }


@dataclass(frozen=True)
class VerificationRequest:
    """A peer's verification request, read."""

    card_number: str
    partner: ForeignPartner
    holder_scope: bool


def parse_verification_request(data: Any, *, router_id: str) -> VerificationRequest:
    """A peer's verification request, checked field by field."""
    if not isinstance(data, Mapping):
        raise WireError("a verification request is a JSON object")
    partner = data.get("partner")
    if not isinstance(partner, Mapping):
        raise WireError("partner must be an object")
    identifier = required_field(partner, "identifier", str).strip()
    name = required_field(partner, "name", str).strip()
    if not (0 < len(identifier) <= 64) or not (0 < len(name) <= 255):
        raise WireError("the partner's identifier (64) or name (255) is empty or too long")
    return VerificationRequest(
        card_number=required_field(data, "cardNumber", str),
        partner=ForeignPartner(router_id=router_id, identifier=identifier, name=name),
        holder_scope=required_field(data, "holderScope", bool),
    )
