from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from sgc_client.webhooks import InvalidSignature, sign, verify_signature

SECRET = "whsec_test"
BODY = json.dumps(
    {
        "id": "5f0c6f3e-2d1c-4a55-9d57-3c1b1f1a0e01",
        "type": "card.status_changed",
        "occurredAt": "2026-11-23T10:00:00Z",
        "data": {"cardNumber": "x", "state": "LOST", "cardStatusType": "INACTIVE"},
    }
).encode()
NOW = 1_800_000_000


def headers(timestamp: int = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Escr-Event-Id": "5f0c6f3e-2d1c-4a55-9d57-3c1b1f1a0e01",
        "X-Escr-Timestamp": str(timestamp),
        "X-Escr-Signature": sign(secret, timestamp, body),
    }


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"sha256={expected}"


def test_a_genuine_delivery_is_accepted_and_its_timestamp_returned() -> None:
    assert verify_signature(SECRET, headers(), BODY, now=NOW + 10) == NOW


def test_header_names_are_matched_whatever_their_case() -> None:
    lowered = {k.lower(): v for k, v in headers().items()}
    assert verify_signature(SECRET, lowered, BODY, now=NOW) == NOW


def test_a_changed_body_is_refused() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, headers(), BODY.replace(b"LOST", b"ACTIVE"), now=NOW)


def test_another_secret_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature("other", headers(), BODY, now=NOW)


def test_a_delivery_older_than_five_minutes_is_refused_as_a_replay() -> None:
    with pytest.raises(InvalidSignature, match="window"):
        verify_signature(SECRET, headers(), BODY, now=NOW + 301)
    assert verify_signature(SECRET, headers(), BODY, now=NOW + 300) == NOW


def test_a_timestamp_far_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidSignature, match="window"):
        verify_signature(SECRET, headers(NOW + 3600), BODY, now=NOW)


def test_tolerance_can_be_narrowed() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, headers(), BODY, tolerance=5, now=NOW + 6)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    forged = headers()
    forged["X-Escr-Timestamp"] = str(NOW + 1)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, forged, BODY, now=NOW)


@pytest.mark.parametrize("missing", ["X-Escr-Timestamp", "X-Escr-Signature"])
def test_missing_headers_are_refused(missing: str) -> None:
    partial = headers()
    del partial[missing]
    with pytest.raises(InvalidSignature, match="missing"):
        verify_signature(SECRET, partial, BODY, now=NOW)


def test_a_non_numeric_timestamp_is_refused() -> None:
    bad = headers()
    bad["X-Escr-Timestamp"] = "yesterday"
    with pytest.raises(InvalidSignature, match="unix seconds"):
        verify_signature(SECRET, bad, BODY, now=NOW)


def test_one_of_several_signatures_may_match_during_a_secret_rotation() -> None:
    rotating = headers()
    rotating["X-Escr-Signature"] = (
        sign("old-secret", NOW, BODY) + ", " + rotating["X-Escr-Signature"]
    )
    assert verify_signature(SECRET, rotating, BODY, now=NOW) == NOW
