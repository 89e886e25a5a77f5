"""A card's append-only history, and the webhook event each status change queues with it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from router.domain.lifecycle import HistoryEvent
from router.models import Card, CardHistoryEntry
from router.services.caller import Caller
from router.services.webhooks import record_card_event

# Entries that do not change whether the card is valid, so subscribers are not told of them.
_NOT_STATUS_CHANGES = frozenset({HistoryEvent.ISSUED, HistoryEvent.UPDATED})


def record_change(
    session: Session,
    caller: Caller | None,
    card: Card,
    event: HistoryEvent,
    from_state: str | None,
    *,
    related: str | None = None,
) -> None:
    """Append a history entry (not committed); a status change also queues its webhook event.

    Both are added to the caller's transaction, so the entry and the event exist exactly when
    the change itself is committed. A deletion records no new state.
    """
    deleted = event is HistoryEvent.DELETED
    session.add(
        CardHistoryEntry(
            card_number=card.card_number,
            event=event,
            from_state=from_state,
            to_state=None if deleted else card.state,
            actor_organisation_id=caller.organisation_id if caller else None,
            actor_credential=caller.credential if caller else None,
            related_card_number=related,
        )
    )
    if event not in _NOT_STATUS_CHANGES:
        record_card_event(session, card, from_state, event.value, deleted=deleted)
