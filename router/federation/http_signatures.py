"""The federation's profile of HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530).

Built on the ``http-message-signatures`` library; this module only fixes what is signed and
checks what the library leaves to its caller (who may sign, how fresh, which request id).

A request between routers is signed (label ``escr``, tag ``escr-peer/1``, Ed25519, ``keyid`` =
the key's RFC 7638 thumbprint) over ``@method @authority @path @query date x-request-id
content-digest``: the body's SHA-256 digest is always covered, an empty body included. The
authority is the receiving router's own, as the catalogue gives it, so a request signed for one
router cannot be replayed to another; the request id is a fresh UUID that the receiver refuses to
see twice.

A response is signed over ``@status content-type x-request-id content-digest`` and, from the
request it answers, ``"@method";req "@authority";req "@path";req`` and the request's own
signature (``"signature";key="escr";req``): an answer cannot be replayed for another request, and
its ``x-request-id`` must echo the request's. Responses do not cover ``Date``: gunicorn adds its
own and proxies may rewrite it; the signed ``created`` time is checked instead, as in requests.

Freshness: the signature's ``created`` (and a request's ``Date``) must lie within the clock skew
of the local clock, both ways. Checked here with an injected ``now``, not by the library, so that
a stale message is told apart from a forged one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

LABEL = "escr"
TAG = "escr-peer/1"
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_COMPONENTS = (
    "@method",
    "@authority",
    "@path",
    "@query",
    "date",
    "x-request-id",
    "content-digest",
)
RESPONSE_COMPONENTS = (
    "@status",
    "content-type",
    "x-request-id",
    "content-digest",
    '"@method";req',
    '"@authority";req',
    '"@path";req',
    f'"signature";key="{LABEL}";req',
)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{16,64}$")
# The library's own time checks are switched off (see the module docstring).
_NO_LIBRARY_CLOCK = dt.timedelta(days=365 * 100)


class SignatureRefused(ValueError):
    """A message whose signature, digest or request id is missing, malformed or wrong."""


class UnknownKey(SignatureRefused):
    """A message signed with a key that the caller's resolver does not know."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"no trusted key {kid!r}")
        self.kid = kid


class StaleSignature(SignatureRefused):
    """A message signed, or dated, too far from the local clock."""


@dataclass
class SignableRequest:
    """A request as the library reads and writes it: method, absolute URL, header fields."""

    method: str
    url: str
    headers: Any = field(default_factory=dict)


@dataclass
class SignableResponse:
    """A response as the library reads and writes it, with the request it answers."""

    status_code: int
    headers: dict[str, str]
    request: Any


@dataclass(frozen=True)
class VerifiedMessage:
    """What a verified signature vouches for."""

    kid: str
    request_id: str
    created: dt.datetime


class _Resolver(HTTPSignatureKeyResolver):
    """Resolves key ids with a callable; signs with the one private key it is given."""

    def __init__(
        self,
        public: Callable[[str], Ed25519PublicKey | None] | None = None,
        private: Ed25519PrivateKey | None = None,
    ) -> None:
        self._public = public
        self._private = private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        key = self._public(key_id) if self._public else None
        if key is None:
            raise UnknownKey(key_id)
        return key

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        if self._private is None:
            raise HTTPMessageSignaturesException("no private key to sign with")
        return self._private


def http_date(moment: dt.datetime) -> str:
    """An IMF-fixdate for a ``Date`` header."""
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _check_fresh(moment: dt.datetime, now: dt.datetime, skew: dt.timedelta, what: str) -> None:
    if abs(now - moment) > skew:
        raise StaleSignature(
            f"the {what} ({moment.isoformat()}) is more than {int(skew.total_seconds())} s "
            f"from this router's clock ({now.isoformat()})"
        )


def sign_request(
    request: Any,
    body: bytes,
    *,
    key: Ed25519PrivateKey,
    kid: str,
    request_id: str,
    now: dt.datetime,
) -> None:
    """Add Date, X-Request-Id, Content-Digest and the signature to an outgoing request."""
    request.headers["Date"] = http_date(now)
    request.headers[REQUEST_ID_HEADER] = request_id
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(private=key)
    )
    signer.sign(
        request,
        key_id=kid,
        created=now,
        label=LABEL,
        tag=TAG,
        # The library adds content-digest, computed from ``body``, itself.
        covered_component_ids=tuple(c for c in REQUEST_COMPONENTS if c != "content-digest"),
        body=body,
    )


def sign_response(
    response: SignableResponse, body: bytes, *, key: Ed25519PrivateKey, kid: str, now: dt.datetime
) -> None:
    """Add Content-Digest and the signature to a response answering ``response.request``."""
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(private=key)
    )
    signer.sign(
        response,
        key_id=kid,
        created=now,
        label=LABEL,
        tag=TAG,
        covered_component_ids=tuple(c for c in RESPONSE_COMPONENTS if c != "content-digest"),
        body=body,
    )


def _verify(
    message: Any,
    body: bytes,
    required: Iterable[str],
    resolve: Callable[[str], Ed25519PublicKey | None],
    now: dt.datetime,
    skew: dt.timedelta,
) -> VerifiedMessage:
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(resolve)
    )
    verifier.max_clock_skew = _NO_LIBRARY_CLOCK
    try:
        results = verifier.verify(
            message, expect_tag=TAG, require_components=tuple(required), body=body, max_age=None
        )
    except InvalidSignature as error:
        if isinstance(error.__cause__, UnknownKey):
            raise error.__cause__ from None
        raise SignatureRefused(f"the signature does not verify: {error}") from error
    except HTTPMessageSignaturesException as error:
        raise SignatureRefused(f"the signature cannot be read: {error}") from error
    if len(results) != 1:
        raise SignatureRefused("exactly one federation signature is expected")
    parameters = results[0].parameters
    created = dt.datetime.fromtimestamp(int(parameters["created"]), dt.UTC)
    _check_fresh(created, now, skew, "signature's creation time")
    if "expires" in parameters and int(parameters["expires"]) < now.timestamp():
        raise StaleSignature("the signature has expired")
    request_id = results[0].covered_components.get('"x-request-id"', "")
    if not REQUEST_ID_PATTERN.match(request_id):
        raise SignatureRefused("the request id must be 16 to 64 letters, digits or hyphens")
    return VerifiedMessage(kid=str(parameters["keyid"]), request_id=request_id, created=created)


def verify_request(
    request: Any,
    body: bytes,
    *,
    resolve: Callable[[str], Ed25519PublicKey | None],
    now: dt.datetime,
    skew: dt.timedelta,
) -> VerifiedMessage:
    """Verify an incoming request's signature, digest, Date and request id."""
    verified = _verify(request, body, REQUEST_COMPONENTS, resolve, now, skew)
    date = _header(request.headers, "date")
    try:
        dated = email.utils.parsedate_to_datetime(date or "")
    except (TypeError, ValueError) as error:
        raise SignatureRefused("the Date header is missing or malformed") from error
    if dated.tzinfo is None:
        raise SignatureRefused("the Date header must be in GMT")
    _check_fresh(dated, now, skew, "Date header")
    return verified


def verify_response(
    response: Any,
    body: bytes,
    *,
    keys: Mapping[str, Ed25519PublicKey],
    request_id: str,
    now: dt.datetime,
    skew: dt.timedelta,
) -> VerifiedMessage:
    """Verify a peer's answer: signed with one of ``keys``, echoing ``request_id``."""
    verified = _verify(response, body, RESPONSE_COMPONENTS, keys.get, now, skew)
    if verified.request_id != request_id:
        raise SignatureRefused("the answer does not echo the request's id")
    return verified
