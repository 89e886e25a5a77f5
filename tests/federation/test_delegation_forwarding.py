"""A delegation asked at router A for a card of router B: forwarded, decided on B, followed on A."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from router.db import Base
from router.federation.records import Delegation
from router.models import Card
from router.services.caller import Scope
from sgc_client.protocol import jose
from sgc_client.protocol.delegation import REQUEST_TYPE
from tests.federation.conftest import (
    A_PIC,
    B_PIC,
    UID,
    Pair,
    _tenant,
    decision_claims,
    request_claims,
    sign_decision,
    sign_request,
)
from tests.federation.factories import PeerRouter

SCOPES = [*Scope.INSTITUTION, Scope.KEYS_MANAGE]


@dataclass
class Institution:
    """An institution of one of the two routers, with its keys registered there."""

    pic: str
    headers: dict[str, str]
    signing: jose.PrivateKey
    encryption: jose.PrivateKey


def _institution(app: Flask, pic: str) -> Institution:
    secret = _tenant(app, pic, f"University {pic}", scopes=SCOPES)
    party = Institution(pic, {"Authorization": f"Bearer {secret}"}, jose.generate_key("sig"),
                        jose.generate_key("enc"))
    for key in (party.signing, party.encryption):
        answer = app.test_client().post("/api/x/public-keys", json={"jwk": key.public().jwk},
                                        headers=party.headers)
        assert answer.status_code == 201, answer.json
    return party


@pytest.fixture
def parties(pair: Pair) -> tuple[Institution, Institution, str]:
    """The host on router A, the home on router B, and an active card of the home's."""
    host = _institution(pair.a_app, A_PIC)
    home = _institution(pair.b_app, B_PIC)
    escn = pair.b_card("D1", csn=UID)
    return host, home, escn


def _count(app: Flask, model: type[Base]) -> int:
    with app.extensions["escr.database"].session() as session:
        return session.scalar(select(func.count()).select_from(model))


def _request(pair: Pair, parties: tuple[Institution, Institution, str]) -> tuple[TestResponse, str]:
    host, home, escn = parties
    compact = sign_request(request_claims(host, home, escn), host.signing)
    answer = pair.a_app.test_client().post("/api/x/delegations", json={"request": compact},
                                           headers=host.headers)
    return answer, compact


