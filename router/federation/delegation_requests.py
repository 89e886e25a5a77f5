"""Delegation requests: the router checks a host's signed request, then records it for the home.

Two entry points, so that a request forwarded by a peer router can use the same rules:
:func:`verify_request` checks the message itself (signature by a registered, unrevoked key of its
issuer; times; shape), and :func:`accept_request` checks it against the card (issuer, state, chip
UID) and records it. :func:`submit_request` is what ``POST /api/x/delegations`` calls.

The router never opens the request's secret (the application's default key, a JWE to the home): it
only checks that it is addressed to one of the home's active encryption keys.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, lazyload

from router.db import utcnow
from router.domain.escn import parse_escn
from router.domain.lifecycle import CardState, V2Status, public_status
from router.federation import key_directory
from router.federation.delegation_states import DelegationState, Party
from router.federation.delegations import record_event
from router.federation.errors import (
    CardWithoutChipSerial,
    DelegationCardInactive,
    DelegationCardUnknown,
    ExpiredMessage,
    ForgedRequest,
    FutureDatedMessage,
    InvalidApplication,
    IssuerNotHosted,
    LifetimeTooLong,
    MalformedMessage,
    OwnCardDelegation,
    ReplayedMessage,
    SecretNotForRecipient,
    SignerIsNotCaller,
    UidMismatch,
    UnknownSigningKey,
    UnsignedMessage,
)
from router.federation.records import Delegation
from router.models import Card, Organisation
from router.services.caller import Caller, Scope
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError, Refusal

# Only the PIC of an organisation is needed here; its ESCN prefixes are loaded if ever read.
_NO_PREFIXES = lazyload(Organisation.prefixes)

_REFUSALS = {
    Refusal.MALFORMED: MalformedMessage,
    Refusal.UNSIGNED: UnsignedMessage,
    Refusal.INVALID_APPLICATION: InvalidApplication,
    Refusal.EXPIRED: ExpiredMessage,
    Refusal.FUTURE_DATED: FutureDatedMessage,
    Refusal.LIFETIME_TOO_LONG: LifetimeTooLong,
}


def refusal(error: ProtocolError, forged: type[Exception] = ForgedRequest) -> Exception:
    """The router's problem for a protocol refusal (a bad signature is ``forged``)."""
    if error.refusal is Refusal.BAD_SIGNATURE:
        return forged(error.message)
    return _REFUSALS.get(error.refusal, MalformedMessage)(error.message)


def read_signed(compact: Any, typ: str) -> jose.SignedMessage:
    """Read a signed message's structure, refusing what is not a JWS of the protocol."""
    try:
        return jose.read_compact(compact, typ)
    except ProtocolError as error:
        raise refusal(error) from error


def signer_of(session: Session, message: jose.SignedMessage) -> Organisation:
    """The institution named by the message's ``iss`` (unverified until its key checks it)."""
    try:
        pic = protocol.pic_of(message.claims.get("iss"), "iss")
    except ProtocolError as error:
        raise refusal(error) from error
    organisation = session.scalar(
        select(Organisation).where(Organisation.identifier == pic).options(_NO_PREFIXES)
    )
    if organisation is None:
        raise UnknownSigningKey(f"{pic} is not an institution of this router: no key to check.")
    return organisation


