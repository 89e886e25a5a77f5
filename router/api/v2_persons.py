"""``/api/v2/persons``: the real router's person endpoints."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from router.api import schemas
from router.api.blueprint import RouterBlueprint, operation_doc
from router.api.fields import ESI_PARAMETER
from router.api.representations import paged, person_lite, person_view, picture_holders
from router.request_context import current_caller, db_session, settings
from router.services import persons
from router.services.pagination import PageRequest

PersonPageArgs = schemas.page_args("PersonPageArgs", tuple(persons.PERSON_SORTS))

blp = RouterBlueprint(
    "persons",
    __name__,
    url_prefix="/api/v2/persons",
    description="The real router's persons",
    spec_tag="V2/person",
)


def person_input(body: dict[str, Any]) -> persons.PersonInput:
    """The service input of a PersonUpdateView body."""
    return persons.PersonInput(
        identifier=body["identifier"],
        identifier_code=body.get("identifierCode"),
        full_name=body.get("fullName"),
        links=[
            persons.LinkInput(
                organisation_identifier=view["organisationIdentifier"],
                academic_level=view.get("academicLevel"),
                email=view.get("email"),
                full_name=view.get("fullName"),
                phone=view.get("phone"),
            )
            for view in body["personOrganisationUpdateViews"]
        ],
    )


def page_request(args: dict[str, Any]) -> PageRequest:
    """The service page request of the list query parameters."""
    return PageRequest(
        page=args["page"],
        size=args["size"],
        sort=args.get("sort"),
        direction=args["direction"].upper(),
        search=args.get("search"),
    )


def _view(person: Any) -> dict[str, Any]:
    caller = current_caller()
    pictures = picture_holders(db_session(), [person.id], caller)
    return person_view(person, caller, person.id in pictures)


@blp.route("")
class Persons(MethodView):
    """The persons linked to the caller's organisation."""

    @blp.arguments(PersonPageArgs, location="query")
    @blp.response(200, schemas.PagedResourcesPersonLiteView)
    @blp.doc(**operation_doc("findAll", 400, 401, 403, 500))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the persons of your organisation, paged."""
        caller = current_caller()
        session = db_session()
        page = persons.list_persons(
            session, caller, page_request(args), max_size=settings().max_page_size
        )
        pictures = picture_holders(session, [p.id for p in page.items], caller)
        return paged(page, [person_lite(p, caller, p.id in pictures) for p in page.items])

    @blp.arguments(schemas.PersonUpdateView)
    @blp.response(201, schemas.PersonView)
    @blp.alt_response(409, schema=schemas.ApiErrorMessage, description="Entity already exists")
    @blp.doc(**operation_doc("create", 400, 401, 403, 409, 410, 500))
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a person linked to your organisation."""
        person = persons.create_person(db_session(), current_caller(), person_input(body))
        return _view(person)


@blp.route("/<path:esi>", parameters=[ESI_PARAMETER])
class PersonByEsi(MethodView):
    """One person, by ESI."""

    @blp.response(200, schemas.PersonView)
    @blp.doc(**operation_doc("findByExternalId", 400, 401, 403, 404, 410, 500))
    def get(self, esi: str) -> dict[str, Any]:
        """Read a person linked to your organisation."""
        return _view(persons.get_person(db_session(), current_caller(), esi))

    @blp.arguments(schemas.PersonUpdateView)
    @blp.response(200, schemas.PersonView)
    @blp.doc(**operation_doc("update", 400, 401, 403, 404, 410, 500))
    def put(self, body: dict[str, Any], esi: str) -> dict[str, Any]:
        """Replace what your organisation holds of a person (links it if not yet linked)."""
        person = persons.replace_person(db_session(), current_caller(), esi, person_input(body))
        return _view(person)

    @blp.response(204)
    @blp.doc(**operation_doc("delete", 400, 401, 403, 404, 410, 500))
    def delete(self, esi: str) -> None:
        """Erase what your organisation holds of a person, with your cards of that person."""
        persons.delete_person(db_session(), current_caller(), esi)
