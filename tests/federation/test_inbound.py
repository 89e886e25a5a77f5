"""Router B judging signed requests that claim to come from routers of its catalogue."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
import pytest
from sqlalchemy import select
from werkzeug.test import TestResponse

from router.federation import http_signatures as hs
from router.models import PeerRequestSeen, VerificationRecord
from tests.federation.conftest import B_PIC, Pair
from tests.federation.factories import PeerRouter, now


def _send(pair: Pair, request: httpx.Request) -> TestResponse:
    """Deliver a signed httpx request to router B's app; return Flask's response."""
    return pair.b_app.test_client().open(
        request.url.raw_path.decode(),
        method=request.method,
        headers=list(request.headers.multi_items()),
        data=request.content,
    )


def _card_url(escn: str) -> str:
    return f"https://b.test/api/x/federation/peer/cards/{escn}"


def _answer_verifies(pair: Pair, request: httpx.Request, answer: TestResponse) -> None:
    """B's answer is signed with B's key and bound to ``request``."""
    response = httpx.Response(
        answer.status_code, headers=list(answer.headers.items()), content=answer.data,
        request=request,
    )
    hs.verify_response(
        response, answer.data, keys={pair.b.public.kid: pair.b.public.key},
        request_id=request.headers["X-Request-Id"], now=now(), skew=dt.timedelta(minutes=5),
    )


def test_a_signed_request_of_a_catalogue_router_is_answered_and_the_answer_signed(
    pair: Pair
) -> None:
    escn = pair.b_card()
    request = pair.a.signed_request("GET", _card_url(escn))
    answer = _send(pair, request)
    assert answer.status_code == 200, answer.json
    assert answer.json["cardNumber"] == escn and answer.json["status"] == "ACTIVE"
    assert answer.json["displayName"] is None
    assert answer.headers["Cache-Control"] == "max-age=30"
    assert answer.headers["X-Request-Id"] == request.headers["X-Request-Id"]
    _answer_verifies(pair, request, answer)


def test_an_unsigned_request_is_refused(pair: Pair) -> None:
    answer = pair.b_app.test_client().get(f"/api/x/federation/peer/cards/{pair.b_card()}")
    assert answer.status_code == 401 and answer.json["code"] == "ER-0260"


def test_a_router_missing_from_the_catalogue_is_refused_with_a_signed_refusal(pair: Pair) -> None:
    stranger = PeerRouter("router-x", "https://x.test", ("333333333",))
    request = stranger.signed_request("GET", _card_url(pair.b_card()))
    answer = _send(pair, request)
    assert answer.status_code == 403 and answer.json["code"] == "ER-0261"
    _answer_verifies(pair, request, answer)


def test_a_replayed_request_is_refused(pair: Pair) -> None:
    request = pair.a.signed_request("GET", _card_url(pair.b_card()))
    assert _send(pair, request).status_code == 200
    replayed = _send(pair, request)
    assert replayed.status_code == 409 and replayed.json["code"] == "ER-0263"


def test_the_same_request_id_from_two_routers_is_two_requests(pair: Pair) -> None:
    third = PeerRouter("router-c", "https://c.test", ("333333333",))
    pair.publish(pair.a, pair.b, third, to=("b",))
    request_id = str(uuid.uuid4())
    escn = pair.b_card()
    for router in (pair.a, third):
        request = router.signed_request("GET", _card_url(escn), request_id=request_id)
        assert _send(pair, request).status_code == 200


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_stale_or_future_signed_request_is_refused(pair: Pair, minutes: int) -> None:
    request = pair.a.signed_request(
        "GET", _card_url(pair.b_card()), at=now() + dt.timedelta(minutes=minutes)
    )
    answer = _send(pair, request)
    assert answer.status_code == 401 and answer.json["code"] == "ER-0262"


def test_request_ids_are_forgotten_once_a_replay_could_no_longer_be_fresh(pair: Pair) -> None:
    escn = pair.b_card()
    old = now() - dt.timedelta(minutes=11)
    database = pair.b_app.extensions["escr.database"]
    with database.session() as session:
        session.add(PeerRequestSeen(router_id="router-a", request_id="x" * 36, seen_at=old))
        session.commit()
    assert _send(pair, pair.a.signed_request("GET", _card_url(escn))).status_code == 200
    with database.session() as session:
        kept = session.scalars(select(PeerRequestSeen.request_id)).all()
    assert "x" * 36 not in kept and len(kept) == 1


def test_a_request_signed_for_another_router_is_refused(pair: Pair) -> None:
    request = pair.a.signed_request("GET", f"https://c.test/api/x/federation/peer/cards/{pair.b_card()}")
    answer = _send(pair, request)
    assert answer.status_code == 401 and answer.json["code"] == "ER-0260"


def test_a_body_that_is_not_the_signed_one_is_refused(pair: Pair) -> None:
    body = json.dumps({"cardNumber": pair.b_card(), "partner": {"identifier": "1", "name": "x"},
                       "holderScope": True}).encode()
    request = pair.a.signed_request(
        "POST", "https://b.test/api/x/federation/peer/verifications", body
    )
    tampered = httpx.Request("POST", request.url, headers=request.headers,
                             content=body.replace(b"true", b"fals"))
    answer = _send(pair, tampered)
    assert answer.status_code == 401 and answer.json["code"] == "ER-0260"
    with pair.b_app.extensions["escr.database"].session() as session:
        assert session.scalars(select(VerificationRecord)).all() == []


def test_a_card_whose_issuer_is_not_hosted_here_is_refused_not_forwarded(pair: Pair) -> None:
    from router.domain.escn import default_generator

    escn = default_generator.generate("111111111", "001")  # router A's PIC
    answer = _send(pair, pair.a.signed_request("GET", _card_url(escn)))
    assert answer.status_code == 421 and answer.json["code"] == "ER-0264"


def test_a_malformed_verification_request_is_a_400(pair: Pair) -> None:
    body = b'{"cardNumber": 7}'
    answer = _send(pair, pair.a.signed_request(
        "POST", "https://b.test/api/x/federation/peer/verifications", body))
    assert answer.status_code == 400 and answer.json["code"] == "ER-0400"


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"a": ' + b"9" * 5000 + b"}"])
@pytest.mark.parametrize(
    ("path", "status"), [("verifications", 400), ("delegations", 400), ("echo", 200)]
)
def test_a_signed_body_json_cannot_read_is_no_json_not_a_500(
    pair: Pair, body: bytes, path: str, status: int
) -> None:
    # Nested too deep, or an integer past 4300 digits: get_json(silent=True) let these out.
    answer = _send(pair, pair.a.signed_request(
        "POST", f"https://b.test/api/x/federation/peer/{path}", body))
    assert answer.status_code == status, answer.json
    if status == 200:
        assert answer.json["echo"] is None


def test_echo_proves_both_signatures_with_any_json(pair: Pair) -> None:
    body = json.dumps({"delegation": {"jws": "eyJ..."}}).encode()
    request = pair.a.signed_request("POST", "https://b.test/api/x/federation/peer/echo", body)
    answer = _send(pair, request)
    assert answer.json == {
        "router": "router-b", "caller": "router-a",
        "requestId": request.headers["X-Request-Id"], "echo": {"delegation": {"jws": "eyJ..."}},
    }
    _answer_verifies(pair, request, answer)


def test_a_router_without_a_catalogue_answers_no_peer(pair: Pair) -> None:
    pair.b_membership.directory._catalogue = None
    pair.b_membership.directory._valid_until = 0.0
    answer = _send(pair, pair.a.signed_request("GET", _card_url(B_PIC.rjust(36, "0"))))
    assert answer.status_code == 404 and answer.json["code"] == "ER-0265"
