"""The set-based part of a batch: the items that are plainly new or plainly unchanged.

A batch item that passes validation, names a key (ESI, card number, chip serial) no other item
of the batch names, and is either unknown to the router or equal to what is stored is settled
here with one statement per table for the whole batch: one read of what exists, one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per table, one commit. Everything else (invalid
items, updates, duplicates within the batch, an insert that met a conflict) is left to the
item-by-item path, which then gives exactly the result it always gave: the items left are
disjoint from the ones settled here, so their order between them does not change any outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.db import utcnow
from router.domain.errors import RouterError, RuleViolation
from router.domain.escn import default_generator, parse_escn
from router.domain.esi import parse_esi
from router.domain.lifecycle import CardState, HistoryEvent, action_for_v2_status
from router.domain.text import BLANKS
from router.models import Card, CardHistoryEntry, ErasedPerson, Person, PersonOrganisation
from router.services import cards, persons
from router.services.bulk_sql import by_keys, insert_rows, one_of
from router.services.caller import Caller

# index of an item -> (outcome, status, identifier); what the set-based path settled.
Settled = dict[int, tuple[str, int, str]]


def _singles(keys: dict[int, list[str]], candidates: set[int]) -> set[int]:
    """The candidates none of whose keys another item of the batch (valid or not) also has."""
    counts = Counter(key for item_keys in keys.values() for key in item_keys)
    return {i for i in candidates if all(counts[k] == 1 for k in keys.get(i, []))}


def _key(text: str | None, parse: Any, tag: str) -> list[str]:
    """The normalised key an item names (none if blank or unparseable), tagged by kind."""
    if text is None or not text.strip(BLANKS):
        return []
    try:
        value = parse(text)
    except RouterError:
        return []
    value = getattr(value, "value", value)
    return [f"{tag}:{value}"] if value else []


def _commit_or_nothing(session: Session) -> bool:
    """Commit; on a conflict roll everything back (the items then go one by one)."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


# --- persons -------------------------------------------------------------------------------


def settle_persons(
    session: Session, caller: Caller, items: Sequence[persons.PersonInput | RouterError]
) -> Settled:
    """Create the new persons of a batch and recognise the unchanged ones, set-based."""
    candidates: dict[int, tuple[str, persons.PersonInput]] = {}
    for index, item in enumerate(items):
        if isinstance(item, RouterError):
            continue
        try:
            candidates[index] = (persons._check_input(caller, item), item)
        except RouterError:
            continue  # refused item by item, with the error it always had
    keys = {
        i: _key(item.identifier, parse_esi, "esi")
        for i, item in enumerate(items)
        if not isinstance(item, RouterError)
    }
    singles = _singles(keys, set(candidates))
    chosen = {i: candidates[i] for i in sorted(singles)}
    if not chosen:
        return {}
    by_esi = _stored_persons(session, caller, [esi for esi, _ in chosen.values()])
    settled: Settled = {}
    new: dict[str, tuple[int, persons.PersonInput]] = {}
    for index, (esi, data) in chosen.items():
        stored = by_esi.get(esi)
        if stored is None:
            new[esi] = (index, data)
        elif stored[1] is not None and _link_equal(stored[1], data):
            settled[index] = ("unchanged", 200, esi)
        # anything else (an update, a person known elsewhere only) goes item by item
    if not new:
        return settled
    now = utcnow()
    inserted = insert_rows(
        session,
        Person.__table__,
        [{"esi": esi} for esi in new],
        same={"created_at": now, "updated_at": now},
        ignore_conflicts=True,
        returning=(Person.id, Person.esi),
    )
    if inserted:
        insert_rows(
            session,
            PersonOrganisation.__table__,
            [_link_row(person_id, new[esi][1]) for person_id, esi in inserted],
            same={"organisation_id": caller.organisation_id, "created_at": now, "updated_at": now},
        )
        # Registering again after an erasure is a new consent: the erasure traces go.
        digests = [
            d for _id, esi in inserted for d in (persons.esi_digest(session, esi), _legacy(esi))
        ]
        session.execute(
            delete(ErasedPerson).where(one_of(session, ErasedPerson.esi_digest, digests))
        )
    if not _commit_or_nothing(session):
        return settled
    for _person_id, esi in inserted:
        settled[new[esi][0]] = ("created", 201, esi)
    return settled


def _legacy(esi: str) -> str:
    return persons._legacy_digest(esi)


def _link_equal(row: Any, data: persons.PersonInput) -> bool:
    wanted = data.links[0]  # _check_input: exactly the caller's own organisation
    return (
        row.academic_level == wanted.academic_level
        and row.email == wanted.email
        and row.phone == wanted.phone
        and row.full_name == (wanted.full_name or data.full_name)
    )


def _link_row(person_id: int, data: persons.PersonInput) -> dict[str, Any]:
    wanted = data.links[0]
    return {
        "person_id": person_id,
        "academic_level": wanted.academic_level,
        "email": wanted.email,
        "phone": wanted.phone,
        "full_name": wanted.full_name or data.full_name,
    }


def _stored_persons(
    session: Session, caller: Caller, esis: list[str]
) -> dict[str, tuple[int, Any | None]]:
    """By ESI, the persons stored among ``esis``: their id and the caller's link (or None).

    Two reads by key (the persons by ESI, then the caller's links of those persons): joined in
    one query, a planner with stale statistics (a table that grew in this very import) walks all
    of the organisation's links instead, at a cost growing with the organisation.
    """
    found = {
        row.id: row.esi for row in by_keys(session, select(Person.id, Person.esi), Person.esi, esis)
    }
    link = PersonOrganisation
    links = {
        row.person_id: row
        for row in by_keys(
            session,
            select(
                link.person_id,
                link.id,
                link.academic_level,
                link.email,
                link.phone,
                link.full_name,
            ).where(link.organisation_id == caller.organisation_id),
            link.person_id,
            found,
        )
    }
    return {esi: (person_id, links.get(person_id)) for person_id, esi in found.items()}


