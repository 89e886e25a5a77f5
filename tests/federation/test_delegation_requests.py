"""The router checks a host's signed request against its key and the card, and records it."""

from __future__ import annotations

import json
import time
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from router.db import Database
from router.federation.records import Delegation
from router.models import Organisation, WebhookDelivery
from sgc_client.protocol import jose
from tests.conftest import FakeDns, MakeTenant, Register
from tests.federation.conftest import (
    HOST_PIC,
    OTHER_PIC,
    UID,
    MakeParty,
    Party,
    request_claims,
    sign_request,
)


def submit(client: FlaskClient, party: Party, compact: str) -> TestResponse:
    return client.post("/api/x/delegations", json={"request": compact}, headers=party.headers)


def count_delegations(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Delegation))


def test_a_valid_request_is_recorded_and_both_institutions_see_it(
    client: FlaskClient, host: Party, home: Party, card: dict[str, Any]
) -> None:
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    answer = submit(client, host, compact)
    assert answer.status_code == 201, answer.json
    view = answer.json
    assert view["state"] == "requested"
    assert (view["host"], view["home"], view["cardNumber"], view["uid"]) == (
        host.pic, home.pic, card["escn"], UID,
    )
    assert view["application"]["aid"] == "F58542" and view["request"] == compact
    assert view["requestHash"] == jose.message_hash(compact)
    assert [h["state"] for h in view["history"]] == ["requested"]
    for party in (host, home):
        assert client.get(f"/api/x/delegations/{view['id']}", headers=party.headers).json == view
    inbox = client.get("/api/x/delegations?role=home&state=requested", headers=home.headers).json
    assert [d["id"] for d in inbox["content"]] == [view["id"]]
    assert client.get("/api/x/delegations?role=host", headers=home.headers).json["content"] == []


def test_nobody_else_sees_a_delegation(
    client: FlaskClient, host: Party, home: Party, card: dict[str, Any], make_party: MakeParty
) -> None:
    stranger = make_party(OTHER_PIC)
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    delegation_id = submit(client, host, compact).json["id"]
    answer = client.get(f"/api/x/delegations/{delegation_id}", headers=stranger.headers)
    assert answer.status_code == 404 and answer.json["code"] == "ER-0225"
    assert client.get("/api/x/delegations", headers=stranger.headers).json["content"] == []


def test_receipt_cancel_and_their_parties(
    client: FlaskClient, host: Party, home: Party, card: dict[str, Any]
) -> None:
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    delegation_id = submit(client, host, compact).json["id"]
    by_host = client.post(f"/api/x/delegations/{delegation_id}/receipt", headers=host.headers)
    assert by_host.status_code == 403 and by_host.json["code"] == "ER-0226"
    for _ in range(2):  # confirming twice changes nothing
        delivered = client.post(f"/api/x/delegations/{delegation_id}/receipt", headers=home.headers)
        assert delivered.json["state"] == "delivered"
    by_home = client.post(f"/api/x/delegations/{delegation_id}/cancel", json={},
                          headers=home.headers)
    assert by_home.status_code == 403
    cancelled = client.post(f"/api/x/delegations/{delegation_id}/cancel",
                            json={"reason": "student left"}, headers=host.headers)
    assert cancelled.json["state"] == "cancelled" and cancelled.json["outcomeReason"] == (
        "student left"
    )
    assert [h["state"] for h in cancelled.json["history"]] == [
        "requested", "delivered", "cancelled",
    ]
    late = client.post(f"/api/x/delegations/{delegation_id}/outcome",
                       json={"outcome": "completed"}, headers=host.headers)
    assert late.status_code == 409 and late.json["code"] == "ER-0224"


