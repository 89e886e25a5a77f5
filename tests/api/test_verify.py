"""POST /api/x/verify: every verdict and reason, every scan form, bad scans, scopes, disclosure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from router.db import Database
from router.domain.escn import default_generator
from router.models import VerificationRecord
from tests.conftest import MakeTenant, Register, Tenant, esi, person_body

PARTNER_PIC = "777777777"


@pytest.fixture
def partner(make_tenant: MakeTenant) -> Tenant:
    """A transport company whose key carries its kind's default scopes (verify only)."""
    return make_tenant(PARTNER_PIC, "City Transport", kind="transport", country="BE")


def verify(client: FlaskClient, tenant: Tenant, scanned: str) -> TestResponse:
    return client.post("/api/x/verify", json={"scanned": scanned}, headers=tenant.headers)


def records(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(VerificationRecord))


def test_partner_keys_default_to_the_verify_scope_only(
    client: FlaskClient, partner: Tenant, registered: Register
) -> None:
    card = registered()
    assert client.get("/api/v2/cards", headers=partner.headers).status_code == 403
    assert client.get(f"/api/v2/cards/{card['escn']}", headers=partner.headers).status_code == 403
    assert verify(client, partner, card["escn"]).status_code == 200


def test_active_card_is_valid_with_minimal_disclosure(
    client: FlaskClient, partner: Tenant, registered: Register, uni: Tenant
) -> None:
    card = registered()
    response = verify(client, partner, f"https://router.test/cards/{card['escn']}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["valid"] is True
    assert body["reason"] is None
    assert body["cardNumber"] == card["escn"]
    assert body["issuer"] == {"identifier": uni.pic, "name": "Demo University", "country": "FR"}
    assert body["expiresAt"] == "2030-08-31"
    assert body["displayName"] is None
    assert body["checkedAt"]
    text = response.get_data(as_text=True)
    assert "s@example.org" not in text
    assert card["esi"] not in text
    assert "esi" not in text.lower()


def test_holder_scope_reveals_the_display_name(
    client: FlaskClient, make_tenant: MakeTenant, registered: Register
) -> None:
    library = make_tenant(
        "666666666", "Library", kind="culture", scopes=["verify", "verify:holder"]
    )
    card = registered()
    body = verify(client, library, card["escn"]).json
    assert body["valid"] is True
    assert body["displayName"] == "Card of Ada"
    assert "s@example.org" not in str(body)


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("DEACTIVATE", "INACTIVE"),
        ("REPORT_LOST", "LOST"),
        ("REPORT_STOLEN", "STOLEN"),
        ("SUSPEND", "SUSPENDED"),
        ("RENEW", "RENEWED"),
        ("DESTROY", "DESTROYED"),
    ],
)
def test_each_lifecycle_state_gives_its_reason(
    client: FlaskClient,
    partner: Tenant,
    registered: Register,
    uni: Tenant,
    action: str,
    reason: str,
) -> None:
    card = registered()
    changed = client.post(
        f"/api/x/cards/{card['escn']}/lifecycle", json={"action": action}, headers=uni.headers
    )
    assert changed.status_code == 200, changed.json
    body = verify(client, partner, card["escn"]).json
    assert body["valid"] is False
    assert body["reason"] == reason
    assert body["issuer"]["identifier"] == uni.pic


def test_expired_card_is_not_valid(
    client: FlaskClient, partner: Tenant, registered: Register
) -> None:
    card = registered(issuedAt="2020-09-01", expiresAt="2021-08-31")
    body = verify(client, partner, card["escn"]).json
    assert (body["valid"], body["reason"], body["expiresAt"]) == (False, "EXPIRED", "2021-08-31")


def test_stolen_and_expired_card_is_reported_stolen(
    client: FlaskClient, partner: Tenant, registered: Register, uni: Tenant
) -> None:
    card = registered(issuedAt="2020-09-01", expiresAt="2021-08-31")
    client.post(
        f"/api/x/cards/{card['escn']}/lifecycle",
        json={"action": "REPORT_STOLEN"},
        headers=uni.headers,
    )
    assert verify(client, partner, card["escn"]).json["reason"] == "STOLEN"


def test_unknown_card_number_is_not_valid_and_says_unknown(
    client: FlaskClient, partner: Tenant, uni: Tenant
) -> None:
    number = default_generator.generate(uni.pic, "001")
    body = verify(client, partner, number).json
    assert body == {**body, "valid": False, "reason": "UNKNOWN", "cardNumber": number}
    assert body["issuer"] is None
    assert body["expiresAt"] is None


