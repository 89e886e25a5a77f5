"""Fixed-window rate limiting counted in the database, so every gunicorn worker shares the count.

One row per (bucket, window) is incremented with an atomic upsert; rows of past windows are
deleted as new windows start, so the table stays as small as the number of active clients.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from router.domain.errors import RateLimited
from router.domain.rate_limit import RateLimit
from router.models import RateLimitWindow

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def count_hit(session: Session, bucket: str, rate: RateLimit, now: float) -> int:
    """Count one request of ``bucket`` in the window holding ``now``; return the window's total."""
    window = rate.window_start(now)
    dialect = session.get_bind().dialect.name
    if dialect not in _UPSERTS:
        raise RuntimeError(f"rate limiting needs PostgreSQL or SQLite, not {dialect}")
    statement = (
        _UPSERTS[dialect](RateLimitWindow)
        .values(bucket=bucket[:128], window_start=window, hits=1)
        .on_conflict_do_update(
            index_elements=[RateLimitWindow.bucket, RateLimitWindow.window_start],
            set_={"hits": RateLimitWindow.hits + 1},
        )
        .returning(RateLimitWindow.hits)
    )
    hits = session.execute(statement).scalar_one()
    session.execute(delete(RateLimitWindow).where(RateLimitWindow.window_start < window))
    session.commit()
    return hits


def enforce(session: Session, bucket: str, rate: RateLimit, now: float) -> None:
    """Count a request and raise :class:`RateLimited` (429) once the window's limit is passed."""
    hits = count_hit(session, bucket, rate, now)
    if hits > rate.limit:
        raise RateLimited(
            f"At most {rate.limit} anonymous lookups per {rate.period} seconds from one address; "
            f"try again in {rate.retry_after(now)} seconds, or use an API key.",
            retry_after=rate.retry_after(now),
        )


def purge_windows(session: Session, now: float, rate: RateLimit) -> int:
    """Delete the counters of windows that have ended; return how many."""
    result = session.execute(
        delete(RateLimitWindow).where(RateLimitWindow.window_start < rate.window_start(now))
    )
    session.commit()
    return result.rowcount or 0
