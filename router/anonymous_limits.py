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

import math
import threading
import time
from collections.abc import Callable

from flask import current_app, request
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

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


def _storage(uri: str, **options: str | bool) -> Storage:
    if uri.startswith("memory://"):
        return SweptMemoryStorage(uri, wrap_exceptions=True)
    return storage_from_string(uri, **options)


class AnonymousLimiter:
    """Counts anonymous lookups per client address against ``ESCR_PUBLIC_RATE_LIMIT``."""

    def __init__(self, settings: Settings) -> None:
        options: dict[str, str | bool] = {"wrap_exceptions": True}
        if settings.rate_limit_storage.startswith(("redis", "rediss")):
            options["key_prefix"] = settings.rate_limit_prefix
        self.storage = _storage(settings.rate_limit_storage, **options)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.rates = settings.public_rates
        self._last_store_error = -math.inf
        self._lock = threading.Lock()

    def hit(self, address: str) -> None:
        """Count one lookup from ``address``; raise :class:`RateLimited` past any limit."""
        try:
            refused = [rate for rate in self.rates if not self.strategy.hit(rate, "anon", address)]
            retry_after = max(
                (self.strategy.get_window_stats(r, "anon", address).reset_time for r in refused),
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
