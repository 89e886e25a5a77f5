"""A brief, bounded memory of peers' successful public answers about foreign cards.

Pure, with an injected clock. An entry lives for the shorter of this router's setting and the
``max-age`` the issuing router allowed, so the issuer decides how stale an answer about its cards
may get: a card reported lost at its home router may still read as it was, on another router, for
at most that long (30 seconds by default), then every router asks the home again. Only public
answers are kept (no holder name, nothing personal), at most ``max_entries`` of them, the least
recently used dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class StatusCache(Generic[V]):
    """A thread-safe LRU map whose entries expire."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max(0, max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The live value under ``key``, or None (an expired one is dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: V, *, max_age: float | None = None) -> None:
        """Keep ``value`` for the shorter of the TTL and ``max_age``; 0 keeps nothing."""
        lifetime = self.ttl_seconds if max_age is None else min(self.ttl_seconds, max_age)
        if lifetime <= 0 or self.max_entries == 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + lifetime, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
