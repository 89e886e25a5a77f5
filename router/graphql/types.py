"""The GraphQL object types: organisations, persons, cards and their history.

Nodes are built from the models the services return; fields that need more data (a person's
cards, a card's history or processor) go through the request's loaders, never one query per node.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.types import Info

from router import models
from router.domain.lifecycle import CardAction as DomainCardAction
from router.domain.lifecycle import CardState as DomainCardState
from router.domain.lifecycle import V2Status, allowed_actions, public_status, write_status
from router.domain.verification import VerdictReason as DomainVerdictReason
from router.graphql.context import GraphQLContext, context_of
from router.services.cards import CARD_TYPES, WRITE_STATUSES
from router.services.persons import ACADEMIC_LEVELS, visible_links
from router.services.verification import Verdict

# The enums mirror the domain's values, so GraphQL validates them before a service runs.
CardState = strawberry.enum(DomainCardState, description="Where a card stands in its life.")
CardAction = strawberry.enum(
    DomainCardAction, description="A lifecycle action; it is also the reason recorded."
)
PublicStatus = strawberry.enum(
    V2Status, name="PublicStatus", description="A card's public status (QR code answer)."
)
CardType = strawberry.enum(
    enum.StrEnum("CardType", {name: name for name in CARD_TYPES}),  # type: ignore[misc]
    description="The kind of card (the v2 cardType keys).",
)
CardStatusType = strawberry.enum(
    enum.StrEnum("CardStatusType", {name: name for name in WRITE_STATUSES}),  # type: ignore[misc]
    description="The v2 status an institution writes: ACTIVE or INACTIVE.",
)
VerdictReason = strawberry.enum(
    DomainVerdictReason, description="Why a scanned card does not verify as valid."
)
AcademicLevel = strawberry.enum(
    enum.StrEnum("AcademicLevel", {name: name for name in ACADEMIC_LEVELS}),  # type: ignore[misc]
    description="A person's level of study.",
)


@strawberry.type(description="An institution or another organisation registered at the router.")
class Organisation:
    """An organisation's public facts."""

    identifier: str
    identifier_type: str
    name: str
    kind: str
    country: str | None
    schac_home_organization: str | None
    website: str | None
    escn_prefixes: list[str]

    @classmethod
    def of(cls, organisation: models.Organisation) -> Organisation:
        """The node of an organisation."""
        return cls(
            identifier=organisation.identifier,
            identifier_type=organisation.identifier_type,
            name=organisation.name,
            kind=organisation.kind,
            country=organisation.country,
            schac_home_organization=organisation.schac_home_organization,
            website=organisation.website,
            escn_prefixes=organisation.prefix_codes,
        )


@strawberry.type(description="What your organisation holds of a person.")
class PersonLink:
    """A person's link to the caller's organisation."""

    organisation: Organisation
    academic_level: AcademicLevel | None  # type: ignore[valid-type]
    full_name: str | None
    email: str | None
    phone: str | None
    person_id: strawberry.Private[int]

    @strawberry.field(description="Whether your organisation holds a picture of the person.")
    def has_picture(self, info: Info[GraphQLContext, Any]) -> bool:
        """Batched across the persons of a list."""
        return context_of(info).loaders.has_picture.load(self.person_id)


@strawberry.type(description="A person known by their European Student Identifier (ESI).")
class Person:
    """A person as the caller's organisation sees them."""

    identifier: str = strawberry.field(description="The person's ESI.")
    full_name: str | None
    organisations: list[PersonLink] = strawberry.field(
        description="Your organisation's link (the only one you may see)."
    )
    person_id: strawberry.Private[int]

    @strawberry.field(description="The cards your organisation issued to this person.")
    def cards(self, info: Info[GraphQLContext, Any]) -> list[Card]:
        """Batched across the persons of a list."""
        context = context_of(info)
        return card_nodes(context, context.loaders.cards_by_person.load(self.person_id))


@strawberry.type(description="One change of a card, as recorded in its append-only history.")
class CardHistoryEntry:
    """An entry of a card's history."""

    at: dt.datetime
    event: str
    from_state: str | None
    to_state: str | None
    actor_credential: str | None
    related_card_number: str | None
    actor_id: strawberry.Private[int | None]

    @strawberry.field(description="The identifier of the organisation that made the change.")
    def actor_organisation(self, info: Info[GraphQLContext, Any]) -> str | None:
        """Batched across the entries of a request."""
        if self.actor_id is None:
            return None
        return context_of(info).loaders.organisation_identifier_by_id.load(self.actor_id)


