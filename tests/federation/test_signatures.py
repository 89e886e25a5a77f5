"""The RFC 9421 profile between routers: what is signed, and every change that is refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from hypothesis import given, settings
from hypothesis import strategies as st

from router.federation import http_signatures as hs
from router.federation.keys import generate_private_key, public_key_of

SKEW = dt.timedelta(minutes=5)
CALLER = generate_private_key()
PEER = generate_private_key()
CALLER_PUBLIC = public_key_of(CALLER.public_key())
PEER_PUBLIC = public_key_of(PEER.public_key())
AT = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.UTC)


def _request(
    body: bytes = b'{"cardNumber":"x"}', url: str = "https://b.example/api/x/peer?q=1"
) -> httpx.Request:
    request = httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})
    hs.sign_request(request, body, key=CALLER, kid=CALLER_PUBLIC.kid, request_id=str(uuid.uuid4()),
                    now=AT)
    return request


def _verify_request(
    request: httpx.Request, body: bytes, *, now: dt.datetime = AT
) -> hs.VerifiedMessage:
    return hs.verify_request(
        request, body, resolve={CALLER_PUBLIC.kid: CALLER_PUBLIC.key}.get, now=now, skew=SKEW
    )


def _sf_bytes(value: str) -> bytes:
    """The bytes of a Structured Field byte sequence ``:base64:``."""
    return base64.b64decode(value.split("=", 1)[1].strip(":"))


def test_the_signature_base_is_the_one_rfc_9421_prescribes() -> None:
    """Rebuild the signature base by hand from RFC 9421 section 2.5 and check the signature."""
    body = b'{"cardNumber":"x"}'
    request = _request(body)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert request.headers["Content-Digest"] == f"sha-256=:{digest}:"
    params = request.headers["Signature-Input"].removeprefix("escr=")
    assert params.startswith(
        '("@method" "@authority" "@path" "@query" "date" "x-request-id" "content-digest")'
    )
    assert f';created={int(AT.timestamp())};keyid="{CALLER_PUBLIC.kid}";alg="ed25519"' in params
    assert params.endswith(';tag="escr-peer/1"')
    base = "\n".join(
        [
            '"@method": POST',
            '"@authority": b.example',
            '"@path": /api/x/peer',
            '"@query": ?q=1',
            '"date": Tue, 24 Nov 2026 10:00:00 GMT',
            f'"x-request-id": {request.headers["X-Request-Id"]}',
            f'"content-digest": sha-256=:{digest}:',
            f'"@signature-params": {params}',
        ]
    )
    CALLER.public_key().verify(_sf_bytes(request.headers["Signature"]), base.encode())


def test_a_signed_request_verifies_and_names_its_key_and_id() -> None:
    request = _request()
    verified = _verify_request(request, request.content)
    assert verified.kid == CALLER_PUBLIC.kid
    assert verified.request_id == request.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: setattr(r, "method", "PUT"),
        lambda r: setattr(r, "url", httpx.URL("https://c.example/api/x/peer?q=1")),
        lambda r: setattr(r, "url", httpx.URL("https://b.example/api/x/other?q=1")),
        lambda r: setattr(r, "url", httpx.URL("https://b.example/api/x/peer?q=2")),
        lambda r: r.headers.__setitem__("X-Request-Id", str(uuid.uuid4())),
        lambda r: r.headers.__setitem__("Date", "Tue, 24 Nov 2026 10:00:01 GMT"),
        lambda r: r.headers.__setitem__("Content-Digest", "sha-256=:" + "A" * 43 + "=:"),
        lambda r: r.headers.__delitem__("Signature"),
    ],
    ids=["method", "authority", "path", "query", "request-id", "date", "digest", "unsigned"],
)
def test_any_change_to_a_covered_part_is_refused(tamper: Callable[[httpx.Request], object]) -> None:
    request = _request()
    tamper(request)
    with pytest.raises(hs.SignatureRefused):
        _verify_request(request, request.content)


def test_a_changed_body_is_refused() -> None:
    request = _request(b'{"cardNumber":"x"}')
    with pytest.raises(hs.SignatureRefused, match="Content-Digest"):
        _verify_request(request, b'{"cardNumber":"y"}')


def test_an_unknown_key_is_told_apart() -> None:
    request = _request()
    with pytest.raises(hs.UnknownKey) as refused:
        hs.verify_request(request, request.content, resolve=lambda kid: None, now=AT, skew=SKEW)
    assert refused.value.kid == CALLER_PUBLIC.kid


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-6), dt.timedelta(minutes=6)])
def test_requests_outside_the_clock_skew_are_stale(offset: dt.timedelta) -> None:
    request = _request()
    with pytest.raises(hs.StaleSignature):
        _verify_request(request, request.content, now=AT + offset)


def test_requests_within_the_skew_pass_both_ways() -> None:
    request = _request()
    for offset in (dt.timedelta(minutes=-4, seconds=-59), dt.timedelta(minutes=4, seconds=59)):
        _verify_request(request, request.content, now=AT + offset)


def test_a_stale_date_header_is_refused_even_with_a_fresh_signature() -> None:
    request = httpx.Request("GET", "https://b.example/x")
    request.headers["Date"] = hs.http_date(AT - dt.timedelta(minutes=10))
    request.headers["X-Request-Id"] = str(uuid.uuid4())
    # Signed now, over the old Date, with the library directly (our signer always dates now).
    resolver = MappingKeyResolver(private_keys={CALLER_PUBLIC.kid: CALLER}, public_keys={})
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=resolver).sign(
        request, key_id=CALLER_PUBLIC.kid, created=AT, label=hs.LABEL, tag=hs.TAG, body=b"",
        covered_component_ids=[c for c in hs.REQUEST_COMPONENTS if c != "content-digest"],
    )
    with pytest.raises(hs.StaleSignature, match="Date header"):
        _verify_request(request, b"")


def _answer(
    request: httpx.Request,
    *,
    key: Ed25519PrivateKey = PEER,
    status: int = 200,
    body: bytes = b'{"ok":true}',
    echo: str | None = None,
) -> httpx.Response:
    response = hs.SignableResponse(
        status_code=status,
        headers={"Content-Type": "application/json",
                 "X-Request-Id": echo or request.headers["X-Request-Id"]},
        request=request,
    )
    hs.sign_response(response, body, key=key, kid=public_key_of(key.public_key()).kid, now=AT)
    return httpx.Response(status, headers=response.headers, content=body, request=request)


def _verify_answer(
    response: httpx.Response, request: httpx.Request, **kwargs: Any
) -> hs.VerifiedMessage:
    return hs.verify_response(
        response,
        response.content,
        keys=kwargs.pop("keys", {PEER_PUBLIC.kid: PEER_PUBLIC.key}),
        request_id=request.headers["X-Request-Id"],
        now=kwargs.pop("now", AT),
        skew=SKEW,
    )


def test_a_signed_answer_verifies_and_is_bound_to_its_request() -> None:
    request = _request()
    answer = _answer(request)
    assert _verify_answer(answer, request).kid == PEER_PUBLIC.kid
    covered = answer.headers["Signature-Input"]
    assert '"signature";key="escr";req' in covered and '"@status"' in covered


def test_an_answer_signed_with_another_key_is_refused() -> None:
    request = _request()
    with pytest.raises(hs.UnknownKey):
        _verify_answer(_answer(request, key=generate_private_key()), request)


def test_an_answer_replayed_for_another_request_is_refused() -> None:
    first, second = _request(), _request()
    answer = _answer(first)
    replayed = httpx.Response(200, headers=answer.headers, content=answer.content, request=second)
    with pytest.raises(hs.SignatureRefused):
        hs.verify_response(replayed, replayed.content, keys={PEER_PUBLIC.kid: PEER_PUBLIC.key},
                           request_id=second.headers["X-Request-Id"], now=AT, skew=SKEW)


def test_an_answer_that_does_not_echo_the_request_id_is_refused() -> None:
    request = _request()
    answer = _answer(request, echo=str(uuid.uuid4()))
    with pytest.raises(hs.SignatureRefused, match="echo"):
        _verify_answer(answer, request)


def test_a_changed_status_or_body_in_an_answer_is_refused() -> None:
    request = _request()
    answer = _answer(request)
    forged = httpx.Response(404, headers=answer.headers, content=answer.content, request=request)
    with pytest.raises(hs.SignatureRefused):
        _verify_answer(forged, request)
    swapped = httpx.Response(200, headers=answer.headers, content=b'{"ok":false}', request=request)
    with pytest.raises(hs.SignatureRefused):
        _verify_answer(swapped, request)


def test_a_stale_answer_is_refused() -> None:
    request = _request()
    with pytest.raises(hs.StaleSignature):
        _verify_answer(_answer(request), request, now=AT + dt.timedelta(minutes=6))


@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(max_size=2000),
    path=st.from_regex(r"/[a-z0-9/_-]{0,40}", fullmatch=True),
    flip=st.integers(min_value=0),
)
def test_any_body_and_path_round_trip_and_any_flipped_byte_is_refused(
    body: bytes, path: str, flip: int
) -> None:
    request = _request(body, url=f"https://b.example{path}")
    _verify_request(request, body)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        with pytest.raises(hs.SignatureRefused):
            _verify_request(request, changed)


def test_the_request_id_must_look_like_an_id() -> None:
    request = httpx.Request("GET", "https://b.example/x")
    hs.sign_request(request, b"", key=CALLER, kid=CALLER_PUBLIC.kid, request_id="short", now=AT)
    with pytest.raises(hs.SignatureRefused, match="request id"):
        _verify_request(request, b"")
    assert re.match(hs.REQUEST_ID_PATTERN, str(uuid.uuid4()))
