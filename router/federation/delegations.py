"""Delegations as their two institutions see and move them: reads, state changes, events.

Only the host and the home of a delegation ever see it (anyone else is told it does not exist).
Every change goes through :func:`move`: it checks the state machine, writes the new state only if
no one changed it meanwhile, appends the history entry and queues a ``delegation.<state>``
webhook event for each side, all in one transaction. Requests and decisions arrive through
:mod:`router.federation.delegation_requests` and :mod:`router.federation.delegation_decisions`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.errors import MalformedRequest
from router.federation.delegation_states import (
    PENDING,
    DelegationState,
    Party,
    check_transition,
    event_type,
)
from router.federation.errors import DelegationNotFound, InvalidDelegationTransition
from router.federation.records import Delegation, DelegationEvent
from router.services.caller import Caller, Scope
from router.services.pagination import Page, PageRequest, paginate
from router.services.webhooks import queue_event, subscriptions_of

REASON_LENGTH = 500
ROLES = ("home", "host")
_SORTABLE = {"requestedAt": Delegation.requested_at, "id": Delegation.id}


def clean_reason(reason: str | None) -> str | None:
    """A reason as stored: stripped, at most REASON_LENGTH characters, None when empty."""
    cleaned = (reason or "").strip()
    if len(cleaned) > REASON_LENGTH:
        raise MalformedRequest(f"A reason is at most {REASON_LENGTH} characters.")
    return cleaned or None


def party_of(delegation: Delegation, organisation_id: int) -> Party | None:
    """Which side of the delegation an organisation is on, if any."""
    if organisation_id == delegation.home_id:
        return Party.HOME
    if organisation_id == delegation.host_id:
        return Party.HOST
    return None


def _event_data(
    delegation: Delegation, state: str, previous: str | None, reason: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "delegationId": delegation.id,
        "state": state,
        "previousState": previous,
        "host": delegation.host_pic,
        "home": delegation.home_pic,
        "cardNumber": delegation.card_number,
        "aid": delegation.aid,
        "reason": reason,
    }
    # The signed messages travel with their events, so a party can act on a push alone.
    if state == DelegationState.REQUESTED:
        data["request"] = delegation.request_jws
    if state in (DelegationState.APPROVED, DelegationState.REFUSED):
        data["decision"] = delegation.decision_jws
    return data


def record_event(
    session: Session,
    delegation: Delegation,
    previous: str | None,
    party: Party,
    reason: str | None,
    at: dt.datetime,
    state: str | None = None,
) -> None:
    """Append the history entry of the delegation's current state and queue its webhook events.

    ``state`` names another state than the current one: a step the delegation went through on
    the home's router, learnt later by the host's.
    """
    state = state or delegation.state
    delegation.events.append(DelegationEvent(at=at, state=state, party=party.value, reason=reason))
    kind = event_type(DelegationState(state))
    queue_event(
        session,
        subscriptions_of(
            session, [i for i in (delegation.home_id, delegation.host_id) if i is not None], kind
        ),
        kind,
        _event_data(delegation, state, previous, reason),
        card_number=delegation.card_number,
    )


def move(
    session: Session,
    delegation: Delegation,
    target: DelegationState,
    party: Party,
    *,
    reason: str | None = None,
    now: dt.datetime | None = None,
    **values: Any,
) -> None:
    """Move the delegation to ``target`` (not committed), if no one moved it meanwhile."""
    now = now or utcnow()
    current = DelegationState(delegation.state)
    check_transition(current, target, party)
    stamps: dict[str, Any] = {}
    if target is DelegationState.DELIVERED:
        stamps["delivered_at"] = now
    elif target in (DelegationState.APPROVED, DelegationState.REFUSED):
        stamps["decided_at"] = now
    else:
        stamps["finished_at"] = now
        stamps["outcome_reason"] = reason
    result = session.execute(
        update(Delegation)
        .where(Delegation.id == delegation.id, Delegation.state == current.value)
        .values(state=target.value, **stamps, **values)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise InvalidDelegationTransition(
            "The delegation changed while this request was handled; read it again."
        )
    record_event(session, delegation, current.value, party, reason, now)


def expire_overdue(session: Session, now: dt.datetime | None = None) -> int:
    """Mark every pending delegation past its expiry as expired (committed); how many.

    Called before delegations are read or decided, so nobody sees or approves an expired
    request as pending; each one is moved once even when several workers sweep at once.
    """
    now = now or utcnow()
    overdue = session.scalars(
        select(Delegation).where(
            Delegation.state.in_([s.value for s in PENDING]),
            Delegation.expires_at <= now,
            # A request forwarded to the home's router expires there; this copy follows it.
            Delegation.home_id.is_not(None),
        )
    ).all()
    moved = 0
    for delegation in overdue:
        try:
            move(session, delegation, DelegationState.EXPIRED, Party.ROUTER, now=now)
        except InvalidDelegationTransition:
            continue
        session.commit()
        moved += 1
    return moved


def _require(caller: Caller) -> None:
    caller.require(Scope.DELEGATIONS)


def find_for(session: Session, caller: Caller, delegation_id: str) -> Delegation:
    """A delegation the caller's organisation is a party to; any other is not found."""
    _require(caller)
    delegation = session.get(Delegation, delegation_id.strip().lower())
    if delegation is None or party_of(delegation, caller.organisation_id) is None:
        raise DelegationNotFound(f"No delegation {delegation_id} involves your organisation.")
    return delegation


