"""Reads of many records in one query each, for the GraphQL DataLoaders.

A dashboard asks for a hundred persons with their cards and each card's history; these functions
answer for a whole batch of keys at once, with the same visibility rules as the single reads:
an organisation only ever sees its own links, cards, pictures and card histories.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.models import Card, CardHistoryEntry, Organisation, PersonPicture
from router.services.caller import Caller, Scope


def cards_by_person(
    session: Session, caller: Caller, person_ids: Iterable[int]
) -> dict[int, list[Card]]:
    """The cards the caller's organisation issued to each of these persons, oldest first."""
    caller.require(Scope.CARDS_READ)
    ids = sorted(set(person_ids))
    found: dict[int, list[Card]] = defaultdict(list)
    if not ids:
        return found
    rows = session.scalars(
        select(Card)
        .where(Card.person_id.in_(ids), Card.issuer_id == caller.organisation_id)
        .order_by(Card.id)
    ).unique()
    for card in rows:
        found[card.person_id].append(card)
    return found


def persons_with_picture(session: Session, caller: Caller, person_ids: Iterable[int]) -> set[int]:
    """Which of these persons have a picture held by the caller's organisation."""
    ids = sorted(set(person_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(PersonPicture.person_id).where(
                PersonPicture.person_id.in_(ids),
                PersonPicture.organisation_id == caller.organisation_id,
            )
        )
    )


def histories_by_card(
    session: Session, caller: Caller, card_numbers: Iterable[str]
) -> dict[str, list[CardHistoryEntry]]:
    """The history of each of these cards that the caller's organisation issued, oldest first."""
    caller.require(Scope.CARDS_READ)
    numbers = sorted(set(card_numbers))
    found: dict[str, list[CardHistoryEntry]] = defaultdict(list)
    if not numbers:
        return found
    # Joining the card keeps the issuer check: history rows carry no organisation of their own.
    rows = session.scalars(
        select(CardHistoryEntry)
        .join(Card, Card.card_number == CardHistoryEntry.card_number)
        .where(Card.card_number.in_(numbers), Card.issuer_id == caller.organisation_id)
        .order_by(CardHistoryEntry.at, CardHistoryEntry.id)
    )
    for entry in rows:
        found[entry.card_number].append(entry)
    return found


def organisations_by_identifier(
    session: Session, identifiers: Iterable[str]
) -> dict[str, Organisation]:
    """The registered organisations among these identifiers (public facts only)."""
    wanted = sorted(set(identifiers))
    if not wanted:
        return {}
    rows = session.scalars(select(Organisation).where(Organisation.identifier.in_(wanted)))
    return {o.identifier: o for o in rows}


def organisation_identifiers_by_id(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The identifiers of these organisations, by primary key."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.identifier).where(Organisation.id.in_(wanted))
    )
    return {row.id: row.identifier for row in rows}
