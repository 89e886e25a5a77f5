from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient

from router.domain.escn import EscnGenerator, parse_escn
from tests.conftest import MakeTenant, Register, Tenant, card_body, esi, person_body


def test_issue_a_card_with_a_generated_number(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    record = registered("2001")
    card = record["card"]
    parsed = parse_escn(card["cardNumber"])
    assert (parsed.pic, parsed.prefix) == (uni.pic, "001")
    assert card["cardStatusType"] == {"key": "ACTIVE", "label": "Active"}
    assert card["cardType"]["key"] == "SMART_CDZ"
    assert card["issuedAt"] == "2026-09-01" and card["expiresAt"] == "2030-08-31"
    assert card["issuer"]["identifier"] == uni.pic
    assert card["person"]["identifier"] == record["esi"]
    assert card["hasOwnerAuthorization"] is True
    assert card["state"] == "ACTIVE"
    read = client.get(f"/api/v2/cards/{record['escn']}", headers=uni.headers)
    assert read.status_code == 200 and read.json == card


def test_issue_a_card_with_a_given_number_and_chip_serial(client: FlaskClient, uni: Tenant) -> None:
    identifier = esi("2002")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    number = EscnGenerator().generate(uni.pic, "002")
    response = client.post(
        "/api/v2/cards",
        json=card_body(identifier, uni.pic, cardNumber=number.upper(), csn="04:78:2e:21:80:1d:80"),
        headers=uni.headers,
    )
    assert response.status_code == 201
    assert response.json["cardNumber"] == number
    assert response.json["csn"] == "04782E21801D80"


def test_duplicate_card_number_is_409_er_0002(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    record = registered("2003")
    response = client.post(
        "/api/v2/cards",
        json=card_body(record["esi"], uni.pic, cardNumber=record["escn"]),
        headers=uni.headers,
    )
    assert response.status_code == 409
    assert response.json["code"] == "ER-0002"


def test_duplicate_chip_serial_is_409(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    registered("2004", csn="04782E21")
    record = registered("2005")
    response = client.put(
        f"/api/v2/cards/{record['escn']}",
        json=card_body(record["esi"], uni.pic, csn="04782e21"),
        headers=uni.headers,
    )
    assert response.status_code == 409


def test_card_number_of_another_pic_is_refused(client: FlaskClient, uni: Tenant) -> None:
    identifier = esi("2006")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    foreign = EscnGenerator().generate("123456789")
    response = client.post(
        "/api/v2/cards", json=card_body(identifier, uni.pic, cardNumber=foreign),
        headers=uni.headers,
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"cardType": "CHIP"}, 400),
        ({"cardStatusType": "EXPIRED"}, 400),
        ({"issuedAt": "01/09/2026"}, 400),
        # ISO 8601's other forms, which Python's date parser reads too: only yyyy-MM-dd is a date
        ({"issuedAt": "20260901"}, 400),
        ({"expiresAt": "2030-W35-6"}, 400),
        ({"expiresAt": "2030W356"}, 400),
        ({"expiresAt": "2020-01-01"}, 422),
        ({"cardNumber": "not-a-number"}, 400),
        ({"cardNumber": "3e506370-826a-403d-bf76-001999999999"}, 400),
        ({"personIdentifier": "nobody"}, 400),
        ({"personIdentifier": "urn:schac:personalUniqueCode:int:esi:FR:ghost"}, 404),
        ({"csn": "xyz"}, 400),
    ],
)
def test_bad_card_input_gets_a_clear_error_and_writes_nothing(
    client: FlaskClient, uni: Tenant, change: dict[str, str], status: int
) -> None:
    identifier = esi("2007")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    response = client.post(
        "/api/v2/cards", json=card_body(identifier, uni.pic, **change), headers=uni.headers
    )
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert {"code", "message", "type", "title", "status", "detail"} <= response.json.keys()
    listing = client.get("/api/v2/cards", headers=uni.headers).json
    assert listing["page"]["totalElements"] == 0


def test_missing_required_fields_are_listed(client: FlaskClient, uni: Tenant) -> None:
    response = client.post("/api/v2/cards", json={"cardType": "PASSIVE"}, headers=uni.headers)
    assert response.status_code == 400
    for name in ("cardStatusType", "expiresAt", "issuedAt", "issuerIdentifier", "personIdentifier"):
        assert name in response.json["message"]


def test_update_and_public_status(client: FlaskClient, uni: Tenant, registered: Register) -> None:
    record = registered("2008")
    status = client.get(f"/api/v2/cards/{record['escn']}/status")
    assert status.status_code == 200
    assert status.json == {
        "cardNumber": record["escn"],
        "displayName": None,
        "expiresAt": "2030-08-31",
        "issuedAt": "2026-09-01",
        "issuerIdentifier": uni.pic,
        "issuerName": uni.name,
        "status": "ACTIVE",
    }
    own = client.get(f"/api/v2/cards/{record['escn']}/status", headers=uni.headers)
    assert own.json["displayName"] == "Card of Ada"

    body = card_body(record["esi"], uni.pic, cardStatusType="INACTIVE", displayName="New name")
    updated = client.put(f"/api/v2/cards/{record['escn']}", json=body, headers=uni.headers)
    assert updated.status_code == 200
    assert updated.json["cardStatusType"]["key"] == "INACTIVE"
    assert updated.json["displayName"] == "New name"
    assert client.get(f"/api/v2/cards/{record['escn']}/status").json["status"] == "INACTIVE"


