"""Batches of persons and cards: each item upserted on its own, with its own result.

The plainly new and the unchanged items are settled first, set-based (``batch_sets``: one
statement per table for the batch). Every other item goes through the same services as the
single-item endpoints and commits (or rolls back) on its own, so a failed item changes nothing
and never stops the items after it. An item equal to
what is stored is reported ``unchanged`` and writes nothing, which makes re-running a batch safe.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.domain.errors import BatchSizeInvalid, PersonAlreadyExists, RouterError
from router.domain.escn import parse_escn
from router.domain.esi import parse_esi
from router.domain.lifecycle import CardState, action_for_v2_status
from router.domain.text import BLANKS
from router.models import Card, Person
from router.services import batch_sets, cards, persons
from router.services.caller import Caller, Scope

T = TypeVar("T")

MAX_BATCH_ITEMS = 500
# Settle the plainly new and the unchanged items of a batch set-based (batch_sets) before the
# rest go item by item; False runs every item through the item-by-item path (the reference).
SET_BASED = True


class Outcome(enum.StrEnum):
    """What happened to one item of a batch."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    DELETED = "deleted"  # CSV imports only: batches never delete


BATCH_OUTCOMES = (Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED, Outcome.FAILED)


@dataclass(frozen=True)
class ItemResult:
    """The result of one item: its outcome, the HTTP status a single call would have had."""

    index: int
    outcome: Outcome
    status: int
    identifier: str | None = None
    error: RouterError | None = None


@dataclass
class BatchReport:
    """The results of a batch, in the order of its items."""

    results: list[ItemResult] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """How many items ended in each outcome."""
        counts = {outcome.value: 0 for outcome in BATCH_OUTCOMES}
        for result in self.results:
            counts[result.outcome.value] += 1
        return counts


def check_batch_size(count: int, limit: int = MAX_BATCH_ITEMS) -> None:
    """Refuse an empty batch or one larger than ``limit`` items."""
    if count < 1 or count > limit:
        raise BatchSizeInvalid(f"A batch carries between 1 and {limit} items, not {count}.")


def failed(index: int, error: RouterError, identifier: str | None = None) -> ItemResult:
    """The result of an item refused with ``error``."""
    return ItemResult(index, Outcome.FAILED, error.status, identifier, error)


def guarded(
    session: Session, index: int, identifier: str | None, apply: Callable[[], ItemResult]
) -> ItemResult:
    """Run one item; on a refusal roll back whatever it had pending and report the error."""
    try:
        return apply()
    except RouterError as error:
        session.rollback()
        return failed(index, error, identifier)
    except Exception:
        session.rollback()
        raise


def _identifier_of(text: str | None, parse: Callable[[str], object]) -> str | None:
    """The normalised identifier of an item, or its raw text if it does not parse."""
    if not text:
        return None
    try:
        return parse(text).value  # type: ignore[attr-defined]
    except RouterError:
        return text


# --- persons -------------------------------------------------------------------------------


def _person_unchanged(person: Person, caller: Caller, data: persons.PersonInput) -> bool:
    link = next((lk for lk in persons.visible_links(person, caller)), None)
    if link is None or len(data.links) != 1:
        return False
    wanted = data.links[0]
    if wanted.organisation_identifier != caller.organisation.identifier:
        return False
    return (
        link.academic_level == wanted.academic_level
        and link.email == wanted.email
        and link.phone == wanted.phone
        and link.full_name == (wanted.full_name or data.full_name)
    )


def upsert_person(
    session: Session, caller: Caller, index: int, data: persons.PersonInput
) -> ItemResult:
    """Create the person if unknown, else replace the caller's link (as PUT would)."""

    def apply() -> ItemResult:
        esi = parse_esi(data.identifier).value
        existing = session.scalar(select(Person).where(Person.esi == esi))
        if existing is None:
            try:
                persons.create_person(session, caller, data)
                return ItemResult(index, Outcome.CREATED, 201, esi)
            except PersonAlreadyExists:
                # Registered by a concurrent request since the lookup (a retried batch, the batch
                # of an interrupted run still being applied): an upsert then compares and updates.
                session.rollback()
                existing = session.scalar(select(Person).where(Person.esi == esi))
                if existing is None:
                    raise
        if _person_unchanged(existing, caller, data):
            return ItemResult(index, Outcome.UNCHANGED, 200, esi)
        # Known to the router through another organisation only: for the caller, a new record.
        linked = bool(persons.visible_links(existing, caller))
        persons.replace_person(session, caller, esi, data)
        if not linked:
            return ItemResult(index, Outcome.CREATED, 201, esi)
        return ItemResult(index, Outcome.UPDATED, 200, esi)

    return guarded(session, index, _identifier_of(data.identifier, parse_esi), apply)


