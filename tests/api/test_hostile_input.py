"""Hostile values in every string field of every write route: a 4xx, never a 500, and no change.

The routes and their fields are read from /openapi.json when the test runs, so routes added later
are covered too. Each string field (nested ones included) is sent a NUL character, an unpaired
UTF-16 surrogate, a value longer than any column, and a number far past 64 bits; hypothesis draws
the values. The database is compared whole before and after: a refused request changes nothing.
On PostgreSQL a NUL used to reach the driver and answer 500; a surrogate did on both databases.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.test import TestResponse

from router.db import Base, Database
from router.services.caller import Scope
from tests.conftest import FakeDns, MakeTenant, Register, Tenant, card_body, esi, person_body

WRITE_METHODS = ("post", "put", "patch", "delete")
KINDS = ("nul", "long", "huge", "surrogate")
# Columns that change on every authenticated request, not by what the request asks.
VOLATILE = {("api_keys", "last_used_at")}
GRAPHQL_PATHS = {"/graphql"}


def hostile(kind: str, max_length: int | None) -> st.SearchStrategy[Any]:
    """A NUL or an unpaired surrogate in a text, a text past the limit, or a number past 64 bits."""
    if kind in ("nul", "surrogate"):
        # A lone half of a UTF-16 pair: JSON can escape one, no database can store it.
        halves = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
        bad = halves if kind == "surrogate" else st.just("\x00")
        text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
        return st.tuples(text, bad, text).map("".join)
    if kind == "long":
        limit = max_length or 4096
        return st.integers(limit + 1, limit + 64).map(lambda n: "x" * n)
    return st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1))


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("allOf", "anyOf"):
        choices = [s for s in schema.get(key, []) if not s.get("nullable")]
        if choices:
            return _resolve(document, choices[0])
    return schema


def string_fields(document: dict, schema: dict, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """Every string property under ``schema`` (objects and arrays of objects walked into)."""
    schema = _resolve(document, schema)
    found = []
    if schema.get("type") == "array" and schema.get("items"):
        return string_fields(document, schema["items"], (*path, 0))
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(document, prop)
        if prop.get("type") == "string" and prop.get("format") not in ("binary", "date"):
            found.append(((*path, name), prop))
        elif prop.get("type") in ("object", "array") or "properties" in prop:
            found.extend(string_fields(document, prop, (*path, name)))
    return found


def synthesised(document: dict, schema: dict) -> Any:
    """A minimal body of ``schema``: its required members, each of the simplest value."""
    schema = _resolve(document, schema)
    kind = schema.get("type", "object")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties", {})
        return {name: synthesised(document, props[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [synthesised(document, schema.get("items", {}))]
    return {"string": "x", "integer": 1, "number": 1, "boolean": True}.get(kind)


def _put(body: Any, path: tuple, value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        if isinstance(target, list):
            while len(target) <= key:
                target.append({})
        elif key not in target or not isinstance(target[key], dict | list):
            target[key] = [] if isinstance(path[path.index(key) + 1], int) else {}
        target = target[key]
    if isinstance(target, list):
        while len(target) <= path[-1]:
            target.append(None)
    target[path[-1]] = value
    return body


def snapshot(db: Database) -> dict[str, list]:
    """Every row of every table, less the columns each request touches."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted(
                (
                    tuple(
                        str(value)
                        for column, value in zip(table.columns, row, strict=True)
                        if (table.name, column.name) not in VOLATILE
                    )
                    for row in connection.execute(select(table))
                ),
            )
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def world(
    client: FlaskClient, make_tenant: MakeTenant, registered: Register, fake_dns: FakeDns
) -> tuple[Tenant, dict[str, str], dict[str, dict[str, Any]]]:
    """A tenant with every scope, a person, a card, a key and a webhook to aim at."""
    fake_dns.names["hooks.example.org"] = ["93.184.215.14"]
    tenant = make_tenant("999999999", "Demo University", scopes=list(Scope.ALL))
    record = registered("HOSTILE", tenant=tenant)
    key = client.post("/api/x/api-keys", json={"scopes": ["cards:read"]}, headers=tenant.headers)
    hook = client.post("/api/x/webhooks", json={"url": "https://hooks.example.org/h"},
                       headers=tenant.headers)
    assert key.status_code == 201 and hook.status_code == 201, (key.json, hook.json)
    path_values = {
        "escn": record["escn"],
        "esi": record["esi"],
        "id": tenant.pic,
        "identifier": tenant.pic,
        "prefix": key.json["prefix"],
        "subscription_id": hook.json["id"],
        # Bodies are refused before anything is looked up: a well-formed id need not exist.
        "kid": "hostile-key",
        "delegation_id": "0b1e5c5e-8d3a-4a52-9d55-3c1f2d4c8a10",
        "pic": tenant.pic,
    }
    bodies = {
        "create": person_body(esi("NEWONE"), tenant.pic),
        "update": person_body(record["esi"], tenant.pic),
        "create_1": card_body(record["esi"], tenant.pic),
        "update_1": card_body(record["esi"], tenant.pic, cardNumber=record["escn"]),
        "personsBatch": {"items": [person_body(esi("NEWTWO"), tenant.pic)]},
        "cardsBatch": {"items": [card_body(record["esi"], tenant.pic)]},
    }
    return tenant, path_values, bodies


def targets(document: dict) -> list[tuple]:
    """(method, path, operationId, field path, field schema, body schema) of every write field."""
    found = []
    for path, item in document["paths"].items():
        if path in GRAPHQL_PATHS:  # its errors are GraphQL's: see the GraphQL test below
            continue
        for method, operation in item.items():
            if method not in WRITE_METHODS:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            for field_path, prop in string_fields(document, schema):
                found.append((method, path, operation.get("operationId"), field_path, prop, schema))
    return found