def test_a_request_at_a_reaches_the_home_on_b_and_its_approval_comes_back(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, _ = parties
    answer, compact = _request(pair, parties)
    assert answer.status_code == 201, answer.json
    delegation_id = answer.json["id"]
    assert answer.json["state"] == "requested" and answer.json["home"] == B_PIC
    # Marked as B's answer, as every forwarded answer is.
    assert answer.headers["Escr-Answered-By"] == pair.b.id == answer.json["peerRouter"]
    b, a = pair.b_app.test_client(), pair.a_app.test_client()
    inbox = b.get("/api/x/delegations?role=home&state=requested", headers=home.headers).json
    assert [d["id"] for d in inbox["content"]] == [delegation_id]
    assert inbox["content"][0]["request"] == compact and inbox["content"][0]["host"] == A_PIC
    assert inbox["content"][0]["peerRouter"] == pair.a.id
    token = sign_decision(decision_claims(home, host, compact, "approve"), home.signing)
    decided = b.post(f"/api/x/delegations/{delegation_id}/decision", json={"decision": token},
                     headers=home.headers)
    assert decided.status_code == 200, decided.json

    read = a.get(f"/api/x/delegations/{delegation_id}", headers=host.headers)
    assert read.headers["Escr-Answered-By"] == pair.b.id
    seen = read.json
    assert seen["state"] == "approved" and seen["decisionToken"] == token
    assert [h["state"] for h in seen["history"]] == ["requested", "delivered", "approved"]
    assert [h["actor"] for h in seen["history"]] == [A_PIC, B_PIC, B_PIC]

    done = a.post(f"/api/x/delegations/{delegation_id}/outcome", json={"outcome": "completed"},
                  headers=host.headers)
    assert done.status_code == 200 and done.json["state"] == "completed", done.json
    on_b = b.get(f"/api/x/delegations/{delegation_id}", headers=home.headers).json
    assert on_b["state"] == "completed" and on_b["history"][-1]["actor"] == A_PIC
    # Router A keeps the host's own request and the states, no card of B.
    assert _count(pair.a_app, Card) == 0


def test_the_home_s_refusal_and_the_host_s_cancellation_cross_too(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, _ = parties
    b, a = pair.b_app.test_client(), pair.a_app.test_client()
    answer, compact = _request(pair, parties)
    refused_id = answer.json["id"]
    token = sign_decision(decision_claims(home, host, compact, "refuse"), home.signing)
    b.post(f"/api/x/delegations/{refused_id}/decision", json={"decision": token},
           headers=home.headers)
    seen = a.get(f"/api/x/delegations/{refused_id}", headers=host.headers).json
    assert seen["state"] == "refused" and seen["decisionReason"] == "not this year"

    cancelled_id = _request(pair, parties)[0].json["id"]
    cancelled = a.post(f"/api/x/delegations/{cancelled_id}/cancel", json={"reason": "left"},
                       headers=host.headers)
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    on_b = b.get(f"/api/x/delegations/{cancelled_id}", headers=home.headers).json
    assert on_b["state"] == "cancelled" and on_b["outcomeReason"] == "left"
    late = b.post(f"/api/x/delegations/{cancelled_id}/decision", json={"decision": token},
                  headers=home.headers)
    assert late.status_code in (409, 422)


def test_expiry_on_b_is_seen_on_a(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, _, _ = parties
    delegation_id = _request(pair, parties)[0].json["id"]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with pair.b_app.extensions["escr.database"].session() as session:
        session.execute(update(Delegation).values(expires_at=past))
        session.commit()
    seen = pair.a_app.test_client().get(f"/api/x/delegations/{delegation_id}",
                                        headers=host.headers).json
    assert seen["state"] == "expired" and seen["history"][-1]["actor"] is None


def test_b_s_refusals_of_the_host_s_request_are_passed_on_and_nothing_is_kept(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, escn = parties
    wrong_uid = sign_request(request_claims(host, home, escn, uid="04FFFFFFFFFFFF"), host.signing)
    answer = pair.a_app.test_client().post("/api/x/delegations", json={"request": wrong_uid},
                                           headers=host.headers)
    assert answer.status_code == 422 and answer.headers["Escr-Answered-By"] == "router-b"
    assert _count(pair.a_app, Delegation) == 0 and _count(pair.b_app, Delegation) == 0


def test_b_unreachable_is_a_502_and_nothing_is_recorded(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    pair.to_b.failure = httpx.ConnectError("refused")
    answer, _ = _request(pair, parties)
    assert answer.status_code == 502 and answer.json["code"] == "ER-0250", answer.json
    assert _count(pair.a_app, Delegation) == 0


def test_a_reads_b_s_home_keys_through_its_own_directory(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    _, home, _ = parties
    jwks = pair.a_app.test_client().get(f"/api/x/directory/{B_PIC}/jwks.json").json
    assert {k["kid"] for k in jwks["keys"]} == {home.signing.kid, home.encryption.kid}


def _forward(
    pair: Pair, router: PeerRouter, body: dict, path: str = "/delegations", method: str = "POST"
) -> TestResponse:
    content = json.dumps(body).encode() if body is not None else b""
    request = router.signed_request(method, f"https://b.test/api/x/federation/peer{path}",
                                    content)
    return pair.b_app.test_client().open(
        request.url.raw_path.decode(), method=method, headers=list(request.headers.multi_items()),
        data=request.content,
    )


def _jwks(party: Institution) -> dict:
    return {"keys": [dict(party.signing.public().jwk), dict(party.encryption.public().jwk)]}


def test_b_refuses_a_dishonest_or_tampered_forwarding(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, escn = parties
    compact = sign_request(request_claims(host, home, escn), host.signing)
    # Router C forwards a request in the name of router A's institution.
    c = PeerRouter("router-c", "https://c.test", ("333333333",))
    pair.publish(pair.a, pair.b, c)
    stolen = _forward(pair, c, {"request": compact, "hostKeys": _jwks(host)})
    assert stolen.status_code == 403 and stolen.json["code"] == "ER-0240"
    # Router A alters the host's signed request.
    header, payload, signature = compact.split(".")
    claims = json.loads(jose.b64url_decode(payload))
    claims["application"]["quotaLimit"] = 64
    altered = ".".join((header, jose.b64url_encode(json.dumps(claims).encode()), signature))
    forged = _forward(pair, pair.a, {"request": altered, "hostKeys": _jwks(host)})
    assert forged.status_code == 422 and forged.json["code"] == "ER-0202", forged.json
    # Router A sends a key that did not sign the request, or no JWKS at all.
    impostor = Institution(host.pic, {}, jose.generate_key("sig"), jose.generate_key("enc"))
    swapped = _forward(pair, pair.a, {"request": compact, "hostKeys": _jwks(impostor)})
    assert swapped.status_code == 422 and swapped.json["code"] == "ER-0203"
    bare = _forward(pair, pair.a, {"request": compact, "hostKeys": "none"})
    assert bare.status_code == 400 and bare.json["code"] == "ER-0241"
    assert _count(pair.b_app, Delegation) == 0
    # The honest forwarding is accepted; router C may not read or move it.
    assert _forward(pair, pair.a, {"request": compact, "hostKeys": _jwks(host)}).status_code == 201
    delegation_id = jose.read_compact(compact, REQUEST_TYPE).claims["jti"]
    peeking = _forward(pair, c, None, f"/delegations/{delegation_id}", "GET")
    assert peeking.status_code == 404 and peeking.json["code"] == "ER-0225"
    moving = _forward(pair, c, {"reason": "x"}, f"/delegations/{delegation_id}/cancel")
    assert moving.status_code == 404


def test_a_lost_answer_of_b_is_recovered_when_the_host_sends_again(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, escn = parties
    compact = sign_request(request_claims(host, home, escn), host.signing)
    pair.to_b.failure = None
    first = _forward(pair, pair.a, {"request": compact, "hostKeys": _jwks(host)})
    assert first.status_code == 201  # B recorded it; A never heard the answer
    again = pair.a_app.test_client().post("/api/x/delegations", json={"request": compact},
                                          headers=host.headers)
    assert again.status_code == 201 and again.json["state"] == "requested", again.json
    replay = pair.a_app.test_client().post("/api/x/delegations", json={"request": compact},
                                           headers=host.headers)
    assert replay.status_code == 409 and replay.json["code"] == "ER-0205"


def test_graphql_follows_a_forwarded_delegation_like_rest(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, _ = parties
    answer, compact = _request(pair, parties)
    delegation_id = answer.json["id"]
    token = sign_decision(decision_claims(home, host, compact, "approve"), home.signing)
    pair.b_app.test_client().post(f"/api/x/delegations/{delegation_id}/decision",
                                  json={"decision": token}, headers=home.headers)
    query = "query($id: ID!) { delegation(id: $id) { state decisionToken peerRouter } }"
    seen = pair.a_app.test_client().post("/graphql", json={"query": query,
                                                           "variables": {"id": delegation_id}},
                                         headers=host.headers).json
    assert seen["data"]["delegation"] == {
        "state": "APPROVED", "decisionToken": token, "peerRouter": pair.b.id
    }, seen
    mutation = ("mutation($id: ID!) { reportDelegationOutcome(id: $id, completed: false, "
                "reason: \"card removed\") { state } }")
    done = pair.a_app.test_client().post("/graphql", json={"query": mutation,
                                                           "variables": {"id": delegation_id}},
                                         headers=host.headers).json
    assert done["data"]["reportDelegationOutcome"] == {"state": "FAILED"}, done
    on_b = pair.b_app.test_client().get(f"/api/x/delegations/{delegation_id}",
                                        headers=home.headers).json
    assert on_b["state"] == "failed" and on_b["outcomeReason"] == "card removed"


def test_b_refuses_forwarded_keys_that_are_private_revoked_or_too_many(
    pair: Pair, parties: tuple[Institution, Institution, str]
) -> None:
    host, home, escn = parties
    compact = sign_request(request_claims(host, home, escn), host.signing)
    private = {"keys": [host.signing.private_jwk()]}
    leaked = _forward(pair, pair.a, {"request": compact, "hostKeys": private})
    assert leaked.status_code == 400 and leaked.json["code"] == "ER-0241"
    assert "private" in leaked.json["message"]
    revoked = {"keys": [], "revoked": [dict(host.signing.public().jwk)]}
    refused = _forward(pair, pair.a, {"request": compact, "hostKeys": revoked})
    assert refused.status_code == 422 and refused.json["code"] == "ER-0204"
    many = {"keys": [dict(host.signing.public().jwk)] * 40}
    assert _forward(pair, pair.a, {"request": compact, "hostKeys": many}).json["code"] == "ER-0241"
    assert _count(pair.b_app, Delegation) == 0
