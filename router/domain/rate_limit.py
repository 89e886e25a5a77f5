"""Fixed-window rate limits: parsing ``"60/minute"`` and placing an instant in its window.

Pure arithmetic, so that the window a request falls in is the same in every gunicorn worker: the
counting itself is done in the database (see :mod:`router.services.rate_limits`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d*)\s*(second|minute|hour|day)s?\s*$", re.I)


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` requests per ``period`` seconds."""

    limit: int
    period: int

    def window_start(self, now: float) -> int:
        """The start (unix seconds) of the window holding the instant ``now``."""
        return int(now) - int(now) % self.period

    def retry_after(self, now: float) -> int:
        """Whole seconds until the window holding ``now`` ends (at least 1)."""
        return max(1, self.window_start(now) + self.period - int(now))


def parse_rate_limit(text: str) -> RateLimit:
    """Parse ``"N/unit"`` or ``"N/M units"`` (units: second, minute, hour, day)."""
    match = _PATTERN.match(text or "")
    if match is None:
        raise ValueError(
            f"{text!r} is not a rate limit; write e.g. '60/minute', '1000/hour' or '10/30 seconds'."
        )
    limit = int(match.group(1))
    multiple = int(match.group(2) or 1)
    if limit < 1 or multiple < 1:
        raise ValueError(f"{text!r}: a rate limit needs at least one request per period.")
    return RateLimit(limit=limit, period=multiple * _UNITS[match.group(3).lower()])
