"""Two "hosts" (two gunicorn instances on two ports, each with two workers) on one PostgreSQL and
one Redis, as README's deployment guide runs several hosts: one shared anonymous limit, card
numbers that never collide, and a webhook worker on each host delivering each event once."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, RedisStore, _postgres_schema_url, card_body, esi, person_body
from tests.live_server import WebhookReceiver, free_port, institution_key, wait_until_serving

BIN = Path(sys.executable).parent
LIMIT = 5
PIC = "999999999"


@dataclass
class Deployment:
    """The two hosts' base URLs, the environment they share and a key of the institution."""

    hosts: list[str]
    env: dict[str, str]
    key: str


@pytest.fixture
def deployment(redis_store: RedisStore, tmp_path: Path) -> Iterator[Deployment]:
    if not PG_URL:
        pytest.skip("several hosts share PostgreSQL: set ESCR_TEST_DATABASE_URL (.ci/run does)")
    schema = f"escr_hosts_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = _postgres_schema_url(schema)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ESCR_", "PROMETHEUS_"))},
        "ESCR_DATABASE_URL": database_url,
        "ESCR_SECRET_KEY": "shared-secret",
        "ESCR_PUBLIC_URL": "https://router.test",
        "ESCR_PUBLIC_RATE_LIMIT": f"{LIMIT}/hour",
        "ESCR_RATE_LIMIT_STORAGE": redis_store.url,
        "ESCR_RATE_LIMIT_PREFIX": redis_store.prefix,
        "ESCR_WEBHOOK_ALLOW_INSECURE": "1",
        "ESCR_WEBHOOK_BACKOFF": "1",
    }
    processes: list[subprocess.Popen] = []
    try:
        key = institution_key(database_url, PIC)
        deployment = Deployment(hosts=[], env=env, key=key)
        logs = []
        for host in ("a", "b"):
            port = free_port()
            log = tmp_path / f"host-{host}.log"
            host_env = {**env, "ESCR_INSTANCE_PATH": str(tmp_path / host)}
            with log.open("w") as sink:
                processes.append(
                    subprocess.Popen(
                        [str(BIN / "gunicorn"), "-c", "python:router.gunicorn_config",
                         "--workers", "2", "--threads", "2", "--bind", f"127.0.0.1:{port}",
                         "router.wsgi:app"],
                        env=host_env, stdout=subprocess.DEVNULL, stderr=sink,
                    )
                )
            deployment.hosts.append(f"http://127.0.0.1:{port}")
            logs.append(log)
        for url, process, log in zip(deployment.hosts, processes, logs, strict=True):
            wait_until_serving(url, process, why_not=lambda log=log: log.read_text()[-2000:])
        yield deployment
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        for process in processes:
            process.wait(timeout=30)
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


def _issue_card(host: str, key: str, code: str) -> str:
    auth = {"Authorization": f"Bearer {key}"}
    person = httpx.post(f"{host}/api/v2/persons", json=person_body(esi(code), PIC), headers=auth,
                        timeout=20)
    assert person.status_code == 201, person.text
    card = httpx.post(f"{host}/api/v2/cards", json=card_body(esi(code), PIC), headers=auth,
                      timeout=20)
    assert card.status_code == 201, card.text
    return card.json()["cardNumber"]


@pytest.mark.e2e
def test_two_hosts_share_one_limit_never_collide_and_deliver_each_event_once(
    deployment: Deployment
) -> None:
    first, second = deployment.hosts
    auth = {"Authorization": f"Bearer {deployment.key}"}

    # One anonymous limit for the deployment: lookups alternate between the hosts.
    escn = _issue_card(first, deployment.key, "HOSTS-0")
    statuses = [
        httpx.get(f"{deployment.hosts[i % 2]}/api/v2/cards/{escn}/status", timeout=20).status_code
        for i in range(LIMIT + 3)
    ]
    assert statuses == [200] * LIMIT + [429] * 3

    # Card numbers reserved and generated on both hosts at once never collide.
    def reserve(i: int) -> list[str]:
        response = httpx.get(
            f"{deployment.hosts[i % 2]}/api/v2/cards/generate-escn",
            params={"pic": PIC, "prefix": "001", "numberOfESCN": 50}, headers=auth, timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def issue(i: int) -> str:
        return _issue_card(deployment.hosts[i % 2], deployment.key, f"HOSTS-{i + 1}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        reserved = [n for batch in pool.map(reserve, range(12)) for n in batch]
        issued = list(pool.map(issue, range(16)))
    numbers = reserved + issued + [escn]
    assert len(numbers) == 12 * 50 + 17
    assert len(set(numbers)) == len(numbers)

    # Webhook workers on both hosts: every event is delivered, once.
    receiver = WebhookReceiver(free_port(), secret="")
    subscription = httpx.post(
        f"{first}/api/x/webhooks", json={"url": f"http://127.0.0.1:{receiver.port}/hook"},
        headers=auth, timeout=20,
    )
    assert subscription.status_code == 201, subscription.text
    receiver.secret = subscription.json()["secret"]
    receiver.start()
    workers = [
        subprocess.Popen(
            [str(BIN / "escr-admin"), "webhooks", "deliver", "--interval", "0.2", "--batch", "3"],
            env=deployment.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in deployment.hosts
    ]
    try:
        for i, number in enumerate(issued):
            for action in ("SUSPEND", "REACTIVATE"):
                changed = httpx.post(
                    f"{deployment.hosts[i % 2]}/api/x/cards/{number}/lifecycle",
                    json={"action": action}, headers=auth, timeout=20,
                )
                assert changed.status_code == 200, changed.text
        expected = 2 * len(issued)
        deadline = time.monotonic() + 60
        while len(receiver.received) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # room for a duplicate to show up, if one were sent
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
        receiver.stop()
    event_ids = [d["headers"]["X-Escr-Event-Id"] for d in receiver.received]
    assert len(event_ids) == expected
    assert len(set(event_ids)) == expected
    assert all(d["valid"] for d in receiver.received)
    cards = {json.loads(d["body"])["data"]["cardNumber"] for d in receiver.received}
    assert cards == set(issued)
    pending = httpx.get(
        f"{second}/api/x/webhooks/{subscription.json()['id']}/deliveries",
        params={"status": "pending"}, headers=auth, timeout=20,
    )
    assert pending.status_code == 200 and pending.json() == []
