"""The real router's bulk card import endpoints (``csv-config``, ``validate-csv``) and ours.

``/api/v2/cards/csv-config`` and ``/api/v2/cards/validate-csv`` are the real router's, on its card
blueprint; the import itself is not in its published API, so ours is ``/api/x/cards/import-csv``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from router.api import schemas, x_schemas
from router.api.blueprint import SECURITY, RouterBlueprint
from router.api.v2_cards import blp
from router.domain.errors import UnreadableCsv
from router.request_context import current_caller, db_session, settings
from router.services import card_csv
from router.services.caller import Scope

x_blp = RouterBlueprint(
    "x-card-import",
    __name__,
    url_prefix="/api/x/cards",
    description="escrouter: bulk card import",
)


class CsvOperationArgs(schemas.InputSchema):
    """The operation each row of the file stands for."""

    operation = fields.String(
        required=True, validate=validate.OneOf([o.value for o in card_csv.CsvOperation])
    )


class CsvFile(schemas.InputSchema):
    """The uploaded CSV file (multipart part ``file``)."""

    file = Upload(required=True)


def problem_view(problem: card_csv.CsvProblem) -> dict[str, Any]:
    """The CsvValidationError of a problem."""
    return {
        "rowNumber": problem.row_number,
        "fieldName": problem.field_name,
        "errorMessage": problem.message,
        "params": problem.params,
    }


def unreadable_response(error: UnreadableCsv) -> Response:
    """The 400 answer of an unreadable file: a list of one CsvValidationError, as the spec has."""
    body = [problem_view(card_csv.CsvProblem(0, "file", error.message, {"code": error.code}))]
    return Response(json.dumps(body), status=400, mimetype="application/json")


# The unreadable file's answer: a list of one CsvValidationError, as the real router's document
# has it (other errors are problems, documented by router.api.openapi for every operation).
_CSV_ERRORS = {
    "400": {
        "description": "Bad request",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CsvValidationError"},
                }
            }
        },
    }
}


@blp.route("/csv-config")
class CsvConfig(MethodView):
    """The column layout of the bulk import file."""

    @blp.response(200, description="CSV config retrieved")
    @blp.doc(
        security=SECURITY,
        operationId="getCsvConfig",
        description="Returns CSV import configuration",
        responses={
            str(code): {
                "description": description,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": {"type": "integer", "format": "int32"},
                        }
                    }
                },
            }
            for code, description in ((200, "CSV config retrieved"), (401, "Unauthorized"))
        },
    )
    def get(self) -> dict[str, int]:
        """The position (0-based) of each column of a card import file."""
        current_caller().require(Scope.CARDS_READ)
        return card_csv.csv_config()


@blp.route("/validate-csv")
class ValidateCsv(MethodView):
    """Dry run of a bulk import."""

    @blp.arguments(CsvOperationArgs, location="query")
    @blp.arguments(CsvFile, location="files")
    @blp.response(
        200, schemas.CsvValidationError(many=True), description="Validation result returned"
    )
    @blp.doc(
        security=SECURITY,
        operationId="validateCsv",
        description="Validates a CSV file and returns per row validation errors",
        responses=_CSV_ERRORS,
    )
    def post(self, args: dict[str, Any], files: dict[str, Any]) -> Any:
        """Check every row of a card file for CREATE, UPDATE or DELETE; nothing is written."""
        caller = current_caller()
        operation = card_csv.CsvOperation(args["operation"])
        try:
            problems = card_csv.validate_csv(
                db_session(),
                caller,
                operation,
                files["file"].read(),
                max_rows=settings().csv_max_rows,
            )
        except UnreadableCsv as error:
            return unreadable_response(error)
        return [problem_view(p) for p in problems]


@x_blp.route("/import-csv")
class ImportCsv(MethodView):
    """The bulk import itself."""

    @x_blp.arguments(CsvOperationArgs, location="query")
    @x_blp.arguments(CsvFile, location="files")
    @x_blp.response(200, x_schemas.CsvImportResponse)
    @x_blp.doc(
        security=SECURITY,
        operationId="importCsv",
        responses=_CSV_ERRORS,
    )
    def post(self, args: dict[str, Any], files: dict[str, Any]) -> Any:
        """Validate and apply each row (CREATE, UPDATE or DELETE); a bad row fails alone."""
        caller = current_caller()
        operation = card_csv.CsvOperation(args["operation"])
        try:
            report = card_csv.import_csv(
                db_session(),
                caller,
                operation,
                files["file"].read(),
                max_rows=settings().csv_max_rows,
            )
        except UnreadableCsv as error:
            return unreadable_response(error)
        return {
            "results": [
                {
                    "rowNumber": row.row_number,
                    "outcome": row.result.outcome.value,
                    "status": row.result.status,
                    "identifier": row.result.identifier,
                    "error": (
                        {"code": row.result.error.code, "message": row.result.error.message}
                        if row.result.error
                        else None
                    ),
                    "errors": [problem_view(p) for p in row.problems],
                }
                for row in report.rows
            ],
            "summary": report.summary(),
        }