def verify_signature(
    session: Session,
    message: jose.SignedMessage,
    signer: Organisation,
    now: dt.datetime,
    forged: type[Exception],
) -> None:
    """Check the message's signature with the signer's registered key ``kid``, active now."""
    _, key = key_directory.signing_key(session, signer, message.kid, now)
    try:
        jose.verify_compact(message, key)
    except ProtocolError as error:
        raise forged(error.message) from error


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose signature, times and shape have been checked."""

    message: jose.SignedMessage
    request: protocol.DelegationRequest
    # None when the host is an institution of the peer router that forwarded the request.
    host: Organisation | None
    host_pic: str
    peer_router: str | None = None
    host_keys: str | None = None


def verify_request(
    session: Session,
    compact: Any,
    *,
    expected_host: Organisation | None = None,
    now: dt.datetime | None = None,
) -> VerifiedRequest:
    """Check a request JWS: signed by a registered, unrevoked key of its host, in date, well formed.

    ``expected_host`` is the institution that sent it (the caller); a request signed in another
    institution's name is refused before its key is looked up.
    """
    now = now or utcnow()
    message = read_signed(compact, protocol.REQUEST_TYPE)
    host = signer_of(session, message)
    if expected_host is not None and host.id != expected_host.id:
        raise SignerIsNotCaller(
            f"The request is issued by {host.identifier}; you are {expected_host.identifier}."
        )
    verify_signature(session, message, host, now, ForgedRequest)
    try:
        request = protocol.DelegationRequest.from_claims(message.claims)
        protocol.check_validity(request.issued_at, request.expires_at, now.timestamp())
    except ProtocolError as error:
        raise refusal(error) from error
    return VerifiedRequest(message=message, request=request, host=host, host_pic=host.identifier)


def _card_for(session: Session, host: Organisation | None, escn_text: str) -> Card:
    """The card the request names, checked: issued here, not the host's own, active."""
    escn = parse_escn(escn_text)
    home = session.scalar(
        select(Organisation).where(Organisation.identifier == escn.pic).options(_NO_PREFIXES)
    )
    if home is None:
        raise IssuerNotHosted(
            f"Card {escn.value} is issued by {escn.pic}, which is not an institution of this "
            "router."
        )
    if host is not None and home.id == host.id:
        raise OwnCardDelegation(
            f"Card {escn.value} is your own: you hold its DAM keys and need no delegation."
        )
    card = session.scalar(
        select(Card)
        .where(Card.card_number == escn.value)
        .options(lazyload(Card.person), joinedload(Card.issuer).lazyload(Organisation.prefixes))
    )
    if card is None:
        raise DelegationCardUnknown(f"{escn.pic} has registered no card {escn.value}.")
    status = public_status(CardState(card.state), card.expires_at, utcnow().date())
    if status is not V2Status.ACTIVE:
        raise DelegationCardInactive(
            f"Card {escn.value} is {status.value.lower()}: only an active card gets a delegation."
        )
    return card


def new_delegation(
    verified: VerifiedRequest,
    *,
    home_id: int | None,
    home_pic: str,
    card_number: str,
    now: dt.datetime,
) -> Delegation:
    """A new delegation for a verified request, in the requested state (not added)."""
    request = verified.request
    return Delegation(
        id=request.request_id,
        host_id=verified.host.id if verified.host is not None else None,
        home_id=home_id,
        host_pic=verified.host_pic,
        home_pic=home_pic,
        card_number=card_number,
        uid=request.uid,
        aid=request.application.aid,
        application=json.dumps(request.application.claims(), sort_keys=True),
        request_jws=verified.message.compact,
        request_hash=verified.message.hash,
        request_kid=verified.message.kid,
        issued_at=dt.datetime.fromtimestamp(request.issued_at, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(request.expires_at, dt.UTC),
        state=DelegationState.REQUESTED.value,
        requested_at=now,
        peer_router=verified.peer_router,
        host_keys=verified.host_keys,
    )


def accept_request(
    session: Session, verified: VerifiedRequest, *, now: dt.datetime | None = None
) -> Delegation:
    """Check a verified request against the card, record it, and tell both institutions."""
    now = now or utcnow()
    request = verified.request
    if session.get(Delegation, request.request_id) is not None:
        raise ReplayedMessage(f"Request {request.request_id} has been received already.")
    card = _card_for(session, verified.host, request.escn)
    if card.csn is None:
        raise CardWithoutChipSerial(
            f"Card {card.card_number} has no registered chip serial number to check the UID with."
        )
    if card.csn != request.uid:
        raise UidMismatch(f"The chip UID {request.uid} is not the card {card.card_number}'s.")
    app_key_kid = jose.read_jwe_header(request.app_key, protocol.APP_KEY_TYPE)["kid"]
    if not key_directory.is_active_encryption_key(session, card.issuer_id, app_key_kid, now):
        raise SecretNotForRecipient(
            f"The application key is encrypted to {app_key_kid!r}, which is not an active "
            f"encryption key of {card.issuer.identifier}."
        )
    delegation = new_delegation(
        verified,
        home_id=card.issuer_id,
        home_pic=card.issuer.identifier,
        card_number=card.card_number,
        now=now,
    )
    session.add(delegation)
    record_event(session, delegation, None, Party.HOST, None, now)
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ReplayedMessage(f"Request {request.request_id} has been received already.") from error
    return delegation


def submit_request(session: Session, caller: Caller, compact: Any) -> Delegation:
    """``POST /api/x/delegations``: a host sends its signed request (scope ``delegations``)."""
    caller.require(Scope.DELEGATIONS)
    verified = verify_request(session, compact, expected_host=caller.organisation)
    return accept_request(session, verified)
