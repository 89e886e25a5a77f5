"""The host's router: delegations for cards of another router, forwarded there, followed here.

REST and GraphQL call these instead of the local services. For a card whose issuer PIC this router
hosts (or when it is standalone) they call the local service unchanged. For a card whose issuer
the catalogue gives a peer, the host's request is checked here (the host's key is registered
here), then forwarded once, unchanged, with the host's public keys, to the home's router, which
records it for the home exactly as a local request. This router keeps a copy for the host: its
own request (card number and UID as the host read them), the state and history, and the home's
signed decision as received; nothing about the card's holder.

The home's router is the authority on the delegation. The host's router *pulls* from it when the
host reads a pending delegation (the host's kiosk polls while it waits), and passes the host's own
moves (cancel, outcome) to it before recording them: nothing is pushed from the home's router, so
no outbox and no retries are needed, and a home router that is down costs the host a clear 502 or
504 on its next read instead of a change lost in transit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.escn import parse_escn
from router.federation import delegation_requests, delegations, key_directory
from router.federation.catalogue import RouterEntry
from router.federation.delegation_states import (
    PENDING,
    DelegationState,
    Party,
    check_transition,
)
from router.federation.delegation_wire import (
    PEER_CANCEL_PATH,
    PEER_DELEGATION_PATH,
    PEER_DELEGATIONS_PATH,
    PEER_JWKS_PATH,
    PEER_OUTCOME_PATH,
    RemoteDelegation,
    forwarded_request_json,
    parse_peer_view,
)
from router.federation.errors import (
    InvalidDelegationTransition,
    IssuerNotHosted,
    NotADelegationParty,
    ReplayedMessage,
)
from router.federation.forwarding import raise_for_problem
from router.federation.membership import Membership
from router.federation.peer_client import PeerAnswer
from router.federation.peer_errors import PeerBadAnswer, PeerUnreachable
from router.federation.records import Delegation
from router.federation.wire import WireError
from router.services.caller import Caller, Scope
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol.errors import ProtocolError

# The home router's refusals that are the host's own doing, passed on as they are.
PASSED_ON = frozenset({400, 403, 404, 409, 410, 422})


def _peer_for(membership: Membership, pic: str) -> RouterEntry | None:
    """The peer router hosting ``pic``; None when it is this router's (or there is no catalogue)."""
    catalogue = membership.catalogue()
    peer = catalogue.host_of(pic) if catalogue is not None else None
    return None if peer is None or peer.id == membership.router_id else peer


def is_forwarded(delegation: Delegation) -> bool:
    """True on the host's router for a delegation whose home is an institution of a peer."""
    return delegation.home_id is None and delegation.peer_router is not None


def _remote(answer: PeerAnswer, delegation_id: str) -> RemoteDelegation:
    raise_for_problem(answer, passed_on=PASSED_ON)
    try:
        return parse_peer_view(answer.body, delegation_id=delegation_id)
    except WireError as error:
        raise PeerBadAnswer(
            f"Router {answer.router.id} sent a malformed delegation: {error}.",
            router_id=answer.router.id,
        ) from error


def _check(delegation: Delegation, remote: RemoteDelegation, router_id: str) -> None:
    """Refuse a peer's account that the state machine or the request itself contradicts."""
    states = [e.state for e in remote.history]
    if states[: len(delegation.events)] != [e.state for e in delegation.events][: len(states)]:
        raise PeerBadAnswer(
            f"Router {router_id} tells another history of delegation {delegation.id}.",
            router_id=router_id,
        )
    try:
        for before, after in zip(remote.history, remote.history[1:], strict=False):
            check_transition(before.state, after.state, after.party)
    except (InvalidDelegationTransition, NotADelegationParty) as error:
        raise PeerBadAnswer(
            f"Router {router_id} tells an impossible history: {error.message}", router_id=router_id
        ) from error
    token = remote.values.get("decision_jws")
    if token is None:
        return
    try:
        _, decision = protocol.read_decision(token)
    except ProtocolError as error:
        raise PeerBadAnswer(
            f"Router {router_id} sent an unreadable decision: {error.message}", router_id=router_id
        ) from error
    if (
        decision.request_id != delegation.id
        or decision.request_hash != delegation.request_hash
        or decision.host != delegation.host_pic
        or decision.home != delegation.home_pic
    ):
        raise PeerBadAnswer(
            f"Router {router_id} sent a decision that does not answer delegation {delegation.id}.",
            router_id=router_id,
        )


