"""Persons: registering students, their links to organisations, reading and erasing them.

A person is global (one ESI, one record); what an organisation knows of them (academic level,
name, contact) lives in that organisation's link, and an organisation sees and writes its own link
only. Erasure removes the caller's link and cards; the person's record goes with the last link, and
only a digest of the ESI stays behind so that later reads answer 410 Gone as the real router does.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.db import ERASURE_KEY, flush_erased_pages
from router.domain.errors import (
    AccessDenied,
    MalformedRequest,
    PersonAlreadyExists,
    PersonErased,
    PersonNotFound,
    RuleViolation,
)
from router.domain.esi import parse_esi
from router.domain.lifecycle import HistoryEvent
from router.domain.text import BLANKS
from router.models import (
    Card,
    ErasedPerson,
    Person,
    PersonOrganisation,
    PersonPicture,
)
from router.services.caller import Caller, Scope
from router.services.card_history import record_change
from router.services.concurrency import serialised, touch
from router.services.list_counts import PERSONS, list_count
from router.services.pagination import (
    Keyed,
    Page,
    PageRequest,
    paginate,
    plan_for_search,
    search_condition,
    short_search_walk,
)

ACADEMIC_LEVELS = ("BACHELOR", "MASTER", "DOCTORATE")


@dataclass
class LinkInput:
    """What one organisation says of a person (the v2 PersonOrganisationUpdateView)."""

    organisation_identifier: str
    academic_level: str | None = None
    email: str | None = None
    full_name: str | None = None
    phone: str | None = None


@dataclass
class PersonInput:
    """A person as written by an organisation (the v2 PersonUpdateView)."""

    identifier: str
    links: list[LinkInput] = field(default_factory=list)
    identifier_code: str | None = None
    full_name: str | None = None


def esi_digest(session: Session, esi: str) -> str:
    """The digest kept after erasure: HMAC-SHA256 of the ESI under the server's erasure key.

    Keyed, so that a copy of the table cannot be checked against guessed student numbers.
    """
    key = session.info.get(ERASURE_KEY)
    if not key:
        raise RuntimeError("this session has no erasure key (Database(erasure_key=...))")
    return hmac.new(key, esi.encode("utf-8"), hashlib.sha256).hexdigest()


def _legacy_digest(esi: str) -> str:
    """The unkeyed SHA-256 digest that routers before 0004 kept; re-keyed when next met."""
    return hashlib.sha256(esi.encode("utf-8")).hexdigest()


def _erasure_trace(session: Session, esi: str) -> ErasedPerson | None:
    """The trace of an erasure of ``esi``; an old unkeyed trace is replaced by a keyed one."""
    keyed = session.get(ErasedPerson, esi_digest(session, esi))
    if keyed is not None:
        return keyed
    legacy = session.get(ErasedPerson, _legacy_digest(esi))
    if legacy is None:
        return None
    keyed = ErasedPerson(esi_digest=esi_digest(session, esi), erased_at=legacy.erased_at)
    session.delete(legacy)
    session.add(keyed)
    session.commit()
    return keyed


def visible_links(person: Person, caller: Caller) -> list[PersonOrganisation]:
    """The links of ``person`` the caller may see: its own organisation's."""
    return [link for link in person.links if link.organisation_id == caller.organisation_id]


def _check_input(caller: Caller, data: PersonInput) -> str:
    esi = parse_esi(data.identifier).value
    if (data.identifier_code or "").strip(BLANKS) not in ("", "ESI"):
        raise MalformedRequest("identifierCode can only be 'ESI'.")
    if not data.links:
        raise MalformedRequest("personOrganisationUpdateViews needs at least one entry.")
    seen: set[str] = set()
    for link in data.links:
        if link.organisation_identifier in seen:
            raise MalformedRequest(
                f"organisation {link.organisation_identifier} appears twice in "
                "personOrganisationUpdateViews."
            )
        seen.add(link.organisation_identifier)
        caller.require_own_identifier(link.organisation_identifier, "organisationIdentifier")
        if link.academic_level is not None and link.academic_level not in ACADEMIC_LEVELS:
            raise MalformedRequest(f"academicLevel must be one of {', '.join(ACADEMIC_LEVELS)}.")
    return esi


def _apply_links(person: Person, caller: Caller, data: PersonInput) -> None:
    link_data = data.links[0]  # _check_input allows the caller's own organisation only
    touch(person)  # serialises concurrent changes of this person's links
    link = next((lk for lk in person.links if lk.organisation_id == caller.organisation_id), None)
    if link is None:
        link = PersonOrganisation(organisation=caller.organisation)
        person.links.append(link)
    link.academic_level = link_data.academic_level
    link.email = link_data.email
    link.phone = link_data.phone
    # The top-level fullName is deprecated in v2 but still sent by older clients.
    link.full_name = link_data.full_name or data.full_name


def _find(session: Session, esi: str) -> Person | None:
    return session.scalar(select(Person).where(Person.esi == esi))