BATCH_ITEMS = {"personsBatch": "PersonUpdateView", "cardsBatch": "CardUpdateView"}


def test_every_string_field_of_every_write_route_refuses_hostile_values(
    client: FlaskClient,
    db: Database,
    world: tuple[Tenant, dict[str, str], dict[str, dict[str, Any]]],
) -> None:
    tenant, path_values, bodies = world
    document = client.get("/openapi.json").json
    cases = targets(document)
    # Batch items are any JSON value in the document; each is one of these views.
    for operation_id, view in BATCH_ITEMS.items():
        item_fields = string_fields(document, {"$ref": f"#/components/schemas/{view}"})
        for field_path, prop in item_fields:
            cases.append(("post", None, operation_id, ("items", 0, *field_path), prop, None))
    assert len(cases) > 60
    paths = {
        op["operationId"]: (method, path)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    before = snapshot(db)
    for method, path, operation_id, field_path, prop, schema in cases:
        method, path = (method, path) if path else paths[operation_id]
        url = path.format(**path_values)
        base = bodies.get(operation_id)
        if base is None:
            base = synthesised(document, schema) if schema else {}

        _refuses(client, tenant, method, url, base, field_path, prop.get("maxLength"))
    assert snapshot(db) == before


def _refuses(
    client: FlaskClient,
    tenant: Tenant,
    method: str,
    url: str,
    base: Any,
    field_path: tuple,
    max_length: int | None,
) -> None:
    """Send hostile values of every kind in one field; each must be refused."""

    @given(value=st.sampled_from(KINDS).flatmap(lambda kind: hostile(kind, max_length)))
    @settings(max_examples=4, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def send(value: Any) -> None:
        body = _put(base, field_path, value)
        response = client.open(url, method=method.upper(), json=body, headers=tenant.headers)
        where = (method, url, field_path, repr(value)[:40], response.status_code)
        assert 400 <= response.status_code < 500 or _all_items_refused(response), (
            where, response.get_data(as_text=True)[:300],
        )

    send()


def _all_items_refused(response: TestResponse) -> bool:
    """A batch answers 200 with each item's own result: every item must have been refused."""
    if response.status_code != 200 or not isinstance(response.json, dict):
        return False
    results = response.json.get("results", [])
    return bool(results) and all(400 <= r["status"] < 500 for r in results)


GRAPHQL_WRITES = {
    "createPerson": (
        "mutation($input: PersonInput!) { createPerson(input: $input) { identifier } }",
        "input",
        {"identifier": esi("GQLNEW"), "fullName": "Ada"},
        ("identifier", "fullName", "email", "phone"),
    ),
    "issueCard": (
        "mutation($input: CardInput!) { issueCard(input: $input) { cardNumber } }",
        "input",
        {"personIdentifier": "ESI", "cardType": "SMART_CDZ", "issuedAt": "2026-09-01",
         "expiresAt": "2030-08-31"},
        ("personIdentifier", "cardNumber", "displayName", "processorIdentifier", "csn"),
    ),
    "renew": (
        "mutation($escn: String!, $renewal: RenewalInput) "
        "{ changeCardStatus(escn: $escn, action: RENEW, renewal: $renewal) { card { state } } }",
        "renewal",
        {},
        ("cardNumber", "displayName", "csn"),
    ),
}


@pytest.mark.parametrize("mutation", sorted(GRAPHQL_WRITES))
def test_graphql_mutations_refuse_the_same_hostile_values_with_the_same_codes(
    client: FlaskClient,
    db: Database,
    world: tuple[Tenant, dict[str, str], dict[str, dict[str, Any]]],
    mutation: str,
) -> None:
    tenant, path_values, _ = world
    document, argument, base, names = GRAPHQL_WRITES[mutation]
    base = {**base, "personIdentifier": path_values["esi"]} if mutation == "issueCard" else base
    before = snapshot(db)
    for name in names:
        for kind in ("nul", "long", "surrogate"):

            limit = 32 if name == "phone" else 255
            _graphql_refuses(client, tenant, document, argument, base, name, kind, limit,
                             path_values["escn"])
    assert snapshot(db) == before


def _graphql_refuses(
    client: FlaskClient,
    tenant: Tenant,
    document: str,
    argument: str,
    base: dict[str, Any],
    name: str,
    kind: str,
    limit: int | None,
    escn: str,
) -> None:
    @given(value=hostile(kind, limit))
    @settings(max_examples=3, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def send(value: Any) -> None:
        variables = {"escn": escn, argument: {**base, name: value}}
        response = client.post("/graphql", json={"query": document, "variables": variables},
                               headers=tenant.headers)
        [error] = response.json["errors"]
        assert error["extensions"]["code"] in ("ER-0400", "ER-0401"), (name, error)
        assert error["extensions"]["status"] == 400

    send()


def test_a_graphql_cursor_or_rest_page_past_64_bits_is_a_400(
    client: FlaskClient, world: tuple[Tenant, dict[str, str], dict[str, dict[str, Any]]]
) -> None:
    tenant, _, _ = world
    import base64

    cursor = base64.urlsafe_b64encode(f"offset:{2**64}".encode()).decode()
    response = client.post("/graphql", headers=tenant.headers, json={
        "query": f'{{ cards(first: 5, after: "{cursor}") {{ totalCount }} }}'})
    [error] = response.json["errors"]
    assert error["extensions"]["code"] == "ER-0400"
    for query in (f"page={10**20}", f"size={10**20}", f"page={2**63}"):
        page = client.get(f"/api/v2/cards?{query}", headers=tenant.headers)
        assert page.status_code == 400, page.json
        assert "page" in page.json["detail"] or "size" in page.json["detail"]
