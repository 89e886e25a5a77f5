"""Bulk card import: ``csv-config``, the ``validate-csv`` dry run, ``/api/x/cards/import-csv``."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.domain.escn import EscnGenerator
from tests.conftest import MakeTenant, Register, Tenant, esi, person_body

CONFIG = "/api/v2/cards/csv-config"
VALIDATE = "/api/v2/cards/validate-csv"
IMPORT = "/api/x/cards/import-csv"
HEADER = (
    "cardNumber,personIdentifier,issuerIdentifier,cardType,cardStatusType,issuedAt,expiresAt,"
    "displayName,processorIdentifier,csn"
)


def _row(
    person: str = "",
    number: str = "",
    issuer: str = "999999999",
    card_type: str = "SMART_CDZ",
    status: str = "ACTIVE",
    issued: str = "2026-09-01",
    expires: str = "2030-08-31",
    name: str = "Card",
    processor: str = "",
    csn: str = "",
) -> str:
    return ",".join(
        [number, person, issuer, card_type, status, issued, expires, name, processor, csn]
    )


def _upload(
    client: FlaskClient,
    path: str,
    tenant: Tenant,
    operation: str,
    text: str | bytes,
    encoding: str = "utf-8",
) -> TestResponse:
    data = text.encode(encoding) if isinstance(text, str) else text
    return client.post(
        f"{path}?operation={operation}",
        data={"file": (io.BytesIO(data), "cards.csv")},
        headers=tenant.headers,
        content_type="multipart/form-data",
    )


@pytest.fixture
def persons(client: FlaskClient, uni: Tenant) -> list[str]:
    for code in ("P1", "P2", "P3"):
        response = client.post(
            "/api/v2/persons", json=person_body(esi(code), uni.pic), headers=uni.headers
        )
        assert response.status_code == 201
    return [esi("P1"), esi("P2"), esi("P3")]


def _card_count(client: FlaskClient, tenant: Tenant) -> int:
    return client.get("/api/v2/cards", headers=tenant.headers).json["page"]["totalElements"]


def test_csv_config_gives_each_column_a_position(client: FlaskClient, uni: Tenant) -> None:
    response = client.get(CONFIG, headers=uni.headers)
    assert response.status_code == 200
    config = response.json
    assert config["cardNumber"] == 0 and config["personIdentifier"] == 1
    assert sorted(config.values()) == list(range(len(config)))
    assert HEADER.split(",") == sorted(config, key=config.get)
    assert client.get(CONFIG).status_code == 401


def test_a_valid_file_has_no_errors_and_the_dry_run_writes_nothing(
    client: FlaskClient, uni: Tenant, persons: list[str]
) -> None:
    text = "\n".join([HEADER, _row(persons[0]), _row(persons[1], csn="04A1B2C3")])
    response = _upload(client, VALIDATE, uni, "CREATE", text)
    assert response.status_code == 200, response.json
    assert response.json == []
    assert _card_count(client, uni) == 0


def test_validation_reports_each_problem_by_row_and_field(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, persons: list[str], registered: Register
) -> None:
    existing = registered("EXIST")["escn"]
    foreign = EscnGenerator().generate(other_uni.pic, "001")
    rows = [
        _row(persons[0]),  # row 1: fine (no header in this file)
        _row("not-an-esi"),  # row 2
        _row(esi("NOBODY")),  # row 3
        _row(persons[1], card_type="FLOPPY", status="LOST"),  # row 4
        _row(persons[1], issued="01/09/2026", expires="2020-01-01"),  # row 5
        _row(persons[1], number=existing),  # row 6
        _row(persons[1], number=foreign),  # row 7
        _row(persons[1], issuer=other_uni.pic, csn="xyz"),  # row 8
        _row(persons[2], issued="2026-09-01", expires="2026-01-01"),  # row 9
    ]
    response = _upload(client, VALIDATE, uni, "CREATE", "\n".join(rows))
    assert response.status_code == 200
    found = {(e["rowNumber"], e["fieldName"]) for e in response.json}
    assert found == {
        (2, "personIdentifier"),
        (3, "personIdentifier"),
        (4, "cardType"),
        (4, "cardStatusType"),
        (5, "issuedAt"),
        (6, "cardNumber"),
        (7, "cardNumber"),
        (8, "issuerIdentifier"),
        (8, "csn"),
        (9, "expiresAt"),
    }
    by_key = {(e["rowNumber"], e["fieldName"]): e for e in response.json}
    assert by_key[(3, "personIdentifier")]["params"]["code"] == "ER-0018"
    assert by_key[(6, "cardNumber")]["params"] == {"code": "ER-0002", "value": existing}
    assert all(e["errorMessage"] for e in response.json)
    assert _card_count(client, uni) == 1


def test_duplicates_within_a_file_are_reported_on_the_later_row(
    client: FlaskClient, uni: Tenant, persons: list[str]
) -> None:
    number = EscnGenerator().generate(uni.pic, "001")
    text = "\n".join(
        [
            HEADER,
            _row(persons[0], number=number, csn="0A0B0C0D"),
            _row(persons[1], number=number),
            _row(persons[2], csn="0a:0b:0c:0d"),
        ]
    )
    response = _upload(client, VALIDATE, uni, "CREATE", text)
    assert {(e["rowNumber"], e["fieldName"]) for e in response.json} == {
        (3, "cardNumber"),
        (4, "csn"),
    }


def test_update_and_delete_need_an_existing_card_of_yours(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, registered: Register
) -> None:
    mine = registered("U1")
    theirs = registered("U2", tenant=other_uni)
    missing = EscnGenerator().generate(uni.pic, "001")
    text = "\n".join(
        [
            _row(mine["esi"], number=mine["escn"]),
            _row(mine["esi"], number=theirs["escn"]),
            _row(mine["esi"], number=missing),
            _row(mine["esi"]),
        ]
    )
    update = _upload(client, VALIDATE, uni, "UPDATE", text).json
    assert [
        (e["rowNumber"], e["params"]["code"]) for e in update if e["fieldName"] == "cardNumber"
    ] == [
        (2, "SE-0000"),
        (3, "ER-0001"),
        (4, "ER-0084"),
    ]
    delete = _upload(client, VALIDATE, uni, "DELETE", f"{theirs['escn']}\n{mine['escn']}\n").json
    assert [(e["rowNumber"], e["fieldName"]) for e in delete] == [(1, "cardNumber")]


def test_unreadable_files_are_400_with_the_reason(client: FlaskClient, uni: Tenant) -> None:
    for content in [b"", b"\n\n", b"\xff\xfe\x00\x00binary", HEADER.encode()]:
        response = _upload(client, VALIDATE, uni, "CREATE", content)
        assert response.status_code == 400, content
        [error] = response.json
        assert error["fieldName"] == "file" and error["params"]["code"] == "ER-0082"
    bad_header = _upload(client, VALIDATE, uni, "CREATE", "cardNumber,colour\nx,y")
    assert bad_header.status_code == 400 and "colour" in bad_header.json[0]["errorMessage"]


@pytest.mark.parametrize("content", [b'"', b'""\n', b'"";""\n" "'])
@pytest.mark.parametrize("path", [VALIDATE, IMPORT])
def test_a_file_of_empty_quoted_cells_only_has_no_rows(
    client: FlaskClient, uni: Tenant, path: str, content: bytes
) -> None:
    # Its lines are not blank but its records are: reading the header answered 500.
    response = _upload(client, path, uni, "CREATE", content)
    assert response.status_code == 400, response.json
    [error] = response.json
    assert error["fieldName"] == "file" and error["params"]["code"] == "ER-0082"
    assert _card_count(client, uni) == 0


def test_bad_requests_are_400_and_anonymous_401(client: FlaskClient, uni: Tenant) -> None:
    assert _upload(client, VALIDATE, uni, "MERGE", "x").status_code == 400
    no_file = client.post(f"{VALIDATE}?operation=CREATE", headers=uni.headers)
    assert no_file.status_code == 400
    anonymous = client.post(
        f"{VALIDATE}?operation=CREATE",
        data={"file": (io.BytesIO(b"x"), "c.csv")},
        content_type="multipart/form-data",
    )
    assert anonymous.status_code == 401


def test_validate_and_import_need_cards_write(
    client: FlaskClient, uni: Tenant, make_tenant: MakeTenant
) -> None:
    reader = make_tenant(uni.pic, scopes=["cards:read"])
    for path in (VALIDATE, IMPORT):
        response = _upload(client, path, reader, "CREATE", _row(esi("X")))
        assert response.status_code == 403 and response.json["code"] == "SE-0002"


def test_import_applies_good_rows_and_reports_bad_ones(
    client: FlaskClient, uni: Tenant, persons: list[str]
) -> None:
    text = "\n".join(
        [
            HEADER,
            _row(persons[0], csn="04A1B2C3"),
            _row("garbage"),
            _row(persons[1], name="Second"),
        ]
    )
    response = _upload(client, IMPORT, uni, "CREATE", text)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [(r["rowNumber"], r["outcome"], r["status"]) for r in results] == [
        (2, "created", 201),
        (3, "failed", 400),
        (4, "created", 201),
    ]
    assert results[1]["error"]["code"] == "ER-0084"
    assert results[1]["errors"][0]["fieldName"] == "personIdentifier"
    assert response.json["summary"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "deleted": 0,
    }
    card = client.get(f"/api/v2/cards/{results[0]['identifier']}", headers=uni.headers).json
    assert card["csn"] == "04A1B2C3" and card["person"]["identifier"] == persons[0]
    assert _card_count(client, uni) == 2


def test_import_update_is_idempotent_and_delete_removes(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    record = registered("I1")
    changed = _row(record["esi"], number=record["escn"], status="INACTIVE", name="Card of Ada")
    first = _upload(client, IMPORT, uni, "UPDATE", changed).json
    assert first["results"][0]["outcome"] == "updated"
    second = _upload(client, IMPORT, uni, "UPDATE", changed).json
    assert second["results"][0]["outcome"] == "unchanged"
    card = client.get(f"/api/v2/cards/{record['escn']}", headers=uni.headers).json
    assert card["cardStatusType"]["key"] == "INACTIVE"
    deleted = _upload(client, IMPORT, uni, "DELETE", "cardNumber\n" + record["escn"]).json
    assert deleted["results"][0]["outcome"] == "deleted"
    assert deleted["results"][0]["status"] == 204
    assert client.get(f"/api/v2/cards/{record['escn']}", headers=uni.headers).status_code == 404
    again = _upload(client, IMPORT, uni, "DELETE", record["escn"]).json
    assert again["results"][0]["outcome"] == "failed"


def test_semicolons_a_bom_and_reordered_header_columns_are_read(
    client: FlaskClient, uni: Tenant, persons: list[str]
) -> None:
    text = "\ufeffexpiresAt;issuedAt;personIdentifier;cardType;cardStatusType\n" + (
        f"2030-08-31;2026-09-01;{persons[0]};PASSIVE;ACTIVE\n"
    )
    response = _upload(client, IMPORT, uni, "CREATE", text)
    assert response.json["summary"]["created"] == 1, response.json


def test_import_never_touches_another_organisations_cards(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, registered: Register
) -> None:
    theirs = registered("T1", tenant=other_uni)
    before = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    update = _row(theirs["esi"], number=theirs["escn"], status="INACTIVE")
    for operation, text in (("UPDATE", update), ("DELETE", theirs["escn"]), ("CREATE", update)):
        result = _upload(client, IMPORT, uni, operation, text).json["results"][0]
        assert result["outcome"] == "failed", (operation, result)
    after = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    assert after == before
    assert _card_count(client, uni) == 0
