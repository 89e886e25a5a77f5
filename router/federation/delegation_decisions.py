"""Decisions: the router checks the home's signed answer and records it as received.

:func:`verify_decision` checks the message (signed by the card's issuer with a registered,
unrevoked key; in date; bound to the request by its id, hash and host); :func:`record_decision`
moves the delegation to approved or refused. :func:`submit_decision` is what
``POST /api/x/delegations/{id}/decision`` calls. An approval carries the card's DAM auth key as a
JWE to the host: the router checks it is addressed to one of the host's active encryption keys and
never opens it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.db import utcnow
from router.federation import key_directory
from router.federation.delegation_requests import read_signed, refusal, signer_of, verify_signature
from router.federation.delegation_states import PENDING, DelegationState, Party
from router.federation.delegations import expire_overdue, find_for, move
from router.federation.errors import (
    DecisionNotBound,
    DecisionNotFromIssuer,
    DelegationExpired,
    ForgedDecision,
    InvalidDelegationTransition,
    ReplayedMessage,
    SecretNotForRecipient,
    SignerIsNotCaller,
)
from router.federation.records import Delegation
from router.services.caller import Caller, Scope
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError


def host_encryption_key_active(
    session: Session, delegation: Delegation, kid: str, now: dt.datetime
) -> bool:
    """Whether ``kid`` is an active encryption key of the delegation's host, wherever it lives."""
    if delegation.host_id is not None:
        return key_directory.is_active_encryption_key(session, delegation.host_id, kid, now)
    # A host of a peer router: the keys its router forwarded with the request.
    keys = json.loads(delegation.host_keys or "{}").get("keys", [])
    return any(k.get("kid") == kid and k.get("use") == "enc" for k in keys)


@dataclass(frozen=True)
class VerifiedDecision:
    """A decision whose signer, signature, times and binding have been checked."""

    message: jose.SignedMessage
    decision: protocol.Decision


def verify_decision(
    session: Session, delegation: Delegation, compact: Any, *, now: dt.datetime | None = None
) -> VerifiedDecision:
    """Check a decision JWS against the delegation it answers."""
    now = now or utcnow()
    message = read_signed(compact, protocol.DECISION_TYPE)
    signer = signer_of(session, message)
    if signer.id != delegation.home_id:
        raise DecisionNotFromIssuer(
            f"Only the card's issuer, {delegation.home_pic}, decides on delegation "
            f"{delegation.id}; this decision is signed by {signer.identifier}."
        )
    verify_signature(session, message, signer, now, ForgedDecision)
    try:
        decision = protocol.Decision.from_claims(message.claims)
        protocol.check_validity(decision.issued_at, decision.expires_at, now.timestamp())
    except ProtocolError as error:
        raise refusal(error, ForgedDecision) from error
    if (
        decision.request_id != delegation.id
        or decision.request_hash != delegation.request_hash
        or decision.host != delegation.host_pic
    ):
        raise DecisionNotBound(
            f"The decision answers request {decision.request_id} for {decision.host}, or quotes "
            f"another request hash, not delegation {delegation.id}."
        )
    if decision.dam_auth_key is not None:
        kid = jose.read_jwe_header(decision.dam_auth_key, protocol.DAM_AUTH_KEY_TYPE)["kid"]
        if not host_encryption_key_active(session, delegation, kid, now):
            raise SecretNotForRecipient(
                f"The DAM key is encrypted to {kid!r}, which is not an active encryption key of "
                f"{delegation.host_pic}."
            )
    return VerifiedDecision(message=message, decision=decision)


def record_decision(
    session: Session, delegation: Delegation, verified: VerifiedDecision, *, now: dt.datetime
) -> Delegation:
    """Record a verified decision as received: the delegation becomes approved or refused."""
    decision = verified.decision
    if session.scalar(select(Delegation.id).where(Delegation.decision_id == decision.decision_id)):
        raise ReplayedMessage(f"Decision {decision.decision_id} has been received already.")
    if DelegationState(delegation.state) not in PENDING:
        raise InvalidDelegationTransition(
            f"Delegation {delegation.id} is {delegation.state} already."
        )
    if delegation.state == DelegationState.REQUESTED:
        # The decision itself proves the request reached the home.
        move(session, delegation, DelegationState.DELIVERED, Party.HOME, now=now)
    target = DelegationState.APPROVED if decision.approved else DelegationState.REFUSED
    move(
        session,
        delegation,
        target,
        Party.HOME,
        reason=decision.reason or None,
        now=now,
        decision=decision.outcome,
        decision_id=decision.decision_id,
        decision_reason=decision.reason or None,
        decision_jws=verified.message.compact,
        decision_kid=verified.message.kid,
    )
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ReplayedMessage(
            f"Decision {decision.decision_id} has been received already."
        ) from error
    return delegation


def submit_decision(
    session: Session, caller: Caller, delegation_id: str, compact: Any
) -> Delegation:
    """``POST /api/x/delegations/{id}/decision``: the home sends its signed decision."""
    caller.require(Scope.DELEGATIONS)
    now = utcnow()
    message = read_signed(compact, protocol.DECISION_TYPE)
    signer = signer_of(session, message)
    if signer.id != caller.organisation_id:
        raise SignerIsNotCaller(
            f"The decision is issued by {signer.identifier}; you are "
            f"{caller.organisation.identifier}."
        )
    expire_overdue(session, now)
    delegation = find_for(session, caller, delegation_id)
    if delegation.state == DelegationState.EXPIRED:
        raise DelegationExpired(
            f"Delegation {delegation.id} expired at {delegation.expires_at.isoformat()}; it can "
            "no longer be decided."
        )
    verified = verify_decision(session, delegation, message.compact, now=now)
    return record_decision(session, delegation, verified, now=now)
