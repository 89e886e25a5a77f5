"""Abusive queries (too deep, too many aliases or tokens, too costly) are refused before they
run, with a clear ER-0400 error; the limits come from the settings (ESCR_GRAPHQL_MAX_*)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from router.app import create_app
from router.settings import Settings
from tests.conftest import Register, Tenant
from tests.graphql.conftest import GraphQL, only_error


def _nested(depth: int) -> str:
    """A card query nesting card -> person -> cards -> person ... to ``depth`` levels."""
    inner = "cardNumber"
    for level in range(depth - 1):
        inner = f"person {{ {inner} }}" if level % 2 else f"cards {{ {inner} }}"
    return f'{{ card(escn: "x") {{ {inner} }} }}'


def _refused(body: dict, *words: str) -> None:
    """Nothing ran; every error is ER-0400 and one of them names the limit."""
    assert body["data"] is None
    assert body["errors"], body
    for error in body["errors"]:
        assert error["extensions"]["code"] == "ER-0400", error
        assert error["extensions"]["status"] == 400
    assert any(all(w in e["message"] for w in words) for e in body["errors"]), body["errors"]


def test_too_deep_a_query_is_refused(gql: GraphQL, uni: Tenant) -> None:
    _refused(gql(_nested(12), tenant=uni), "depth")
    # Within the limit the query runs (and fails on the bogus number, not on depth).
    error = only_error(gql(_nested(9), tenant=uni))
    assert error["extensions"]["code"] == "ER-0401"


def test_too_many_aliases_are_refused(gql: GraphQL, uni: Tenant) -> None:
    aliases = " ".join(f"a{i}: organisation {{ name }}" for i in range(21))
    _refused(gql(f"{{ {aliases} }}", tenant=uni), "aliases")
    few = " ".join(f"a{i}: organisation {{ name }}" for i in range(5))
    assert "errors" not in gql(f"{{ {few} }}", tenant=uni)


def test_too_many_tokens_are_refused(gql: GraphQL, uni: Tenant) -> None:
    fields = " ".join(["name"] * 2100)
    _refused(gql(f"{{ organisation {{ {fields} }} }}", tenant=uni), "token")


def test_too_costly_a_query_is_refused_even_through_variables(
    gql: GraphQL, uni: Tenant, registered: Register
) -> None:
    registered("COST1")
    query = """query($n: Int) { persons(first: $n) { edges { node { identifier
        cards { cardNumber state history { event fromState toState } } } } } }"""
    _refused(gql(query, {"n": 1000}, tenant=uni), "costs", "5000")
    literal = query.replace("query($n: Int) ", "").replace("$n", "1000")
    _refused(gql(literal, tenant=uni), "costs")
    body = gql(query, {"n": 100}, tenant=uni)
    assert "errors" not in body
    assert len(body["data"]["persons"]["edges"]) == 1


def test_a_refused_mutation_changes_nothing(client: FlaskClient, gql: GraphQL, uni: Tenant) -> None:
    aliases = " ".join(
        f'p{i}: createPerson(input: {{identifier: "urn:schac:personalUniqueCode:int:esi:FR:L{i}"}})'
        " { identifier }"
        for i in range(25)
    )
    _refused(gql(f"mutation {{ {aliases} }}", tenant=uni), "aliases")
    assert client.get("/api/v2/persons", headers=uni.headers).json["content"] == []


def test_limits_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "ESCR_GRAPHQL_MAX_DEPTH": "4",
            "ESCR_GRAPHQL_MAX_ALIASES": "2",
            "ESCR_GRAPHQL_MAX_TOKENS": "300",
            "ESCR_GRAPHQL_MAX_COST": "50",
        }
    )
    assert (
        settings.graphql_max_depth,
        settings.graphql_max_aliases,
        settings.graphql_max_tokens,
        settings.graphql_max_cost,
    ) == (4, 2, 300, 50)


@pytest.fixture
def strict(app: Flask, settings: Settings) -> Iterator[GraphQL]:
    """A second router on the same database with small limits."""
    limited = dataclasses.replace(
        settings, graphql_max_depth=4, graphql_max_aliases=2, graphql_max_cost=50
    )
    strict_app = create_app(limited)
    strict_app.config["TESTING"] = True
    yield GraphQL(strict_app.test_client())
    strict_app.extensions["escr.database"].engine.dispose()


def test_configured_limits_apply(strict: GraphQL, gql: GraphQL, uni: Tenant) -> None:
    _refused(strict(_nested(5), tenant=uni), "depth")
    assert only_error(gql(_nested(5), tenant=uni))["extensions"]["code"] == "ER-0401"
    aliases = "a: organisation { name } b: organisation { name } c: organisation { name }"
    _refused(strict(f"{{ {aliases} }}", tenant=uni), "aliases")
    costly = "{ persons(first: 20) { edges { node { identifier fullName } } } }"
    _refused(strict(costly, tenant=uni), "costs")
    assert "errors" not in gql(costly, tenant=uni)
