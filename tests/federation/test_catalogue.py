"""The catalogue's rules and signature: what a router trusts, and everything it refuses."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.federation.catalogue import (
    Catalogue,
    RouterEntry,
    check_succession,
    payload_json,
    sign_payload,
    verify_catalogue,
)
from router.federation.keys import generate_private_key, public_key_of
from router.federation.peer_errors import CatalogueExpired, CatalogueRollback, InvalidCatalogue
from tests.federation.factories import Authority, PeerRouter, now

A = PeerRouter("router-a", "https://a.example", ("111111111", "111111112"))
B = PeerRouter("router-b", "https://b.example/esc-rest", ("222222222",))


def _verify(document: bytes, authority: Authority, **kwargs: Any) -> Catalogue:
    return verify_catalogue(document, [authority.public], now=kwargs.pop("at", now()), **kwargs)


def test_a_signed_catalogue_verifies_and_indexes_routers_by_pic_id_and_key() -> None:
    authority = Authority()
    catalogue = _verify(authority.sign([A.entry(), B.entry()]), authority)
    assert catalogue.serial == 1
    assert catalogue.host_of("222222222").id == "router-b"
    assert catalogue.host_of("111111112").id == "router-a"
    assert catalogue.host_of("333333333") is None
    assert catalogue.router("router-b").url("/api/x") == "https://b.example/esc-rest/api/x"
    router, key = catalogue.key(A.public.kid)
    assert router.id == "router-a" and key.kid == A.public.kid


def test_another_authoritys_signature_is_refused() -> None:
    document = Authority().sign([A.entry()])
    with pytest.raises(InvalidCatalogue, match="not signed by the configured authority"):
        _verify(document, Authority())


def _envelope(document: bytes) -> dict:
    return json.loads(document)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_payload_changed_after_signing_is_refused() -> None:
    authority = Authority()
    envelope = _envelope(authority.sign([A.entry()]))
    payload = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    payload["routers"][0]["pics"].append("999999999")
    envelope["payload"] = _b64(json.dumps(payload).encode())
    with pytest.raises(InvalidCatalogue, match="signature does not verify"):
        _verify(json.dumps(envelope).encode(), authority)


@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.sampled_from("ABCabc012-_"))
def test_any_change_to_the_signed_payload_is_refused(position: int, replacement: str) -> None:
    authority = Authority()
    envelope = _envelope(authority.sign([A.entry(), B.entry()]))
    payload = envelope["payload"]
    index = position % len(payload)
    if payload[index] == replacement:
        return
    envelope["payload"] = payload[:index] + replacement + payload[index + 1 :]
    with pytest.raises(InvalidCatalogue):
        _verify(json.dumps(envelope).encode(), authority)


@pytest.mark.parametrize(
    "document",
    [b"not json", b"[]", b'{"payload": "x"}', b'{"payload": "", "protected": "", "signature": ""}'],
)
def test_malformed_documents_are_refused(document: bytes) -> None:
    with pytest.raises(InvalidCatalogue):
        _verify(document, Authority())


def test_an_expired_catalogue_is_refused_and_says_so() -> None:
    authority = Authority()
    document = authority.sign([A.entry()], issued_at=now() - dt.timedelta(days=8))
    with pytest.raises(CatalogueExpired):
        _verify(document, authority)


def test_a_catalogue_issued_in_the_future_is_refused() -> None:
    authority = Authority()
    document = authority.sign([A.entry()], issued_at=now() + dt.timedelta(hours=1))
    with pytest.raises(InvalidCatalogue, match="future"):
        _verify(document, authority)


def _sign_raw(authority: Authority, routers: list[dict], **members: str) -> bytes:
    payload = {
        "format": "escr-federation-catalogue/1",
        "serial": 1,
        "issuedAt": "2020-01-01T00:00:00Z",
        "validUntil": "2999-01-01T00:00:00Z",
        "routers": routers,
        **members,
    }
    return sign_payload(json.dumps(payload).encode(), authority.key)


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        ("validUntil", "9999-12-31T23:00:00-14:00", "validUntil is past year 9999 in UTC"),
        ("issuedAt", "2020-01-01T00:00:00", "issuedAt has no time zone"),
        ("issuedAt", "yesterday", "issuedAt is not a timestamp"),
    ],
)
def test_a_catalogue_time_that_names_no_moment_in_utc_is_refused(
    member: str, value: str, message: str
) -> None:
    # The first was an OverflowError past the catalogue's own error.
    authority = Authority()
    document = _sign_raw(authority, [A.entry().as_json()], **{member: value})
    with pytest.raises(InvalidCatalogue, match=message):
        _verify(document, authority)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, b: b.update(pics=a["pics"]), "PIC 111111111 is claimed by router-a and by"),
        (lambda a, b: b.update(id=a["id"]), "id router-a is claimed"),
        (lambda a, b: b.update(baseUrl=a["baseUrl"]), "baseUrl https://a.example is claimed"),
        (lambda a, b: b.update(keys=a["keys"]), "kid .* is claimed"),
        (lambda a, b: b["keys"][0].update(kid="forged"), "not its key's thumbprint"),
        (lambda a, b: b["keys"][0]["jwk"].update(d="AAAA"), "must not carry the private key"),
        (lambda a, b: b.update(baseUrl="http://b.example"), "must be an absolute https URL"),
        (lambda a, b: b.update(baseUrl="https://b.example/?x=1"), "no credentials, query"),
        (lambda a, b: b.update(pics=["12345"]), "nine decimal digits"),
        (lambda a, b: b.update(id="no spaces"), "router id"),
        (lambda a, b: b.update(keys=[]), "at least one key"),
    ],
)
def test_the_catalogues_rules_are_enforced(
    change: Callable[[dict[str, Any], dict[str, Any]], object], message: str
) -> None:
    authority = Authority()
    a, b = A.entry().as_json(), B.entry().as_json()
    change(a, b)
    with pytest.raises(InvalidCatalogue, match=message):
        _verify(_sign_raw(authority, [a, b]), authority)


def test_http_base_urls_are_accepted_only_when_insecure_mode_is_on() -> None:
    authority = Authority()
    entry = PeerRouter("local", "http://127.0.0.1:8080", ("111111111",)).entry()
    document = authority.sign([entry])
    with pytest.raises(InvalidCatalogue):
        _verify(document, authority)
    assert _verify(document, authority, allow_insecure=True).router("local") is not None


def test_an_older_catalogue_cannot_replace_a_newer_one() -> None:
    authority = Authority()
    older = _verify(authority.sign([A.entry(), B.entry()]), authority)
    newer = _verify(authority.sign([A.entry()]), authority)
    check_succession(older, newer)
    check_succession(newer, newer)
    with pytest.raises(CatalogueRollback):
        check_succession(newer, older)
    # The same serial with other content is a conflict, not a refresh.
    forged = _verify(authority.sign([B.entry()], serial=newer.serial), authority)
    with pytest.raises(CatalogueRollback):
        check_succession(newer, forged)


pics = st.lists(st.from_regex(r"[0-9]{9}", fullmatch=True), min_size=0, max_size=4, unique=True)


@settings(max_examples=30, deadline=None)
@given(layout=st.lists(pics, min_size=1, max_size=5))
def test_any_valid_catalogue_round_trips_through_signing(layout: list[list[str]]) -> None:
    seen: set[str] = set()
    routers = []
    for index, router_pics in enumerate(layout):
        mine = tuple(p for p in router_pics if p not in seen)
        seen.update(mine)
        key = public_key_of(generate_private_key().public_key())
        routers.append(
            RouterEntry(f"r{index}", f"https://r{index}.example", (key,), frozenset(mine))
        )
    authority = Authority()
    catalogue = _verify(authority.sign(routers), authority)
    assert sorted(catalogue.routers, key=lambda r: r.id) == sorted(routers, key=lambda r: r.id)
    for router in routers:
        for pic in router.pics:
            assert catalogue.host_of(pic).id == router.id


def test_payload_is_canonical_json_with_routers_sorted() -> None:
    payload = json.loads(
        payload_json([B.entry(), A.entry()], serial=3, issued_at=now(), valid_until=now())
    )
    assert [r["id"] for r in payload["routers"]] == ["router-a", "router-b"]
    assert payload["format"] == "escr-federation-catalogue/1" and payload["serial"] == 3


b64ish = st.text(alphabet=st.sampled_from("ABCXYZabcxyz0189-_=."), max_size=80)


@settings(max_examples=150, deadline=None)
@given(
    document=st.binary(max_size=200)
    | st.fixed_dictionaries(
        {"protected": b64ish, "payload": b64ish, "signature": b64ish}
    ).map(lambda d: json.dumps(d).encode())
)
def test_garbage_is_refused_as_an_invalid_catalogue_and_nothing_else(document: bytes) -> None:
    with pytest.raises(InvalidCatalogue):
        _verify(document, Authority())


# JSON Python's parser cannot read although it is JSON: nested past the recursion limit, or an
# integer past 4300 digits. Both raised past the catalogue's own error (a RecursionError, a
# ValueError), where a catalogue source serving them must be refused like any other garbage.
UNREADABLE_JSON = [b"[" * 20_000 + b"]" * 20_000, b'{"serial": ' + b"9" * 5000 + b"}"]


@pytest.mark.parametrize("document", UNREADABLE_JSON)
def test_a_document_json_cannot_read_is_an_invalid_catalogue(document: bytes) -> None:
    with pytest.raises(InvalidCatalogue, match="not JSON"):
        _verify(document, Authority())


@pytest.mark.parametrize("payload", UNREADABLE_JSON)
def test_a_signed_payload_json_cannot_read_is_an_invalid_catalogue(payload: bytes) -> None:
    authority = Authority()
    with pytest.raises(InvalidCatalogue, match="not JSON"):
        _verify(sign_payload(payload, authority.key), authority)
