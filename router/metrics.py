"""The router's Prometheus metrics (prometheus-client), counted in every process that serves.

Under gunicorn, ``router.gunicorn_config`` sets ``PROMETHEUS_MULTIPROC_DIR`` before anything
imports prometheus-client, so each worker writes its counts to files there and ``/metrics`` adds
them up (multiprocess mode). Without it (tests, ``flask run``) the counts live in the process.
The webhook queue is read from the database when ``/metrics`` is scraped, so every host reports
the whole deployment's queue, whichever worker delivers it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from router.db import Database, utcnow
from router.models import WebhookDelivery

HTTP_REQUESTS = Counter(
    "escr_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "escr_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PUBLIC_LOOKUPS = Counter(
    "escr_public_lookups_total",
    "Anonymous lookups of a card's public status (page or v2 status), by outcome.",
    ["outcome"],
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "escr_rate_limit_store_errors_total",
    "Anonymous lookups let through because the rate-limit store could not be reached.",
)
VERIFICATIONS = Counter(
    "escr_verifications_total",
    "Partner verifications, by verdict (VALID or the reason the card is not valid).",
    ["verdict"],
)
DB_POOL_CHECKED_OUT = Gauge(
    "escr_db_pool_checked_out",
    "Database connections in use by the serving processes.",
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "escr_db_pool_capacity",
    "Connections the serving processes' pools may open (pool size plus overflow).",
    multiprocess_mode="livesum",
)


_children: dict[tuple[object, tuple[str, ...]], Any] = {}
_children_lock = threading.Lock()


def child(metric: Counter | Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once per process for the same labels.

    prometheus-client's ``labels()`` validates the values and takes a lock on every call; the
    child it returns is the same object each time. A child is still made on first use only, so
    the exposition shows exactly the label values that were counted.
    """
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        with _children_lock:
            found = _children[key] = metric.labels(*labels)
    return found


class WebhookQueueCollector(Collector):
    """Webhook deliveries by status and the pending queue, read from the database at scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Count the outbox rows by status; the age of the oldest pending one."""
        with self.database.session() as session:
            counts = dict(
                session.execute(
                    select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
                ).all()
            )
            oldest = session.scalar(
                select(func.min(WebhookDelivery.next_attempt_at)).where(
                    WebhookDelivery.status == "pending"
                )
            )
        deliveries = GaugeMetricFamily(
            "escr_webhook_deliveries",
            "Webhook deliveries in the outbox, by status (pending, delivered, dead).",
            labels=["status"],
        )
        for status in ("pending", "delivered", "dead"):
            deliveries.add_metric([status], counts.get(status, 0))
        yield deliveries
        yield GaugeMetricFamily(
            "escr_webhook_queue_depth",
            "Webhook deliveries waiting to be sent (pending).",
            value=counts.get("pending", 0),
        )
        overdue = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            overdue = max(0.0, (utcnow() - oldest).total_seconds())
        yield GaugeMetricFamily(
            "escr_webhook_oldest_pending_seconds",
            "How long the longest-waiting pending delivery has been due (0 when none is).",
            value=overdue,
        )


def multiprocess_dir() -> str | None:
    """The folder the serving processes share their counts in, when gunicorn set one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text exposition of every metric: all processes' counts plus ``extra`` collectors."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessRegistry())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class _ProcessRegistry(Collector):
    """The metrics of the current process (the default registry), beside scrape-time ones."""

    def collect(self) -> Iterator:  # type: ignore[type-arg]
        """Everything the default registry holds."""
        yield from REGISTRY.collect()


def track_pool(database: Database) -> None:
    """Count the connections ``database``'s pool lends and may lend."""
    from sqlalchemy import event

    pool = database.engine.pool
    size = getattr(pool, "size", lambda: 0)()
    overflow = getattr(pool, "_max_overflow", 0)
    DB_POOL_CAPACITY.set(size + max(overflow, 0))

    @event.listens_for(pool, "checkout")
    def _checked_out(*_: object) -> None:
        DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(pool, "checkin")
    def _checked_in(*_: object) -> None:
        DB_POOL_CHECKED_OUT.dec()
