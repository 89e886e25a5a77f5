"""Checking that a webhook delivery comes from the router: ``X-Escr-Signature`` (HMAC-SHA256).

The router signs ``f"{timestamp}.".encode() + raw_body`` with the subscription's secret and sends
``X-Escr-Timestamp`` (unix seconds) and ``X-Escr-Signature: sha256=<hex>``. A receiver checks the
signature over the raw bytes it received (before any JSON parsing) and refuses old timestamps, so
that a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from sgc_client.errors import RouterClientError

SIGNATURE_HEADER = "X-Escr-Signature"
TIMESTAMP_HEADER = "X-Escr-Timestamp"
EVENT_ID_HEADER = "X-Escr-Event-Id"
DEFAULT_TOLERANCE = 300


class InvalidSignature(RouterClientError):
    """The delivery is not signed by the holder of the secret, or is too old (or too new)."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive; plain dicts are not.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Escr-Signature`` value for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a delivery's signature and age; return its timestamp or raise InvalidSignature."""
    timestamp_text = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp_text or not signature:
        raise InvalidSignature(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        timestamp = int(timestamp_text.strip())
    except ValueError as error:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not unix seconds") from error
    current = time.time() if now is None else now
    # A timestamp from the future is refused too: it would stay valid for longer than tolerated.
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerated window (possible replay)")
    expected = sign(secret, timestamp, body)
    # Several signatures may be sent during a secret rotation, separated by commas.
    candidates = [part.strip() for part in signature.split(",")]
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise InvalidSignature("signature does not match")
    return timestamp
