"""An organisation never reads or writes another organisation's persons or cards."""

import io

import pytest
from PIL import Image

from tests.conftest import card_body, esi, person_body

UPLOAD = "multipart upload of a 200x300 picture"


def _picture() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 300)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def theirs(registered, other_uni):
    """A person and card of the other university."""
    return registered("OTHER1", tenant=other_uni)


def _operations(record, me):
    escn, person = record["escn"], record["esi"]
    return [
        ("GET", f"/api/v2/persons/{person}", None),
        ("PUT", f"/api/v2/persons/{person}", person_body(person, "888888888")),
        ("DELETE", f"/api/v2/persons/{person}", None),
        ("GET", f"/api/v2/cards/{escn}", None),
        ("PUT", f"/api/v2/cards/{escn}", card_body(person, "888888888")),
        ("PUT", f"/api/v2/cards/{escn}", card_body(person, me.pic)),
        ("DELETE", f"/api/v2/cards/{escn}", None),
        ("GET", f"/api/v2/cards/{escn}/qr", None),
        ("GET", f"/api/x/cards/{escn}/lifecycle", None),
        ("POST", f"/api/x/cards/{escn}/lifecycle", {"action": "REPORT_LOST"}),
        ("GET", f"/api/x/cards/{escn}/history", None),
        ("POST", "/api/v2/persons", person_body(esi("NEW"), "888888888")),
        ("POST", "/api/v2/cards", card_body(person, "888888888")),
        ("POST", "/api/v2/cards", card_body(person, me.pic)),
        ("GET", "/api/v2/cards/generate-escn?pic=888888888&prefix=1", None),
        ("GET", f"/api/v2/organisations/888888888/person/{person}/picture", None),
        ("POST", f"/api/v2/organisations/888888888/person/{person}/picture", UPLOAD),
        ("DELETE", f"/api/v2/organisations/888888888/person/{person}/picture", None),
        ("GET", f"/api/v2/organisations/{me.pic}/person/{person}/picture", None),
        ("POST", f"/api/v2/organisations/{me.pic}/person/{person}/picture", UPLOAD),
        ("DELETE", f"/api/v2/organisations/{me.pic}/person/{person}/picture", None),
    ]


def _send(client, method, path, body, headers):
    if body == UPLOAD:
        return client.open(
            path, method=method, data={"file": (io.BytesIO(_picture()), "p.png")},
            content_type="multipart/form-data", headers=headers,
        )
    return client.open(path, method=method, json=body, headers=headers)


def test_every_route_on_a_person_or_card_is_in_the_isolation_list(app, uni, theirs):
    """A new route naming a person, card or organisation must be added to _operations."""
    adapter = app.url_map.bind("router.test")
    covered = {
        (method, adapter.match(path.split("?")[0], method=method)[0])
        for method, path, _ in _operations(theirs, uni)
    }
    needed = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.arguments & {"escn", "esi", "id"}
        and rule.endpoint != "cards.CardStatus"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert needed - covered == set()


def test_every_cross_organisation_operation_is_refused_and_changes_nothing(
    client, uni, other_uni, theirs
):
    before_card = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    before_person = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    for method, path, body in _operations(theirs, uni):
        response = _send(client, method, path, body, uni.headers)
        assert response.status_code == 403, (method, path, response.status_code, response.json)
        assert response.json["code"] == "SE-0000"
    after_card = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    after_person = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    assert after_card == before_card
    assert after_person == before_person
    history = client.get(f"/api/x/cards/{theirs['escn']}/history", headers=other_uni.headers)
    assert [h["event"] for h in history.json] == ["ISSUED"]


def test_lists_show_only_your_own_records(client, uni, other_uni, registered, theirs):
    mine = registered("MINE1")
    persons = client.get("/api/v2/persons", headers=uni.headers).json["content"]
    cards = client.get("/api/v2/cards", headers=uni.headers).json["content"]
    assert [p["identifier"] for p in persons] == [mine["esi"]]
    assert [c["cardNumber"] for c in cards] == [mine["escn"]]
    searched = client.get(f"/api/v2/cards?search={theirs['escn']}", headers=uni.headers).json
    assert searched["content"] == []


def test_a_shared_person_shows_each_organisation_only_its_own_link(client, uni, other_uni):
    identifier = esi("SHARED")
    client.post("/api/v2/persons", json=person_body(identifier, uni.pic, email="home@uni.example"),
                headers=uni.headers)
    client.put(f"/api/v2/persons/{identifier}",
               json=person_body(identifier, other_uni.pic, email="host@other.example"),
               headers=other_uni.headers)
    for tenant, email in ((uni, "home@uni.example"), (other_uni, "host@other.example")):
        view = client.get(f"/api/v2/persons/{identifier}", headers=tenant.headers).json
        assert [o["contactPoint"]["email"] for o in view["organisations"]] == [email]
        assert view["organisationCount"] == 1
    # The host cannot issue a card in the home institution's name, nor see its cards.
    card = client.post("/api/v2/cards", json=card_body(identifier, uni.pic),
                       headers=other_uni.headers)
    assert card.status_code == 403


def test_organisation_admin_needs_the_admin_scope(client, uni, make_tenant):
    body = {"identifier": "777777777", "name": "New University", "country": "DE"}
    refused = client.post("/api/x/organisations", json=body, headers=uni.headers)
    assert refused.status_code == 403 and refused.json["code"] == "SE-0002"
    admin = make_tenant("100000000", "Router operator", scopes=["admin"])
    created = client.post("/api/x/organisations", json=body, headers=admin.headers)
    assert created.status_code == 201
    assert created.json["escnPrefixes"] == ["001"]
    changed = client.patch("/api/x/organisations/777777777",
                           json={"escnPrefixes": ["001", "002"], "name": "Renamed"},
                           headers=admin.headers)
    assert changed.json["escnPrefixes"] == ["001", "002"] and changed.json["name"] == "Renamed"
    assert client.patch("/api/x/organisations/777777777", json={"name": "x"},
                        headers=uni.headers).status_code == 403
    duplicate = client.post("/api/x/organisations", json=body, headers=admin.headers)
    assert duplicate.status_code == 409
    listed = client.get("/api/x/organisations", headers=uni.headers).json
    assert "777777777" in [o["identifier"] for o in listed]
    me = client.get("/api/x/organisations/me", headers=uni.headers).json
    assert me["identifier"] == uni.pic
    assert client.get("/api/x/organisations/123123123", headers=uni.headers).status_code == 404


def test_an_institution_never_publishes_or_withdraws_another_institutions_chain(
    client, make_tenant
):
    from tests.pki import chain_pem, make_institution, make_root

    route = "/api/x/organisations/me/certificate-chain"
    mine = make_tenant("999999999", "Demo University", scopes=["keys:manage"])
    theirs = make_tenant("888888888", "Other University", scopes=["keys:manage"])
    root = make_root()
    their_chain = chain_pem(make_institution(root, theirs.pic), root)
    assert client.put(route, json={"chain": their_chain}, headers=theirs.headers).status_code == 200
    forged = chain_pem(make_institution(root, theirs.pic), root)
    refused = client.put(route, json={"chain": forged}, headers=mine.headers)
    assert refused.status_code == 403 and refused.json["code"] == "SE-0000"
    assert client.get(route, headers=mine.headers).status_code == 404
    assert client.delete(route, headers=mine.headers).status_code == 404
    published = client.get(f"/certs/files/{theirs.pic}/ca-chain.cert.pem")
    assert published.text == their_chain
