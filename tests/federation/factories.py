"""Builders of federation test material: keys, entries, signed catalogues and requests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from router.federation.catalogue import RouterEntry, payload_json, sign_payload
from router.federation.http_signatures import sign_request
from router.federation.keys import PublicKey, generate_private_key, public_key_of


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class PeerRouter:
    """A router's id, URL, PICs and key, as a test needs them on both sides."""

    id: str
    base_url: str
    pics: tuple[str, ...]
    key: Ed25519PrivateKey = field(default_factory=generate_private_key)

    @property
    def public(self) -> PublicKey:
        return public_key_of(self.key.public_key())

    def entry(self, *, key: Ed25519PrivateKey | None = None) -> RouterEntry:
        public = public_key_of((key or self.key).public_key())
        return RouterEntry(self.id, self.base_url, (public,), frozenset(self.pics))

    def signed_request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        *,
        at: dt.datetime | None = None,
        request_id: str | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> httpx.Request:
        """A request signed by this router, as a peer would send it."""
        headers = {"Accept": "application/json"}
        if body:
            headers["Content-Type"] = "application/json"
        request = httpx.Request(method, url, content=body, headers=headers)
        signing_key = key or self.key
        sign_request(
            request,
            body,
            key=signing_key,
            kid=public_key_of(signing_key.public_key()).kid,
            request_id=request_id or str(uuid.uuid4()),
            now=at or now(),
        )
        return request


@dataclass
class Authority:
    """A federation authority: its key, and catalogues it signs."""

    key: Ed25519PrivateKey = field(default_factory=generate_private_key)
    serial: int = 0

    @property
    def public(self) -> PublicKey:
        return public_key_of(self.key.public_key())

    def sign(
        self,
        routers: list[RouterEntry],
        *,
        serial: int | None = None,
        issued_at: dt.datetime | None = None,
        valid_for: dt.timedelta = dt.timedelta(days=7),
    ) -> bytes:
        if serial is None:
            self.serial += 1
            serial = self.serial
        issued = issued_at or now()
        payload = payload_json(
            routers, serial=serial, issued_at=issued, valid_until=issued + valid_for
        )
        return sign_payload(payload, self.key)
