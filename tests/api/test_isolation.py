"""An organisation never reads or writes another organisation's persons or cards."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from router.api import PUBLIC_API_ENDPOINTS
from tests.conftest import MakeTenant, Register, Tenant, card_body, esi, person_body

UPLOAD = "multipart upload of a 200x300 picture"


def _picture() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 300)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def theirs(registered: Register, other_uni: Tenant) -> dict[str, Any]:
    """A person and card of the other university."""
    return registered("OTHER1", tenant=other_uni)


# Requests that name another organisation's PIC: the real router answers 401 there (its clients
# read it as "unauthorised PIC for this key"); every other cross-organisation request is a 403.
def _names_their_pic(method: str, path: str, body: dict[str, Any] | str | None) -> bool:
    if "/organisations/888888888/" in path or "pic=888888888" in path:
        return True
    if not isinstance(body, dict):
        return False
    links = body.get("personOrganisationUpdateViews", [])
    named = [body.get("issuerIdentifier")] + [v["organisationIdentifier"] for v in links]
    return "888888888" in named


def _operations(
    record: dict[str, Any], me: Tenant
) -> list[tuple[str, str, dict[str, Any] | str | None]]:
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


def _send(
    client: FlaskClient,
    method: str,
    path: str,
    body: dict[str, Any] | str | None,
    headers: dict[str, str],
) -> TestResponse:
    if body == UPLOAD:
        return client.open(
            path, method=method, data={"file": (io.BytesIO(_picture()), "p.png")},
            content_type="multipart/form-data", headers=headers,
        )
    return client.open(path, method=method, json=body, headers=headers)


def test_every_route_on_a_person_or_card_is_in_the_isolation_list(
    app: Flask, uni: Tenant, theirs: dict[str, Any]
) -> None:
    """A new route naming a person, card or organisation must be added to _operations.

    Only the intentionally public endpoints are exempt: the card status behind the QR code and
    the federation's (router identity, catalogue, and the peer endpoints, which routers call with
    signed requests and which answer from public card facts only).
    """
    adapter = app.url_map.bind("router.test")
    covered = {
        (method, adapter.match(path.split("?")[0], method=method)[0])
        for method, path, _ in _operations(theirs, uni)
    }
    needed = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.arguments & {"escn", "esi", "id"}
        and rule.endpoint not in PUBLIC_API_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert needed - covered == set()


def test_every_cross_organisation_operation_is_refused_and_changes_nothing(
    client: FlaskClient, uni: Tenant, other_uni: Tenant, theirs: dict[str, Any]
) -> None:
    before_card = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    before_person = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    for method, path, body in _operations(theirs, uni):
        response = _send(client, method, path, body, uni.headers)
        expected = (401, "SE-0003") if _names_their_pic(method, path, body) else (403, "SE-0000")
        assert (response.status_code, response.json["code"]) == expected, (
            method, path, response.status_code, response.json,
        )
    after_card = client.get(f"/api/v2/cards/{theirs['escn']}", headers=other_uni.headers).json
    after_person = client.get(f"/api/v2/persons/{theirs['esi']}", headers=other_uni.headers).json
    assert after_card == before_card
    assert after_person == before_person
    history = client.get(f"/api/x/cards/{theirs['escn']}/history", headers=other_uni.headers)
    assert [h["event"] for h in history.json] == ["ISSUED"]


def test_lists_show_only_your_own_records(
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    registered: Register,
    theirs: dict[str, Any],
) -> None:
    mine = registered("MINE1")
    persons = client.get("/api/v2/persons", headers=uni.headers).json["content"]
    cards = client.get("/api/v2/cards", headers=uni.headers).json["content"]
    assert [p["identifier"] for p in persons] == [mine["esi"]]
    assert [c["cardNumber"] for c in cards] == [mine["escn"]]
    searched = client.get(f"/api/v2/cards?search={theirs['escn']}", headers=uni.headers).json
    assert searched["content"] == []


def test_a_shared_person_shows_each_organisation_only_its_own_link(
    client: FlaskClient, uni: Tenant, other_uni: Tenant
) -> None:
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
    assert card.status_code == 401 and card.json["code"] == "SE-0003"


def test_organisation_admin_needs_the_admin_scope(
    client: FlaskClient, uni: Tenant, make_tenant: MakeTenant
) -> None:
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


# -- the federation: keys and delegations ------------------------------------------------------

FEDERATION_PREFIXES = ("/api/x/public-keys", "/api/x/delegations", "/api/x/directory")
# Public by design: anyone reads an institution's public keys.
PUBLIC_FEDERATION_ROUTES = {("GET", "x-keys.Jwks")}


@pytest.fixture
def their_delegation(
    client: FlaskClient, make_tenant: MakeTenant, registered: Register
) -> dict[str, Any]:
    """A delegation between two other institutions: 888888888 (home) and 777777777 (host)."""
    from router.services.caller import Scope
    from sgc_client.protocol import jose
    from tests.federation.conftest import (
        Party,
        decision_claims,
        request_claims,
        sign_decision,
        sign_request,
    )

    parties = []
    for pic in ("888888888", "777777777"):
        tenant = make_tenant(pic, scopes=[*Scope.INSTITUTION, Scope.KEYS_MANAGE])
        party = Party(tenant, jose.generate_key("sig"), jose.generate_key("enc"))
        for key in (party.signing, party.encryption):
            client.post("/api/x/public-keys", json={"jwk": key.public().jwk},
                        headers=tenant.headers)
        parties.append(party)
    home, host = parties
    card = registered("THEIRS1", tenant=home.tenant, csn="04A1B2C3D4E5F6")
    request = sign_request(request_claims(host, home, card["escn"]), host.signing)
    answer = client.post("/api/x/delegations", json={"request": request}, headers=host.headers)
    assert answer.status_code == 201
    decision = sign_decision(decision_claims(home, host, request, "approve"), home.signing)
    return {"id": answer.json["id"], "home": home, "host": host, "request": request,
            "decision": decision}


def _federation_operations(theirs: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    delegation, kid = theirs["id"], theirs["home"].signing.kid
    return [
        ("GET", f"/api/x/delegations/{delegation}", None),
        ("POST", f"/api/x/delegations/{delegation}/receipt", None),
        ("POST", f"/api/x/delegations/{delegation}/decision", {"decision": theirs["decision"]}),
        ("POST", f"/api/x/delegations/{delegation}/cancel", {}),
        ("POST", f"/api/x/delegations/{delegation}/outcome", {"outcome": "failed"}),
        ("GET", f"/api/x/public-keys/{kid}", None),
        ("POST", f"/api/x/public-keys/{kid}/revoke", {}),
        ("POST", f"/api/x/public-keys/{kid}/rotate", {"jwk": theirs["host"].signing.public().jwk}),
        # Collections: they only ever show or take the caller's own.
        ("GET", "/api/x/delegations", None),
        ("POST", "/api/x/delegations", {"request": theirs["request"]}),
        ("GET", "/api/x/public-keys", None),
        ("POST", "/api/x/public-keys", {"jwk": theirs["home"].signing.public().jwk}),
    ]


def test_every_federation_route_is_in_the_isolation_list(
    app: Flask, their_delegation: dict[str, Any]
) -> None:
    adapter = app.url_map.bind("router.test")
    covered = {
        (method, adapter.match(path, method=method)[0])
        for method, path, _ in _federation_operations(their_delegation)
    }
    needed = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(FEDERATION_PREFIXES)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert needed - covered - PUBLIC_FEDERATION_ROUTES == set()


def test_no_institution_reads_or_moves_another_ones_delegations_or_keys(
    client: FlaskClient, make_tenant: MakeTenant, their_delegation: dict[str, Any]
) -> None:
    me = make_tenant("999999999", scopes=["delegations", "keys:manage"])
    home = their_delegation["home"]
    before = client.get(f"/api/x/delegations/{their_delegation['id']}", headers=home.headers).json
    keys_before = client.get("/api/x/public-keys", headers=home.headers).json
    for method, path, body in _federation_operations(their_delegation):
        response = client.open(path, method=method, json=body, headers=me.headers)
        if path in ("/api/x/delegations", "/api/x/public-keys") and method == "GET":
            assert response.status_code == 200
            listed = response.json["content"] if "deleg" in path else response.json
            assert listed == [], path
            continue
        assert response.status_code in (403, 404, 409), (method, path, response.json)
        assert response.json["code"] in {"ER-0225", "ER-0233", "ER-0232", "ER-0210"}
    after = client.get(f"/api/x/delegations/{their_delegation['id']}", headers=home.headers).json
    assert after == before
    assert client.get("/api/x/public-keys", headers=home.headers).json == keys_before


def test_the_intentionally_public_endpoints_are_these_and_no_more() -> None:
    """Making an endpoint public is a decision: this list changes only with it."""
    assert {
        "cards.CardStatus",
        "x-keys.Jwks",
        "x-federation.Identity",
        "x-federation.PublishedCatalogue",
        "x-federation-peer.PeerCard",
        "x-federation-peer.PeerVerifications",
        "x-federation-peer.PeerEcho",
        # Forwarded delegations: only the router that forwarded one reads or moves it
        # (tests/federation/test_delegation_forwarding.py).
        "x-federation-peer.PeerDelegations",
        "x-federation-peer.PeerDelegation",
        "x-federation-peer.PeerDelegationCancel",
        "x-federation-peer.PeerDelegationOutcome",
        "x-federation-peer.PeerJwks",
    } == PUBLIC_API_ENDPOINTS


def test_an_api_key_opens_no_peer_endpoint(
    client: FlaskClient, uni: Tenant, theirs: dict[str, Any]
) -> None:
    """Peer endpoints take routers' signatures only: an organisation's key is not one."""
    for method, path in (
        ("GET", f"/api/x/federation/peer/cards/{theirs['escn']}"),
        ("POST", "/api/x/federation/peer/verifications"),
        ("POST", "/api/x/federation/peer/echo"),
        ("POST", "/api/x/federation/peer/delegations"),
        ("GET", f"/api/x/federation/peer/delegations/{uuid.uuid4()}"),
        ("POST", f"/api/x/federation/peer/delegations/{uuid.uuid4()}/cancel"),
        ("POST", f"/api/x/federation/peer/delegations/{uuid.uuid4()}/outcome"),
        ("GET", "/api/x/federation/peer/directory/999999999/jwks.json"),
    ):
        response = client.open(path, method=method, json={}, headers=uni.headers)
        assert response.status_code == 404 and response.json["code"] == "ER-0265", path


def test_an_institution_never_publishes_or_withdraws_another_institutions_chain(
    client: FlaskClient, make_tenant: MakeTenant
) -> None:
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