def _apply(
    session: Session, delegation: Delegation, remote: RemoteDelegation, router_id: str
) -> None:
    """Bring this router's copy up to the home router's account (not committed)."""
    _check(delegation, remote, router_id)
    known = len(delegation.events)
    if remote.state.value == delegation.state and len(remote.history) <= known:
        return
    previous = delegation.state
    result = session.execute(
        update(Delegation)
        .where(Delegation.id == delegation.id, Delegation.state == previous)
        .values(state=remote.state.value, **remote.values)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()  # another read brought it up to date meanwhile
        session.refresh(delegation)
        return
    for event in remote.history[known:]:
        delegations.record_event(
            session, delegation, previous, event.party, event.reason, event.at, event.state.value
        )
        previous = event.state.value


def _already_recorded(answer: PeerAnswer) -> bool:
    body = answer.body if isinstance(answer.body, Mapping) else {}
    return answer.status == ReplayedMessage.status and body.get("code") == ReplayedMessage.code


def _commit(session: Session, delegation_id: str) -> None:
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ReplayedMessage(f"Request {delegation_id} has been received already.") from error


def submit_request(
    session: Session, membership: Membership, caller: Caller, compact: Any
) -> Delegation:
    """``POST /api/x/delegations``: recorded here, or forwarded to the card issuer's router."""
    caller.require(Scope.DELEGATIONS)
    verified = delegation_requests.verify_request(
        session, compact, expected_host=caller.organisation
    )
    request = verified.request
    escn = parse_escn(request.escn)
    peer = _peer_for(membership, escn.pic)
    if peer is None:
        try:
            return delegation_requests.accept_request(session, verified)
        except IssuerNotHosted:
            membership.refuse_if_blind()
            raise
    if session.get(Delegation, request.request_id) is not None:
        raise ReplayedMessage(f"Request {request.request_id} has been received already.")
    host_keys = key_directory.jwks(session, caller.organisation.identifier)
    body = forwarded_request_json(verified.message.compact, host_keys)
    answer = membership.client.request(peer, "POST", PEER_DELEGATIONS_PATH, body)
    if _already_recorded(answer):
        # The home's router recorded it, but its answer was lost on the way back (this router
        # keeps nothing until it has one): adopt that delegation, which only this router may read.
        path = PEER_DELEGATION_PATH.format(id=request.request_id)
        answer = membership.client.request(peer, "GET", path)
    remote = _remote(answer, request.request_id)
    delegation = delegation_requests.new_delegation(
        verified, home_id=None, home_pic=escn.pic, card_number=escn.value, now=utcnow()
    )
    delegation.peer_router = peer.id
    session.add(delegation)
    delegations.record_event(
        session, delegation, None, Party.HOST, None, remote.history[0].at, DelegationState.REQUESTED
    )
    session.flush()
    _apply(session, delegation, remote, peer.id)
    _commit(session, delegation.id)
    return delegation


def _peer_of(membership: Membership, delegation: Delegation) -> RouterEntry:
    catalogue = membership.catalogue()
    assert delegation.peer_router is not None
    peer = catalogue.router(delegation.peer_router) if catalogue is not None else None
    if peer is None:
        raise PeerUnreachable(
            f"Router {delegation.peer_router}, which holds delegation {delegation.id} for its "
            "home institution, is not in the federation catalogue held here.",
            router_id=delegation.peer_router,
        )
    return peer


def refresh(session: Session, membership: Membership, delegation: Delegation) -> Delegation:
    """Ask the home's router where a pending forwarded delegation stands (committed)."""
    if not is_forwarded(delegation) or DelegationState(delegation.state) not in PENDING:
        return delegation
    peer = _peer_of(membership, delegation)
    answer = membership.client.request(
        peer, "GET", PEER_DELEGATION_PATH.format(id=delegation.id)
    )
    _apply(session, delegation, _remote(answer, delegation.id), peer.id)
    session.commit()
    return delegation


def get_delegation(
    session: Session, membership: Membership, caller: Caller, delegation_id: str
) -> Delegation:
    """One delegation of the caller's organisation, as the home's router has it now."""
    delegation = delegations.get_delegation(session, caller, delegation_id)
    return refresh(session, membership, delegation)


def _host_move(
    session: Session,
    membership: Membership,
    caller: Caller,
    delegation_id: str,
    target: DelegationState,
    path: str,
    body: Mapping[str, Any],
) -> Delegation:
    """Pass a host's move to the home's router, then record what it answers."""
    delegation = get_delegation(session, membership, caller, delegation_id)
    check_transition(DelegationState(delegation.state), target, Party.HOST)
    peer = _peer_of(membership, delegation)
    answer = membership.client.request(peer, "POST", path.format(id=delegation.id), body)
    _apply(session, delegation, _remote(answer, delegation.id), peer.id)
    session.commit()
    return delegation


def cancel(
    session: Session,
    membership: Membership,
    caller: Caller,
    delegation_id: str,
    reason: str | None = None,
) -> Delegation:
    """The host withdraws a request not yet decided, here or on the home's router."""
    delegation = delegations.get_delegation(session, caller, delegation_id)
    if not is_forwarded(delegation):
        return delegations.cancel(session, caller, delegation_id, reason)
    body = {"reason": delegations.clean_reason(reason)}
    return _host_move(
        session, membership, caller, delegation_id, DelegationState.CANCELLED, PEER_CANCEL_PATH,
        body,
    )


def report_outcome(
    session: Session,
    membership: Membership,
    caller: Caller,
    delegation_id: str,
    completed: bool,
    reason: str | None,
) -> Delegation:
    """The host reports how the card write ended, here or on the home's router."""
    delegation = delegations.get_delegation(session, caller, delegation_id)
    if not is_forwarded(delegation):
        return delegations.report_outcome(session, caller, delegation_id, completed, reason)
    target = DelegationState.COMPLETED if completed else DelegationState.FAILED
    body = {"outcome": target.value, "reason": delegations.clean_reason(reason)}
    return _host_move(session, membership, caller, delegation_id, target, PEER_OUTCOME_PATH, body)


def jwks(session: Session, membership: Membership, pic: str) -> dict[str, Any]:
    """An institution's public keys, from the router that hosts it.

    A host needs its home's keys (to seal the application key and to check the decision); when
    the home lives on a peer router, that router's directory answers, over a signed request.
    """
    peer = _peer_for(membership, pic.strip())
    if peer is None:
        return key_directory.jwks(session, pic)
    answer = membership.client.request(peer, "GET", PEER_JWKS_PATH.format(pic=pic.strip()))
    raise_for_problem(answer)
    document = answer.body
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise PeerBadAnswer(f"Router {peer.id} sent a malformed JWKS.", router_id=peer.id)
    return {"keys": document["keys"], "revoked": document.get("revoked") or []}