def _get_existing(session: Session, esi_text: str) -> Person:
    esi = parse_esi(esi_text).value
    person = _find(session, esi)
    if person is not None:
        return person
    if _erasure_trace(session, esi) is not None:
        raise PersonErased(f"The person {esi} was erased at their institution's request.")
    raise PersonNotFound(f"No person {esi} is registered.")


def _get_own(session: Session, caller: Caller, esi_text: str) -> Person:
    person = _get_existing(session, esi_text)
    if not visible_links(person, caller):
        raise AccessDenied(f"The person {person.esi} is not linked to your organisation.")
    return person


def create_person(session: Session, caller: Caller, data: PersonInput) -> Person:
    """Register a person linked to the caller's organisation (409 ER-0019 if the ESI exists)."""
    caller.require(Scope.PERSONS_WRITE)
    esi = _check_input(caller, data)
    if _find(session, esi) is not None:
        raise PersonAlreadyExists(
            f"A person {esi} already exists; use PUT /api/v2/persons/{{esi}} to link or update."
        )
    # Registering again after an erasure is a new consent: the erasure trace goes.
    session.execute(
        delete(ErasedPerson).where(
            ErasedPerson.esi_digest.in_([esi_digest(session, esi), _legacy_digest(esi)])
        )
    )
    person = Person(esi=esi)
    _apply_links(person, caller, data)
    session.add(person)
    try:
        session.commit()
    except IntegrityError as exc:  # another request registered the same ESI meanwhile
        session.rollback()
        raise PersonAlreadyExists(f"A person {esi} already exists.") from exc
    return person


def get_person(session: Session, caller: Caller, esi: str) -> Person:
    """A person linked to the caller's organisation."""
    caller.require(Scope.PERSONS_READ)
    return _get_own(session, caller, esi)


@serialised
def replace_person(session: Session, caller: Caller, esi: str, data: PersonInput) -> Person:
    """Replace what the caller's organisation says of a person, linking it if not yet linked."""
    caller.require(Scope.PERSONS_WRITE)
    new_esi = _check_input(caller, data)
    person = _get_existing(session, esi)
    if new_esi != person.esi:
        raise RuleViolation(
            f"The identifier in the body ({new_esi}) differs from the path ({person.esi}); "
            "an ESI never changes once sent."
        )
    _apply_links(person, caller, data)
    session.commit()
    return person


@serialised
def delete_person(session: Session, caller: Caller, esi: str) -> None:
    """Erase what the caller's organisation holds of a person: link, picture, its cards.

    The person's record itself goes with the last link, leaving only a digest of the ESI.
    """
    caller.require(Scope.PERSONS_WRITE)
    person = _get_own(session, caller, esi)
    cards = session.scalars(
        select(Card).where(Card.person_id == person.id, Card.issuer_id == caller.organisation_id)
    ).all()
    for card in cards:
        record_change(session, caller, card, HistoryEvent.DELETED, card.state)
        session.delete(card)
    session.execute(
        delete(PersonPicture).where(
            PersonPicture.person_id == person.id,
            PersonPicture.organisation_id == caller.organisation_id,
        )
    )
    for link in visible_links(person, caller):
        person.links.remove(link)
    touch(person)  # two organisations removing their last links at once: one sees the other's
    if not person.links:
        session.add(ErasedPerson(esi_digest=esi_digest(session, person.esi)))
        session.delete(person)
    session.commit()
    flush_erased_pages(session)


PERSON_SORTS = {
    # The person's ESI and creation time as copied onto the link: sorted on the link's indexes.
    "identifier": PersonOrganisation.person_esi,
    "fullName": PersonOrganisation.full_name,
    "createdAt": PersonOrganisation.person_created_at,
    # The link's person_id is the person's id: sorted on the link's own index.
    "id": PersonOrganisation.person_id,
}


def list_persons(
    session: Session, caller: Caller, request: PageRequest, *, max_size: int = 1000
) -> Page[Person]:
    """The persons linked to the caller's organisation, searched, sorted and paged."""
    caller.require(Scope.PERSONS_READ)
    own = PersonOrganisation.organisation_id == caller.organisation_id
    query = select(PersonOrganisation.person_id).where(own)
    walk = None
    if request.search:
        plan_for_search(session)
        search_text = PersonOrganisation.__table__.c.search_text
        walk = short_search_walk(query, request.search, search_text=search_text)
        # The link's three columns (the ESI is the link's copy), each with a trigram index
        # within the organisation on PostgreSQL: the planner ORs the three indexes' bitmaps and
        # reads each matching link once, sorting and counting in the same pass.
        query = query.where(
            search_condition(
                session,
                (
                    PersonOrganisation.full_name,
                    PersonOrganisation.email,
                    PersonOrganisation.person_esi,
                ),
                request.search,
                search_text=search_text,
            )
        )
    return paginate(
        session,
        query,
        request,
        sortable=PERSON_SORTS,
        default_sort="id",
        max_size=max_size,
        count_in_page=bool(request.search),
        walk=walk,
        count=None
        if request.search
        else lambda: list_count(session, caller.organisation_id, PERSONS),
        keyed=Keyed(
            load=lambda keys: session.scalars(select(Person).where(Person.id.in_(keys))),
            key_of=lambda person: person.id,
        ),
    )
