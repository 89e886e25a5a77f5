"""RouterClient against httpx.MockTransport: auth, retries, errors, pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sgc_client import RouterClient, errors


def problem(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"code": code, "message": message, "status": status, "title": "t", "detail": message},
        headers={"Content-Type": "application/problem+json", **headers},
    )


class Recorder:
    """A transport answering from a list of responses (or exceptions), recording requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make(recorder: Recorder, **kwargs: Any) -> tuple[RouterClient, list[float]]:
    sleeps: list[float] = []
    kwargs.setdefault("api_key", "k-123")
    client = RouterClient(
        "https://router.example/esc-rest",
        transport=httpx.MockTransport(recorder),
        sleep=sleeps.append,
        **kwargs,
    )
    return client, sleeps


def test_api_key_is_sent_as_bearer_under_the_base_path() -> None:
    rec = Recorder(httpx.Response(200, json={"identifier": "x"}))
    client, _ = make(rec)
    client.persons.get("urn:schac:personalUniqueCode:int:esi:FR:1")
    request = rec.requests[0]
    assert request.headers["Authorization"] == "Bearer k-123"
    assert request.url.path == "/esc-rest/api/v2/persons/urn:schac:personalUniqueCode:int:esi:FR:1"


def test_api_key_can_go_in_the_api_key_header_of_the_published_document() -> None:
    rec = Recorder(httpx.Response(200, json={}))
    client, _ = make(rec, api_key_header="api_key")
    client.cards.get("c")
    assert rec.requests[0].headers["api_key"] == "k-123"
    assert "Authorization" not in rec.requests[0].headers


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequest),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (405, errors.MethodNotAllowed),
        (409, errors.Conflict),
        (410, errors.Gone),
        (422, errors.RuleViolation),
    ],
)
def test_error_answers_become_typed_errors_with_code_and_message(
    status: int, cls: type[errors.ApiError]
) -> None:
    rec = Recorder(problem(status, "ER-0019", "A person exists already"))
    client, _ = make(rec)
    with pytest.raises(cls) as caught:
        client.persons.create({"identifier": "x"})
    assert caught.value.status == status
    assert caught.value.code == "ER-0019"
    assert caught.value.message == "A person exists already"


def test_a_non_json_error_still_carries_its_status() -> None:
    rec = Recorder(httpx.Response(502, text="<html>Bad gateway</html>"))
    client, _ = make(rec, retries=0)
    with pytest.raises(errors.ServerError) as caught:
        client.cards.get("c")
    assert caught.value.status == 502
    assert caught.value.code is None


def test_get_is_retried_on_5xx_with_growing_backoff() -> None:
    rec = Recorder(
        problem(503, "ER-0500", "down"),
        problem(500, "ER-0500", "down"),
        httpx.Response(200, json={"cardNumber": "c"}),
    )
    client, sleeps = make(rec, backoff=1.0)
    assert client.cards.get("c") == {"cardNumber": "c"}
    assert len(rec.requests) == 3
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_retries_stop_after_the_limit() -> None:
    rec = Recorder(*[problem(503, "ER-0500", "down") for _ in range(3)])
    client, sleeps = make(rec, retries=2)
    with pytest.raises(errors.ServerError):
        client.persons.get("e")
    assert len(rec.requests) == 3 and len(sleeps) == 2


def test_put_and_delete_are_retried_on_timeouts() -> None:
    rec = Recorder(
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={}),
        httpx.ReadTimeout("slow"),
        httpx.Response(204),
    )
    client, _ = make(rec)
    client.cards.update("c", {})
    client.cards.delete("c")
    assert [r.method for r in rec.requests] == ["PUT", "PUT", "DELETE", "DELETE"]


def test_a_creating_post_is_never_retried_after_a_5xx_or_timeout() -> None:
    rec = Recorder(problem(503, "ER-0500", "down"))
    client, _ = make(rec)
    with pytest.raises(errors.ServerError):
        client.cards.create({})
    rec = Recorder(httpx.ReadTimeout("slow"))
    client, _ = make(rec)
    with pytest.raises(errors.TransportError):
        client.persons.create({})
    assert len(rec.requests) == 1


def test_a_post_is_retried_when_the_connection_was_never_made() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.Response(201, json={"cardNumber": "n"}))
    client, _ = make(rec)
    assert client.cards.create({})["cardNumber"] == "n"
    assert len(rec.requests) == 2


def test_connection_errors_end_in_a_transport_error() -> None:
    rec = Recorder(*[httpx.ConnectError("refused") for _ in range(4)])
    client, _ = make(rec)
    with pytest.raises(errors.TransportError):
        client.persons.get("e")


def test_rate_limiting_honours_retry_after() -> None:
    rec = Recorder(
        problem(429, "ER-0429", "slow down", **{"Retry-After": "7"}),
        httpx.Response(201, json={"identifier": "e"}),
    )
    client, sleeps = make(rec)
    client.persons.create({"identifier": "e"})
    assert sleeps == [7.0]


def test_rate_limited_error_exposes_retry_after_when_retries_run_out() -> None:
    rec = Recorder(problem(429, "ER-0429", "slow down", **{"Retry-After": "3"}))
    client, _ = make(rec, retries=0)
    with pytest.raises(errors.RateLimited) as caught:
        client.persons.get("e")
    assert caught.value.retry_after == 3.0


