"""``/api/x/persons:batch`` and ``/api/x/cards:batch``: many upserts in one request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, jsonify
from flask.views import MethodView
from marshmallow import Schema, ValidationError

from router.api import schemas, x_schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.problems import flatten_messages
from router.api.v2_cards import card_input
from router.api.v2_persons import person_input
from router.domain.errors import MalformedRequest, RouterError
from router.request_context import current_caller, db_session
from router.services import batch

blp = RouterBlueprint(
    "x-batch", __name__, url_prefix="/api/x", description="escrouter: batch upserts"
)

T = TypeVar("T")


def parse_items(
    items: list[Any], schema: Schema, convert: Callable[[dict[str, Any]], T]
) -> list[T | RouterError]:
    """Validate each item on its own: a malformed item becomes its error, not the batch's."""
    parsed: list[T | RouterError] = []
    for item in items:
        try:
            if not isinstance(item, dict):  # null, a number, a list...
                raise MalformedRequest("Each item must be a JSON object.")
            parsed.append(convert(schema.load(item)))
        except ValidationError as error:
            parsed.append(MalformedRequest(flatten_messages(error.messages)))
        except RouterError as error:
            parsed.append(error)
    return parsed


def report_view(report: batch.BatchReport) -> dict[str, Any]:
    """The BatchResponse of a report."""
    return {
        "results": [
            {
                "index": r.index,
                "outcome": r.outcome.value,
                "status": r.status,
                "identifier": r.identifier,
                "error": {"code": r.error.code, "message": r.error.message} if r.error else None,
            }
            for r in report.results
        ],
        "summary": report.summary(),
    }


def answer(report: batch.BatchReport) -> Response:
    """The 200 answer of a batch, its BatchResponse built directly.

    ``report_view`` builds exactly the documented BatchResponse, so dumping it again through the
    schema (the ``@blp.response`` default) would only repeat, per item, work that cost as much as
    the rest of the answer for a batch of plainly new items.
    """
    return jsonify(report_view(report))


@blp.route("/persons:batch")
class PersonsBatch(MethodView):
    """Create or update many persons."""

    @blp.arguments(x_schemas.BatchRequest)
    @blp.response(200, x_schemas.BatchResponse)
    @blp.doc(security=SECURITY, operationId="personsBatch")
    def post(self, body: dict[str, Any]) -> Response:
        """Upsert 1 to 500 PersonUpdateViews; each item has its own result."""
        items = parse_items(body["items"], schemas.PersonUpdateView(), person_input)
        return answer(batch.persons_batch(db_session(), current_caller(), items))


@blp.route("/cards:batch")
class CardsBatch(MethodView):
    """Create or update many cards."""

    @blp.arguments(x_schemas.BatchRequest)
    @blp.response(200, x_schemas.BatchResponse)
    @blp.doc(security=SECURITY, operationId="cardsBatch")
    def post(self, body: dict[str, Any]) -> Response:
        """Upsert 1 to 500 CardUpdateViews (matched by cardNumber, else csn, else created)."""
        items = parse_items(body["items"], schemas.CardUpdateView(), card_input)
        return answer(batch.cards_batch(db_session(), current_caller(), items))
