"""The anonymous rate limit holds across gunicorn worker processes, not per process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port, wait_until_serving

LIMIT = 6
PERIOD = 3600
GUNICORN = Path(sys.executable).with_name("gunicorn")


@pytest.fixture
def gunicorn_url(app, database_url: str, tmp_path: Path) -> Iterator[str]:
    """Two gunicorn workers serving the test database on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "ESCR_DATABASE_URL": database_url,
        "ESCR_INSTANCE_PATH": str(tmp_path),
        "ESCR_SECRET_KEY": "test-secret",
        "ESCR_PUBLIC_URL": "https://router.test",
        "ESCR_PUBLIC_RATE_LIMIT": f"{LIMIT}/hour",
    }
    # A log file, not a pipe: an unread pipe would block gunicorn once its buffer is full.
    log = tmp_path / "gunicorn.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(GUNICORN), "--workers", "2", "--bind", f"127.0.0.1:{port}", "router.wsgi:app"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, why_not=lambda: log.read_text()[-2000:])
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.e2e
def test_the_limit_is_shared_by_all_workers(gunicorn_url, registered):
    escn = registered()["escn"]
    # Start in a fresh window, so that the count cannot be split by an hour boundary.
    left = PERIOD - time.time() % PERIOD
    if left < 60:
        time.sleep(left + 1)
    statuses = []
    for _ in range(LIMIT + 1):
        # A new connection each time: gunicorn's sync workers take turns accepting them.
        with httpx.Client() as http:
            statuses.append(http.get(f"{gunicorn_url}/api/v2/cards/{escn}/status").status_code)
    assert statuses == [200] * LIMIT + [429]
    with httpx.Client() as http:
        refused = http.get(f"{gunicorn_url}/cards/{escn}", headers={"Accept": "text/html"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= PERIOD