def get_delegation(session: Session, caller: Caller, delegation_id: str) -> Delegation:
    """One delegation of the caller's organisation (as host or home), expiry applied."""
    expire_overdue(session)
    return find_for(session, caller, delegation_id)


def _states(states: Iterable[str] | None) -> list[str]:
    wanted: list[str] = []
    for value in states or ():
        for part in value.split(","):
            if part.strip():
                try:
                    wanted.append(DelegationState(part.strip().lower()).value)
                except ValueError as error:
                    raise MalformedRequest(
                        f"Unknown delegation state {part!r}; known: "
                        f"{', '.join(s.value for s in DelegationState)}."
                    ) from error
    return wanted


def list_delegations(
    session: Session,
    caller: Caller,
    request: PageRequest,
    *,
    role: str | None = None,
    states: Iterable[str] | None = None,
    max_size: int,
) -> Page[Delegation]:
    """The delegations of the caller's organisation, as home, host or either, newest first."""
    _require(caller)
    if role is not None and role not in ROLES:
        raise MalformedRequest("role is home or host.")
    expire_overdue(session)
    organisation_id = caller.organisation_id
    if role == "home":
        query = select(Delegation).where(Delegation.home_id == organisation_id)
    elif role == "host":
        query = select(Delegation).where(Delegation.host_id == organisation_id)
    else:
        query = select(Delegation).where(
            or_(Delegation.home_id == organisation_id, Delegation.host_id == organisation_id)
        )
    wanted = _states(states)
    if wanted:
        query = query.where(Delegation.state.in_(wanted))
    if request.sort is None:
        request = dataclasses.replace(request, sort="requestedAt", direction="DESC")
    return paginate(
        session, query, request, sortable=_SORTABLE, default_sort="id", max_size=max_size
    )


def acknowledge(session: Session, caller: Caller, delegation_id: str) -> Delegation:
    """The home confirms it received the request: requested → delivered (again: no change)."""
    delegation = get_delegation(session, caller, delegation_id)
    if (
        delegation.state == DelegationState.DELIVERED
        and delegation.home_id == caller.organisation_id
    ):
        return delegation
    party = party_of(delegation, caller.organisation_id)
    assert party is not None
    move(session, delegation, DelegationState.DELIVERED, party)
    session.commit()
    return delegation


def cancel(
    session: Session, caller: Caller, delegation_id: str, reason: str | None = None
) -> Delegation:
    """The host withdraws a request not yet decided."""
    delegation = get_delegation(session, caller, delegation_id)
    party = party_of(delegation, caller.organisation_id)
    assert party is not None
    move(
        session,
        delegation,
        DelegationState.CANCELLED,
        party,
        reason=clean_reason(reason),
    )
    session.commit()
    return delegation


def report_outcome(
    session: Session, caller: Caller, delegation_id: str, completed: bool, reason: str | None
) -> Delegation:
    """The host reports whether it wrote the application on the card: completed or failed."""
    delegation = get_delegation(session, caller, delegation_id)
    party = party_of(delegation, caller.organisation_id)
    assert party is not None
    target = DelegationState.COMPLETED if completed else DelegationState.FAILED
    move(session, delegation, target, party, reason=clean_reason(reason))
    session.commit()
    return delegation


def delegation_view(delegation: Delegation) -> Mapping[str, Any]:
    """What both institutions see of a delegation (REST and GraphQL read this one view)."""
    pics = {Party.HOST.value: delegation.host_pic, Party.HOME.value: delegation.home_pic}
    return {
        "id": delegation.id,
        "state": delegation.state,
        "host": delegation.host_pic,
        "home": delegation.home_pic,
        "cardNumber": delegation.card_number,
        "uid": delegation.uid,
        "application": json.loads(delegation.application),
        "issuedAt": delegation.issued_at,
        "expiresAt": delegation.expires_at,
        "requestedAt": delegation.requested_at,
        "deliveredAt": delegation.delivered_at,
        "decidedAt": delegation.decided_at,
        "finishedAt": delegation.finished_at,
        "decision": delegation.decision,
        "decisionReason": delegation.decision_reason,
        "outcomeReason": delegation.outcome_reason,
        "request": delegation.request_jws,
        "requestHash": delegation.request_hash,
        "decisionToken": delegation.decision_jws,
        # The other party's router when it is not this one (a delegation across peer routers).
        "peerRouter": delegation.peer_router,
        "history": [
            {
                "at": event.at,
                "state": event.state,
                "actor": pics.get(event.party),
                "reason": event.reason,
            }
            for event in delegation.events
        ],
    }
