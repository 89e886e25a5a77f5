"""The webhook delivery worker: claims due outbox rows, POSTs them signed, retries with backoff.

Several workers may run at once. A worker claims rows by writing a lease (``locked_until``) and a
claim token; on PostgreSQL the candidates are read with ``FOR UPDATE SKIP LOCKED`` so two workers
never wait on or take the same rows, on SQLite a conditional UPDATE takes a row only if it is still
unclaimed (SQLite runs one writer at a time, so that check and the write cannot interleave). The
HTTP call happens outside any transaction; its result is written only if the claim is still ours.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from router.db import Database, utcnow
from router.domain.errors import InvalidWebhookUrl
from router.models import WebhookDelivery
from router.services.webhook_targets import Resolver, resolve_target, system_resolver
from router.services.webhooks import DeliveryStatus, sign
from router.settings import Settings

log = logging.getLogger(__name__)
LEASE_SECONDS = 120
ERROR_LENGTH = 500


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard the worker tries: attempts before giving up, backoff, HTTP timeout."""

    max_attempts: int = 10
    backoff_seconds: int = 30
    max_backoff_seconds: int = 6 * 3600
    timeout_seconds: float = 10.0
    # Local receivers (loopback, private hosts, http://) are for tests only.
    allow_insecure: bool = False
    resolver: Resolver = system_resolver

    def delay_after(self, attempts: int) -> dt.timedelta:
        """Exponential backoff: ``backoff * 2**(attempts-1)``, capped."""
        seconds = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return dt.timedelta(seconds=min(seconds, self.max_backoff_seconds))

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        """The policy the router's settings ask for."""
        return cls(
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            max_backoff_seconds=settings.webhook_max_backoff_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            allow_insecure=settings.webhook_allow_insecure,
        )


@dataclass
class DeliveryRun:
    """What one pass of the worker did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        """How many deliveries were tried."""
        return self.delivered + self.retried + self.dead


def _due(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a row a worker may claim now: pending, due, not leased."""
    return (
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
    )


def claim_due(
    session: Session,
    *,
    now: dt.datetime,
    limit: int,
    token: str,
    lease_seconds: float = LEASE_SECONDS,
) -> list[int]:
    """Lease up to ``limit`` due deliveries to the claim ``token``; returns their ids."""
    lease = now + dt.timedelta(seconds=lease_seconds)
    candidates = select(WebhookDelivery.id).where(*_due(now))
    candidates = candidates.order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(candidates.limit(limit).with_for_update(skip_locked=True)))
        if ids:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(locked_until=lease, claim_token=token)
            )
        session.commit()
        return ids
    claimed: list[int] = []
    for delivery_id in session.scalars(candidates.limit(limit)).all():
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, *_due(now))
            .values(locked_until=lease, claim_token=token)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    session.commit()
    return claimed


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one delivery: event id, timestamp and signature."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "escrouter-webhooks/1",
        "X-Escr-Event-Id": event_id,
        "X-Escr-Timestamp": str(timestamp),
        "X-Escr-Signature": sign(secret, timestamp, body),
    }


def _post(
    http: httpx.Client, delivery: WebhookDelivery, policy: DeliveryPolicy
) -> tuple[int | None, str | None]:
    """POST one delivery; (status code, error) where error is None on a 2xx answer.

    The host is resolved and checked again now (it may point elsewhere since the subscription),
    and the connection goes to the address checked. Whatever answered, the subscriber is told
    its status code only, never its body.
    """
    try:
        target = resolve_target(
            delivery.subscription.url,
            allow_insecure=policy.allow_insecure,
            resolver=policy.resolver,
        )
    except InvalidWebhookUrl as error:
        return None, f"refused: {error.message}"[:ERROR_LENGTH]
    body = delivery.body.encode("utf-8")
    headers = signed_headers(
        delivery.subscription.secret, delivery.event_id, body, int(time.time())
    )
    headers["Host"] = target.host_header
    try:
        response = http.post(
            target.connect_url,
            content=body,
            headers=headers,
            extensions={"sni_hostname": target.host},
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _attempt(
    http: httpx.Client, delivery: WebhookDelivery, policy: DeliveryPolicy
) -> tuple[int | None, str | None]:
    """One attempt; any failure of this delivery is its own outcome, never the worker's end."""
    try:
        return _post(http, delivery, policy)
    except Exception as exc:  # a bad URL httpx refuses, a receiver breaking the protocol...
        log.warning("webhook delivery %s failed: %s", delivery.id, type(exc).__name__)
        return None, f"{type(exc).__name__}: the delivery could not be attempted"


def _settle(
    session: Session,
    delivery: WebhookDelivery,
    token: str,
    outcome: tuple[int | None, str | None],
    policy: DeliveryPolicy,
    now: dt.datetime,
) -> str:
    """Write the result of an attempt, if the claim is still ours; returns the new status."""
    status_code, error = outcome
    attempts = delivery.attempts + 1
    values: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": status_code,
        "last_error": error,
        "locked_until": None,
        "claim_token": None,
    }
    if error is None:
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    elif attempts >= policy.max_attempts:
        values.update(status=DeliveryStatus.DEAD)
    else:
        values.update(next_attempt_at=now + policy.delay_after(attempts))
    new_status = str(values.get("status", DeliveryStatus.PENDING))
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.claim_token == token)
        .values(**values)
    )
    session.commit()
    return new_status


def deliver_due(
    database: Database,
    policy: DeliveryPolicy,
    *,
    limit: int = 50,
    now: Callable[[], dt.datetime] = utcnow,
    http: httpx.Client | None = None,
) -> DeliveryRun:
    """One pass: claim up to ``limit`` due deliveries and try each once."""
    run = DeliveryRun()
    token = str(uuid.uuid4())
    owns_client = http is None
    client = http or httpx.Client(timeout=policy.timeout_seconds, follow_redirects=False)
    try:
        with database.session() as session:
            # The lease outlives the slowest pass, so no other worker takes a row still in hand.
            lease = max(LEASE_SECONDS, limit * policy.timeout_seconds + 30)
            ids = claim_due(session, now=now(), limit=limit, token=token, lease_seconds=lease)
            for delivery_id in ids:
                delivery = session.get(WebhookDelivery, delivery_id)
                if delivery is None or delivery.claim_token != token:
                    continue
                outcome = _attempt(client, delivery, policy)
                status = _settle(session, delivery, token, outcome, policy, now())
                if status == DeliveryStatus.DELIVERED:
                    run.delivered += 1
                elif status == DeliveryStatus.DEAD:
                    run.dead += 1
                else:
                    run.retried += 1
                session.expunge(delivery)
    finally:
        if owns_client:
            client.close()
    return run


def drain(
    database: Database,
    policy: DeliveryPolicy,
    *,
    limit: int = 50,
    now: Callable[[], dt.datetime] = utcnow,
    http: httpx.Client | None = None,
) -> DeliveryRun:
    """Run passes until no delivery is due; totals of every pass."""
    total = DeliveryRun()
    while True:
        run = deliver_due(database, policy, limit=limit, now=now, http=http)
        total.delivered += run.delivered
        total.retried += run.retried
        total.dead += run.dead
        if run.attempted == 0:
            return total