def test_expired_card_reads_expired_and_comes_back_with_status_and_new_expiry(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    record = registered("2009", issuedAt="2020-09-01", expiresAt=yesterday)
    assert client.get(f"/api/v2/cards/{record['escn']}/status").json["status"] == "EXPIRED"
    body = card_body(record["esi"], uni.pic, issuedAt="2020-09-01", expiresAt="2031-08-31")
    client.put(f"/api/v2/cards/{record['escn']}", json=body, headers=uni.headers)
    assert client.get(f"/api/v2/cards/{record['escn']}/status").json["status"] == "ACTIVE"


def test_card_cannot_change_holder_or_number(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    first = registered("2010")
    second = registered("2011")
    moved = card_body(second["esi"], uni.pic)
    response = client.put(f"/api/v2/cards/{first['escn']}", json=moved, headers=uni.headers)
    assert response.status_code == 422
    renumbered = card_body(first["esi"], uni.pic, cardNumber=second["escn"])
    response = client.put(f"/api/v2/cards/{first['escn']}", json=renumbered, headers=uni.headers)
    assert response.status_code == 422


def test_delete_card(client: FlaskClient, uni: Tenant, registered: Register) -> None:
    record = registered("2012")
    assert client.delete(f"/api/v2/cards/{record['escn']}", headers=uni.headers).status_code == 204
    assert client.get(f"/api/v2/cards/{record['escn']}", headers=uni.headers).status_code == 404
    assert client.get(f"/api/v2/cards/{record['escn']}/status").status_code == 404


def test_status_of_unknown_or_malformed_numbers(client: FlaskClient) -> None:
    unknown = EscnGenerator().generate("999999999")
    response = client.get(f"/api/v2/cards/{unknown}/status")
    assert response.status_code == 404 and response.json["code"] == "ER-0001"
    malformed = client.get("/api/v2/cards/not-a-card/status")
    assert malformed.status_code == 400
    assert malformed.json["type"] == "/problems/invalid-identifier"


def test_public_status_ignores_a_bad_credential(client: FlaskClient, registered: Register) -> None:
    record = registered("2013")
    response = client.get(
        f"/api/v2/cards/{record['escn']}/status", headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 200 and response.json["displayName"] is None


def test_list_cards_paged_and_searched(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    records = [registered(f"25{n:02d}", displayName=f"Card {n:02d}") for n in range(12)]
    page = client.get("/api/v2/cards?size=5&sort=displayName,desc", headers=uni.headers).json
    assert page["page"]["totalElements"] == 12 and page["page"]["totalPages"] == 3
    assert page["content"][0]["displayName"] == "Card 11"
    assert "cardStatusType" not in page["content"][0]  # CardLiteView
    by_esi = client.get(f"/api/v2/cards?search={records[3]['esi']}", headers=uni.headers).json
    assert [c["cardNumber"] for c in by_esi["content"]] == [records[3]["escn"]]


def test_generate_escn_reserves_numbers(client: FlaskClient, uni: Tenant) -> None:
    response = client.get(
        f"/api/v2/cards/generate-escn?pic={uni.pic}&prefix=7&numberOfESCN=100",
        headers=uni.headers,
    )
    assert response.status_code == 200
    numbers = response.json
    assert len(numbers) == len(set(numbers)) == 100
    assert all(parse_escn(n).prefix == "007" and parse_escn(n).pic == uni.pic for n in numbers)
    single = client.get(f"/api/v2/cards/generate-escn?pic={uni.pic}&prefix=1", headers=uni.headers)
    assert len(single.json) == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("pic=999999999&prefix=1&numberOfESCN=101", 400),
        ("pic=999999999&prefix=1&numberOfESCN=0", 400),
        ("pic=999999999&prefix=1&numberOfESCN=100000000000", 400),
        ("pic=999999999&prefix=1000", 400),
        ("pic=999999999", 400),
        ("pic=12345&prefix=1", 400),
        # Another organisation's PIC: 401, as the real router ("unauthorised PIC for this key").
        ("pic=888888888&prefix=1", 401),
    ],
)
def test_generate_escn_refuses_bad_requests_without_a_500(
    client: FlaskClient, uni: Tenant, query: str, status: int
) -> None:
    response = client.get(f"/api/v2/cards/generate-escn?{query}", headers=uni.headers)
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"


def test_each_refused_number_count_says_what_is_wrong(client: FlaskClient, uni: Tenant) -> None:
    none = client.get("/api/v2/cards/generate-escn?pic=999999999&prefix=1&numberOfESCN=0",
                      headers=uni.headers).json
    many = client.get("/api/v2/cards/generate-escn?pic=999999999&prefix=1&numberOfESCN=101",
                      headers=uni.headers).json
    assert none["code"] != many["code"]
    assert "many" not in none["title"].lower() and "at least 1" in none["detail"]
    assert "many" in many["title"].lower() and "at most 100" in many["detail"]


def test_reserved_number_can_be_used_to_issue_a_card(client: FlaskClient, uni: Tenant) -> None:
    number = client.get(
        f"/api/v2/cards/generate-escn?pic={uni.pic}&prefix=1", headers=uni.headers
    ).json[0]
    identifier = esi("2014")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    response = client.post(
        "/api/v2/cards", json=card_body(identifier, uni.pic, cardNumber=number),
        headers=uni.headers,
    )
    assert response.status_code == 201 and response.json["cardNumber"] == number


def test_processor_is_embedded_when_known(
    client: FlaskClient, uni: Tenant, make_tenant: MakeTenant, registered: Register
) -> None:
    make_tenant("B12345678", "Card Printer", kind="processor", vat=True)
    record = registered("2015", processorIdentifier="B12345678")
    assert record["card"]["processor"]["name"] == "Card Printer"
    unknown = registered("2016", processorIdentifier="X999")
    assert unknown["card"]["processor"] == {"identifier": "X999"}
