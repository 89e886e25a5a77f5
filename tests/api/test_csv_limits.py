"""Large imports: refused whole, up front, with the limit named; never a silent partial commit.

And request bodies sent chunked (no Content-Length) meet the same size limit as sized ones.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router.app import MAX_BODY_BYTES
from router.settings import Settings
from tests.api.test_card_csv import HEADER, IMPORT, VALIDATE, _card_count, _row, _upload
from tests.conftest import Tenant, esi, person_body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small row limit, so that a file of exactly the limit imports quickly."""
    return dataclasses.replace(settings, csv_max_rows=25)


@pytest.fixture
def holder(client: FlaskClient, uni: Tenant) -> str:
    identifier = esi("BULK")
    assert client.post("/api/v2/persons", json=person_body(identifier, uni.pic),
                       headers=uni.headers).status_code == 201
    return identifier


def _file(holder: str, rows: int) -> str:
    return "\n".join([HEADER, *(_row(person=holder, name=f"Card {i}") for i in range(rows))])


@pytest.mark.parametrize("path", [IMPORT, VALIDATE])
def test_a_file_over_the_row_limit_is_refused_whole_before_any_row(
    client: FlaskClient, uni: Tenant, holder: str, path: str
) -> None:
    # The file: 20,000 rows (2.3 MB), once killed by the worker timeout mid-import.
    response = _upload(client, path, uni, "CREATE", _file(holder, 20_000))
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "ER-0104"
    assert "20000 rows" in response.json["detail"] and "at most 25" in response.json["detail"]
    assert _card_count(client, uni) == 0


def test_a_file_at_the_row_limit_is_imported_and_every_row_reported(
    client: FlaskClient, uni: Tenant, holder: str
) -> None:
    response = _upload(client, IMPORT, uni, "CREATE", _file(holder, 25))
    assert response.status_code == 200
    assert response.json["summary"]["created"] == 25
    assert [r["rowNumber"] for r in response.json["results"]] == list(range(2, 27))
    assert _card_count(client, uni) == 25


def _chunked(
    client: FlaskClient, tenant: Tenant, path: str, body: bytes, content_type: str
) -> TestResponse:
    """POST ``body`` as a chunked stream, as gunicorn hands it on (no Content-Length)."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**tenant.headers, "Transfer-Encoding": "chunked", "Content-Type": content_type},
        # No Content-Length, as a chunked request arrives (the test client would compute one).
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )


def _multipart(text: str) -> tuple[bytes, str]:
    boundary = "escrboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n"
        f"Content-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_a_chunked_body_over_the_size_limit_is_413_as_a_sized_one(
    client: FlaskClient, uni: Tenant, holder: str, kind: str
) -> None:
    if kind == "json":  # read whole by the JSON parser: werkzeug's limit used to truncate it
        path, content_type = "/api/x/verify", "application/json"
        body = b'{"scanned": "' + b"x" * (MAX_BODY_BYTES + 1024) + b'"}'
    else:
        path = f"{IMPORT}?operation=CREATE"
        body, content_type = _multipart("x" * (MAX_BODY_BYTES + 1024))
    sized = client.post(path, data=body, headers={**uni.headers, "Content-Type": content_type})
    chunked = _chunked(client, uni, path, body, content_type)
    for response in (sized, chunked):
        assert response.status_code == 413, response.get_data(as_text=True)[:200]
        assert response.json["code"] == "ER-0413"


def test_a_chunked_body_within_the_limit_is_served_as_a_sized_one(
    client: FlaskClient, uni: Tenant, holder: str
) -> None:
    body, content_type = _multipart(_file(holder, 3))
    response = _chunked(client, uni, f"{IMPORT}?operation=CREATE", body, content_type)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.json["summary"]["created"] == 3