@pytest.mark.parametrize(
    "form",
    [
        "{escn}",
        "  {upper}  ",
        "https://router.test/cards/{escn}",
        "https://router.test/cards/{escn}/",
        "http://router.test/cards/{escn}?utm=1",
        "router.test/cards/{escn}",
        "http://esc.gg/{escn}",
        "https://esc.gg/{escn}",
        "http://pp.esc.gg/{escn}",
        "https://s.esc-r.eu/{upper}",
        "urn:uuid:{escn}",
        "{nodash}",
    ],
)
def test_every_scan_form_designates_the_card(
    client: FlaskClient, partner: Tenant, registered: Register, form: str
) -> None:
    card = registered()
    escn = card["escn"]
    scanned = form.format(escn=escn, upper=escn.upper(), nodash=escn.replace("-", ""))
    response = verify(client, partner, scanned)
    assert response.status_code == 200, response.json
    assert response.json["cardNumber"] == escn
    assert response.json["valid"] is True


@pytest.mark.parametrize(
    ("scanned", "status", "code"),
    [
        ("hello world", 400, "ER-0090"),
        ("   ", 400, "ER-0090"),
        ("x" * 3000, 400, "ER-0090"),
        ("WIFI:S:cafe;T:WPA;P:secret;;", 400, "ER-0090"),
        ("https:///cards/abc", 400, "ER-0091"),
        ("ftp://router.test/cards/abc", 400, "ER-0091"),
        ("https://router.test:99999/cards/abc", 400, "ER-0091"),
        ("https://router.test/cards/not-a-card", 400, "ER-0091"),
        ("https://router.test/persons/abc", 400, "ER-0091"),
        ("https://router.test/cards", 400, "ER-0091"),
        (str(uuid.uuid4()), 400, "ER-0092"),
        ("https://router.test/cards/" + str(uuid.uuid4()), 400, "ER-0092"),
        ("https://esc.gg/" + str(uuid.uuid4()), 400, "ER-0092"),
        ("https://other-router.example/cards/{escn}", 422, "ER-0093"),
        ("https://router.test.evil.example/cards/{escn}", 422, "ER-0093"),
    ],
)
def test_bad_scans_get_a_clear_4xx_and_record_nothing(
    client: FlaskClient,
    db: Database,
    partner: Tenant,
    registered: Register,
    scanned: str,
    status: int,
    code: str,
) -> None:
    card = registered()
    response = verify(client, partner, scanned.format(escn=card["escn"]))
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert response.json["message"]
    assert records(db) == 0


@pytest.mark.parametrize("body", [{}, {"scanned": 42}, {"scanned": None}, {"scanned": ""}])
def test_malformed_bodies_are_400(
    client: FlaskClient, partner: Tenant, body: dict[str, Any]
) -> None:
    response = client.post("/api/x/verify", json=body, headers=partner.headers)
    assert response.status_code == 400
    assert response.json["code"] == "ER-0400"


def test_verify_needs_a_credential_with_the_verify_scope(
    client: FlaskClient, make_tenant: MakeTenant, registered: Register
) -> None:
    card = registered()
    anonymous = client.post("/api/x/verify", json={"scanned": card["escn"]})
    assert anonymous.status_code == 401
    reader = make_tenant("555555555", "Reader", scopes=["cards:read"])
    denied = verify(client, reader, card["escn"])
    assert denied.status_code == 403
    assert denied.json["code"] == "SE-0002"


def test_institution_keys_verify_other_institutions_cards_without_the_holder(
    client: FlaskClient, registered: Register, other_uni: Tenant
) -> None:
    card = registered()
    body = verify(client, other_uni, card["escn"]).json
    assert body["valid"] is True
    assert body["displayName"] is None


def test_an_institution_verifying_its_own_card_sees_the_display_name(
    client: FlaskClient, registered: Register, uni: Tenant
) -> None:
    card = registered()
    assert verify(client, uni, card["escn"]).json["displayName"] == "Card of Ada"


def test_every_verification_is_recorded(
    client: FlaskClient, db: Database, partner: Tenant, registered: Register, uni: Tenant
) -> None:
    card = registered()
    verify(client, partner, card["escn"])
    verify(client, partner, default_generator.generate(uni.pic, "001"))
    assert records(db) == 2
    with db.session() as session:
        rows = session.scalars(select(VerificationRecord).order_by(VerificationRecord.id)).all()
        assert [(r.valid, r.reason) for r in rows] == [(True, None), (False, "UNKNOWN")]
        assert all(r.partner.identifier == PARTNER_PIC for r in rows)


def test_other_persons_fields_never_leak_through_verify(
    client: FlaskClient, partner: Tenant, registered: Register, uni: Tenant
) -> None:
    card = registered()
    client.put(
        f"/api/v2/persons/{card['esi']}",
        json=person_body(card["esi"], uni.pic, email="secret@example.org", phone="+33123"),
        headers=uni.headers,
    )
    text = verify(client, partner, card["escn"]).get_data(as_text=True)
    assert "secret@example.org" not in text
    assert "+33123" not in text
    assert esi() not in text
