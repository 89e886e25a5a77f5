"""The JSON that routers exchange about a forwarded delegation, and its strict reading.

The host's router sends the host's signed request unchanged, with the host's public keys (the
JWKS its own directory serves); the home's router answers with where the delegation stands: its
state, its history, and the home's signed decision exactly as received. Nothing about the card's
holder travels: the card number and chip UID are the host's own reading of the card.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.federation.delegation_states import DelegationState, Party
from router.federation.records import Delegation
from router.federation.wire import (
    WireError,
    optional_field,
    parse_timestamp,
    required_field,
    timestamp_json,
)

PEER_DELEGATIONS_PATH = "/api/x/federation/peer/delegations"
PEER_DELEGATION_PATH = PEER_DELEGATIONS_PATH + "/{id}"
PEER_CANCEL_PATH = PEER_DELEGATION_PATH + "/cancel"
PEER_OUTCOME_PATH = PEER_DELEGATION_PATH + "/outcome"
PEER_JWKS_PATH = "/api/x/federation/peer/directory/{pic}/jwks.json"


def _time(value: dt.datetime | None) -> str | None:
    return timestamp_json(value) if value is not None else None


def forwarded_request_json(compact: str, host_keys: Mapping[str, Any]) -> dict[str, Any]:
    """What the host's router sends: the request as signed, and the host's public keys."""
    return {"request": compact, "hostKeys": dict(host_keys)}


def peer_view_json(delegation: Delegation) -> dict[str, Any]:
    """Where a delegation stands, for the router of its other party."""
    return {
        "id": delegation.id,
        "state": delegation.state,
        "deliveredAt": _time(delegation.delivered_at),
        "decidedAt": _time(delegation.decided_at),
        "finishedAt": _time(delegation.finished_at),
        "decision": delegation.decision,
        "decisionId": delegation.decision_id,
        "decisionReason": delegation.decision_reason,
        "decisionToken": delegation.decision_jws,
        "decisionKid": delegation.decision_kid,
        "outcomeReason": delegation.outcome_reason,
        "history": [
            {"at": timestamp_json(e.at), "state": e.state, "party": e.party, "reason": e.reason}
            for e in delegation.events
        ],
    }


@dataclass(frozen=True)
class RemoteEvent:
    """One change of the delegation, as the home's router recorded it."""

    at: dt.datetime
    state: DelegationState
    party: Party
    reason: str | None


@dataclass(frozen=True)
class RemoteDelegation:
    """A forwarded delegation as the home's router holds it."""

    id: str
    state: DelegationState
    values: dict[str, Any]
    history: tuple[RemoteEvent, ...]


def _optional_time(data: Mapping[str, Any], name: str) -> dt.datetime | None:
    value = optional_field(data, name, str)
    return parse_timestamp(value, name) if value is not None else None


def _event(data: Any) -> RemoteEvent:
    if not isinstance(data, Mapping):
        raise WireError("a history entry is an object")
    try:
        state = DelegationState(required_field(data, "state", str))
        party = Party(required_field(data, "party", str))
    except ValueError as error:
        raise WireError("a history entry names an unknown state or party") from error
    reason = optional_field(data, "reason", str)
    return RemoteEvent(parse_timestamp(required_field(data, "at", str), "at"), state, party, reason)


def parse_peer_view(data: Any, *, delegation_id: str) -> RemoteDelegation:
    """Read a peer's answer about delegation ``delegation_id``, refusing any other shape."""
    if not isinstance(data, Mapping):
        raise WireError("the answer is not an object")
    if required_field(data, "id", str) != delegation_id:
        raise WireError(f"the answer is about another delegation than {delegation_id}")
    try:
        state = DelegationState(required_field(data, "state", str))
    except ValueError as error:
        raise WireError("unknown delegation state") from error
    history = tuple(_event(e) for e in required_field(data, "history", list))
    if not history or history[-1].state is not state:
        raise WireError("the history does not end in the delegation's state")
    decision = optional_field(data, "decision", str)
    if decision not in (None, "approve", "refuse"):
        raise WireError("decision is approve or refuse")
    values = {
        "delivered_at": _optional_time(data, "deliveredAt"),
        "decided_at": _optional_time(data, "decidedAt"),
        "finished_at": _optional_time(data, "finishedAt"),
        "decision": decision,
        "decision_id": optional_field(data, "decisionId", str),
        "decision_reason": optional_field(data, "decisionReason", str),
        "decision_jws": optional_field(data, "decisionToken", str),
        "decision_kid": optional_field(data, "decisionKid", str),
        "outcome_reason": optional_field(data, "outcomeReason", str),
    }
    return RemoteDelegation(delegation_id, state, values, history)
