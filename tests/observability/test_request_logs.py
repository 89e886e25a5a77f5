"""One JSON line per request, with the request id, the route template and never a secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Never

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Tenant, card_body, esi, person_body


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict]]:
    """The JSON log lines written to standard error so far (the router logs there)."""

    def read() -> list[dict]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.startswith("{")]

    read()  # drop what the fixtures logged
    return read


def requests_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("event") == "request"]


def test_each_request_writes_one_json_line(
    client: FlaskClient, uni: Tenant, lines: Callable[[], list[dict]]
) -> None:
    client.get("/api/v2/persons", headers=uni.headers)
    (line,) = requests_of(lines())
    assert line["method"] == "GET"
    assert line["route"] == "/api/v2/persons"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["organisation"] == uni.pic
    assert line["level"] == "info"
    assert line["logger"] == "router.requests"
    assert len(line["request_id"]) == 32
    assert line["timestamp"].endswith("Z")


def test_the_request_id_is_taken_from_the_client_and_echoed(
    client: FlaskClient, lines: Callable[[], list[dict]]
) -> None:
    response = client.get("/api/v2/persons", headers={"X-Request-Id": "edge-7f3a.42"})
    assert response.headers["X-Request-Id"] == "edge-7f3a.42"
    (line,) = requests_of(lines())
    assert line["request_id"] == "edge-7f3a.42"
    assert line["problem"] == "SE-0001"


def test_a_request_id_that_is_not_a_plain_token_is_replaced(
    client: FlaskClient, lines: Callable[[], list[dict]]
) -> None:
    personal = esi("LOGGED")
    response = client.get("/", headers={"X-Request-Id": personal, "Accept": "application/json"})
    assert response.headers["X-Request-Id"] != personal
    assert personal not in json.dumps(lines())


def test_errors_are_logged_with_their_problem_code(
    client: FlaskClient, uni: Tenant, lines: Callable[[], list[dict]]
) -> None:
    client.get(f"/api/v2/persons/{esi('NOBODY')}", headers=uni.headers)
    (line,) = requests_of(lines())
    assert (line["status"], line["problem"]) == (404, "ER-0018")


def test_no_key_esi_name_or_email_reaches_the_log(
    client: FlaskClient, uni: Tenant, lines: Callable[[], list[dict]]
) -> None:
    identifier = esi("SECRET42")
    client.post(
        "/api/v2/persons", json=person_body(identifier, uni.pic, email="ada.l@example.org"),
        headers={"api_key": uni.key},
    )
    card = client.post(
        "/api/v2/cards", json=card_body(identifier, uni.pic), headers=uni.headers
    ).json
    client.get(f"/api/v2/persons/{identifier}", headers=uni.headers)
    client.get(f"/cards/{card['cardNumber']}")
    written = json.dumps(lines())
    for secret in (uni.key, identifier, "SECRET42", "Ada Lovelace", "ada.l@example.org",
                   "Card of Ada", card["cardNumber"]):
        assert secret not in written
    assert written.count('"event": "request"') == 4


def test_an_unexpected_failure_is_logged_as_an_error_with_its_code(
    app: Flask, client: FlaskClient, uni: Tenant, lines: Callable[[], list[dict]]
) -> None:
    def broken() -> Never:
        raise RuntimeError("boom")

    app.add_url_rule("/api/x/broken", "broken", broken)
    response = client.get("/api/x/broken", headers=uni.headers)
    assert response.status_code == 500
    records = lines()
    failure = next(r for r in records if r["event"] == "unexpected error")
    assert failure["level"] == "error" and failure["problem"] == "ER-0500"
    assert "RuntimeError: boom" in failure["exception"]
    assert failure["request_id"] == response.headers["X-Request-Id"]
    (line,) = requests_of(records)
    assert (line["status"], line["level"], line["problem"]) == (500, "error", "ER-0500")
