"""The card lifecycle kept beside the real router's ACTIVE/INACTIVE status.

The real router only knows ACTIVE and INACTIVE (and EXPIRED, derived from the expiry date). A card
management system knows why a card stopped working: lost, stolen, suspended, replaced by a renewal,
destroyed. We keep that state, map it onto the v2 status, and refuse changes that make no sense
(a destroyed card cannot be reactivated) with a message that says what is allowed.
"""

from __future__ import annotations

import datetime as dt
import enum

from router.domain.errors import InvalidTransition


class CardState(enum.StrEnum):
    """Where a card stands in its life."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    SUSPENDED = "SUSPENDED"
    LOST = "LOST"
    STOLEN = "STOLEN"
    RENEWED = "RENEWED"
    DESTROYED = "DESTROYED"


class CardAction(enum.StrEnum):
    """What an institution can do to a card; each is recorded in the card's history."""

    REPORT_LOST = "REPORT_LOST"
    REPORT_STOLEN = "REPORT_STOLEN"
    SUSPEND = "SUSPEND"
    DEACTIVATE = "DEACTIVATE"
    REACTIVATE = "REACTIVATE"
    RENEW = "RENEW"
    DESTROY = "DESTROY"


class V2Status(enum.StrEnum):
    """The public status of the real router's status view."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"


class HistoryEvent(enum.StrEnum):
    """Entries of a card's append-only history: the actions, plus creation and deletion."""

    ISSUED = "ISSUED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    REPORT_LOST = "REPORT_LOST"
    REPORT_STOLEN = "REPORT_STOLEN"
    SUSPEND = "SUSPEND"
    DEACTIVATE = "DEACTIVATE"
    REACTIVATE = "REACTIVATE"
    RENEW = "RENEW"
    DESTROY = "DESTROY"


_TARGET: dict[CardAction, CardState] = {
    CardAction.REPORT_LOST: CardState.LOST,
    CardAction.REPORT_STOLEN: CardState.STOLEN,
    CardAction.SUSPEND: CardState.SUSPENDED,
    CardAction.DEACTIVATE: CardState.INACTIVE,
    CardAction.REACTIVATE: CardState.ACTIVE,
    CardAction.RENEW: CardState.RENEWED,
    CardAction.DESTROY: CardState.DESTROYED,
}

_ALLOWED: dict[CardState, frozenset[CardAction]] = {
    CardState.ACTIVE: frozenset(
        {
            CardAction.REPORT_LOST,
            CardAction.REPORT_STOLEN,
            CardAction.SUSPEND,
            CardAction.DEACTIVATE,
            CardAction.RENEW,
            CardAction.DESTROY,
        }
    ),
    CardState.INACTIVE: frozenset(
        {
            CardAction.REACTIVATE,
            CardAction.REPORT_LOST,
            CardAction.REPORT_STOLEN,
            CardAction.SUSPEND,
            CardAction.RENEW,
            CardAction.DESTROY,
        }
    ),
    CardState.SUSPENDED: frozenset(
        {
            CardAction.REACTIVATE,
            CardAction.DEACTIVATE,
            CardAction.REPORT_LOST,
            CardAction.REPORT_STOLEN,
            CardAction.RENEW,
            CardAction.DESTROY,
        }
    ),
    # A lost card may be found again, or turn out to have been stolen.
    CardState.LOST: frozenset(
        {CardAction.REACTIVATE, CardAction.REPORT_STOLEN, CardAction.RENEW, CardAction.DESTROY}
    ),
    CardState.STOLEN: frozenset({CardAction.REACTIVATE, CardAction.RENEW, CardAction.DESTROY}),
    # A replaced card can still be handed back and destroyed, nothing more.
    CardState.RENEWED: frozenset({CardAction.DESTROY}),
    CardState.DESTROYED: frozenset(),
}


def allowed_actions(state: CardState) -> frozenset[CardAction]:
    """The actions a card in ``state`` accepts."""
    return _ALLOWED[state]


def apply_action(state: CardState, action: CardAction) -> CardState:
    """Return the state after ``action``, or raise :class:`InvalidTransition` saying why not."""
    if action in _ALLOWED[state]:
        return _TARGET[action]
    allowed = ", ".join(sorted(a.value for a in _ALLOWED[state])) or "none (it is final)"
    raise InvalidTransition(
        f"A card in state {state.value} cannot take the action {action.value}; "
        f"allowed actions: {allowed}.",
        details={"state": state.value, "action": action.value},
    )


def action_for_v2_status(state: CardState, requested: str) -> CardAction | None:
    """Translate a v2 ``cardStatusType`` write into a lifecycle action (None: no change)."""
    if requested == V2Status.ACTIVE:
        return None if state is CardState.ACTIVE else CardAction.REACTIVATE
    if requested == V2Status.INACTIVE:
        return CardAction.DEACTIVATE if state is CardState.ACTIVE else None
    raise InvalidTransition(f"cardStatusType must be ACTIVE or INACTIVE, not {requested!r}.")


def write_status(state: CardState) -> V2Status:
    """The v2 ``cardStatusType`` of a card in ``state``."""
    return V2Status.ACTIVE if state is CardState.ACTIVE else V2Status.INACTIVE


def public_status(state: CardState, expires_at: dt.date, today: dt.date) -> V2Status:
    """The v2 public status: EXPIRED once the expiry date has passed, whatever the state."""
    if expires_at < today:
        return V2Status.EXPIRED
    return write_status(state)
