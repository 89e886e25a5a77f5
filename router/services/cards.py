"""Cards: issuing, updating, lifecycle and history, public status, number reservation."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.db import Executor
from router.domain.errors import (
    AccessDenied,
    CardAlreadyExists,
    CardNotFound,
    InvalidIdentifier,
    MalformedRequest,
    NoNumbersRequested,
    PersonNotFound,
    RuleViolation,
    TooManyNumbers,
)
from router.domain.escn import (
    EscnGenerator,
    default_generator,
    parse_escn,
    validate_pic,
    validate_prefix,
)
from router.domain.esi import parse_esi
from router.domain.lifecycle import (
    CardAction,
    CardState,
    HistoryEvent,
    V2Status,
    action_for_v2_status,
    apply_action,
    public_status,
)
from router.domain.text import BLANKS, BLANKS_PATTERN
from router.models import Card, CardHistoryEntry, EscnReservation, Organisation, Person
from router.services.caller import Caller, Scope
from router.services.card_history import record_change
from router.services.concurrency import serialised
from router.services.list_counts import CARDS, list_count
from router.services.lookups import CardRead, card_facts
from router.services.organisations import find_organisation
from router.services.pagination import (
    Keyed,
    Page,
    PageRequest,
    paginate,
    plan_for_search,
    search_condition,
    short_search_walk,
)
from router.services.persons import visible_links

CARD_TYPES = (
    "UNKNOWN",
    "PASSIVE",
    "SMART_NO_CDZ",
    "SMART_CDZ",
    "SMART_MAY_SP",
    "SMART_PASSIVE",
    "SMART_PASSIVE_EMULATION",
)
WRITE_STATUSES = (V2Status.ACTIVE.value, V2Status.INACTIVE.value)
_CSN = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
_CSN_SEPARATORS = "[ \\t\\r\\n:-]*"
_CSN_DIGIT = f"[0-9A-Fa-f]{_CSN_SEPARATORS}"
# What normalise_csn accepts (blank: no chip), for the OpenAPI document.
CSN_PATTERN = (
    f"^{BLANKS_PATTERN}$|^{_CSN_SEPARATORS}"
    f"(?:(?:{_CSN_DIGIT}){{8}}|(?:{_CSN_DIGIT}){{14}}|(?:{_CSN_DIGIT}){{20}})$"
)
_GENERATION_ATTEMPTS = 5


@dataclass
class CardInput:
    """A card as written by an institution (the v2 CardUpdateView, plus the chip's CSN)."""

    card_type: str
    card_status_type: str
    issued_at: dt.date
    expires_at: dt.date
    issuer_identifier: str
    person_identifier: str
    card_number: str | None = None
    display_name: str | None = None
    processor_identifier: str | None = None
    csn: str | None = None


@dataclass(frozen=True)
class CardStatus:
    """The public answer behind the QR code: the v2 CardStatusView."""

    card_number: str
    status: V2Status
    issued_at: dt.date
    expires_at: dt.date
    issuer_identifier: str
    issuer_name: str
    display_name: str | None


def normalise_csn(csn: str | None) -> str | None:
    """Upper-case hex of a chip serial number (4, 7 or 10 bytes), separators removed."""
    if csn is None or not csn.strip(BLANKS):
        return None
    cleaned = re.sub("[ \t\r\n:-]", "", csn).upper()
    if not _CSN.match(cleaned):
        raise InvalidIdentifier(f"{csn!r} is not a chip serial number (4, 7 or 10 bytes in hex).")
    return cleaned


def _check_input(caller: Caller, data: CardInput) -> None:
    if data.card_type not in CARD_TYPES:
        raise MalformedRequest(f"cardType must be one of {', '.join(CARD_TYPES)}.")
    if data.card_status_type not in WRITE_STATUSES:
        raise MalformedRequest("cardStatusType must be ACTIVE or INACTIVE.")
    caller.require_own_identifier(data.issuer_identifier, "issuerIdentifier")
    if data.expires_at < data.issued_at:
        raise RuleViolation(f"expiresAt ({data.expires_at}) is before issuedAt ({data.issued_at}).")


def _holder(session: Session, caller: Caller, person_identifier: str) -> Person:
    esi = parse_esi(person_identifier).value
    person = session.scalar(select(Person).where(Person.esi == esi))
    if person is None:
        raise PersonNotFound(f"No person {esi} is registered; register the person first.")
    if not visible_links(person, caller):
        raise AccessDenied(f"The person {esi} is not linked to your organisation.")
    return person


def _new_number(session: Session, organisation: Organisation, generator: EscnGenerator) -> str:
    prefix = organisation.prefix_codes[0] if organisation.prefixes else "001"
    for _ in range(_GENERATION_ATTEMPTS):
        number = generator.generate(organisation.identifier, prefix)
        taken = session.scalar(select(Card.id).where(Card.card_number == number))
        if taken is None:
            return number
    raise CardAlreadyExists("Could not generate a free card number; try again.")


def _claim_number(session: Session, caller: Caller, given: str | None) -> str:
    if given is None or not given.strip(BLANKS):
        return _new_number(session, caller.organisation, default_generator)
    escn = parse_escn(given)
    if escn.pic != caller.organisation.identifier:
        raise RuleViolation(
            f"The card number {escn.value} belongs to PIC {escn.pic}, not to your organisation "
            f"({caller.organisation.identifier})."
        )
    if session.scalar(select(Card.id).where(Card.card_number == escn.value)) is not None:
        raise CardAlreadyExists(f"A card {escn.value} already exists; use PUT to update it.")
    return escn.value


def _check_csn_free(session: Session, csn: str | None, card_id: int | None) -> None:
    if csn is None:
        return
    holder = session.scalar(select(Card.id).where(Card.csn == csn))
    if holder is not None and holder != card_id:
        raise CardAlreadyExists(f"Another card already has the chip serial number {csn}.")


def _commit(session: Session, card_number: str) -> None:
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent request took the number or the CSN first
        session.rollback()
        raise CardAlreadyExists(f"A card {card_number} (or its chip) already exists.") from exc


def register_card(session: Session, caller: Caller, data: CardInput) -> Card:
    """Issue a card to a person of the caller's organisation; the number is generated if blank."""
    caller.require(Scope.CARDS_WRITE)
    _check_input(caller, data)
    person = _holder(session, caller, data.person_identifier)
    csn = normalise_csn(data.csn)
    number = _claim_number(session, caller, data.card_number)
    _check_csn_free(session, csn, None)
    card = Card(
        card_number=number,
        person=person,
        issuer=caller.organisation,
        processor_identifier=data.processor_identifier or None,
        card_type=data.card_type,
        state=CardState(data.card_status_type).value,
        issued_at=data.issued_at,
        expires_at=data.expires_at,
        display_name=data.display_name,
        csn=csn,
    )
    session.add(card)
    record_change(session, caller, card, HistoryEvent.ISSUED, None)
    _commit(session, number)
    return card


def find_card(session: Session, escn: str) -> Card | None:
    """The card with this (valid) number, whoever issued it."""
    return session.scalar(select(Card).where(Card.card_number == parse_escn(escn).value))


def _get_own(session: Session, caller: Caller, escn: str) -> Card:
    card = find_card(session, escn)
    if card is None:
        raise CardNotFound(f"No card {parse_escn(escn).value} is registered.")
    if card.issuer_id != caller.organisation_id:
        raise AccessDenied(f"The card {card.card_number} was not issued by your organisation.")
    return card


def get_card(session: Session, caller: Caller, escn: str) -> Card:
    """A card issued by the caller's organisation."""
    caller.require(Scope.CARDS_READ)
    return _get_own(session, caller, escn)


@serialised
def update_card(session: Session, caller: Caller, escn: str, data: CardInput) -> Card:
    """Replace a card's fields; a status change goes through the lifecycle rules."""
    caller.require(Scope.CARDS_WRITE)
    _check_input(caller, data)  # a body naming another PIC is refused first, as on create
    card = _get_own(session, caller, escn)
    if data.card_number and parse_escn(data.card_number).value != card.card_number:
        raise RuleViolation("cardNumber cannot change; issue a new card instead.")
    holder = _holder(session, caller, data.person_identifier)
    if holder.id != card.person_id:
        raise RuleViolation("A card cannot change holder; issue a new card to the other person.")
    csn = normalise_csn(data.csn) if data.csn is not None else card.csn
    _check_csn_free(session, csn, card.id)
    before = card.state
    action = action_for_v2_status(CardState(card.state), data.card_status_type)
    if action is not None:
        card.state = apply_action(CardState(card.state), action).value
    card.card_type = data.card_type
    card.issued_at = data.issued_at
    card.expires_at = data.expires_at
    card.display_name = data.display_name
    card.processor_identifier = data.processor_identifier or None
    card.csn = csn
    record_change(
        session,
        caller,
        card,
        HistoryEvent(action.value) if action else HistoryEvent.UPDATED,
        before,
    )
    _commit(session, card.card_number)
    return card


@serialised
def delete_card(session: Session, caller: Caller, escn: str) -> None:
    """Delete a card of the caller's organisation; its history stays, without personal data."""
    caller.require(Scope.CARDS_WRITE)
    card = _get_own(session, caller, escn)
    before = card.state
    record_change(session, caller, card, HistoryEvent.DELETED, before)
    session.delete(card)
    session.commit()


CARD_SORTS = {
    "cardNumber": Card.card_number,
    "issuedAt": Card.issued_at,
    "expiresAt": Card.expires_at,
    "displayName": Card.display_name,
    "createdAt": Card.created_at,
    "id": Card.id,
}


def list_cards(
    session: Session, caller: Caller, request: PageRequest, *, max_size: int = 1000
) -> Page[Card]:
    """The cards the caller's organisation issued, searched, sorted and paged."""
    caller.require(Scope.CARDS_READ)
    own = Card.issuer_id == caller.organisation_id
    query = select(Card.id).where(own)
    walk = None
    if request.search:
        plan_for_search(session)
        search_text = Card.__table__.c.search_text
        walk = short_search_walk(query, request.search, search_text=search_text)
        # The card's own columns and its copy of the holder's ESI, each with a trigram index
        # scoped to the issuer on PostgreSQL: the planner ORs the three indexes' bitmaps and
        # reads each matching card once, sorting and counting in the same pass.
        query = query.where(
            search_condition(
                session,
                (Card.card_number, Card.display_name, Card.holder_esi),
                request.search,
                search_text=search_text,
            )
        )
    return paginate(
        session,
        query,
        request,
        sortable=CARD_SORTS,
        default_sort="id",
        max_size=max_size,
        count_in_page=bool(request.search),
        walk=walk,
        count=None
        if request.search
        else lambda: list_count(session, caller.organisation_id, CARDS),
        keyed=Keyed(
            load=lambda keys: session.scalars(select(Card).where(Card.id.in_(keys))).unique(),
            key_of=lambda card: card.id,
        ),
    )


def card_status(
    session: Executor,
    escn: str,
    *,
    today: dt.date | None = None,
    caller: Caller | None = None,
    read: CardRead | None = None,
) -> CardStatus:
    """The public status of a card; the display name only for the card's own issuer.

    One statement (the QR-scan path): the card's public facts with its issuer; the holder's
    display name is read only for the card's issuer. ``read``: the card read already, for
    ``caller``, with the caller's credential (:func:`router.services.lookups.key_and_card`).
    """
    number = parse_escn(escn).value
    own_organisation = caller.organisation_id if caller is not None else None
    if read is not None:
        card = read.facts
    else:
        card = card_facts(session, number, display_name_for=own_organisation)
    if card is None:
        raise CardNotFound(f"No card {number} is registered.")
    return CardStatus(
        card_number=card.card_number,
        status=public_status(CardState(card.state), card.expires_at, today or dt.date.today()),
        issued_at=card.issued_at,
        expires_at=card.expires_at,
        issuer_identifier=card.issuer_identifier,
        issuer_name=card.issuer_name,
        display_name=card.display_name,
    )


@dataclass
class RenewalInput:
    """The replacement card of a renewal; unset fields are copied from the old card."""

    issued_at: dt.date | None = None
    expires_at: dt.date | None = None
    card_number: str | None = None
    card_type: str | None = None
    display_name: str | None = None
    csn: str | None = None


@serialised
def change_state(
    session: Session,
    caller: Caller,
    escn: str,
    action: CardAction,
    renewal: RenewalInput | None = None,
) -> tuple[Card, Card | None]:
    """Apply a lifecycle action; a renewal also issues the replacement card, returned second."""
    caller.require(Scope.CARDS_WRITE)
    card = _get_own(session, caller, escn)
    before = card.state
    card.state = apply_action(CardState(card.state), action).value
    replacement: Card | None = None
    if action is CardAction.RENEW:
        wanted = renewal or RenewalInput()
        issued = wanted.issued_at or dt.date.today()
        expires = wanted.expires_at or card.expires_at
        if expires < issued:
            raise RuleViolation(f"expiresAt ({expires}) is before issuedAt ({issued}).")
        csn = normalise_csn(wanted.csn)
        number = _claim_number(session, caller, wanted.card_number)
        _check_csn_free(session, csn, None)
        card_type = wanted.card_type or card.card_type
        if card_type not in CARD_TYPES:
            raise MalformedRequest(f"cardType must be one of {', '.join(CARD_TYPES)}.")
        replacement = Card(
            card_number=number,
            person=card.person,
            issuer=card.issuer,
            processor_identifier=card.processor_identifier,
            card_type=card_type,
            state=CardState.ACTIVE.value,
            issued_at=issued,
            expires_at=expires,
            display_name=wanted.display_name or card.display_name,
            csn=csn,
        )
        card.replaced_by = number
        session.add(replacement)
        record_change(
            session, caller, replacement, HistoryEvent.ISSUED, None, related=card.card_number
        )
    record_change(
        session,
        caller,
        card,
        HistoryEvent(action.value),
        before,
        related=replacement.card_number if replacement else None,
    )
    _commit(session, card.card_number)
    return card, replacement


def card_history(session: Session, caller: Caller, escn: str) -> list[CardHistoryEntry]:
    """The append-only history of a card of the caller's organisation, oldest first."""
    caller.require(Scope.CARDS_READ)
    card = _get_own(session, caller, escn)
    return list(
        session.scalars(
            select(CardHistoryEntry)
            .where(CardHistoryEntry.card_number == card.card_number)
            .order_by(CardHistoryEntry.at, CardHistoryEntry.id)
        )
    )


def reserve_card_numbers(
    session: Session,
    caller: Caller,
    pic: str,
    prefix: str | int,
    count: int,
    *,
    limit: int = 100,
    generator: EscnGenerator = default_generator,
) -> list[str]:
    """Generate and reserve ``count`` card numbers for the caller's own PIC (at most ``limit``)."""
    caller.require(Scope.CARDS_WRITE)
    if count < 1:
        raise NoNumbersRequested(f"numberOfESCN must be at least 1, not {count}.")
    if count > limit:
        raise TooManyNumbers(f"numberOfESCN is at most {limit} per request, not {count}.")
    validate_pic(pic)
    code = validate_prefix(prefix)
    caller.require_own_identifier(pic, "pic")
    for _ in range(_GENERATION_ATTEMPTS):
        numbers = generator.generate_many(pic, code, count)
        session.add_all(
            EscnReservation(card_number=n, organisation_id=caller.organisation_id) for n in numbers
        )
        try:
            session.commit()
        except IntegrityError:  # another worker produced the same number: draw again
            session.rollback()
            continue
        return numbers
    raise CardAlreadyExists("Could not reserve free card numbers; try again.")


def processor_of(session: Session, card: Card) -> Organisation | None:
    """The registered organisation named as the card's processor, if it is registered."""
    if not card.processor_identifier:
        return None
    return find_organisation(session, card.processor_identifier)
