"""The secrets inside delegation messages, each sealed (JWE) to the one party that may open it.

- ``appKey``: the new application's default key and version, from the host to the home (EncK).
- ``damAuthKey``: the card's DAM auth key (PICC key 0x10), from the home to the host.

Each names the request it belongs to (and the card), so neither can be moved to another request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sgc_client.protocol import jose
from sgc_client.protocol.claims import malformed, member, normalise_hex, request_id_of
from sgc_client.protocol.errors import ProtocolError, Refusal

APP_KEY_TYPE = "escr-app-key+json"
DAM_AUTH_KEY_TYPE = "escr-dam-auth-key+json"


def _key_bytes(claims: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(normalise_hex(claims.get("key"), "key", (16,)))


@dataclass(frozen=True)
class AppKeySecret:
    """The new application's default key and version, for the home's EncK."""

    request_id: str
    key: bytes = field(repr=False)
    key_version: int

    def seal(self, home_key: jose.PublicKey) -> str:
        """Encrypt to the home's encryption key."""
        payload = {
            "requestId": self.request_id,
            "key": self.key.hex().upper(),
            "keyVersion": self.key_version,
        }
        return jose.encrypt_compact(payload, home_key, APP_KEY_TYPE)

    @classmethod
    def open(cls, compact: str, home_key: jose.PrivateKey, request_id: str) -> AppKeySecret:
        """Decrypt with the home's key; refuse a secret made for another request."""
        claims = jose.decrypt_compact(compact, home_key, APP_KEY_TYPE)
        version = member(claims, "keyVersion", int)
        if not 0 <= version <= 0xFF:
            raise malformed("keyVersion is 0..255")
        if request_id_of(claims.get("requestId"), "requestId") != request_id:
            raise ProtocolError(
                Refusal.NOT_BOUND, "the application key was sealed for another request"
            )
        return cls(request_id=request_id, key=_key_bytes(claims), key_version=version)


@dataclass(frozen=True)
class DamAuthKeySecret:
    """The card's DAM authentication key (PICC key 0x10), for the host only."""

    request_id: str
    uid: str
    key: bytes = field(repr=False)

    def seal(self, host_key: jose.PublicKey) -> str:
        """Encrypt to the host's encryption key."""
        payload = {"requestId": self.request_id, "uid": self.uid, "key": self.key.hex().upper()}
        return jose.encrypt_compact(payload, host_key, DAM_AUTH_KEY_TYPE)

    @classmethod
    def open(
        cls, compact: str, host_key: jose.PrivateKey, request_id: str, uid: str
    ) -> DamAuthKeySecret:
        """Decrypt with the host's key; refuse a key made for another request or card."""
        claims = jose.decrypt_compact(compact, host_key, DAM_AUTH_KEY_TYPE)
        if (
            request_id_of(claims.get("requestId"), "requestId") != request_id
            or normalise_hex(claims.get("uid"), "uid", (4, 7, 10)) != uid
        ):
            raise ProtocolError(Refusal.NOT_BOUND, "the DAM key was sealed for another request")
        return cls(request_id=request_id, uid=uid, key=_key_bytes(claims))
