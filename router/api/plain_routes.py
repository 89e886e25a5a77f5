"""The OpenAPI description of the routes that are not flask-smorest views.

``/oauth/token`` (authlib), ``/graphql`` (strawberry), the public card page ``/cards/{escn}`` and
the problem types ``/problems/{slug}``: described by hand here, so that the document lists every
route the router serves. Their own error bodies (OAuth2's, GraphQL's, HTML) are kept as they are.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.routing import Rule

from router.api.fields import ESCN_PARAMETER
from router.api.openapi import PLAIN_ROUTE, PROBLEM
from router.api.problems import PROBLEM_JSON


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
