"""The compiled dump of the list responses equals marshmallow's own, and refuses what it lacks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from marshmallow import Schema, fields, post_dump

from router.api import schemas
from router.api.compiled_dump import CompiledDump, compile_dump
from tests.api.test_pictures import _image, _upload
from tests.conftest import MakeTenant, Tenant, card_body, esi, person_body


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every compiled dump during the test is compared with marshmallow's; the pages compared."""
    compared: list[dict] = []
    compiled_dump = CompiledDump.dump

    def both(self: CompiledDump, obj: Any, *, many: bool | None = None) -> Any:
        ours = compiled_dump(self, obj, many=many)
        assert ours == Schema.dump(self, obj, many=many)
        compared.append(ours)
        return ours

    monkeypatch.setattr(CompiledDump, "dump", both)
    return compared


def test_list_pages_dump_as_marshmallow_does(
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    make_tenant: MakeTenant,
    checked: list[dict],
) -> None:
    make_tenant("B12345678", "Card Printer", kind="processor", vat=True)
    for n in range(3):
        person = esi(f"D{n}")
        body = person_body(person, uni.pic, fullName=f"Name {n}", email=None if n else "a@b.c")
        assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201
        # A person linked to two organisations, one with a picture; cards with and without a
        # known processor and with an unknown one.
        if n == 0:
            client.put(
                f"/api/v2/persons/{person}",
                json=person_body(person, other_uni.pic),
                headers=other_uni.headers,
            )
            assert _upload(client, uni, person, _image((200, 300))).status_code == 201
        processor = ["B12345678", "X999", None][n]
        card = card_body(person, uni.pic, displayName=None if n == 2 else f"Card {n}")
        if processor:
            card["processorIdentifier"] = processor
        assert client.post("/api/v2/cards", json=card, headers=uni.headers).status_code == 201
    for path in ("/api/v2/cards", "/api/v2/persons"):
        for query in ({}, {"size": 2, "page": 1}, {"search": "name"}, {"page": 9}):
            for tenant in (uni, other_uni):
                assert (
                    client.get(path, query_string=query, headers=tenant.headers).status_code == 200
                )
    assert len(checked) == 16
    assert any(page["content"] for page in checked)
    assert any(not page["content"] for page in checked)


def test_the_compiled_dump_keeps_missing_keys_out_and_nones_in() -> None:
    dump = compile_dump(schemas.PagedResourcesCardLiteView)
    page = {"content": [{"cardNumber": "x", "issuedAt": dt.date(2026, 1, 2), "issuer": None}]}
    assert dump(page) == Schema.dump(schemas.PagedResourcesCardLiteView(), page)
    assert dump(page) == {
        "content": [{"cardNumber": "x", "issuedAt": "2026-01-02", "issuer": None}]
    }


def test_what_the_compiled_dump_lacks_is_refused_not_guessed() -> None:
    class Renamed(Schema):
        name = fields.String(data_key="fullName")

    class Hooked(Schema):
        name = fields.String()

        @post_dump
        def shout(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
            return data

    class Other(Schema):
        at = fields.DateTime()

    for schema in (Renamed, Hooked, Other):
        with pytest.raises(TypeError):
            compile_dump(schema)