# --- cards ---------------------------------------------------------------------------------


def _card_keys(caller: Caller, data: cards.CardInput) -> tuple[str | None, str | None, str]:
    """The item's card number (if given), CSN (if given) and holder ESI; raises if invalid."""
    cards._check_input(caller, data)
    holder = parse_esi(data.person_identifier).value
    csn = cards.normalise_csn(data.csn)
    number = None
    if data.card_number and data.card_number.strip(BLANKS):
        escn = parse_escn(data.card_number)
        if escn.pic != caller.organisation.identifier:
            raise RuleViolation("another organisation's number")
        number = escn.value
    return number, csn, holder


# What the comparison with a stored card reads: columns, not entities (no ORM loading).
_CARD_COLUMNS = (
    Card.card_number,
    Card.csn,
    Card.issuer_id,
    Card.state,
    Card.card_type,
    Card.issued_at,
    Card.expires_at,
    Card.display_name,
    Card.processor_identifier,
)


def settle_cards(
    session: Session, caller: Caller, items: Sequence[cards.CardInput | RouterError]
) -> Settled:
    """Register the new cards of a batch and recognise the unchanged ones, set-based."""
    candidates: dict[int, tuple[str | None, str | None, str, cards.CardInput]] = {}
    for index, item in enumerate(items):
        if isinstance(item, RouterError):
            continue
        try:
            candidates[index] = (*_card_keys(caller, item), item)
        except RouterError:
            continue
    keys = {
        i: _key(item.card_number, parse_escn, "n") + _key(item.csn, cards.normalise_csn, "c")
        for i, item in enumerate(items)
        if not isinstance(item, RouterError)
    }
    singles = _singles(keys, set(candidates))
    chosen = {i: candidates[i] for i in sorted(singles)}
    if not chosen:
        return {}
    numbers = [n for n, _c, _h, _d in chosen.values() if n]
    csns = [c for _n, c, _h, _d in chosen.values() if c]
    # One indexed read per key kind (an OR of the two would scan the table).
    lookup = select(*_CARD_COLUMNS, Person.esi).join(Person, Person.id == Card.person_id)
    stored = [
        *by_keys(session, lookup, Card.card_number, numbers),
        *by_keys(session, lookup, Card.csn, csns),
    ]
    by_number = {card.card_number: (card, card.esi) for card in stored}
    by_csn = {card.csn: (card, card.esi) for card in stored if card.csn}
    holders = {
        esi: person_id
        for esi, (person_id, link) in _stored_persons(
            session, caller, list({h for _n, _c, h, _d in chosen.values()})
        ).items()
        if link is not None
    }
    settled: Settled = {}
    new: list[tuple[int, str | None, str | None, int, cards.CardInput]] = []
    for index, (number, csn, holder, data) in chosen.items():
        match = by_number.get(number) if number else by_csn.get(csn) if csn else None
        if match is not None:
            card, esi = match
            if number is None and card.issuer_id != caller.organisation_id:
                continue  # another organisation's chip: refused item by item
            if card.issuer_id == caller.organisation_id and _card_equal(
                card, esi, holder, csn, data
            ):
                settled[index] = ("unchanged", 200, card.card_number)
            continue
        if (csn and csn in by_csn) or holder not in holders:
            continue  # the chip is taken, or the holder unknown here: refused item by item
        new.append((index, number, csn, holders[holder], data))
    if not new:
        return settled
    now = utcnow()
    rows = [
        {
            "card_number": number
            or default_generator.generate(caller.organisation.identifier, _prefix(caller)),
            "person_id": person_id,
            "processor_identifier": data.processor_identifier or None,
            "card_type": data.card_type,
            "state": CardState(data.card_status_type).value,
            "issued_at": data.issued_at,
            "expires_at": data.expires_at,
            "display_name": data.display_name,
            "csn": csn,
        }
        for _index, number, csn, person_id, data in new
    ]
    inserted = insert_rows(
        session,
        Card.__table__,
        rows,
        same={"issuer_id": caller.organisation_id, "created_at": now, "updated_at": now},
        ignore_conflicts=True,
        returning=(Card.card_number, Card.state),
    )
    if inserted:
        insert_rows(
            session,
            CardHistoryEntry.__table__,
            [{"card_number": number, "to_state": state} for number, state in inserted],
            same={
                "at": now,
                "event": HistoryEvent.ISSUED.value,
                "from_state": None,
                "actor_organisation_id": caller.organisation_id,
                "actor_credential": caller.credential,
                "related_card_number": None,
            },
        )
    if not _commit_or_nothing(session):
        return settled
    created = {number for number, _state in inserted}
    for (index, *_rest), row in zip(new, rows, strict=True):
        if row["card_number"] in created:
            settled[index] = ("created", 201, row["card_number"])
    return settled


def _prefix(caller: Caller) -> str:
    organisation = caller.organisation
    return organisation.prefix_codes[0] if organisation.prefixes else "001"


def _card_equal(card: Card, esi: str, holder: str, csn: str | None, data: cards.CardInput) -> bool:
    """As the item-by-item path's comparison: nothing the item says differs from the card."""
    if action_for_v2_status(CardState(card.state), data.card_status_type) is not None:
        return False
    return (
        holder == esi
        and data.card_type == card.card_type
        and data.issued_at == card.issued_at
        and data.expires_at == card.expires_at
        and data.display_name == card.display_name
        and (data.processor_identifier or None) == card.processor_identifier
        and (csn if data.csn is not None else card.csn) == card.csn
    )
