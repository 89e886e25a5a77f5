"""``/api/x/persons:batch`` and ``/api/x/cards:batch``: per-item upserts with per-item results."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from router.db import Database
from router.models import Person
from router.services.caller import Caller
from router.services.persons import PersonInput
from tests.conftest import MakeTenant, Register, Tenant, card_body, esi, person_body

PERSONS = "/api/x/persons:batch"
CARDS = "/api/x/cards:batch"


def test_persons_batch_creates_updates_and_reports_unchanged(
    client: FlaskClient, uni: Tenant
) -> None:
    items = [person_body(esi("B1"), uni.pic), person_body(esi("B2"), uni.pic)]
    first = client.post(PERSONS, json={"items": items}, headers=uni.headers)
    assert first.status_code == 200, first.json
    assert [r["outcome"] for r in first.json["results"]] == ["created", "created"]
    assert [r["status"] for r in first.json["results"]] == [201, 201]
    assert first.json["results"][0]["identifier"] == esi("B1")
    assert first.json["summary"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}

    items[1] = person_body(esi("B2"), uni.pic, email="new@example.org")
    second = client.post(PERSONS, json={"items": items}, headers=uni.headers)
    assert [r["outcome"] for r in second.json["results"]] == ["unchanged", "updated"]
    assert second.json["summary"] == {"created": 0, "updated": 1, "unchanged": 1, "failed": 0}
    stored = client.get(f"/api/v2/persons/{esi('B2')}", headers=uni.headers).json
    assert stored["organisations"][0]["contactPoint"]["email"] == "new@example.org"

    third = client.post(PERSONS, json={"items": items}, headers=uni.headers)
    assert third.json["summary"] == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0}


def test_a_bad_person_item_fails_alone_and_changes_nothing(
    client: FlaskClient, uni: Tenant
) -> None:
    items = [
        person_body(esi("OK1"), uni.pic),
        person_body("not-an-esi", uni.pic),
        {"identifier": esi("NOLINKS")},
        "not an object",
        person_body(esi("OK2"), uni.pic, academicLevel="KINDERGARTEN"),
        person_body(esi("OK3"), uni.pic),
    ]
    response = client.post(PERSONS, json={"items": items}, headers=uni.headers)
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["outcome"] for r in results] == [
        "created",
        "failed",
        "failed",
        "failed",
        "failed",
        "created",
    ]
    assert [r["index"] for r in results] == list(range(6))
    assert results[1]["status"] == 400 and results[1]["error"]["code"] == "ER-0401"
    assert results[2]["status"] == 400 and results[2]["error"]["code"] == "ER-0400"
    assert "personOrganisationUpdateViews" in results[2]["error"]["message"]
    assert results[4]["error"]["code"] == "ER-0400"
    listed = client.get("/api/v2/persons?size=50", headers=uni.headers).json["content"]
    assert sorted(p["identifier"] for p in listed) == [esi("OK1"), esi("OK3")]


def test_batch_size_must_be_between_1_and_500(client: FlaskClient, uni: Tenant) -> None:
    empty = client.post(PERSONS, json={"items": []}, headers=uni.headers)
    assert empty.status_code == 400 and empty.json["code"] == "ER-0083"
    too_many = [person_body(esi(f"T{i}"), uni.pic) for i in range(501)]
    response = client.post(CARDS, json={"items": too_many}, headers=uni.headers)
    assert response.status_code == 400 and response.json["code"] == "ER-0083"
    missing = client.post(PERSONS, json={}, headers=uni.headers)
    assert missing.status_code == 400
    assert client.get("/api/v2/persons", headers=uni.headers).json["content"] == []


def test_batches_need_a_credential_and_the_write_scopes(
    client: FlaskClient, uni: Tenant, make_tenant: MakeTenant
) -> None:
    reader = make_tenant(uni.pic, scopes=["persons:read", "cards:read"])
    body = {"items": [person_body(esi("S1"), uni.pic)]}
    assert client.post(PERSONS, json=body).status_code == 401
    refused = client.post(PERSONS, json=body, headers=reader.headers)
    assert refused.status_code == 403 and refused.json["code"] == "SE-0002"
    assert client.post(CARDS, json=body, headers=reader.headers).status_code == 403
    assert client.post(CARDS, json={"items": []}, headers=reader.headers).status_code == 403
    assert client.get("/api/v2/persons", headers=uni.headers).json["content"] == []


def _register_persons(client: FlaskClient, tenant: Tenant, *codes: str) -> None:
    items = [person_body(esi(code), tenant.pic) for code in codes]
    response = client.post(PERSONS, json={"items": items}, headers=tenant.headers)
    assert response.json["summary"]["failed"] == 0, response.json


def test_cards_batch_creates_then_matches_by_number_and_by_csn(
    client: FlaskClient, uni: Tenant
) -> None:
    _register_persons(client, uni, "C1", "C2")
    items = [
        card_body(esi("C1"), uni.pic),
        card_body(esi("C2"), uni.pic, csn="04A1B2C3D4E5F6"),
    ]
    first = client.post(CARDS, json={"items": items}, headers=uni.headers)
    assert first.status_code == 200, first.json
    assert first.json["summary"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    number = first.json["results"][0]["identifier"]
    by_csn = first.json["results"][1]["identifier"]
    assert client.get(f"/api/v2/cards/{number}", headers=uni.headers).status_code == 200

    again = [
        card_body(esi("C1"), uni.pic, cardNumber=number),
        card_body(esi("C2"), uni.pic, csn="04:a1:b2:c3:d4:e5:f6"),
    ]
    second = client.post(CARDS, json={"items": again}, headers=uni.headers)
    assert [r["outcome"] for r in second.json["results"]] == ["unchanged", "unchanged"]
    assert second.json["results"][1]["identifier"] == by_csn

    changed = [
        card_body(esi("C1"), uni.pic, cardNumber=number, cardStatusType="INACTIVE"),
        card_body(esi("C2"), uni.pic, csn="04A1B2C3D4E5F6", displayName="Renamed"),
    ]
    third = client.post(CARDS, json={"items": changed}, headers=uni.headers)
    assert [r["outcome"] for r in third.json["results"]] == ["updated", "updated"]
    assert third.json["results"][1]["identifier"] == by_csn
    card = client.get(f"/api/v2/cards/{number}", headers=uni.headers).json
    assert card["cardStatusType"]["key"] == "INACTIVE"
    renamed = client.get(f"/api/v2/cards/{by_csn}", headers=uni.headers).json
    assert renamed["displayName"] == "Renamed"
    listed = client.get("/api/v2/cards", headers=uni.headers).json["page"]["totalElements"]
    assert listed == 2


def test_a_bad_card_item_fails_alone_with_the_single_call_status(
    client: FlaskClient, uni: Tenant
) -> None:
    _register_persons(client, uni, "D1")
    items = [
        card_body(esi("D1"), uni.pic),
        card_body(esi("UNKNOWN"), uni.pic),
        card_body(esi("D1"), uni.pic, expiresAt="2020-01-01"),
        card_body(esi("D1"), uni.pic, cardType="FLOPPY"),
        card_body(esi("D1"), uni.pic, csn="nothex"),
        card_body(esi("D1"), uni.pic, cardNumber="garbage"),
        card_body(esi("D1"), uni.pic),
    ]
    response = client.post(CARDS, json={"items": items}, headers=uni.headers)
    results = response.json["results"]
    assert [r["outcome"] for r in results] == [
        "created",
        "failed",
        "failed",
        "failed",
        "failed",
        "failed",
        "created",
    ]
    assert [r["status"] for r in results[1:6]] == [404, 422, 400, 400, 400]
    assert results[1]["error"]["code"] == "ER-0018"
    listed = client.get("/api/v2/cards", headers=uni.headers).json["page"]["totalElements"]
    assert listed == 2
    history = client.get(f"/api/x/cards/{results[0]['identifier']}/history", headers=uni.headers)
    assert [h["event"] for h in history.json] == ["ISSUED"]


def test_a_failed_card_update_changes_nothing(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    mine = registered("E1")
    items = [
        card_body(
            mine["esi"],
            uni.pic,
            cardNumber=mine["escn"],
            expiresAt="2000-01-01",
            displayName="Should not stick",
        )
    ]
    response = client.post(CARDS, json={"items": items}, headers=uni.headers)
    assert response.json["results"][0]["status"] == 422
    card = client.get(f"/api/v2/cards/{mine['escn']}", headers=uni.headers).json
    assert card["displayName"] == mine["card"]["displayName"]


def test_batches_never_touch_another_organisations_records(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, registered: Register
) -> None:
    theirs = registered("THEIRS", tenant=other_uni)
    before = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    card_items = [
        card_body(theirs["esi"], uni.pic, cardNumber=theirs["escn"], displayName="Hijack"),
        card_body(theirs["esi"], other_uni.pic, cardNumber=theirs["escn"]),
        card_body(theirs["esi"], uni.pic),
    ]
    response = client.post(CARDS, json={"items": card_items}, headers=uni.headers)
    # Naming their PIC is a 401 (unauthorised PIC), touching their card with ours a 403.
    assert [r["status"] for r in response.json["results"]] == [403, 401, 403]
    person_items = [person_body(esi("X9"), other_uni.pic)]
    response = client.post(PERSONS, json={"items": person_items}, headers=uni.headers)
    # Naming another organisation's PIC is the real router's 401, as in the single call.
    assert response.json["results"][0]["status"] == 401
    assert response.json["results"][0]["error"]["code"] == "SE-0003"
    after = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    assert after == before
    assert client.get("/api/v2/cards", headers=uni.headers).json["content"] == []
    assert client.get("/api/v2/persons", headers=uni.headers).json["content"] == []


def test_a_chip_of_another_organisation_is_not_matched(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, registered: Register
) -> None:
    registered("CHIP", tenant=other_uni, csn="0A0B0C0D")
    _register_persons(client, uni, "F1")
    items = [card_body(esi("F1"), uni.pic, csn="0A0B0C0D")]
    response = client.post(CARDS, json={"items": items}, headers=uni.headers)
    assert response.json["results"][0]["status"] == 409
    assert response.json["results"][0]["error"]["code"] == "ER-0002"


def test_a_person_registered_meanwhile_by_another_request_is_upserted_not_failed(
    client: FlaskClient, uni: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batches with the same person at once (a retried import, two workers): no 409."""
    from router.services import batch as batch_service
    from router.services import credentials
    from router.services import persons as person_service

    original = person_service.create_person
    body = person_body(esi("RACE"), uni.pic)

    def create_after_a_concurrent_insert(
        session: Session, caller: Caller, data: PersonInput
    ) -> Person:
        # The other request commits the same ESI between our lookup and our insert.
        with db.session() as other:
            original(other, credentials.authenticate(other, uni.key), data)
        return original(session, caller, data)

    monkeypatch.setattr(batch_service.persons, "create_person", create_after_a_concurrent_insert)
    response = client.post("/api/x/persons:batch", json={"items": [body]}, headers=uni.headers)
    assert response.status_code == 200, response.json
    (item,) = response.json["results"]
    assert (item["outcome"], item["status"]) == ("unchanged", 200)