def test_webhook_events_go_to_both_institutions(
    client: FlaskClient,
    host: Party,
    home: Party,
    card: dict[str, Any],
    db: Database,
    fake_dns: FakeDns,
) -> None:
    fake_dns.names["hooks.example"] = ["93.184.215.14"]
    for party, events in ((home, ["delegation.requested", "delegation.cancelled"]),
                          (host, ["delegation.cancelled"])):
        answer = client.post("/api/x/webhooks", json={"url": "https://hooks.example/x",
                                                      "events": events}, headers=party.headers)
        assert answer.status_code == 201, answer.json
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    delegation_id = submit(client, host, compact).json["id"]
    client.post(f"/api/x/delegations/{delegation_id}/cancel", json={}, headers=host.headers)
    with db.session() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        owners = {o.id: o.identifier for o in session.scalars(select(Organisation))}
        sent = sorted((owners[r.subscription.organisation_id], r.event_type) for r in rows)
        bodies = [json.loads(r.body) for r in rows]
    assert sent == [(host.pic, "delegation.cancelled"), (home.pic, "delegation.cancelled"),
                    (home.pic, "delegation.requested")]
    assert bodies[0]["data"]["request"] == compact
    assert bodies[1]["data"]["delegationId"] == delegation_id


def forge(compact: str) -> str:
    header, payload, signature = compact.split(".")
    claims = json.loads(jose.b64url_decode(payload))
    claims["application"]["quotaLimit"] = 4096
    return f"{header}.{jose.b64url_encode(json.dumps(claims).encode())}.{signature}"


def _unsigned(claims: dict[str, Any]) -> str:
    header = jose.b64url_encode(b'{"alg":"none","kid":"x","typ":"escr-delegation-request+jwt"}')
    return f"{header}.{jose.b64url_encode(json.dumps(claims).encode())}."


def _with_json(header: bytes, payload: bytes = b"{}") -> str:
    return ".".join(jose.b64url_encode(part) for part in (header, payload, b"signature"))


# JSON Python's parser cannot read (nesting past its recursion limit, an integer past 4300
# digits): a header or payload of these answered 500.
DEEP_JSON = b'{"a":' * 3000 + b"1" + b"}" * 3000
LONG_INTEGER = b'{"alg": ' + b"9" * 5000 + b"}"
SIGNED_HEADER = b'{"alg":"ES256","kid":"k","typ":"escr-delegation-request+jwt"}'

REFUSALS = {
    # name: (build(compact factory inputs) -> compact, status, code)
    "header nested too deep": (lambda h, o, c, claims: _with_json(DEEP_JSON), 400, "ER-0200"),
    "header integer too long": (
        lambda h, o, c, claims: _with_json(LONG_INTEGER), 400, "ER-0200"),
    "payload nested too deep": (
        lambda h, o, c, claims: _with_json(SIGNED_HEADER, DEEP_JSON), 400, "ER-0200"),
    "not a JWS": (lambda h, o, c, claims: json.dumps(claims), 400, "ER-0201"),
    "alg none": (lambda h, o, c, claims: _unsigned(claims), 400, "ER-0201"),
    "forged": (lambda h, o, c, claims: forge(sign_request(claims, h.signing)), 422, "ER-0202"),
    "signed by another key": (
        lambda h, o, c, claims: sign_request(
            claims, jose.PrivateKey(h.signing.kid, "sig", "ES256", jose.generate_key("sig").key)
        ), 422, "ER-0202"),
    "unknown kid": (
        lambda h, o, c, claims: sign_request(claims, jose.generate_key("sig")), 422, "ER-0203"),
    "expired": (
        lambda h, o, c, claims: sign_request(
            {**claims, "iat": int(time.time()) - 900, "exp": int(time.time()) - 300}, h.signing
        ), 422, "ER-0206"),
    "future-dated": (
        lambda h, o, c, claims: sign_request(
            {**claims, "iat": int(time.time()) + 600, "exp": int(time.time()) + 900}, h.signing
        ), 422, "ER-0207"),
    "valid too long": (
        lambda h, o, c, claims: sign_request(
            {**claims, "exp": claims["iat"] + 3601}, h.signing), 422, "ER-0208"),
    "bad application": (
        lambda h, o, c, claims: sign_request(
            {**claims, "application": {**claims["application"], "keySettings2": 0x23}}, h.signing
        ), 400, "ER-0209"),
    "missing claims": (
        lambda h, o, c, claims: sign_request(
            {k: v for k, v in claims.items() if k != "uid"}, h.signing), 400, "ER-0200"),
    "uid not the card's": (
        lambda h, o, c, claims: sign_request({**claims, "uid": "04000000000001"}, h.signing),
        422, "ER-0213"),
    "unknown card": (
        lambda h, o, c, claims: sign_request(
            {**claims, "escn": "00000000" + c["escn"][8:]}, h.signing), 422, "ER-0211"),
    "issuer elsewhere": (
        lambda h, o, c, claims: sign_request(
            {**claims, "escn": c["escn"][:-12] + "001123456789"}, h.signing), 422, "ER-0216"),
    "key not the home's": (
        lambda h, o, c, claims: sign_request(
            {**claims, "appKey": jose.encrypt_compact(
                {}, jose.generate_key("enc").public(), "escr-app-key+json")}, h.signing),
        422, "ER-0217"),
}


