"""``/api/v2/cards``: the real router's card endpoints (QR codes live in :mod:`router.api.qr`)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from router.anonymous_limits import limit_anonymous_lookup
from router.api import schemas
from router.api.blueprint import RouterBlueprint, operation_doc
from router.api.fields import ESCN_PARAMETER
from router.api.problems import ANSWERED_BY_HEADER
from router.api.representations import (
    card_lite,
    card_status_view,
    card_view,
    json_response,
    paged,
)
from router.api.routing import ESCN_SEGMENT
from router.api.v2_persons import page_request
from router.federation import forwarding
from router.models import Card
from router.request_context import (
    current_caller,
    db_session,
    federation,
    lookup_connection,
    optional_caller_and_card,
    settings,
)
from router.services import cards

CardPageArgs = schemas.page_args("CardPageArgs", tuple(cards.CARD_SORTS))

blp = RouterBlueprint(
    "cards",
    __name__,
    url_prefix="/api/v2/cards",
    description="The real router's cards",
    spec_tag="V2/card",
)


def card_input(body: dict[str, Any]) -> cards.CardInput:
    """The service input of a CardUpdateView body."""
    return cards.CardInput(
        card_number=body.get("cardNumber"),
        card_type=body["cardType"],
        card_status_type=body["cardStatusType"],
        issued_at=body["issuedAt"],
        expires_at=body["expiresAt"],
        issuer_identifier=body["issuerIdentifier"],
        person_identifier=body["personIdentifier"],
        processor_identifier=body.get("processorIdentifier"),
        display_name=body.get("displayName"),
        csn=body.get("csn"),
    )


def full_view(card: Card) -> dict[str, Any]:
    """The CardView of a card for the current caller."""
    session = db_session()
    return card_view(card, current_caller(), cards.processor_of(session, card))


@blp.route("")
class Cards(MethodView):
    """The cards issued by the caller's organisation."""

    @blp.arguments(CardPageArgs, location="query")
    @blp.response(200, schemas.PagedResourcesCardLiteView)
    @blp.doc(**operation_doc("findAll_1", 400, 401, 403, 500))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your organisation's cards, paged."""
        caller = current_caller()
        session = db_session()
        page = cards.list_cards(
            session, caller, page_request(args), max_size=settings().max_page_size
        )
        return paged(
            page, [card_lite(c, caller, cards.processor_of(session, c)) for c in page.items]
        )

    @blp.arguments(schemas.CardUpdateView)
    @blp.response(201, schemas.CardView)
    @blp.alt_response(409, schema=schemas.ApiErrorMessage, description="Entity already exists")
    @blp.doc(**operation_doc("create_1", 400, 401, 403, 404, 409, 422, 500))
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a card; leave cardNumber blank to have one generated."""
        return full_view(cards.register_card(db_session(), current_caller(), card_input(body)))


@blp.route("/generate-escn")
class GenerateEscn(MethodView):
    """Reserve card numbers."""

    @blp.arguments(schemas.GenerateEscnArgs, location="query")
    @blp.response(200, description="Entity retrieved")
    @blp.doc(**operation_doc("getEscnList", 400, 401, 403, 500))
    @blp.doc(
        responses={
            "200": {
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "string"}}}
                }
            }
        },
    )
    def get(self, args: dict[str, Any]) -> list[str]:
        """Generate and reserve up to 100 card numbers for your PIC and a server prefix."""
        return cards.reserve_card_numbers(
            db_session(),
            current_caller(),
            args["pic"],
            args["prefix"],
            args["numberOfESCN"],
            limit=settings().max_escn_per_request,
        )


@blp.route(f"/{ESCN_SEGMENT}", parameters=[ESCN_PARAMETER])
class CardByNumber(MethodView):
    """One card, by ESCN."""

    @blp.response(200, schemas.CardView)
    @blp.doc(**operation_doc("findByExternalId_1", 400, 401, 403, 404, 500))
    def get(self, escn: str) -> dict[str, Any]:
        """Read a card of your organisation."""
        return full_view(cards.get_card(db_session(), current_caller(), escn))

    @blp.arguments(schemas.CardUpdateView)
    @blp.response(200, schemas.CardView)
    @blp.doc(**operation_doc("update_1", 400, 401, 403, 404, 409, 422, 500))
    def put(self, body: dict[str, Any], escn: str) -> dict[str, Any]:
        """Update a card; to bring back an expired card, set its status and a new expiresAt."""
        card = cards.update_card(db_session(), current_caller(), escn, card_input(body))
        return full_view(card)

    @blp.response(204)
    @blp.doc(**operation_doc("delete_1", 400, 401, 403, 404, 500))
    def delete(self, escn: str) -> None:
        """Delete a card of your organisation (its history is kept)."""
        cards.delete_card(db_session(), current_caller(), escn)


def public_status_view(escn: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The CardStatusView of a card for whoever asks (as JSON values), and its headers.

    Anonymous lookups count to the rate limit. A card of another router of the federation is
    answered by that router, marked with its id. Served here and by the public card page for
    ``Accept: application/json``.
    """
    connection = lookup_connection()  # before the caller is read: one round trip per lookup
    # With an API key, the key and the card in one statement (unused if another router has it).
    caller, read = optional_caller_and_card(escn)
    if caller is None:
        limit_anonymous_lookup()
    answer = forwarding.card_status(connection, federation(), escn, caller=caller, read=read)
    headers = {ANSWERED_BY_HEADER: answer.router.id} if answer.router is not None else {}
    return card_status_view(answer.value), headers


@blp.route(f"/{ESCN_SEGMENT}/status", parameters=[ESCN_PARAMETER])
class CardStatus(MethodView):
    """The public status behind the QR code."""

    @blp.response(200, schemas.CardStatusView)
    @blp.doc(**operation_doc("status", 400, 404, 500, public=True))
    def get(self, escn: str) -> Response:
        """Tell whether a card is ACTIVE, INACTIVE or EXPIRED; no key needed."""
        # Rendered here, not dumped by the schema (the same JSON, a tenth of the cost).
        view, headers = public_status_view(escn)
        return json_response(view, headers)
