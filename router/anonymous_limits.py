"""The rate limit of anonymous lookups (the public card page, the v2 status), per client address.

Counted by `limits`, the library under Flask-Limiter, in the store ``ESCR_RATE_LIMIT_STORAGE``
names: the process's memory in the embedded set-up (one gunicorn process with threads, so one
count), Redis when several workers or hosts serve (one count for all of them). Nothing is written
to the database. The address is the connection's peer; behind reverse proxies,
``ESCR_TRUSTED_PROXIES`` makes it the client the proxies name (werkzeug's ProxyFix).

When the store cannot be reached, lookups are let through: the limit protects against abuse,
and a student's card must still be checkable. Each such lookup is counted in
``escr_rate_limit_store_errors_total`` and logged at most once a minute per process.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from router import metrics
from router.domain.errors import RateLimited
from router.logs import get_logger
from router.settings import Settings

# The clock Retry-After is computed with; the tests move it with the memory store's clock.
clock: Callable[[], float] = time.time
log = get_logger(__name__)
STORE_ERROR_LOG_INTERVAL = 60.0


class SweptMemoryStorage(MemoryStorage):
    """limits' memory store, its expired counts swept inline at most once a second.

    The parent sweeps from a timer thread it starts 10 ms after a count whenever none runs: under
    steady load a new thread every 10 ms, each start a hand-over of the GIL on the request path.
    Counts stay exact without the sweep (an expired count is dropped when next read); the sweep
    only bounds memory, which once a second does as well.
    """

    SWEEP_INTERVAL = 1.0

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: str
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = 0.0
        self._sweeping = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the parent's timer start
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_INTERVAL
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        finally:
            self._sweeping.release()


def _storage(uri: str, **options: Any) -> Storage:
    if uri.startswith("memory://"):
        return SweptMemoryStorage(uri, wrap_exceptions=True)
    return storage_from_string(uri, **options)


# Stores whose client may be one connection of its own (redis-py's single_connection_client):
# plain Redis; Sentinel and Cluster clients manage their connections themselves.
_SINGLE_CONNECTION_SCHEMES = ("redis://", "rediss://", "redis+unix://")


class AnonymousLimiter:
    """Counts anonymous lookups per client address against ``ESCR_PUBLIC_RATE_LIMIT``.

    On plain Redis each serving thread counts through a client of its own holding one connection:
    a pooled client checks a connection out, for unread replies, and back in around each command.
    """

    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage
        options: dict[str, Any] = {"wrap_exceptions": True}
        if uri.startswith(("redis", "rediss")):
            options["key_prefix"] = settings.rate_limit_prefix
        # Built once here whatever the store, so that a bad URI is refused at start (a pooled
        # client connects on first use, not now).
        shared = _storage(uri, **options)
        per_thread = uri.startswith(_SINGLE_CONNECTION_SCHEMES)
        if per_thread:
            # A pooled client checks a connection before lending it; one of a thread's own is
            # not checked, so a command on a connection Redis dropped is sent again once on a
            # new one (should Redis have counted it before the drop, the lookup counts twice).
            options.update(
                single_connection_client=True,
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
        self._new_storage = functools.partial(_storage, uri, **options)
        # One count per process on the memory store: one strategy for every thread.
        self._shared = None if per_thread else FixedWindowRateLimiter(shared)
        self._local = threading.local()
        self.rates = settings.public_rates
        self._last_store_error = -math.inf
        self._lock = threading.Lock()

    def _strategy(self) -> FixedWindowRateLimiter:
        """The calling thread's counting strategy; StorageError if its store is unreachable."""
        if self._shared is not None:
            return self._shared
        strategy = getattr(self._local, "strategy", None)
        if strategy is None:
            try:
                storage = self._new_storage()
            except RedisError as error:  # a client of one connection connects at once
                raise StorageError(error) from error
            strategy = self._local.strategy = FixedWindowRateLimiter(storage)
        return strategy

    def hit(self, address: str) -> None:
        """Count one lookup from ``address``; raise :class:`RateLimited` past any limit."""
        try:
            strategy = self._strategy()
            refused = [rate for rate in self.rates if not strategy.hit(rate, "anon", address)]
            retry_after = max(
                (strategy.get_window_stats(r, "anon", address).reset_time for r in refused),
                default=0.0,
            )
        except StorageError as error:
            self._store_failed(error)
            metrics.child(metrics.PUBLIC_LOOKUPS, "allowed").inc()
            return
        if not refused:
            metrics.child(metrics.PUBLIC_LOOKUPS, "allowed").inc()
            return
        metrics.child(metrics.PUBLIC_LOOKUPS, "refused").inc()
        seconds = max(1, math.ceil(retry_after - clock()))
        tightest = min(refused, key=lambda rate: rate.get_expiry())
        raise RateLimited(
            f"At most {tightest.amount} anonymous lookups per {tightest.get_expiry()} seconds "
            f"from one address; try again in {seconds} seconds, or use an API key.",
            retry_after=seconds,
        )

    def _store_failed(self, error: StorageError) -> None:
        metrics.RATE_LIMIT_STORE_ERRORS.inc()
        now = time.monotonic()
        with self._lock:
            if now - self._last_store_error < STORE_ERROR_LOG_INTERVAL:
                return
            self._last_store_error = now
        log.warning(
            "rate-limit store unreachable; anonymous lookups are not limited",
            store_error=type(error.storage_error).__name__,
        )


def limit_anonymous_lookup() -> None:
    """Count this anonymous request; raise RateLimited (429, Retry-After) past the limit."""
    limiter: AnonymousLimiter = current_app.extensions["escr.anonymous_limiter"]
    limiter.hit(request.remote_addr or "unknown")
