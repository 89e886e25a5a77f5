"""Person pictures: /api/v2/organisations/{id}/person/{esi}/picture."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from tests.conftest import Tenant, esi, person_body


def _image(
    size: tuple[int, int], fmt: str = "PNG", colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def _upload(
    client: FlaskClient,
    tenant: Tenant,
    identifier: str,
    data: bytes,
    resize: bool | None = None,
    pic: str | None = None,
) -> TestResponse:
    query = "" if resize is None else f"?resize={str(resize).lower()}"
    return client.post(
        f"/api/v2/organisations/{pic or tenant.pic}/person/{identifier}/picture{query}",
        data={"file": (io.BytesIO(data), "photo.png")},
        content_type="multipart/form-data",
        headers=tenant.headers,
    )


def _person(client: FlaskClient, tenant: Tenant, code: str) -> str:
    identifier = esi(code)
    body = person_body(identifier, tenant.pic)
    assert client.post("/api/v2/persons", json=body, headers=tenant.headers).status_code == 201
    return identifier


def test_upload_read_and_delete_a_picture(client: FlaskClient, uni: Tenant) -> None:
    identifier = _person(client, uni, "p1")
    data = _image((200, 300))
    created = _upload(client, uni, identifier, data)
    assert created.status_code == 201, created.json
    url = f"/api/v2/organisations/{uni.pic}/person/{identifier}/picture"
    assert created.headers["Location"].endswith(url)

    read = client.get(url, headers=uni.headers)
    assert read.status_code == 200
    assert read.mimetype == "image/png"
    assert read.data == data
    person = client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).json
    assert person["organisations"][0]["hasPicture"] is True

    assert client.delete(url, headers=uni.headers).status_code == 204
    missing = client.get(url, headers=uni.headers)
    assert missing.status_code == 404
    assert missing.json["code"] == "ER-0070"


def test_wrong_size_is_refused_unless_resize_is_asked(client: FlaskClient, uni: Tenant) -> None:
    identifier = _person(client, uni, "p2")
    refused = _upload(client, uni, identifier, _image((640, 480), "JPEG"))
    assert refused.status_code == 400
    assert refused.json["code"] == "ER-0071"
    assert "200x300" in refused.json["detail"]

    resized = _upload(client, uni, identifier, _image((640, 480), "JPEG"), resize=True)
    assert resized.status_code == 201
    stored = client.get(
        f"/api/v2/organisations/{uni.pic}/person/{identifier}/picture", headers=uni.headers
    )
    assert stored.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(stored.data)).size == (200, 300)


def test_garbage_and_missing_files_are_400(client: FlaskClient, uni: Tenant) -> None:
    identifier = _person(client, uni, "p3")
    garbage = _upload(client, uni, identifier, b"not an image at all")
    assert garbage.status_code == 400
    assert garbage.json["code"] == "ER-0071"
    no_file = client.post(
        f"/api/v2/organisations/{uni.pic}/person/{identifier}/picture",
        data={}, content_type="multipart/form-data", headers=uni.headers,
    )
    assert no_file.status_code == 400


def test_another_organisation_neither_reads_nor_writes_the_picture(
    client: FlaskClient, uni: Tenant, other_uni: Tenant
) -> None:
    identifier = _person(client, uni, "p4")
    assert _upload(client, uni, identifier, _image((200, 300))).status_code == 201
    url = f"/api/v2/organisations/{uni.pic}/person/{identifier}/picture"
    # Naming another organisation in the path is the real router's 401 (unauthorised PIC).
    for response in (client.get(url, headers=other_uni.headers),
                     client.delete(url, headers=other_uni.headers)):
        assert response.status_code == 401 and response.json["code"] == "SE-0003"
    own_path = _upload(client, other_uni, identifier, _image((200, 300)))
    assert own_path.status_code == 403  # the person is not linked to other_uni
    assert client.get(url, headers=uni.headers).status_code == 200
