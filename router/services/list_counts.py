"""An organisation's exact number of cards and of persons, kept by triggers (migration 0012)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.models import ListCount

CARDS = "cards"
PERSONS = "persons"


def list_count(session: Session, organisation_id: int, counted: str) -> int:
    """The number of ``counted`` (``cards`` or ``persons``) of the organisation, exactly.

    The sum of the count's parts in this statement's snapshot: every committed write is in it
    whole (its rows and its parts commit together), none in part.
    """
    total = session.scalar(
        select(func.coalesce(func.sum(ListCount.n), 0)).where(
            ListCount.organisation_id == organisation_id, ListCount.list == counted
        )
    )
    return int(total or 0)
