"""The flask-smorest blueprint every area of the API uses."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Request
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser

from router.domain.text import read_json


class _Parser(FlaskParser):
    """Request parsing that calls a schema failure what it is: a malformed request (400).

    A schema given as a class is instantiated once, not on every request (webargs' default):
    its instance holds no state of a request, as flask-smorest's response schemas do not.
    """

    DEFAULT_VALIDATION_STATUS = 400

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[ma.Schema], ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Request) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: Request) -> Any:
        # webargs' own reading answers only json.JSONDecodeError (400); read_json turns every
        # unreadable text into one (a RecursionError and a digit-limit ValueError were 500s).
        if not core.is_json(req.mimetype):
            return core.missing
        return read_json(req.get_data(cache=True))


class RouterBlueprint(Blueprint):
    """A flask-smorest blueprint whose argument errors are 400, not 422.

    ``spec_tag`` tags its operations as the real router's document does (``V2/card``...), so
    clients generated from either document group the operations alike.
    """

    ARGUMENTS_PARSER = _Parser()

    def __init__(self, *args: Any, spec_tag: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec_tag = spec_tag

    def route(  # type: ignore[override]
        self,
        rule: str,
        *,
        parameters: list[Any] | None = None,
        tags: list[str] | None = None,
        **options: Any,
    ) -> Any:
        """Flask-smorest's route, tagged with ``spec_tag`` unless tags are given."""
        if tags is None and self.spec_tag:
            tags = [self.spec_tag]
        return super().route(rule, parameters=parameters, tags=tags, **options)


# Declared on every authenticated operation; both schemes carry the same API key or token.
SECURITY = [{"bearerAuth": []}, {"api_key": []}]

ERROR_DESCRIPTIONS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Entity not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Entity already exists",
    410: "Gone: the person was erased",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Well-formed, but refused by the rules",
    429: "Too many requests",
    500: "Unexpected error",
    503: "Database unavailable: nothing was changed, retry after Retry-After",
}
# Every error is a problem (RFC 7807) carrying the real router's code and message.
_ERROR_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/ApiErrorMessage"}}
}


def operation_doc(operation_id: str, *error_codes: int, public: bool = False) -> dict[str, Any]:
    """``blp.doc`` arguments of an operation: its operationId, security and error responses.

    The v2 operations keep the real router's operationIds and document the same error statuses,
    so generated clients of the real router match ours.
    """
    return {
        "operationId": operation_id,
        "security": [] if public else SECURITY,
        "responses": {
            str(code): {"description": ERROR_DESCRIPTIONS[code], "content": _ERROR_CONTENT}
            for code in error_codes
        },
    }