def test_verify_is_a_read_only_post_and_is_retried() -> None:
    rec = Recorder(
        problem(503, "ER-0500", "down"),
        httpx.Response(
            200,
            json={
                "valid": False,
                "reason": "LOST",
                "cardNumber": "c",
                "issuer": {"identifier": "999999999", "name": "U", "country": "FR"},
                "expiresAt": "2030-01-01",
                "displayName": None,
                "checkedAt": "2026-11-23T10:00:00Z",
            },
        ),
    )
    client, _ = make(rec)
    verdict = client.verification.verify("https://router.example/cards/c")
    assert not verdict.valid and verdict.reason == "LOST"
    assert verdict.issuer == {"identifier": "999999999", "name": "U", "country": "FR"}
    assert json.loads(rec.requests[-1].content) == {"scanned": "https://router.example/cards/c"}


def test_pages_are_walked_until_the_last() -> None:
    def page(number: int, items: list[dict[str, Any]], total_pages: int) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "content": items,
                "empty": not items,
                "links": [],
                "page": {"number": number, "size": 2, "totalElements": 5, "totalPages": 3},
            },
        )

    rec = Recorder(
        page(0, [{"identifier": "a"}, {"identifier": "b"}], 3),
        page(1, [{"identifier": "c"}, {"identifier": "d"}], 3),
        page(2, [{"identifier": "e"}], 3),
    )
    client, _ = make(rec)
    found = [p["identifier"] for p in client.persons.list(size=2, sort="identifier")]
    assert found == ["a", "b", "c", "d", "e"]
    assert [r.url.params["page"] for r in rec.requests] == ["0", "1", "2"]
    assert rec.requests[0].url.params["size"] == "2"
    assert rec.requests[0].url.params["sort"] == "identifier"


def test_an_empty_list_costs_one_request() -> None:
    rec = Recorder(
        httpx.Response(
            200,
            json={"content": [], "empty": True, "page": {"number": 0, "totalPages": 0}},
        )
    )
    client, _ = make(rec)
    assert list(client.cards.list()) == []
    assert len(rec.requests) == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth_client(
    handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock
) -> RouterClient:
    client = RouterClient(
        "https://router.example",
        client_id="cid",
        client_secret="csecret",
        transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
    )
    assert client.oauth is not None
    client.oauth._clock = clock
    return client


def test_oauth_token_is_fetched_once_and_refreshed_before_expiry() -> None:
    issued: list[str] = []
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert request.headers["Authorization"].startswith("Basic ")
            assert b"grant_type=client_credentials" in request.content
            token = f"tok{len(issued)}"
            issued.append(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": 3600}
            )
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={})

    clock = FakeClock()
    client = oauth_client(handler, clock)
    client.cards.get("a")
    clock.now += 3000
    client.cards.get("b")
    clock.now += 580  # 20 s before expiry: inside the refresh margin
    client.cards.get("c")
    assert issued == ["tok0", "tok1"]
    assert seen == ["Bearer tok0", "Bearer tok0", "Bearer tok1"]


def test_oauth_token_refused_by_the_router_is_replaced_once() -> None:
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            issued.append("t")
            return httpx.Response(200, json={"access_token": f"t{len(issued)}", "expires_in": 60})
        if request.headers["Authorization"] == "Bearer t1":
            return problem(401, "SE-0001", "revoked")
        return httpx.Response(200, json={"ok": True})

    client = oauth_client(handler, FakeClock())
    assert client.cards.get("a") == {"ok": True}
    assert len(issued) == 2


def test_oauth_bad_client_secret_raises_unauthorized() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    client = oauth_client(handler, FakeClock())
    with pytest.raises(errors.Unauthorized):
        client.cards.get("a")


def test_api_key_and_oauth_are_exclusive() -> None:
    with pytest.raises(ValueError):
        RouterClient("https://r", api_key="k", client_id="c", client_secret="s")
    with pytest.raises(ValueError):
        RouterClient("https://r", client_id="c")


def test_qr_asks_for_the_chosen_media_type() -> None:
    rec = Recorder(httpx.Response(200, content=b"\x89PNG", headers={"Content-Type": "image/png"}))
    client, _ = make(rec)
    assert client.cards.qr("c", format="png", size="M") == b"\x89PNG"
    assert rec.requests[0].headers["Accept"] == "image/png"
    assert rec.requests[0].url.params["size"] == "M"


def test_lifecycle_actions_post_the_action() -> None:
    rec = Recorder(httpx.Response(200, json={"cardNumber": "c", "state": "LOST"}))
    client, _ = make(rec)
    assert client.cards.report_lost("c")["state"] == "LOST"
    assert rec.requests[0].url.path.endswith("/api/x/cards/c/lifecycle")
    assert json.loads(rec.requests[0].content) == {"action": "REPORT_LOST"}
    with pytest.raises(ValueError):
        client.cards.change_state("c", "EXPLODE")


def test_webhook_subscriptions_are_managed() -> None:
    rec = Recorder(
        httpx.Response(
            201,
            json={
                "id": "w1",
                "url": "https://sgc.example/hook",
                "events": ["card.status_changed"],
                "createdAt": "2026-11-23T10:00:00Z",
                "secret": "whsec",
            },
        ),
        httpx.Response(200, json=[{"id": "w1", "url": "https://sgc.example/hook", "events": []}]),
        httpx.Response(204),
    )
    client, _ = make(rec)
    hook = client.webhooks.create("https://sgc.example/hook")
    assert hook.secret == "whsec" and hook.events == ["card.status_changed"]
    assert [h.id for h in client.webhooks.list()] == ["w1"]
    client.webhooks.delete("w1")
    assert [r.method for r in rec.requests] == ["POST", "GET", "DELETE"]
    assert rec.requests[2].url.path == "/esc-rest/api/x/webhooks/w1"


def test_batch_refuses_more_than_500_items_before_sending() -> None:
    client, _ = make(Recorder())
    with pytest.raises(ValueError):
        client.persons.batch([{}] * 501)
