"""The webhook delivery worker against a real HTTP receiver on a loopback port."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from router.cli import escr_group
from router.db import Database, utcnow
from router.services import webhook_delivery
from router.services.webhook_delivery import DeliveryPolicy
from router.settings import Settings
from tests.conftest import Register, Tenant
from tests.live_server import WebhookReceiver as Receiver
from tests.live_server import free_port

HOOKS = "/api/x/webhooks"
# The receivers of this module listen on the loopback: the worker runs in insecure mode.
LOCAL = DeliveryPolicy(backoff_seconds=0, allow_insecure=True)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """This module's router accepts http:// callbacks, to reach the loopback receiver."""
    return dataclasses.replace(settings, webhook_allow_insecure=True)


@pytest.fixture
def hook(client: FlaskClient, uni: Tenant) -> Iterator[tuple[dict[str, Any], Receiver]]:
    port = free_port()
    response = client.post(
        HOOKS, json={"url": f"http://127.0.0.1:{port}/hook"}, headers=uni.headers
    )
    assert response.status_code == 201, response.json
    receiver = Receiver(port, response.json["secret"])
    yield response.json, receiver
    receiver.stop()


def _suspend(client: FlaskClient, tenant: Tenant, escn: str) -> None:
    response = client.post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=tenant.headers
    )
    assert response.status_code == 200


def _rows(
    client: FlaskClient, tenant: Tenant, subscription: dict[str, Any]
) -> list[dict[str, Any]]:
    return client.get(f"{HOOKS}/{subscription['id']}/deliveries", headers=tenant.headers).json


def test_events_wait_while_the_receiver_is_down_then_arrive_once_signed(
    client: FlaskClient,
    uni: Tenant,
    db: Database,
    registered: Register,
    hook: tuple[dict[str, Any], Receiver],
) -> None:
    subscription, receiver = hook
    escn = registered("D1")["escn"]
    _suspend(client, uni, escn)
    policy = DeliveryPolicy(max_attempts=5, backoff_seconds=30, allow_insecure=True)

    down = webhook_delivery.deliver_due(db, policy)
    assert (down.delivered, down.retried, down.dead) == (0, 1, 0)
    [row] = _rows(client, uni, subscription)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["lastError"] and "Connect" in row["lastError"]
    next_attempt = dt.datetime.fromisoformat(row["nextAttemptAt"])
    assert dt.timedelta(seconds=25) < next_attempt - utcnow() <= dt.timedelta(seconds=30)

    receiver.start()
    too_early = webhook_delivery.deliver_due(db, policy)
    assert too_early.attempted == 0 and receiver.received == []

    later = utcnow() + dt.timedelta(minutes=5)
    up = webhook_delivery.deliver_due(db, policy, now=lambda: later)
    assert (up.delivered, up.retried, up.dead) == (1, 0, 0)
    again = webhook_delivery.deliver_due(db, policy, now=lambda: later + dt.timedelta(hours=1))
    assert again.attempted == 0

    [request] = receiver.received
    assert request["valid"]
    event = json.loads(request["body"])
    assert request["headers"]["X-Escr-Event-Id"] == event["id"]
    assert event["type"] == "card.status_changed"
    assert event["data"] == {
        "cardNumber": escn,
        "state": "SUSPENDED",
        "cardStatusType": "INACTIVE",
        "previousState": "ACTIVE",
        "reason": "SUSPEND",
    }
    [row] = _rows(client, uni, subscription)
    assert row["status"] == "delivered" and row["attempts"] == 2
    assert row["lastStatusCode"] == 204 and row["lastError"] is None
    assert row["nextAttemptAt"] is None and row["deliveredAt"]


