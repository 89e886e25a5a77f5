"""/api/x/cards/{escn}/lifecycle and /history: reasons beyond ACTIVE/INACTIVE, and their history."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.db import Database
from tests.conftest import Register, Tenant


def _act(client: FlaskClient, tenant: Tenant, escn: str, action: str, **extra: Any) -> TestResponse:
    return client.post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": action, **extra}, headers=tenant.headers
    )


@pytest.mark.parametrize(
    ("action", "state"),
    [("REPORT_LOST", "LOST"), ("REPORT_STOLEN", "STOLEN"), ("SUSPEND", "SUSPENDED"),
     ("DEACTIVATE", "INACTIVE"), ("DESTROY", "DESTROYED")],
)
def test_each_reason_makes_the_card_inactive_in_v2(
    client: FlaskClient, uni: Tenant, registered: Register, action: str, state: str
) -> None:
    card = registered()
    response = _act(client, uni, card["escn"], action)
    assert response.status_code == 200, response.json
    assert response.json["state"] == state
    assert response.json["cardStatusType"] == "INACTIVE"
    assert client.get(f"/api/v2/cards/{card['escn']}/status").json["status"] == "INACTIVE"
    v2 = client.get(f"/api/v2/cards/{card['escn']}", headers=uni.headers).json
    assert v2["cardStatusType"]["key"] == "INACTIVE"


def test_suspend_then_reactivate_and_the_history_says_who_when_what(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered()["escn"]
    suspended = _act(client, uni, escn, "SUSPEND").json
    assert "REACTIVATE" in suspended["allowedActions"]
    assert "SUSPEND" not in suspended["allowedActions"]
    back = client.get(f"/api/x/cards/{escn}/lifecycle", headers=uni.headers).json
    assert back["state"] == "SUSPENDED"
    assert _act(client, uni, escn, "REACTIVATE").json["state"] == "ACTIVE"

    history = client.get(f"/api/x/cards/{escn}/history", headers=uni.headers)
    assert history.status_code == 200
    events = [(e["event"], e["fromState"], e["toState"]) for e in history.json]
    assert events[0][0] == "ISSUED"
    assert ("SUSPEND", "ACTIVE", "SUSPENDED") in events
    assert events[-1] == ("REACTIVATE", "SUSPENDED", "ACTIVE")
    assert all(e["actorOrganisation"] == uni.pic for e in history.json)
    assert all(e["at"] for e in history.json)


def test_illegal_transitions_are_refused_and_change_nothing(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered()["escn"]
    assert _act(client, uni, escn, "DESTROY").status_code == 200
    refused = _act(client, uni, escn, "REACTIVATE")
    assert refused.status_code == 422
    assert refused.json["code"] == "ER-0050"
    assert "DESTROYED" in refused.json["detail"]
    assert client.get(f"/api/x/cards/{escn}/lifecycle", headers=uni.headers).json[
        "state"
    ] == "DESTROYED"
    unknown = _act(client, uni, escn, "EXPLODE")
    assert unknown.status_code == 400


def test_renewal_issues_a_linked_replacement(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    old = registered()["escn"]
    renewed = _act(client, uni, old, "RENEW", expiresAt="2031-08-31", csn="04A1B2C3D4E5F6")
    assert renewed.status_code == 200, renewed.json
    body = renewed.json
    assert body["state"] == "RENEWED"
    new = body["replacement"]["cardNumber"]
    assert body["replacedBy"] == new
    assert body["replacement"]["expiresAt"] == "2031-08-31"
    assert client.get(f"/api/v2/cards/{new}/status").json["status"] == "ACTIVE"
    assert client.get(f"/api/v2/cards/{old}/status").json["status"] == "INACTIVE"
    history = client.get(f"/api/x/cards/{new}/history", headers=uni.headers).json
    assert history[0]["event"] == "ISSUED"
    assert history[0]["relatedCardNumber"] == old


def test_renewal_with_a_bad_expiry_changes_nothing(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    escn = registered()["escn"]
    refused = _act(client, uni, escn, "RENEW", issuedAt="2031-01-01", expiresAt="2030-01-01")
    assert refused.status_code == 422
    assert client.get(f"/api/x/cards/{escn}/lifecycle", headers=uni.headers).json[
        "state"
    ] == "ACTIVE"
    assert client.get("/api/v2/cards", headers=uni.headers).json["page"]["totalElements"] == 1


@pytest.mark.parametrize("expires", ["20310831", "2031-W35-5"])
def test_renewal_with_an_expiry_not_written_yyyy_mm_dd_is_refused(
    client: FlaskClient, uni: Tenant, registered: Register, expires: str
) -> None:
    # Python reads ISO 8601's basic and week forms too; they were taken as dates.
    escn = registered()["escn"]
    refused = _act(client, uni, escn, "RENEW", expiresAt=expires)
    assert refused.status_code == 400 and refused.json["code"] == "ER-0400"
    assert client.get(f"/api/x/cards/{escn}/lifecycle", headers=uni.headers).json[
        "state"
    ] == "ACTIVE"
    assert client.get("/api/v2/cards", headers=uni.headers).json["page"]["totalElements"] == 1


def test_v2_status_writes_are_recorded_in_the_history(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    created = registered()
    escn = created["escn"]
    body = {k: created["card"][k] for k in ("issuedAt", "expiresAt", "displayName")}
    body.update(
        cardType="SMART_CDZ", cardStatusType="INACTIVE", issuerIdentifier=uni.pic,
        personIdentifier=created["esi"], cardNumber=escn,
    )
    assert client.put(f"/api/v2/cards/{escn}", json=body, headers=uni.headers).status_code == 200
    history = client.get(f"/api/x/cards/{escn}/history", headers=uni.headers).json
    assert history[-1]["toState"] == "INACTIVE"


def test_history_survives_deletion_without_personal_data(
    client: FlaskClient, uni: Tenant, registered: Register, db: Database
) -> None:
    from sqlalchemy import select

    from router.models import CardHistoryEntry

    created = registered()
    erased = client.delete(f"/api/v2/persons/{created['esi']}", headers=uni.headers)
    assert erased.status_code == 204
    with db.session() as session:
        events = session.scalars(
            select(CardHistoryEntry.event).where(CardHistoryEntry.card_number == created["escn"])
        ).all()
    assert events and events[-1] == "DELETED"
    columns = {c.name for c in CardHistoryEntry.__table__.columns}
    assert not columns & {"esi", "person_id", "display_name", "email", "full_name"}