def test_each_refusal_has_its_own_code_and_records_nothing(
    client: FlaskClient, db: Database, host: Party, home: Party, card: dict[str, Any]
) -> None:
    for case, (build, status, code) in sorted(REFUSALS.items()):
        claims = request_claims(host, home, card["escn"])
        answer = submit(client, host, build(host, home, card, claims))
        assert (answer.status_code, answer.json["code"]) == (status, code), (case, answer.json)
        assert answer.mimetype == "application/problem+json"
        assert count_delegations(db) == 0, case


def test_replayed_revoked_signed_for_another_and_own_cards(
    client: FlaskClient,
    db: Database,
    host: Party,
    home: Party,
    card: dict[str, Any],
    registered: Register,
) -> None:
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    assert submit(client, host, compact).status_code == 201
    replay = submit(client, host, compact)
    assert (replay.status_code, replay.json["code"]) == (409, "ER-0205")
    # Signed in the host's name, sent with the home's credential.
    other = sign_request(request_claims(host, home, card["escn"]), host.signing)
    assert submit(client, home, other).json["code"] == "ER-0210"
    # The home asking for its own card.
    own = sign_request({**request_claims(home, home, card["escn"])}, home.signing)
    assert submit(client, home, own).json["code"] == "ER-0215"
    client.post(f"/api/x/public-keys/{host.signing.kid}/revoke", json={}, headers=host.headers)
    revoked = submit(client, host, other)
    assert (revoked.status_code, revoked.json["code"]) == (422, "ER-0204")
    assert count_delegations(db) == 1


def test_inactive_cards_and_cards_without_a_chip_serial_are_refused(
    client: FlaskClient, db: Database, host: Party, home: Party, registered: Register
) -> None:
    lost = registered("LOST1", tenant=home.tenant, csn=UID)
    client.post(f"/api/x/cards/{lost['escn']}/lifecycle", json={"action": "REPORT_LOST"},
                headers=home.headers)
    answer = submit(client, host, sign_request(request_claims(host, home, lost["escn"]),
                                               host.signing))
    assert (answer.status_code, answer.json["code"]) == (422, "ER-0212")
    bare = registered("BARE1", tenant=home.tenant)
    answer = submit(client, host, sign_request(request_claims(host, home, bare["escn"]),
                                               host.signing))
    assert answer.json["code"] == "ER-0214"
    assert count_delegations(db) == 0


def test_requesting_needs_the_delegations_scope(
    client: FlaskClient, make_tenant: MakeTenant, host: Party, home: Party, card: dict[str, Any]
) -> None:
    kiosk = make_tenant(HOST_PIC, scopes=["cards:read"])
    compact = sign_request(request_claims(host, home, card["escn"]), host.signing)
    answer = client.post("/api/x/delegations", json={"request": compact}, headers=kiosk.headers)
    assert answer.status_code == 403 and answer.json["code"] == "SE-0002"
