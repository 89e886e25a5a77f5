"""The verification query gives REST's verdict and REST's errors, and is recorded the same way."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from router.db import Database
from router.models import VerificationRecord
from tests.conftest import MakeTenant, Register, Tenant
from tests.graphql.conftest import GraphQL, only_error

QUERY = """query ($scanned: String!) { verification(scanned: $scanned) {
    valid reason cardNumber expiresAt displayName checkedAt answeredBy
    issuer { identifier name country } } }"""


@pytest.fixture
def partner(make_tenant: MakeTenant) -> Tenant:
    return make_tenant("777777777", "City Transport", kind="transport", country="BE")


def _rest(client: FlaskClient, tenant: Tenant, scanned: str) -> TestResponse:
    return client.post("/api/x/verify", json={"scanned": scanned}, headers=tenant.headers)


def _comparable(verdict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in verdict.items() if k != "checkedAt"}


@pytest.mark.parametrize("action", [None, "REPORT_LOST", "SUSPEND", "DESTROY"])
def test_same_verdict_as_rest(
    client: FlaskClient,
    gql: GraphQL,
    uni: Tenant,
    partner: Tenant,
    registered: Register,
    action: str | None,
) -> None:
    card = registered()
    if action:
        client.post(f"/api/x/cards/{card['escn']}/lifecycle", json={"action": action},
                    headers=uni.headers)
    scanned = f"https://router.test/cards/{card['escn']}"
    rest = _rest(client, partner, scanned)
    assert rest.status_code == 200
    body = gql(QUERY, {"scanned": scanned}, tenant=partner)
    assert "errors" not in body, body
    graph = body["data"]["verification"]
    assert graph["checkedAt"]
    assert _comparable(graph) == _comparable(rest.json)


def test_unknown_card_and_disclosure_match(
    client: FlaskClient, gql: GraphQL, uni: Tenant, partner: Tenant, registered: Register
) -> None:
    from router.domain.escn import default_generator

    unknown = default_generator.generate("999999999")
    graph = gql(QUERY, {"scanned": unknown}, tenant=partner)["data"]["verification"]
    assert graph["valid"] is False and graph["reason"] == "UNKNOWN"
    assert _comparable(graph) == _comparable(_rest(client, partner, unknown).json)
    own = registered("own-1")
    mine = gql(QUERY, {"scanned": own["escn"]}, tenant=uni)["data"]["verification"]
    assert mine["displayName"] == own["card"]["displayName"]
    theirs = gql(QUERY, {"scanned": own["escn"]}, tenant=partner)["data"]["verification"]
    assert theirs["displayName"] is None


@pytest.mark.parametrize(
    "scanned", ["garbage", "https://", "f81d4fae-7dec-41d0-a765-00a0c91e6bf6",
                "https://elsewhere.example/cards/f81d4fae-7dec-11d0-a765-001999999999"]
)
def test_bad_scans_give_the_rest_error_code_and_record_nothing(
    client: FlaskClient, gql: GraphQL, partner: Tenant, db: Database, scanned: str
) -> None:
    rest = _rest(client, partner, scanned)
    assert 400 <= rest.status_code < 500
    error = only_error(gql(QUERY, {"scanned": scanned}, tenant=partner))
    assert error["extensions"]["code"] == rest.json["code"]
    assert error["extensions"]["status"] == rest.status_code
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(VerificationRecord)) == 0


def test_every_lookup_is_recorded_and_needs_the_verify_scope(
    client: FlaskClient,
    gql: GraphQL,
    make_tenant: MakeTenant,
    partner: Tenant,
    registered: Register,
    db: Database,
) -> None:
    card = registered()
    gql(QUERY, {"scanned": card["escn"]}, tenant=partner)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(VerificationRecord)) == 1
    reader = make_tenant("555555555", scopes=["cards:read"])
    error = only_error(gql(QUERY, {"scanned": card["escn"]}, tenant=reader))
    assert error["extensions"]["code"] == "SE-0002"
    assert _rest(client, reader, card["escn"]).json["code"] == "SE-0002"
