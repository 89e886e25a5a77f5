from __future__ import annotations

from flask.testing import FlaskClient

from router.db import Database
from router.settings import Settings
from tests.conftest import Register, Tenant, esi, person_body


def test_create_read_update_delete_a_person(client: FlaskClient, uni: Tenant) -> None:
    identifier = esi("1001")
    created = client.post(
        "/api/v2/persons", json=person_body(identifier, uni.pic, phone="+33 1 23"),
        headers=uni.headers,
    )
    assert created.status_code == 201
    assert created.json["identifier"] == identifier
    assert created.json["identifierCode"]["key"] == "ESI"
    assert created.json["organisationCount"] == 1
    link = created.json["organisations"][0]
    assert link["academicLevel"] == {"key": "MASTER", "label": "Master's degree"}
    assert link["contactPoint"] == {"email": "s@example.org", "phone": "+33 1 23"}
    assert link["organisation"]["identifier"] == uni.pic
    assert link["hasPicture"] is False

    read = client.get(f"/api/v2/persons/{identifier}", headers=uni.headers)
    assert read.status_code == 200
    assert read.json == created.json

    body = person_body(identifier, uni.pic, academicLevel="DOCTORATE", email="new@example.org")
    updated = client.put(f"/api/v2/persons/{identifier}", json=body, headers=uni.headers)
    assert updated.status_code == 200
    assert updated.json["organisations"][0]["academicLevel"]["key"] == "DOCTORATE"
    assert updated.json["organisations"][0]["contactPoint"]["email"] == "new@example.org"

    assert client.delete(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 204
    gone = client.get(f"/api/v2/persons/{identifier}", headers=uni.headers)
    assert gone.status_code == 410
    assert gone.json["code"] == "ER-0020"


def test_duplicate_esi_is_409_with_the_real_router_code(client: FlaskClient, uni: Tenant) -> None:
    body = person_body(esi("1002"), uni.pic)
    assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201
    again = client.post("/api/v2/persons", json=body, headers=uni.headers)
    assert again.status_code == 409
    assert again.json["code"] == "ER-0019"
    assert again.mimetype == "application/problem+json"


def test_deprecated_top_level_full_name_is_used_when_the_link_has_none(
    client: FlaskClient, uni: Tenant
) -> None:
    body = person_body(esi("1003"), uni.pic, fullName=None)
    body["fullName"] = "Grace Hopper"
    created = client.post("/api/v2/persons", json=body, headers=uni.headers)
    assert created.json["fullName"] == "Grace Hopper"
    assert created.json["organisations"][0]["fullName"] == "Grace Hopper"


def test_legacy_esi_form_is_accepted(client: FlaskClient, uni: Tenant) -> None:
    created = client.post(
        "/api/v2/persons", json=person_body("FR-999999999-ABC1", uni.pic), headers=uni.headers
    )
    assert created.status_code == 201
    assert client.get("/api/v2/persons/fr-999999999-ABC1", headers=uni.headers).status_code == 200


def test_unknown_fields_are_ignored_like_the_real_router(client: FlaskClient, uni: Tenant) -> None:
    body = person_body(esi("1004"), uni.pic)
    body["somethingNew"] = 42
    assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201


def test_put_cannot_change_the_identifier(client: FlaskClient, uni: Tenant) -> None:
    identifier = esi("1005")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    response = client.put(
        f"/api/v2/persons/{identifier}", json=person_body(esi("1006"), uni.pic),
        headers=uni.headers,
    )
    assert response.status_code == 422
    assert client.get(f"/api/v2/persons/{esi('1006')}", headers=uni.headers).status_code == 404


def test_unknown_person_is_404(client: FlaskClient, uni: Tenant) -> None:
    response = client.get(f"/api/v2/persons/{esi('nobody')}", headers=uni.headers)
    assert response.status_code == 404
    assert response.json["code"] == "ER-0018"


def test_malformed_esi_in_path_is_400(client: FlaskClient, uni: Tenant) -> None:
    response = client.get("/api/v2/persons/student-42", headers=uni.headers)
    assert response.status_code == 400
    assert response.json["type"] == "/problems/invalid-identifier"


def test_erasure_then_registration_again_is_a_new_consent(client: FlaskClient, uni: Tenant) -> None:
    identifier = esi("1007")
    body = person_body(identifier, uni.pic)
    client.post("/api/v2/persons", json=body, headers=uni.headers)
    client.delete(f"/api/v2/persons/{identifier}", headers=uni.headers)
    again = client.post("/api/v2/persons", json=body, headers=uni.headers)
    assert again.status_code == 201
    assert client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 200


def test_erasure_deletes_personal_data_and_cards_but_keeps_anonymous_history(
    client: FlaskClient, uni: Tenant, registered: Register, db: Database
) -> None:
    from sqlalchemy import select

    from router.models import Card, CardHistoryEntry, Person, PersonOrganisation

    record = registered("1008")
    assert client.delete(f"/api/v2/persons/{record['esi']}", headers=uni.headers).status_code == 204
    with db.session() as session:
        assert session.scalars(select(Person)).all() == []
        assert session.scalars(select(PersonOrganisation)).all() == []
        assert session.scalars(select(Card)).all() == []
        history = session.scalars(select(CardHistoryEntry)).all()
        assert [h.event for h in history] == ["ISSUED", "DELETED"]
        for entry in history:
            values = [str(getattr(entry, c.key)) for c in CardHistoryEntry.__table__.columns]
            assert not any(record["esi"] in v or "Ada" in v or "@" in v for v in values)
    assert client.get(f"/api/v2/cards/{record['escn']}/status").status_code == 404


def test_list_is_paged_sorted_and_searchable(client: FlaskClient, uni: Tenant) -> None:
    for n in range(25):
        body = person_body(esi(f"L{n:03d}"), uni.pic, fullName=f"Student {n:03d}")
        assert client.post("/api/v2/persons", json=body, headers=uni.headers).status_code == 201

    first = client.get("/api/v2/persons?size=10&sort=identifier", headers=uni.headers).json
    assert first["page"] == {"number": 0, "size": 10, "totalElements": 25, "totalPages": 3}
    assert first["empty"] is False
    assert [p["identifier"] for p in first["content"]] == [esi(f"L{n:03d}") for n in range(10)]
    rels = {link["rel"] for link in first["links"]}
    assert rels == {"self", "first", "next", "last"}

    last = client.get(
        "/api/v2/persons?size=10&page=2&sort=identifier&direction=DESC", headers=uni.headers
    ).json
    assert [p["identifier"] for p in last["content"]] == [esi(f"L{n:03d}") for n in (4, 3, 2, 1, 0)]
    assert {link["rel"] for link in last["links"]} == {"self", "first", "prev", "last"}

    inline = client.get("/api/v2/persons?size=3&sort=fullName,desc", headers=uni.headers).json
    assert inline["content"][0]["fullName"] == "Student 024"

    found = client.get("/api/v2/persons?search=student 01", headers=uni.headers).json
    assert found["page"]["totalElements"] == 10

    beyond = client.get("/api/v2/persons?page=9", headers=uni.headers).json
    assert beyond["content"] == [] and beyond["empty"] is True


def test_search_wildcards_are_literal(client: FlaskClient, uni: Tenant) -> None:
    client.post("/api/v2/persons", json=person_body(esi("W1"), uni.pic), headers=uni.headers)
    response = client.get("/api/v2/persons?search=%25", headers=uni.headers)
    assert response.json["page"]["totalElements"] == 0


def test_bad_paging_parameters_are_400(client: FlaskClient, uni: Tenant) -> None:
    for query in ("page=-1", "size=0", "size=abc", "direction=SIDEWAYS", "sort=password",
                  f"page={10**20}", f"size={10**20}", "search=%00", f"search={'x' * 256}"):
        response = client.get(f"/api/v2/persons?{query}", headers=uni.headers)
        assert response.status_code == 400, query
        assert response.mimetype == "application/problem+json"


def test_a_page_larger_than_the_maximum_is_served_at_the_maximum_size(
    client: FlaskClient, uni: Tenant, settings: Settings
) -> None:
    # As the real router's (Spring Data) paging: the size is lowered, not refused.
    response = client.get(f"/api/v2/persons?size={10**6}", headers=uni.headers)
    assert response.status_code == 200
    assert response.json["page"]["size"] == settings.max_page_size


def test_another_organisation_can_link_an_existing_person_with_put(
    client: FlaskClient, uni: Tenant, other_uni: Tenant
) -> None:
    identifier = esi("M1")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic), headers=uni.headers)
    # The mobility case: the host institution first tries POST, as real clients do...
    conflict = client.post(
        "/api/v2/persons", json=person_body(identifier, other_uni.pic), headers=other_uni.headers
    )
    assert conflict.status_code == 409
    # ...then PUT links the person to it, without touching the home institution's link.
    linked = client.put(
        f"/api/v2/persons/{identifier}",
        json=person_body(identifier, other_uni.pic, email="visitor@other.example"),
        headers=other_uni.headers,
    )
    assert linked.status_code == 200
    assert [o["organisation"]["identifier"] for o in linked.json["organisations"]] == [
        other_uni.pic
    ]
    home = client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).json
    assert [o["contactPoint"]["email"] for o in home["organisations"]] == ["s@example.org"]
    # Erasure by the host removes only its own link; the person stays for the home institution.
    client.delete(f"/api/v2/persons/{identifier}", headers=other_uni.headers)
    assert client.get(f"/api/v2/persons/{identifier}", headers=uni.headers).status_code == 200
    assert client.get(f"/api/v2/persons/{identifier}", headers=other_uni.headers).status_code == 403
