"""A router's identity in the federation: its id, its base URL and its signing key.

The id defaults to the host (and port) of the router's public URL; the key is the Ed25519 key that
``escr-admin router init`` wrote in the instance folder (or where the operator said). The
identity document, served without authentication, is what the federation authority reads to list
the router in the catalogue: id, base URL, public keys with their ids, and the PICs it hosts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from router.federation.keys import PublicKey, public_key_of, read_private_key
from router.federation.settings import FederationSettings


def default_router_id(public_url: str) -> str:
    """The host[:port] of the public URL, lower-case: the router id when none is set."""
    return urlsplit(public_url).netloc.lower().rsplit("@", 1)[-1]


@dataclass(frozen=True)
class RouterIdentity:
    """A router's own id, base URL and signing key."""

    router_id: str
    base_url: str
    private_key: Ed25519PrivateKey
    public: PublicKey

    @classmethod
    def load(
        cls, settings: FederationSettings, *, instance_path: Path, public_url: str
    ) -> RouterIdentity | None:
        """The identity, or None when no key file exists yet (``escr-admin router init``)."""
        path = settings.key_path(instance_path)
        if not path.exists():
            return None
        key = read_private_key(path)
        return cls(
            router_id=settings.router_id or default_router_id(public_url),
            base_url=public_url.rstrip("/"),
            private_key=key,
            public=public_key_of(key.public_key()),
        )

    def document(self, pics: Iterable[str]) -> dict[str, Any]:
        """The identity document: what the authority needs to list this router."""
        return {
            "id": self.router_id,
            "baseUrl": self.base_url,
            "keys": [{"kid": self.public.kid, "jwk": dict(self.public.jwk)}],
            "pics": sorted(set(pics)),
        }
