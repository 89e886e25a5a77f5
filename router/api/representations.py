"""Turn models into the v2 views (plain dicts the response schemas serialise)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.domain.lifecycle import CardState, write_status
from router.models import Card, Organisation, Person, PersonPicture
from router.services.caller import Caller
from router.services.cards import CardStatus
from router.services.pagination import Page
from router.services.persons import visible_links

ACADEMIC_LEVEL_LABELS = {
    "BACHELOR": "Bachelor's degree",
    "MASTER": "Master's degree",
    "DOCTORATE": "Doctorate",
}
CARD_TYPE_LABELS = {
    "UNKNOWN": "Unknown / None",
    "PASSIVE": "Physical passive card, with no electronic component",
    "SMART_NO_CDZ": "Physical smart card, without ESC data zone",
    "SMART_CDZ": "Physical smart card, with ESC data zone",
    "SMART_MAY_SP": "Physical smart card, with custom data by service providers",
    "SMART_PASSIVE": "Digital passive card, with no electronic component",
    "SMART_PASSIVE_EMULATION": "Digital smart card, with physical card emulation",
}
STATUS_LABELS = {"ACTIVE": "Active", "INACTIVE": "Inactive"}
IDENTIFIER_LABELS = {"PIC": "Participant Identification Code", "VAT": "VAT number"}


def code(key: str | None, labels: dict[str, str]) -> dict[str, str] | None:
    """A CodeView for ``key``."""
    if key is None:
        return None
    return {"key": key, "label": labels.get(key, key)}


def organisation_lite(organisation: Organisation | None) -> dict[str, Any] | None:
    """The OrganisationLiteView of an organisation."""
    if organisation is None:
        return None
    view: dict[str, Any] = {
        "id": organisation.id,
        "identifier": organisation.identifier,
        "identifierCode": code(organisation.identifier_type, IDENTIFIER_LABELS),
        "name": organisation.name,
        "fullLabel": f"{organisation.identifier} - {organisation.name}",
        "organisationType": {"key": organisation.kind.upper(), "label": organisation.kind},
        "status": {"key": "ACTIVE", "label": "Active"},
    }
    if organisation.schac_home_organization:
        view["schacHomeOrganization"] = organisation.schac_home_organization
    if organisation.website:
        view["website"] = organisation.website
    if organisation.country:
        view["address"] = {"country": {"key": organisation.country, "label": organisation.country}}
    return view


def picture_holders(session: Session, person_ids: list[int], caller: Caller) -> set[int]:
    """Which of these persons have a picture held by the caller's organisation (one query)."""
    if not person_ids:
        return set()
    return set(
        session.scalars(
            select(PersonPicture.person_id).where(
                PersonPicture.person_id.in_(person_ids),
                PersonPicture.organisation_id == caller.organisation_id,
            )
        )
    )


def _person_organisations(person: Person, caller: Caller, has_picture: bool) -> list[dict]:
    return [
        {
            "academicLevel": code(link.academic_level, ACADEMIC_LEVEL_LABELS),
            "contactPoint": {"email": link.email, "phone": link.phone},
            "fullName": link.full_name,
            "hasPicture": has_picture,
            "organisation": organisation_lite(link.organisation),
        }
        for link in visible_links(person, caller)
    ]


def person_lite(person: Person, caller: Caller, has_picture: bool = False) -> dict[str, Any]:
    """The PersonLiteView of a person, as the caller may see it."""
    links = visible_links(person, caller)
    return {
        "identifier": person.esi,
        "fullName": links[0].full_name if links else None,
        "organisations": _person_organisations(person, caller, has_picture),
    }


def person_view(person: Person, caller: Caller, has_picture: bool = False) -> dict[str, Any]:
    """The PersonView of a person, as the caller may see it."""
    lite = person_lite(person, caller, has_picture)
    return {
        **lite,
        "identifierCode": {"key": "ESI", "label": "European Student Identifier"},
        "organisationCount": len(lite["organisations"]),
    }


def card_lite(
    card: Card, caller: Caller, processor: Organisation | None, has_picture: bool = False
) -> dict[str, Any]:
    """The CardLiteView of a card."""
    processor_view = organisation_lite(processor)
    if processor_view is None and card.processor_identifier:
        processor_view = {"identifier": card.processor_identifier}
    return {
        "cardNumber": card.card_number,
        "displayName": card.display_name,
        "expiresAt": card.expires_at,
        "issuedAt": card.issued_at,
        "hasOwnerAuthorization": card.issuer_id == caller.organisation_id,
        "issuer": organisation_lite(card.issuer),
        "person": person_lite(card.person, caller, has_picture),
        "processor": processor_view,
    }


def card_view(
    card: Card, caller: Caller, processor: Organisation | None, has_picture: bool = False
) -> dict[str, Any]:
    """The CardView of a card."""
    status = write_status(CardState(card.state)).value
    return {
        **card_lite(card, caller, processor, has_picture),
        "cardStatusType": code(status, STATUS_LABELS),
        "cardType": code(card.card_type, CARD_TYPE_LABELS),
        "csn": card.csn,
        "state": card.state,
    }


def card_status_view(status: CardStatus) -> dict[str, Any]:
    """The CardStatusView, as JSON values: what its schema's dump gives, without the dump.

    The QR-scan path's answer is rendered from this directly (tests/api/test_representations
    holds it equal to ``schemas.CardStatusView().dump`` of the same status).
    """
    return {
        "cardNumber": status.card_number,
        "displayName": status.display_name,
        "expiresAt": _iso(status.expires_at),
        "issuedAt": _iso(status.issued_at),
        "issuerIdentifier": status.issuer_identifier,
        "issuerName": status.issuer_name,
        "status": status.status.value,
    }


def _iso(value: dt.date | None) -> str | None:
    """A date or datetime as marshmallow's ``Date``/``DateTime`` fields write it."""
    return None if value is None else value.isoformat()


def json_response(body: Any, headers: dict[str, str] | None = None) -> Response:
    """A 200 JSON answer rendered as flask-smorest renders a dumped schema (Flask's ``jsonify``).

    flask-smorest passes a returned Response through unchanged: the QR-scan path's views answer
    with this instead of a dict for the schema to dump.
    """
    response = current_app.json.response(body)
    if headers:
        response.headers.update(headers)
    return response


def paged(page: Page[Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    """The PagedResources envelope with Spring-style links (self, first, prev, next, last)."""
    args = request.args.to_dict()

    def link(rel: str, number: int) -> dict[str, str]:
        query = {**args, "page": number, "size": page.size}
        href = url_for(request.endpoint or "", _external=True, **(request.view_args or {}), **query)
        return {"rel": rel, "href": href}

    links = [link("self", page.number)]
    if page.total_pages:
        links.append(link("first", 0))
        if page.number > 0:
            links.append(link("prev", min(page.number - 1, page.total_pages - 1)))
        if page.number + 1 < page.total_pages:
            links.append(link("next", page.number + 1))
        links.append(link("last", page.total_pages - 1))
    return {
        "content": content,
        "empty": not content,
        "links": links,
        "page": {
            "number": page.number,
            "size": page.size,
            "totalElements": page.total_elements,
            "totalPages": page.total_pages,
        },
    }
