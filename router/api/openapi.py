"""The OpenAPI document as the router behaves: error media types, tags and summaries.

flask-smorest documents what its decorators know. This module corrects, in one place and for
every route (those added later included), what they cannot know:

- errors are ``application/problem+json`` (:mod:`router.api.problems`), whatever status; each
  operation documents the error statuses every request can meet, and a ``default`` problem;
- a blueprint's tag is its ``spec_tag`` when it has one (the real router's ``V2/card``...), so
  Swagger UI groups the operations under the tags the document lists;
- summaries and descriptions come from docstrings written in reStructuredText: double
  backticks become Markdown's single ones.

The routes outside flask-smorest are described in :mod:`router.api.plain_routes`.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from flask_smorest import Api

from router.api.blueprint import ERROR_DESCRIPTIONS, RouterBlueprint
from router.api.problems import PROBLEM_JSON

# Marks an operation described by hand whose errors are not all problems.
PLAIN_ROUTE = "x-plain-route"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head")
PROBLEM = {"schema": {"$ref": "#/components/schemas/ApiErrorMessage"}}
# Schemas flask-smorest puts on error responses, which our problem+json answers replace.
_GENERIC_ERROR_REFS = ("#/components/schemas/Error",)
# Any request may meet these: a malformed request, the database away, an unexpected failure.
_ALWAYS = ("400", "500", "503")
# And an authenticated one these: no or a bad credential, a scope or PIC refusal.
_AUTHENTICATED = ("401", "403")


def problem_response(status: str) -> dict[str, Any]:
    """A response whose body is a problem (``application/problem+json``)."""
    description = ERROR_DESCRIPTIONS.get(int(status), "Error") if status.isdigit() else "Error"
    return {"description": description, "content": {PROBLEM_JSON: PROBLEM}}


def _is_generic(content: dict[str, Any]) -> bool:
    schema = content.get("schema", {})
    return schema.get("$ref") in (*_GENERIC_ERROR_REFS, PROBLEM["schema"]["$ref"])


def _truthful_error(status: str, response: dict[str, Any]) -> dict[str, Any]:
    """Keep an error response's own bodies (a CSV error list) and add the problem body."""
    if "$ref" in response:  # flask-smorest's BAD_REQUEST, DEFAULT_ERROR...
        return problem_response(status)
    content = {
        media_type: body
        for media_type, body in response.get("content", {}).items()
        if not _is_generic(body)
    }
    content[PROBLEM_JSON] = PROBLEM
    return {**response, "content": content}


def _by_text_status(responses: dict[Any, Any]) -> dict[str, Any]:
    """The responses keyed by status text; flask-smorest mixes ``400`` and ``"400"``."""
    merged: dict[str, Any] = {}
    for status, given in responses.items():
        key = str(status)
        # A name or a $ref: one of flask-smorest's generic responses, replaced by ours below.
        response = given if isinstance(given, dict) else {"$ref": given}
        if key in merged and "$ref" not in response and "$ref" not in merged[key]:
            content = {**merged[key].get("content", {}), **response.get("content", {})}
            merged[key] = {**merged[key], **response, "content": content}
        elif key not in merged or "$ref" in merged[key]:
            merged[key] = response
    return merged


def _markdown(text: str) -> str:
    return text.replace("``", "`")


class TruthfulDocument(BasePlugin):
    """An apispec plugin that corrects each operation as it is registered."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Errors as problems, the statuses every request can meet, Markdown summaries."""
        for method, operation in (operations or {}).items():
            if method not in HTTP_METHODS:
                continue
            responses = _by_text_status(operation.setdefault("responses", {}))
            operation["responses"] = responses
            if operation.pop(PLAIN_ROUTE, False):
                # Its own error bodies (OAuth2's, GraphQL's, HTML); the outage is a problem.
                for status in ("500", "503"):
                    responses.setdefault(status, problem_response(status))
                continue
            for status in list(responses):
                if status == "default" or status.startswith(("4", "5")):
                    responses[status] = _truthful_error(status, responses[status])
            wanted = _ALWAYS + (() if operation.get("security") == [] else _AUTHENTICATED)
            for status in wanted:
                responses.setdefault(status, problem_response(status))
            responses["default"] = problem_response("default")
            for key in ("summary", "description"):
                if key in operation:
                    operation[key] = _markdown(operation[key])


class RouterApi(Api):
    """flask-smorest's Api, listing each blueprint under its ``spec_tag`` (see module doc)."""

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Register ``blp``; its tag in the document is its ``spec_tag`` when it has one."""
        super().register_blueprint(blp, parameters=parameters, **options)
        tag = getattr(blp, "spec_tag", None)
        if not isinstance(blp, RouterBlueprint) or not tag:
            return
        tags = self.spec._tags  # apispec keeps the document's tag list here
        registered = options.get("name", blp.name)
        tags[:] = [t for t in tags if t["name"] != registered]
        if all(t["name"] != tag for t in tags):
            tags.append({"name": tag, "description": blp.description})
