"""Organisations: institutions and the other bodies that call the router."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from router.domain.errors import (
    InvalidIdentifier,
    OrganisationAlreadyExists,
    OrganisationNotFound,
)
from router.domain.escn import validate_pic, validate_prefix
from router.models import Organisation, OrganisationPrefix
from router.services.concurrency import serialised

KINDS = ("institution", "processor", "transport", "culture", "catering", "partner")
# Organisations that only verify cards: their credentials default to the ``verify`` scope.
PARTNER_KINDS = ("transport", "culture", "catering", "partner")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_VAT = re.compile(r"^[A-Z0-9]{2,64}$")


@dataclass
class OrganisationInput:
    """What an administrator gives to register an organisation."""

    identifier: str
    name: str
    identifier_type: str = "PIC"
    kind: str = "institution"
    country: str | None = None
    schac_home_organization: str | None = None
    website: str | None = None
    prefixes: Sequence[str | int] = field(default_factory=lambda: ["001"])


def _validate(data: OrganisationInput) -> None:
    if data.identifier_type == "PIC":
        validate_pic(data.identifier)
    elif data.identifier_type == "VAT":
        if not _VAT.match(data.identifier):
            raise InvalidIdentifier(f"{data.identifier!r} is not a VAT number.")
    else:
        raise InvalidIdentifier("identifier type must be PIC or VAT.")
    if data.kind not in KINDS:
        raise InvalidIdentifier(f"kind must be one of {', '.join(KINDS)}.")
    if data.country is not None and not _COUNTRY.match(data.country):
        raise InvalidIdentifier("country is an ISO 3166-1 alpha-2 code in capitals, e.g. FR.")
    if not data.name.strip():
        raise InvalidIdentifier("an organisation needs a name.")


def create_organisation(session: Session, data: OrganisationInput) -> Organisation:
    """Register an organisation with its ESCN prefixes; refuses a duplicate identifier."""
    _validate(data)
    prefixes = sorted({validate_prefix(p) for p in data.prefixes})
    if find_organisation(session, data.identifier) is not None:
        raise OrganisationAlreadyExists(f"An organisation {data.identifier} already exists.")
    organisation = Organisation(
        identifier=data.identifier,
        identifier_type=data.identifier_type,
        kind=data.kind,
        name=data.name.strip(),
        country=data.country,
        schac_home_organization=data.schac_home_organization,
        website=data.website,
        prefixes=[OrganisationPrefix(prefix=p) for p in prefixes],
    )
    session.add(organisation)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise OrganisationAlreadyExists(
            f"An organisation {data.identifier} already exists."
        ) from exc
    return organisation


def find_organisation(session: Session, identifier: str) -> Organisation | None:
    """The organisation with this PIC or VAT number, if any."""
    return session.scalar(select(Organisation).where(Organisation.identifier == identifier))


def get_organisation(session: Session, identifier: str) -> Organisation:
    """The organisation with this identifier, or :class:`OrganisationNotFound`."""
    organisation = find_organisation(session, identifier)
    if organisation is None:
        raise OrganisationNotFound(f"No organisation {identifier!r} is registered.")
    return organisation


def list_organisations(session: Session) -> list[Organisation]:
    """Every organisation, by identifier."""
    return list(session.scalars(select(Organisation).order_by(Organisation.identifier)))


@serialised
def update_organisation(
    session: Session,
    organisation: Organisation,
    *,
    name: str | None = None,
    country: str | None = None,
    schac_home_organization: str | None = None,
    website: str | None = None,
    prefixes: Sequence[str | int] | None = None,
) -> Organisation:
    """Change an organisation's descriptive fields or prefixes (the identifier never changes)."""
    candidate = OrganisationInput(
        identifier=organisation.identifier,
        identifier_type=organisation.identifier_type,
        kind=organisation.kind,
        name=organisation.name if name is None else name,
        country=organisation.country if country is None else country,
    )
    _validate(candidate)
    # The row's version is checked and bumped even when only the prefixes change: two
    # administrators editing at once are serialised (the later one re-runs on fresh data).
    flag_modified(organisation, "name")
    organisation.name = candidate.name.strip()
    organisation.country = candidate.country
    if schac_home_organization is not None:
        organisation.schac_home_organization = schac_home_organization
    if website is not None:
        organisation.website = website
    if prefixes is not None:
        wanted = sorted({validate_prefix(p) for p in prefixes})
        kept = [p for p in organisation.prefixes if p.prefix in wanted]
        have = {p.prefix for p in kept}
        organisation.prefixes = kept + [
            OrganisationPrefix(prefix=p) for p in wanted if p not in have
        ]
    session.commit()
    return organisation
