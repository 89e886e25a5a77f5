"""A circuit breaker per peer router: after repeated failures, stop asking for a while.

Pure state machine with an injected clock. Closed: every call goes through and consecutive
failures are counted; the ``failure_threshold``-th opens the circuit. Open: calls are refused
without touching the network until ``open_seconds`` have passed. Half-open: one trial call goes
through (the others are still refused); its success closes the circuit, its failure opens it again
for another ``open_seconds``. A trial that never reports back (a crash between ``acquire`` and
the outcome) is given up after ``open_seconds``, so the circuit cannot stay half-open forever.

Each gunicorn worker holds its own breakers: with W workers, at most W x ``failure_threshold``
requests reach a dead peer before every worker stops asking.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable


class BreakerState(enum.Enum):
    """Where a circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """The breaker of one peer; safe to share between threads."""

    def __init__(
        self,
        failure_threshold: int,
        open_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or open_seconds <= 0:
            raise ValueError("a breaker needs a threshold of at least 1 and a positive pause")
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """The state as of now (an open circuit whose pause is over reads half-open)."""
        with self._lock:
            return self._current_state()

    def _current_state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() >= self._opened_at + self.open_seconds
        ):
            self._state = BreakerState.HALF_OPEN
            self._trial_started_at = None
        return self._state

    def acquire(self) -> bool:
        """Whether a call may go out now; a True in half-open state is the one trial call."""
        with self._lock:
            state = self._current_state()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN:
                return False
            now = self._clock()
            if self._trial_started_at is None or now >= self._trial_started_at + self.open_seconds:
                self._trial_started_at = now
                return True
            return False

    def retry_after(self) -> int:
        """Whole seconds until a call may be tried again (0 when one may go now)."""
        with self._lock:
            state = self._current_state()
            now = self._clock()
            if state is BreakerState.OPEN:
                return max(1, math.ceil(self._opened_at + self.open_seconds - now))
            if state is BreakerState.HALF_OPEN and self._trial_started_at is not None:
                return max(1, math.ceil(self._trial_started_at + self.open_seconds - now))
            return 0

    def record_success(self) -> None:
        """A call succeeded: the peer works, the circuit closes."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_started_at = None

    def record_failure(self) -> None:
        """A call failed: count it, and open the circuit at the threshold or after a trial."""
        with self._lock:
            state = self._current_state()
            self._failures += 1
            if state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
                self._trial_started_at = None
