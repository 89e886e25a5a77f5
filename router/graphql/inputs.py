"""GraphQL input types and their translation into the services' inputs.

GraphQL's type system already refuses unknown enum values, wrong scalars and missing fields; what
is left (lengths, ESI/ESCN syntax, date order, ownership) is checked here or by the services, with
the same error codes REST gives.
"""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from router.domain import text
from router.graphql.types import AcademicLevel, CardStatusType, CardType
from router.services.caller import Caller
from router.services.cards import CardInput as ServiceCardInput
from router.services.cards import RenewalInput as ServiceRenewalInput
from router.services.persons import LinkInput
from router.services.persons import PersonInput as ServicePersonInput

# The limits the REST schemas enforce (router.domain.text), so that neither adapter reaches the
# database with a value it cannot store, and both refuse it with the same code and message.
_MAX_LENGTHS = {
    "identifier": text.IDENTIFIER_LENGTH,
    "personIdentifier": text.IDENTIFIER_LENGTH,
    "fullName": text.NAME_LENGTH,
    "email": text.EMAIL_LENGTH,
    "phone": text.PHONE_LENGTH,
    "displayName": text.DISPLAY_NAME_LENGTH,
    "processorIdentifier": text.PROCESSOR_LENGTH,
    "cardNumber": text.CARD_NUMBER_LENGTH,
    "csn": text.CSN_LENGTH,
    "search": text.SEARCH_LENGTH,
}


def check_fields(**values: str | None) -> None:
    """Refuse (400 ER-0400) a NUL character or an over-long value in any of ``values``."""
    for name, value in values.items():
        text.check_text(name, value, _MAX_LENGTHS[name])


def _value(member: enum.Enum | None) -> str | None:
    return None if member is None else str(member.value)


@strawberry.input(description="What your organisation says of a person.")
class PersonInput:
    """A person as written by the caller's organisation (its link is the only one written)."""

    identifier: str = strawberry.field(description="The person's ESI.")
    academic_level: AcademicLevel | None = None  # type: ignore[valid-type]
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None

    def to_service(self, caller: Caller) -> ServicePersonInput:
        """The service input, linking the person to the caller's own organisation."""
        check_fields(
            identifier=self.identifier,
            fullName=self.full_name,
            email=self.email,
            phone=self.phone,
        )
        return ServicePersonInput(
            identifier=self.identifier,
            links=[
                LinkInput(
                    organisation_identifier=caller.organisation.identifier,
                    academic_level=_value(self.academic_level),
                    email=self.email,
                    full_name=self.full_name,
                    phone=self.phone,
                )
            ],
        )


@strawberry.input(description="A card to issue to a person of your organisation.")
class CardInput:
    """A card as written by the caller's organisation, which is its issuer."""

    person_identifier: str = strawberry.field(description="The holder's ESI.")
    card_type: CardType  # type: ignore[valid-type]
    issued_at: dt.date
    expires_at: dt.date
    card_status_type: CardStatusType = CardStatusType.ACTIVE  # type: ignore[valid-type,attr-defined]
    card_number: str | None = strawberry.field(
        default=None, description="The ESCN; generated when left out."
    )
    display_name: str | None = None
    processor_identifier: str | None = None
    csn: str | None = strawberry.field(default=None, description="The chip serial number.")

    def to_service(self, caller: Caller) -> ServiceCardInput:
        """The service input, issued by the caller's own organisation."""
        check_fields(
            personIdentifier=self.person_identifier,
            cardNumber=self.card_number,
            displayName=self.display_name,
            processorIdentifier=self.processor_identifier,
            csn=self.csn,
        )
        return ServiceCardInput(
            card_type=str(_value(self.card_type)),
            card_status_type=str(_value(self.card_status_type)),
            issued_at=self.issued_at,
            expires_at=self.expires_at,
            issuer_identifier=caller.organisation.identifier,
            person_identifier=self.person_identifier,
            card_number=self.card_number,
            display_name=self.display_name,
            processor_identifier=self.processor_identifier,
            csn=self.csn,
        )


@strawberry.input(description="The replacement card of a RENEW; unset fields copy the old card.")
class RenewalInput:
    """What a renewal may set on the replacement card."""

    card_number: str | None = None
    issued_at: dt.date | None = None
    expires_at: dt.date | None = None
    card_type: CardType | None = None  # type: ignore[valid-type]
    display_name: str | None = None
    csn: str | None = None

    def to_service(self) -> ServiceRenewalInput:
        """The service input."""
        check_fields(cardNumber=self.card_number, displayName=self.display_name, csn=self.csn)
        return ServiceRenewalInput(
            issued_at=self.issued_at,
            expires_at=self.expires_at,
            card_number=self.card_number,
            card_type=_value(self.card_type),
            display_name=self.display_name,
            csn=self.csn,
        )


@strawberry.enum(description="The fields a list of persons can be sorted by.")
class PersonOrderField(enum.Enum):
    """Sort keys of persons, mapped to the service's sort names."""

    IDENTIFIER = "identifier"
    FULL_NAME = "fullName"
    CREATED_AT = "createdAt"


@strawberry.enum(description="The fields a list of cards can be sorted by.")
class CardOrderField(enum.Enum):
    """Sort keys of cards, mapped to the service's sort names."""

    CARD_NUMBER = "cardNumber"
    ISSUED_AT = "issuedAt"
    EXPIRES_AT = "expiresAt"
    DISPLAY_NAME = "displayName"
    CREATED_AT = "createdAt"


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    """Ascending or descending."""

    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="Which persons to list.")
class PersonFilter:
    """Filters of the persons list."""

    search: str | None = strawberry.field(
        default=None, description="Part of the ESI, the name or the e-mail, case-blind."
    )


@strawberry.input(description="Which cards to list.")
class CardFilter:
    """Filters of the cards list."""

    search: str | None = strawberry.field(
        default=None, description="Part of the card number, the display name or the holder's ESI."
    )