@strawberry.type(description="A European Student Card, identified by its ESCN.")
class Card:
    """A card issued by the caller's organisation."""

    card_number: str
    display_name: str | None
    issued_at: dt.date
    expires_at: dt.date
    card_type: CardType  # type: ignore[valid-type]
    card_status_type: CardStatusType  # type: ignore[valid-type]
    state: CardState  # type: ignore[valid-type]
    csn: str | None
    processor_identifier: str | None
    replaced_by: str | None
    allowed_actions: list[CardAction]  # type: ignore[valid-type]
    issuer: Organisation
    model: strawberry.Private[models.Card]

    @strawberry.field(description="The status anyone scanning the card is told (EXPIRED too).")
    def status(self) -> PublicStatus:  # type: ignore[valid-type]
        """Derived from the state and the expiry date, as the public status endpoint does."""
        return public_status(DomainCardState(self.model.state), self.expires_at, dt.date.today())

    @strawberry.field(description="The card's holder.")
    def person(self, info: Info[GraphQLContext, Any]) -> Person:
        """Already loaded with the card."""
        return person_nodes(context_of(info), [self.model.person])[0]

    @strawberry.field(description="The card's processor, when it is a registered organisation.")
    def processor(self, info: Info[GraphQLContext, Any]) -> Organisation | None:
        """Batched across the cards of a request."""
        if not self.processor_identifier:
            return None
        loaded = context_of(info).loaders.organisation_by_identifier.load(self.processor_identifier)
        return Organisation.of(loaded) if loaded is not None else None

    @strawberry.field(description="Every change of the card, oldest first.")
    def history(self, info: Info[GraphQLContext, Any]) -> list[CardHistoryEntry]:
        """Batched across the cards of a request."""
        context = context_of(info)
        entries = context.loaders.history_by_card.load(self.card_number)
        context.loaders.organisation_identifier_by_id.expect(
            e.actor_organisation_id for e in entries if e.actor_organisation_id is not None
        )
        return [
            CardHistoryEntry(
                at=e.at,
                event=e.event,
                from_state=e.from_state,
                to_state=e.to_state,
                actor_credential=e.actor_credential,
                related_card_number=e.related_card_number,
                actor_id=e.actor_organisation_id,
            )
            for e in entries
        ]


@strawberry.type(description="The outcome of a lifecycle action.")
class CardStatusChange:
    """The card after the action, and the replacement a renewal issued."""

    card: Card
    replacement: Card | None


@strawberry.type(description="The person erased from your organisation.")
class DeletedPerson:
    """What ``deletePerson`` answers."""

    identifier: str


def person_nodes(context: GraphQLContext, persons: Iterable[models.Person]) -> list[Person]:
    """Nodes of persons, their keys announced to the loaders so that one batch covers them."""
    nodes = []
    for person in persons:
        links = visible_links(person, context.caller)
        nodes.append(
            Person(
                identifier=person.esi,
                full_name=links[0].full_name if links else None,
                organisations=[
                    PersonLink(
                        organisation=Organisation.of(link.organisation),
                        academic_level=link.academic_level,
                        full_name=link.full_name,
                        email=link.email,
                        phone=link.phone,
                        person_id=person.id,
                    )
                    for link in links
                ],
                person_id=person.id,
            )
        )
    ids = [node.person_id for node in nodes]
    context.loaders.cards_by_person.expect(ids)
    context.loaders.has_picture.expect(ids)
    return nodes


def card_nodes(context: GraphQLContext, cards: Iterable[models.Card]) -> list[Card]:
    """Nodes of cards, their keys announced to the loaders so that one batch covers them."""
    nodes = []
    for card in cards:
        state = DomainCardState(card.state)
        nodes.append(
            Card(
                card_number=card.card_number,
                display_name=card.display_name,
                issued_at=card.issued_at,
                expires_at=card.expires_at,
                card_type=card.card_type,
                card_status_type=write_status(state).value,
                state=state,
                csn=card.csn,
                processor_identifier=card.processor_identifier,
                replaced_by=card.replaced_by,
                allowed_actions=sorted(allowed_actions(state)),
                issuer=Organisation.of(card.issuer),
                model=card,
            )
        )
    context.loaders.history_by_card.expect(node.card_number for node in nodes)
    # A card's holder is already loaded, but the holder's own fields (cards, picture) batch too.
    holders = [node.model.person_id for node in nodes]
    context.loaders.cards_by_person.expect(holders)
    context.loaders.has_picture.expect(holders)
    context.loaders.organisation_by_identifier.expect(
        node.processor_identifier for node in nodes if node.processor_identifier
    )
    return nodes


@strawberry.type(description="The public facts of a card's issuer.")
class Issuer:
    """An issuer as a verification discloses it: PIC, name and country."""

    identifier: str
    name: str
    country: str | None


@strawberry.type(
    description="What a verification tells: valid or not, why, and the minimal facts about the "
    "card (never an email address or an ESI)."
)
class Verification:
    """The verdict of ``POST /api/x/verify``, field for field."""

    valid: bool
    reason: VerdictReason | None  # type: ignore[valid-type]
    card_number: str | None
    issuer: Issuer | None
    expires_at: dt.date | None
    display_name: str | None
    checked_at: dt.datetime
    answered_by: str | None = strawberry.field(
        default=None,
        description="The router of the federation that answered, when the card is hosted by "
        "another router; null when this one did.",
    )

    @classmethod
    def of(cls, verdict: Verdict, answered_by: str | None = None) -> Verification:
        """The node of a service verdict (``answered_by``: the peer router that gave it)."""
        issuer = verdict.issuer
        return cls(
            valid=verdict.valid,
            reason=verdict.reason,
            card_number=verdict.card_number,
            issuer=Issuer(identifier=issuer.identifier, name=issuer.name, country=issuer.country)
            if issuer is not None
            else None,
            expires_at=verdict.expires_at,
            display_name=verdict.display_name,
            checked_at=verdict.checked_at,
            answered_by=answered_by,
        )
