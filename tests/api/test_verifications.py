"""GET /api/x/verifications (an institution's log of lookups) and the retention purge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from router import cli
from router.db import Database, utcnow
from router.models import VerificationRecord
from router.services import verification
from router.settings import Settings
from tests.conftest import MakeTenant, Register, Tenant


@pytest.fixture
def partner(make_tenant: MakeTenant) -> Tenant:
    return make_tenant("777777777", "City Transport", kind="transport", country="BE")


def verify(client: FlaskClient, tenant: Tenant, scanned: str) -> dict[str, Any]:
    response = client.post("/api/x/verify", json={"scanned": scanned}, headers=tenant.headers)
    assert response.status_code == 200, response.json
    return response.json


def test_institution_lists_lookups_of_its_own_cards_only(
    client: FlaskClient, partner: Tenant, registered: Register, uni: Tenant, other_uni: Tenant
) -> None:
    mine = registered("1")
    theirs = registered("2", tenant=other_uni)
    verify(client, partner, mine["escn"])
    verify(client, partner, mine["escn"])
    verify(client, partner, theirs["escn"])

    response = client.get("/api/x/verifications", headers=uni.headers)
    assert response.status_code == 200, response.json
    content = response.json["content"]
    assert [r["cardNumber"] for r in content] == [mine["escn"], mine["escn"]]
    assert content[0]["partner"] == {
        "identifier": "777777777",
        "name": "City Transport",
        "kind": "transport",
        "router": None,
    }
    assert content[0]["valid"] is True
    assert response.json["page"]["totalElements"] == 2

    other = client.get("/api/x/verifications", headers=other_uni.headers).json
    assert [r["cardNumber"] for r in other["content"]] == [theirs["escn"]]


def test_lookups_list_newest_first_paged_and_filtered(
    client: FlaskClient, partner: Tenant, registered: Register, uni: Tenant
) -> None:
    first = registered("1")
    second = registered("2")
    for card in (first, second, first):
        verify(client, partner, card["escn"])
    page = client.get("/api/x/verifications?size=2", headers=uni.headers).json
    assert page["page"] == {"number": 0, "size": 2, "totalElements": 3, "totalPages": 2}
    ids = [r["id"] for r in page["content"]]
    assert ids == sorted(ids, reverse=True)
    only_first = client.get(
        f"/api/x/verifications?cardNumber={first['escn']}", headers=uni.headers
    ).json
    assert {r["cardNumber"] for r in only_first["content"]} == {first["escn"]}
    assert only_first["page"]["totalElements"] == 2


def test_another_institution_cannot_filter_its_way_to_my_lookups(
    client: FlaskClient, partner: Tenant, registered: Register, other_uni: Tenant
) -> None:
    card = registered()
    verify(client, partner, card["escn"])
    response = client.get(
        f"/api/x/verifications?cardNumber={card['escn']}", headers=other_uni.headers
    )
    assert response.status_code == 200
    assert response.json["content"] == []


@pytest.mark.parametrize(
    "query", ["cardNumber=nope", "size=0", "page=-1", "sort=email", "direction=UP"]
)
def test_bad_list_queries_are_400(client: FlaskClient, uni: Tenant, query: str) -> None:
    response = client.get(f"/api/x/verifications?{query}", headers=uni.headers)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_partners_cannot_list_lookups(client: FlaskClient, partner: Tenant) -> None:
    assert client.get("/api/x/verifications", headers=partner.headers).status_code == 403
    assert client.get("/api/x/verifications").status_code == 401


def _age_records(db: Database, days: int) -> None:
    with db.session() as session:
        for record in session.scalars(select(VerificationRecord)):
            record.at = record.at - dt.timedelta(days=days)
        session.commit()


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(VerificationRecord))


def test_purge_deletes_only_records_older_than_the_retention(
    client: FlaskClient, db: Database, partner: Tenant, registered: Register
) -> None:
    card = registered()
    verify(client, partner, card["escn"])
    _age_records(db, 40)
    verify(client, partner, card["escn"])
    with db.session() as session:
        assert verification.purge_verifications(session, retention_days=60) == 0
        assert verification.purge_verifications(session, retention_days=30) == 1
    assert _count(db) == 1


def test_purge_refuses_a_retention_under_one_day(db: Database) -> None:
    with db.session() as session, pytest.raises(Exception, match="at least one day"):
        verification.purge_verifications(session, retention_days=0, now=utcnow())


def test_cli_purges_with_the_configured_retention(
    client: FlaskClient,
    db: Database,
    partner: Tenant,
    registered: Register,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card = registered()
    verify(client, partner, card["escn"])
    _age_records(db, 10)
    verify(client, partner, card["escn"])
    monkeypatch.setenv("ESCR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ESCR_VERIFICATION_RETENTION_DAYS", "7")
    result = CliRunner().invoke(cli.escr_group, ["verifications", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 verification record(s) older than 7 day(s)" in result.output
    assert _count(db) == 1
    result = CliRunner().invoke(
        cli.escr_group, ["verifications", "purge", "--older-than-days", "1"]
    )
    assert result.exit_code == 0
    assert _count(db) == 1