def test_a_forged_or_stale_signature_does_not_verify(hook: tuple[dict[str, Any], Receiver]) -> None:
    _, receiver = hook
    body = b'{"id":"x"}'
    now = int(time.time())
    headers = webhook_delivery.signed_headers(receiver.secret, "x", body, now)
    assert receiver.verify(headers, body)
    assert not receiver.verify(headers, body + b" ")
    stale = webhook_delivery.signed_headers(receiver.secret, "x", body, now - 301)
    assert not receiver.verify(stale, body)
    forged = webhook_delivery.signed_headers("not-the-secret", "x", body, now)
    assert not receiver.verify(forged, body)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = DeliveryPolicy(backoff_seconds=10, max_backoff_seconds=60)
    assert [policy.delay_after(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_a_receiver_that_keeps_failing_is_dead_lettered(
    client: FlaskClient,
    uni: Tenant,
    db: Database,
    registered: Register,
    hook: tuple[dict[str, Any], Receiver],
) -> None:
    subscription, receiver = hook
    receiver.status = 500
    receiver.start()
    _suspend(client, uni, registered("D2")["escn"])
    run = webhook_delivery.drain(
        db, DeliveryPolicy(max_attempts=3, backoff_seconds=0, allow_insecure=True)
    )
    assert (run.delivered, run.retried, run.dead) == (0, 2, 1)
    assert len(receiver.received) == 3
    dead = client.get(
        f"{HOOKS}/{subscription['id']}/deliveries?status=dead", headers=uni.headers
    ).json
    assert len(dead) == 1
    assert dead[0]["attempts"] == 3 and dead[0]["lastStatusCode"] == 500
    assert dead[0]["lastError"].startswith("HTTP 500")
    assert webhook_delivery.drain(db, LOCAL).attempted == 0


def test_a_claimed_delivery_is_not_claimed_again(
    client: FlaskClient,
    uni: Tenant,
    db: Database,
    registered: Register,
    hook: tuple[dict[str, Any], Receiver],
) -> None:
    _suspend(client, uni, registered("D3")["escn"])
    now = utcnow()
    with db.session() as first, db.session() as second:
        taken = webhook_delivery.claim_due(first, now=now, limit=10, token="worker-a")
        assert len(taken) == 1
        assert webhook_delivery.claim_due(second, now=now, limit=10, token="worker-b") == []
    # Once the lease runs out (a worker died mid-delivery), another worker takes the row over.
    later = now + dt.timedelta(seconds=webhook_delivery.LEASE_SECONDS + 1)
    with db.session() as third:
        assert webhook_delivery.claim_due(third, now=later, limit=10, token="worker-c") == taken


def test_two_workers_at_once_deliver_each_event_exactly_once(
    client: FlaskClient,
    uni: Tenant,
    db: Database,
    registered: Register,
    hook: tuple[dict[str, Any], Receiver],
) -> None:
    subscription, receiver = hook
    receiver.start()
    record = registered("D4")
    for action in ["SUSPEND", "REACTIVATE"] * 5:
        client.post(
            f"/api/x/cards/{record['escn']}/lifecycle", json={"action": action}, headers=uni.headers
        )
    policy = LOCAL
    runs: list = []

    def work() -> None:
        runs.append(webhook_delivery.drain(db, policy, limit=2))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(run.delivered for run in runs) == 10
    event_ids = [json.loads(r["body"])["id"] for r in receiver.received]
    assert len(event_ids) == len(set(event_ids)) == 10
    assert all(r["valid"] for r in receiver.received)
    rows = _rows(client, uni, subscription)
    assert {row["status"] for row in rows} == {"delivered"}


def test_the_cli_drains_the_outbox_once(
    client: FlaskClient,
    uni: Tenant,
    registered: Register,
    hook: tuple[dict[str, Any], Receiver],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, receiver = hook
    receiver.start()
    _suspend(client, uni, registered("D5")["escn"])
    monkeypatch.setenv("ESCR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ESCR_WEBHOOK_ALLOW_INSECURE", "1")
    result = CliRunner().invoke(escr_group, ["webhooks", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "delivered=1 retried=0 dead=0" in result.output
    assert len(receiver.received) == 1 and receiver.received[0]["valid"]


def test_the_delivery_policy_and_insecure_mode_come_from_the_environment(tmp_path: Path) -> None:
    from router.settings import Settings

    env = {
        "ESCR_INSTANCE_PATH": str(tmp_path),
        "ESCR_WEBHOOK_MAX_ATTEMPTS": "4",
        "ESCR_WEBHOOK_BACKOFF": "5",
        "ESCR_WEBHOOK_MAX_BACKOFF": "60",
        "ESCR_WEBHOOK_TIMEOUT": "2.5",
        "ESCR_WEBHOOK_ALLOW_INSECURE": "1",
    }
    configured = Settings.from_env(env)
    assert configured.webhook_allow_insecure is True
    assert DeliveryPolicy.from_settings(configured) == DeliveryPolicy(
        max_attempts=4,
        backoff_seconds=5,
        max_backoff_seconds=60,
        timeout_seconds=2.5,
        allow_insecure=True,
    )
    assert Settings.from_env({"ESCR_INSTANCE_PATH": str(tmp_path)}).webhook_allow_insecure is False
