"""Other institutions' public keys, from the router's directory, optionally pinned.

The router serves every institution's JWKS. Trusting it blindly would let a dishonest router put
its own key in an institution's name, then read the DAM key meant for the host or forge a
decision. So keys can be *pinned*: for a PIC with pins, only keys whose RFC 7638 thumbprint is
pinned are used, whatever the router serves (exchange thumbprints with partner institutions out of
band, or from the federation's signed catalogue). PICs without pins trust the router's directory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sgc_client.delegation.api import PublicKeys
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError, Refusal

# How long a fetched JWKS is used before it is fetched again.
CACHE_SECONDS = 300.0


class UntrustedKey(ProtocolError):
    """The directory names no usable key: unknown, revoked, or not among the pinned ones."""

    def __init__(self, message: str) -> None:
        super().__init__(Refusal.BAD_SIGNATURE, message)


@dataclass
class _Entry:
    fetched_at: float
    keys: list[jose.PublicKey]


@dataclass
class KeyResolver:
    """Finds an institution's signing key by kid, or its encryption key, with pins and a cache."""

    public_keys: PublicKeys
    pins: Mapping[str, Iterable[str]] = field(default_factory=dict)
    cache_seconds: float = CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, _Entry] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def _fetch(self, pic: str) -> list[jose.PublicKey]:
        document: Mapping[str, Any] = self.public_keys.jwks(pic)
        keys = []
        for member in document.get("keys") or []:
            try:
                keys.append(jose.public_key_from_jwk(member))
            except ProtocolError:
                continue  # one bad entry does not hide the others
        pinned = {str(p) for p in self.pins.get(pic, ())}
        return [k for k in keys if k.thumbprint in pinned] if pinned else keys

    def keys_of(self, pic: str, *, refresh: bool = False) -> list[jose.PublicKey]:
        """The usable active keys of ``pic`` (fetched at most every ``cache_seconds``)."""
        with self._lock:
            entry = self._cache.get(pic)
            if refresh or entry is None or self.clock() - entry.fetched_at > self.cache_seconds:
                entry = _Entry(self.clock(), self._fetch(pic))
                self._cache[pic] = entry
            return entry.keys

    def signing_key(self, pic: str, kid: str) -> jose.PublicKey:
        """``pic``'s active signing key ``kid`` (fetched again once if the cache lacks it)."""
        for refresh in (False, True):
            for key in self.keys_of(pic, refresh=refresh):
                if key.use == "sig" and key.kid == kid:
                    return key
        raise UntrustedKey(f"{pic} has no active, trusted signing key {kid!r}")

    def encryption_key(self, pic: str) -> jose.PublicKey:
        """``pic``'s newest active, trusted encryption key."""
        candidates = [k for k in self.keys_of(pic) if k.use == "enc"]
        if not candidates:
            candidates = [k for k in self.keys_of(pic, refresh=True) if k.use == "enc"]
        if not candidates:
            raise UntrustedKey(f"{pic} has no active, trusted encryption key")
        # The directory lists keys oldest first; the newest is the one its owner wants used.
        return candidates[-1]

    def verify(self, message: jose.SignedMessage, pic: str) -> None:
        """Check that ``message`` is signed by an active, trusted key of ``pic``."""
        jose.verify_compact(message, self.signing_key(pic, message.kid))
