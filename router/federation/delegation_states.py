"""The states of a delegation and who may move it from one to the next (pure rules).

requested → delivered → approved | refused; approved → completed | failed; a pending request
(requested or delivered) may also expire (the router, at its expiry time) or be cancelled (by the
host). The home receives and decides; the host cancels and reports how the card write ended.
"""

from __future__ import annotations

import enum

from router.federation.errors import InvalidDelegationTransition, NotADelegationParty


class DelegationState(enum.StrEnum):
    """Where a delegation stands."""

    REQUESTED = "requested"
    DELIVERED = "delivered"
    APPROVED = "approved"
    REFUSED = "refused"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Party(enum.StrEnum):
    """Who moves a delegation: its two institutions, or the router's clock."""

    HOST = "host"
    HOME = "home"
    ROUTER = "router"


PENDING = frozenset({DelegationState.REQUESTED, DelegationState.DELIVERED})
FINAL = frozenset(
    {
        DelegationState.REFUSED,
        DelegationState.COMPLETED,
        DelegationState.FAILED,
        DelegationState.EXPIRED,
        DelegationState.CANCELLED,
    }
)

_TRANSITIONS: dict[DelegationState, dict[DelegationState, Party]] = {
    DelegationState.REQUESTED: {
        DelegationState.DELIVERED: Party.HOME,
        DelegationState.CANCELLED: Party.HOST,
        DelegationState.EXPIRED: Party.ROUTER,
    },
    DelegationState.DELIVERED: {
        DelegationState.APPROVED: Party.HOME,
        DelegationState.REFUSED: Party.HOME,
        DelegationState.CANCELLED: Party.HOST,
        DelegationState.EXPIRED: Party.ROUTER,
    },
    DelegationState.APPROVED: {
        DelegationState.COMPLETED: Party.HOST,
        DelegationState.FAILED: Party.HOST,
    },
}

EVENT_PREFIX = "delegation."
EVENT_TYPES = tuple(f"{EVENT_PREFIX}{state.value}" for state in DelegationState)


def event_type(state: DelegationState) -> str:
    """The webhook event type of reaching ``state``: ``delegation.<state>``."""
    return f"{EVENT_PREFIX}{state.value}"


def allowed_from(state: DelegationState) -> dict[DelegationState, Party]:
    """The states reachable from ``state``, and who may move there."""
    return dict(_TRANSITIONS.get(state, {}))


def check_transition(current: DelegationState, target: DelegationState, party: Party) -> None:
    """Refuse a change the state machine does not allow, or that is the other party's to make."""
    allowed = _TRANSITIONS.get(current, {})
    if target not in allowed:
        raise InvalidDelegationTransition(
            f"A {current.value} delegation cannot become {target.value}"
            + (f"; it can become {', '.join(s.value for s in allowed)}." if allowed else ".")
        )
    if allowed[target] is not party:
        raise NotADelegationParty(
            f"Only the {allowed[target].value} institution moves a delegation to {target.value}."
        )
