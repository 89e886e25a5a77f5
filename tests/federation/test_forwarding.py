"""A card of router B, asked about on router A: status, card page, partner verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from router.db import Base
from router.federation.http_signatures import SignableRequest, SignableResponse, sign_response
from router.models import Card, VerificationRecord
from tests.federation.conftest import A_PIC, B_PIC, Pair
from tests.federation.factories import PeerRouter


def _a(pair: Pair) -> FlaskClient:
    return pair.a_app.test_client()


def _count(app: Flask, model: type[Base]) -> int:
    with app.extensions["escr.database"].session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_the_v2_status_of_bs_card_on_a_is_bs_answer_marked_as_bs(pair: Pair) -> None:
    escn = pair.b_card()
    on_b = pair.b_app.test_client().get(f"/api/v2/cards/{escn}/status")
    on_a = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert on_a.status_code == 200, on_a.json
    assert on_a.json == on_b.json
    assert on_a.json["issuerIdentifier"] == B_PIC and on_a.json["displayName"] is None
    assert on_a.headers["Escr-Answered-By"] == "router-b"
    assert "Escr-Answered-By" not in on_b.headers


def test_a_local_card_is_answered_locally_without_asking_any_peer(pair: Pair) -> None:
    client = _a(pair)
    headers = pair.headers("a-uni")
    from tests.conftest import card_body, esi, person_body

    client.post("/api/v2/persons", json=person_body(esi("A1"), A_PIC), headers=headers)
    escn = client.post("/api/v2/cards", json=card_body(esi("A1"), A_PIC),
                       headers=headers).json["cardNumber"]
    answer = client.get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 200 and "Escr-Answered-By" not in answer.headers
    assert pair.to_b.requests == []


def test_the_card_page_on_a_shows_bs_card_marked_as_answered_by_b(pair: Pair) -> None:
    escn = pair.b_card()
    page = _a(pair).get(f"/cards/{escn}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert b'data-valid="true"' in page.data
    assert b'id="answered-by" data-router="router-b"' in page.data
    assert page.headers["Escr-Answered-By"] == "router-b"
    as_json = _a(pair).get(f"/cards/{escn}", headers={"Accept": "application/json"})
    assert as_json.json["cardNumber"] == escn
    assert as_json.headers["Escr-Answered-By"] == "router-b"


def test_an_unknown_card_of_bs_pic_is_bs_404_passed_on(pair: Pair) -> None:
    from router.domain.escn import default_generator

    escn = default_generator.generate(B_PIC, "001")
    answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 404
    assert answer.json["code"] == "ER-0001"
    assert answer.headers["Escr-Answered-By"] == "router-b"
    page = _a(pair).get(f"/cards/{escn}", headers={"Accept": "text/html"})
    assert page.status_code == 404 and b'data-router="router-b"' in page.data


def test_public_answers_are_reused_for_the_ttl_only(pair: Pair) -> None:
    escn = pair.b_card()
    client = _a(pair)
    client.get(f"/api/v2/cards/{escn}/status")
    client.get(f"/cards/{escn}", headers={"Accept": "text/html"})
    assert len(pair.to_b.requests) == 1, "the second lookup came from the cache"
    # The cache expires: a lost card reads lost on A as soon as it does.
    pair.b_app.test_client().post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "REPORT_LOST"},
        headers=pair.headers("b-uni"),
    )
    pair.a_membership.status_cache._entries.clear()  # what the TTL does after 30 s
    assert client.get(f"/api/v2/cards/{escn}/status").json["status"] == "INACTIVE"
    page = client.get(f"/cards/{escn}", headers={"Accept": "text/html"})
    assert b'data-reason="LOST"' in page.data


@pytest.mark.parametrize("federation_settings", [{"status_cache_seconds": 0}])
def test_with_the_cache_off_every_lookup_asks_the_issuer(pair: Pair) -> None:
    escn = pair.b_card()
    for _ in range(2):
        _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert len(pair.to_b.requests) == 2


def test_a_partner_of_a_verifies_bs_card_and_the_record_stays_on_b(pair: Pair) -> None:
    escn = pair.b_card()
    for scanned in (escn, f"https://b.test/cards/{escn}"):
        answer = _a(pair).post("/api/x/verify", json={"scanned": scanned},
                               headers=pair.headers("partner"))
        assert answer.status_code == 200, answer.json
        assert answer.json["valid"] is True
        assert answer.json["answeredBy"] == "router-b"
        assert answer.json["issuer"]["identifier"] == B_PIC
        assert answer.json["displayName"] is None
        assert answer.headers["Escr-Answered-By"] == "router-b"
    # Router A keeps nothing about B's card: no record, no card.
    assert _count(pair.a_app, VerificationRecord) == 0
    assert _count(pair.a_app, Card) == 0
    log = pair.b_app.test_client().get("/api/x/verifications", headers=pair.headers("b-uni"))
    assert log.json["page"]["totalElements"] == 2
    assert log.json["content"][0]["partner"] == {
        "identifier": "777777777", "name": "City Transport", "kind": None, "router": "router-a",
    }


def test_the_holder_name_crosses_only_for_a_partner_with_verify_holder(pair: Pair) -> None:
    escn = pair.b_card(displayName="Ada L.")
    plain = _a(pair).post("/api/x/verify", json={"scanned": escn},
                          headers=pair.headers("partner"))
    holder = _a(pair).post("/api/x/verify", json={"scanned": escn},
                           headers=pair.headers("holder-partner"))
    assert plain.json["displayName"] is None
    assert holder.json["displayName"] == "Ada L."


def test_a_lost_card_of_b_verifies_as_lost_on_a(pair: Pair) -> None:
    escn = pair.b_card()
    pair.b_app.test_client().post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "REPORT_STOLEN"},
        headers=pair.headers("b-uni"),
    )
    answer = _a(pair).post("/api/x/verify", json={"scanned": escn},
                           headers=pair.headers("partner"))
    assert answer.json["valid"] is False and answer.json["reason"] == "STOLEN"


def test_graphql_verification_gives_the_same_forwarded_verdict(pair: Pair) -> None:
    escn = pair.b_card()
    body = _a(pair).post(
        "/graphql",
        json={"query": "query($s: String!) { verification(scanned: $s) "
                       "{ valid reason cardNumber answeredBy issuer { identifier } } }",
              "variables": {"s": escn}},
        headers=pair.headers("partner"),
    ).json
    assert body["data"]["verification"] == {
        "valid": True, "reason": None, "cardNumber": escn, "answeredBy": "router-b",
        "issuer": {"identifier": B_PIC},
    }


def test_a_qr_code_of_a_router_outside_the_federation_is_still_refused(pair: Pair) -> None:
    escn = pair.b_card()
    answer = _a(pair).post("/api/x/verify", json={"scanned": f"https://c.test/cards/{escn}"},
                           headers=pair.headers("partner"))
    assert answer.status_code == 422 and answer.json["code"] == "ER-0093"


# --- what goes wrong ----------------------------------------------------------------------


def test_a_peer_answering_with_a_key_the_catalogue_does_not_give_it_is_refused(pair: Pair) -> None:
    escn = pair.b_card()
    impostor = PeerRouter("router-b", "https://b.test", (B_PIC,))
    pair.b_membership.identity = type(pair.b_membership.identity)(
        "router-b", "https://b.test", impostor.key, impostor.public
    )
    answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 502
    assert answer.json["code"] == "ER-0252"
    assert answer.json["errors"] == {"router": "router-b"}


@pytest.mark.parametrize(
    "body", [b"[" * 5000 + b"]" * 5000, b'{"cardNumber": ' + b"9" * 5000 + b"}"]
)
def test_a_peer_answer_json_cannot_read_is_refused(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    # Signed by the peer, but nested too deep or with an integer past 4300 digits: was a 500.
    escn = pair.b_card()

    def answer_with_body(request: httpx.Request) -> httpx.Response:
        asked = SignableRequest(request.method, str(request.url), dict(request.headers.items()))
        signed = SignableResponse(
            200,
            {"Content-Type": "application/json",
             "X-Request-Id": request.headers.get("X-Request-Id", "")},
            asked,
        )
        sign_response(signed, body, key=pair.b.key, kid=pair.b.public.kid,
                      now=dt.datetime.now(dt.UTC))
        return httpx.Response(200, headers=signed.headers, content=body)

    monkeypatch.setattr(pair.to_b, "handle_request", answer_with_body)
    answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 502 and answer.json["code"] == "ER-0252"


def test_a_router_missing_from_the_peers_catalogue_is_refused_there(pair: Pair) -> None:
    escn = pair.b_card()
    pair.publish(pair.b, to=("b",))  # B's catalogue no longer lists A
    answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 502
    assert answer.json["code"] == "ER-0255"
    assert "ER-0261" in answer.json["message"]


def test_a_misdirected_request_is_refused_not_forwarded_again(pair: Pair) -> None:
    escn = pair.b_card()
    c = PeerRouter("router-c", "https://c.test", (B_PIC,))
    # A believes B hosts the PIC; B's newer catalogue gives it to C: B refuses, never forwards.
    document = pair.authority.sign([pair.a.entry(), PeerRouter("router-b", "https://b.test", (),
                                    pair.b.key).entry(), c.entry()])
    pair.b_membership.directory.adopt_document(document)
    answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 502 and answer.json["code"] == "ER-0255"
    assert "ER-0264" in answer.json["message"]
    assert len(pair.to_b.requests) == 1


def test_an_unreachable_peer_is_a_502_then_its_circuit_opens(pair: Pair) -> None:
    escn = pair.b_card()
    pair.to_b.failure = httpx.ConnectError("connection refused")
    for _ in range(3):
        answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
        assert answer.status_code == 502 and answer.json["code"] == "ER-0250"
    asked = len(pair.to_b.requests)
    refused = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert refused.status_code == 503 and refused.json["code"] == "ER-0253"
    assert 0 < int(refused.headers["Retry-After"]) <= 30
    assert len(pair.to_b.requests) == asked, "an open circuit does not ask the peer"


def test_a_peer_timing_out_is_a_504(pair: Pair) -> None:
    escn = pair.b_card()
    pair.to_b.failure = httpx.ReadTimeout("read timed out")
    answer = _a(pair).post("/api/x/verify", json={"scanned": escn},
                           headers=pair.headers("partner"))
    assert answer.status_code == 504 and answer.json["code"] == "ER-0251"


def test_without_a_catalogue_an_unknown_card_is_a_503_and_a_local_one_still_answers(
    pair: Pair
) -> None:
    escn = pair.b_card()
    pair.a_membership.directory._catalogue = None  # never fetched, or expired
    pair.a_membership.directory._valid_until = 0.0
    answer = _a(pair).get(f"/api/v2/cards/{escn}/status")
    assert answer.status_code == 503 and answer.json["code"] == "ER-0256"
    verify = _a(pair).post("/api/x/verify", json={"scanned": escn},
                           headers=pair.headers("partner"))
    assert verify.status_code == 503 and verify.json["code"] == "ER-0256"
    assert _count(pair.a_app, VerificationRecord) == 0
    assert pair.to_b.requests == []


def test_a_malformed_number_is_refused_before_anything_is_forwarded(pair: Pair) -> None:
    answer = _a(pair).get(f"/api/v2/cards/not-a-card-{B_PIC}/status")
    assert answer.status_code == 400 and answer.json["code"] == "ER-0401"
    assert pair.to_b.requests == []


def test_the_card_page_of_an_unreachable_peers_card_says_so_and_when_to_retry(pair: Pair) -> None:
    escn = pair.b_card()
    pair.to_b.failure = httpx.ConnectError("connection refused")
    pages = [_a(pair).get(f"/cards/{escn}", headers={"Accept": "text/html"}) for _ in range(4)]
    assert [p.status_code for p in pages] == [502, 502, 502, 503]
    assert b"router-b" in pages[0].data
    assert 0 < int(pages[-1].headers["Retry-After"]) <= 30


def _statements(app: Flask, call: Callable[[], object]) -> list[str]:
    from sqlalchemy import event

    engine = app.extensions["escr.database"].engine
    seen: list[str] = []

    def record(conn: Connection, cursor: Any, statement: str, *args: object) -> None:
        seen.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_local_card_costs_the_same_queries_with_or_without_a_federation(pair: Pair) -> None:
    from router.federation.membership import FederationPlaces, Membership
    from router.federation.settings import FederationSettings
    from tests.conftest import card_body, esi, person_body

    client, headers = _a(pair), pair.headers("a-uni")
    client.post("/api/v2/persons", json=person_body(esi("A2"), A_PIC), headers=headers)
    escn = client.post("/api/v2/cards", json=card_body(esi("A2"), A_PIC),
                       headers=headers).json["cardNumber"]
    partner = pair.headers("partner")

    def lookups() -> None:
        assert client.get(f"/api/v2/cards/{escn}/status").status_code == 200
        assert client.get(f"/cards/{escn}", headers={"Accept": "text/html"}).status_code == 200
        assert client.post("/api/x/verify", json={"scanned": escn},
                           headers=partner).status_code == 200

    lookups()  # first uses write what they write once (a key's last use, a rate window)
    federated = _statements(pair.a_app, lookups)
    settings = pair.a_app.extensions["escr.settings"]
    pair.a_app.extensions["escr.federation"] = Membership.create(
        FederationSettings(), FederationPlaces(settings.instance_path, settings.public_url)
    )
    standalone = _statements(pair.a_app, lookups)
    assert federated == standalone
    assert pair.to_b.requests == []
