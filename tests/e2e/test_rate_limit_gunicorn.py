"""The anonymous rate limit holds across every worker of a deployment, in each documented set-up:
one gunicorn process with threads on the memory store (the embedded default, scripts/serve), and
several workers on Redis. Several workers on the memory store are refused at start."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask

from tests.conftest import Register
from tests.live_server import free_port, wait_until_serving

LIMIT = 6
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _start(
    env: dict[str, str], tmp_path: Path, *options: str
) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log = tmp_path / f"gunicorn-{port}.log"
    # A log file, not a pipe: an unread pipe would block gunicorn once its buffer is full.
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "python:router.gunicorn_config", *options,
             "--bind", f"127.0.0.1:{port}", "router.wsgi:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )
    return process, f"http://127.0.0.1:{port}", log


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ESCR_", "PROMETHEUS_"))},
        "ESCR_DATABASE_URL": database_url,
        "ESCR_INSTANCE_PATH": str(tmp_path),
        "ESCR_SECRET_KEY": "test-secret",
        "ESCR_PUBLIC_URL": "https://router.test",
        "ESCR_PUBLIC_RATE_LIMIT": f"{LIMIT}/hour",
        **extra,
    }


@pytest.fixture(params=["one process with threads, memory", "two workers, Redis"])
def served(
    request: pytest.FixtureRequest, app: Flask, database_url: str, tmp_path: Path
) -> Iterator[str]:
    if request.param.endswith("Redis"):
        store = request.getfixturevalue("redis_store")
        env = _env(database_url, tmp_path, ESCR_RATE_LIMIT_STORAGE=store.url,
                   ESCR_RATE_LIMIT_PREFIX=store.prefix)
        options = ("--workers", "2", "--threads", "2")
    else:
        env = _env(database_url, tmp_path)
        options = ("--workers", "1", "--threads", "8")
    process, url, log = _start(env, tmp_path, *options)
    try:
        wait_until_serving(url, process, why_not=lambda: log.read_text()[-2000:])
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        process.wait(timeout=30)


@pytest.mark.e2e
def test_the_limit_is_shared_by_every_worker_and_thread(served: str, registered: Register) -> None:
    escn = registered()["escn"]

    def lookup(_: int) -> int:
        # A new connection each time, sent at once from many threads: every worker and thread
        # of the server gets some.
        with httpx.Client() as http:
            return http.get(f"{served}/api/v2/cards/{escn}/status", timeout=20).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lookup, range(4 * LIMIT)))
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 3 * LIMIT
    with httpx.Client() as http:
        refused = http.get(f"{served}/cards/{escn}", headers={"Accept": "text/html"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # /metrics adds up every worker's counts (prometheus-client's multiprocess mode).
    with httpx.Client() as http:
        exposition = http.get(f"{served}/metrics").text
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("escr_public_lookups_total{")
    }
    assert samples['escr_public_lookups_total{outcome="allowed"}'] == LIMIT
    assert samples['escr_public_lookups_total{outcome="refused"}'] == 3 * LIMIT + 1


@pytest.mark.e2e
def test_several_workers_on_the_memory_store_are_refused_in_one_line(tmp_path: Path) -> None:
    from router import migrate

    url = f"sqlite:///{tmp_path}/router.sqlite3"
    migrate.upgrade(url)
    process, _, log = _start(_env(url, tmp_path), tmp_path, "--workers", "3")
    assert process.wait(timeout=60) != 0
    refusals = [line for line in log.read_text().splitlines() if "each count" in line]
    assert len(refusals) == 1
    assert "3 workers would each count the rate limit in their own memory" in refusals[0]
    assert "ESCR_RATE_LIMIT_STORAGE=redis://" in refusals[0]
