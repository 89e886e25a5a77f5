"""The OpenAPI document as the router behaves: error media types, tags, summaries, plain routes.

flask-smorest documents what its decorators know. This module corrects, in one place and for
every route (those added later included), what they cannot know:

- errors are ``application/problem+json`` (:mod:`router.api.problems`), whatever status; each
  operation documents the error statuses every request can meet, and a ``default`` problem;
- a blueprint's tag is its ``spec_tag`` when it has one (the real router's ``V2/card``...), so
  Swagger UI groups the operations under the tags the document lists;
- summaries and descriptions come from docstrings written in reStructuredText: double
  backticks become Markdown's single ones;
- the routes outside flask-smorest (``/oauth/token``, ``/graphql``, the public card page,
  the problem types) are described too.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api
from werkzeug.routing import Rule

from router.api.blueprint import ERROR_DESCRIPTIONS, RouterBlueprint
from router.api.fields import ESCN_PARAMETER
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


def _form_parameter_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _documentable(rule: Rule) -> Rule:
    """A copy of a plain Flask rule as flask-smorest's path helper reads it (defaults a dict)."""
    documented = copy.copy(rule)
    documented.defaults = dict(rule.defaults or {})
    return documented


def document_plain_routes(api: Api, app: Flask) -> None:
    """Describe the routes that are not flask-smorest views."""
    spec = api.spec
    rules = {rule.rule: _documentable(rule) for rule in app.url_map.iter_rules()}
    spec.components.schema(
        "OAuthToken",
        {
            "type": "object",
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "example": "Bearer"},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
            },
        },
    )
    spec.components.schema(
        "OAuthError",
        {
            "type": "object",
            "properties": {
                "error": {"type": "string", "example": "invalid_scope"},
                "error_description": {"type": "string"},
            },
        },
    )
    oauth_error = {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}}
    spec.path(
        rule=rules["/oauth/token"],
        operations={
            "post": {
                "tags": ["oauth"],
                "operationId": "issueToken",
                PLAIN_ROUTE: True,
                "summary": "Exchange client credentials for a bearer token (RFC 6749 4.4).",
                "description": "The client authenticates with HTTP Basic or in the form; a "
                "scope it does not hold is `invalid_scope`.",
                "security": [{"clientBasic": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": _form_parameter_schema(
                                {
                                    "grant_type": {
                                        "type": "string",
                                        "enum": ["client_credentials"],
                                    },
                                    "scope": {"type": "string"},
                                    "client_id": {"type": "string"},
                                    "client_secret": {"type": "string"},
                                },
                                ["grant_type"],
                            )
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "A bearer token",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OAuthToken"}
                            }
                        },
                    },
                    "400": {"description": "RFC 6749 error", "content": oauth_error},
                    "401": {"description": "Unknown client or bad secret", "content": oauth_error},
                },
            }
        },
    )
    graphql_body = {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "variables": {"type": "object", "nullable": True},
            "operationName": {"type": "string", "nullable": True},
        },
    }
    graphql_result = {
        "type": "object",
        "properties": {
            "data": {"type": "object", "nullable": True},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
    }
    graphql_errors = {
        "401": {
            "description": "No or a bad credential",
            "content": {"application/json": {"schema": graphql_result}},
        },
        "default": {
            "description": "Other errors",
            "content": {"application/json": {"schema": graphql_result}},
        },
    }
    spec.path(
        rule=rules["/graphql"],
        operations={
            "get": {
                "tags": ["graphql"],
                "operationId": "graphqlPage",
                PLAIN_ROUTE: True,
                "summary": "GraphiQL in a browser (Accept: text/html), or a query in the URL.",
                "description": "Queries only: a mutation sent by GET is refused (405).",
                "security": [{"bearerAuth": []}, {"api_key": []}, {}],
                "parameters": [
                    {
                        "in": "query",
                        "name": "query",
                        "description": "Without it, the answer is GraphiQL's page",
                        "schema": {"type": "string", "minLength": 1},
                    },
                    {
                        "in": "query",
                        "name": "variables",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    {"in": "query", "name": "operationName", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "GraphiQL's page, or the query's result",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            "application/json": {"schema": graphql_result},
                        },
                    },
                    "400": {
                        "description": "No query, or one that is not GraphQL",
                        "content": {"application/json": {"schema": graphql_result}},
                    },
                    "405": {
                        "description": "A mutation sent by GET",
                        "content": {"application/json": {"schema": graphql_result}},
                    },
                    **graphql_errors,
                },
            },
            "post": {
                "tags": ["graphql"],
                "operationId": "graphql",
                PLAIN_ROUTE: True,
                "summary": "Run a GraphQL query or mutation (schema: schema.graphql).",
                "description": "Errors of an authenticated request answer 200 with `errors`, "
                "each carrying the REST error's code in `extensions`; a missing or bad "
                "credential is a 401.",
                "security": [{"bearerAuth": []}, {"api_key": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": graphql_body}},
                },
                "responses": {
                    "200": {
                        "description": "The result, with `errors` when some failed",
                        "content": {"application/json": {"schema": graphql_result}},
                    },
                    "400": {
                        "description": "A request that is not GraphQL over HTTP",
                        "content": {"application/json": {"schema": graphql_result}},
                    },
                    "401": {
                        "description": "No or a bad credential",
                        "content": {"application/json": {"schema": graphql_result}},
                    },
                    "default": {
                        "description": "Other errors",
                        "content": {"application/json": {"schema": graphql_result}},
                    },
                },
            }
        },
    )
    spec.path(
        rule=rules["/cards/<string:escn>"],
        parameters=[dict(ESCN_PARAMETER)],
        operations={
            "get": {
                "tags": ["public"],
                "operationId": "cardPage",
                PLAIN_ROUTE: True,
                "summary": "The page a phone opens after scanning a card's QR code.",
                "description": "HTML (English or French, from `Accept-Language`), or the v2 "
                "status view with `Accept: application/json`. Anonymous lookups are "
                "rate-limited per client address.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The card's status",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CardStatusView"}
                            },
                        },
                    },
                    "400": {
                        "description": "Not a card number",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            PROBLEM_JSON: PROBLEM,
                        },
                    },
                    "404": {
                        "description": "No such card",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            PROBLEM_JSON: PROBLEM,
                        },
                    },
                    "429": {
                        "description": "Too many anonymous lookups",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            PROBLEM_JSON: PROBLEM,
                        },
                    },
                },
            }
        },
    )
    spec.path(
        rule=rules["/problems/<slug>"],
        parameters=[
            {
                "in": "path",
                "name": "slug",
                "required": True,
                "schema": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            }
        ],
        operations={
            "get": {
                "tags": ["problems"],
                "operationId": "problemType",
                PLAIN_ROUTE: True,
                "summary": "What a problem `type` means: its title, status and code.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The problem type",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "404": {
                        "description": "No such problem type",
                        "content": {PROBLEM_JSON: PROBLEM},
                    },
                },
            }
        },
    )
    for name, description in (
        ("oauth", "OAuth2 client credentials"),
        ("graphql", "The GraphQL API"),
        ("public", "Pages for people"),
        ("problems", "Problem types of the errors"),
    ):
        spec.tag({"name": name, "description": description})