def _run_batch(
    session: Session,
    caller: Caller,
    scope: str,
    items: Sequence[T | RouterError],
    apply_item: Callable[[Session, Caller, int, T], ItemResult],
    settle: Callable[[Session, Caller, Sequence[T | RouterError]], batch_sets.Settled],
) -> BatchReport:
    """Apply each item on its own; an item given as an error (it did not parse) is failed."""
    caller.require(scope)
    check_batch_size(len(items))
    # One item gains nothing from a set: it goes the item path, as a single call would.
    settled = settle(session, caller, items) if SET_BASED and len(items) > 1 else {}
    report = BatchReport()
    for index, item in enumerate(items):
        if isinstance(item, RouterError):
            report.results.append(failed(index, item))
        elif index in settled:
            outcome, status, identifier = settled[index]
            report.results.append(ItemResult(index, Outcome(outcome), status, identifier))
        else:
            report.results.append(apply_item(session, caller, index, item))
    return report


def persons_batch(
    session: Session, caller: Caller, items: Sequence[persons.PersonInput | RouterError]
) -> BatchReport:
    """Upsert each person; an item given as an error (it did not parse) is reported failed."""
    return _run_batch(
        session, caller, Scope.PERSONS_WRITE, items, upsert_person, batch_sets.settle_persons
    )


# --- cards ---------------------------------------------------------------------------------


def _card_unchanged(card: Card, caller: Caller, data: cards.CardInput) -> bool:
    if action_for_v2_status(CardState(card.state), data.card_status_type) is not None:
        return False
    try:
        holder = parse_esi(data.person_identifier).value
        csn = cards.normalise_csn(data.csn) if data.csn is not None else card.csn
    except RouterError:
        return False
    return (
        data.issuer_identifier == caller.organisation.identifier
        and holder == card.person.esi
        and data.card_type == card.card_type
        and data.issued_at == card.issued_at
        and data.expires_at == card.expires_at
        and data.display_name == card.display_name
        and (data.processor_identifier or None) == card.processor_identifier
        and csn == card.csn
    )


def _matching_card(session: Session, caller: Caller, data: cards.CardInput) -> Card | None:
    """The caller's card this item designates: by number when given, else by chip serial."""
    if data.card_number and data.card_number.strip(BLANKS):
        return cards.find_card(session, data.card_number)
    csn = cards.normalise_csn(data.csn)
    if csn is None:
        return None
    card = session.scalar(select(Card).where(Card.csn == csn))
    # Another organisation's chip is not a match: registering it will say the CSN is taken.
    return card if card is not None and card.issuer_id == caller.organisation_id else None


def apply_card(session: Session, caller: Caller, index: int, data: cards.CardInput) -> ItemResult:
    """Update the card the item designates (number, then CSN) or register a new one."""

    def apply() -> ItemResult:
        card = _matching_card(session, caller, data)
        if card is None:
            created = cards.register_card(session, caller, data)
            return ItemResult(index, Outcome.CREATED, 201, created.card_number)
        if card.issuer_id == caller.organisation_id and _card_unchanged(card, caller, data):
            return ItemResult(index, Outcome.UNCHANGED, 200, card.card_number)
        updated = cards.update_card(session, caller, card.card_number, data)
        return ItemResult(index, Outcome.UPDATED, 200, updated.card_number)

    return guarded(session, index, _identifier_of(data.card_number, parse_escn), apply)


def cards_batch(
    session: Session, caller: Caller, items: Sequence[cards.CardInput | RouterError]
) -> BatchReport:
    """Upsert each card; an item given as an error (it did not parse) is reported failed."""
    return _run_batch(
        session, caller, Scope.CARDS_WRITE, items, apply_card, batch_sets.settle_cards
    )
