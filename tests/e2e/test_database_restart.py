"""gunicorn's threads keep their lookup connections; the database's server processes end under them.

As README's deployment guide promises: a database restarted while the router was quiet costs no
failed request (a kept connection idle for more than a second is pinged and replaced), and one
restarted under load fails at most one request per kept connection (503 ``ER-0102``), after
which every lookup is served.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from router.db import IDLE_BEFORE_PING
from router.domain.errors import DatabaseUnavailable
from tests.conftest import PG_URL, _postgres_schema_url, card_body, esi, person_body
from tests.live_server import free_port, institution_key, wait_until_serving

THREADS = 4
PIC = "999999999"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A router (one process, four threads) on a schema of its own: URL, card, connections' name."""
    if not PG_URL:
        pytest.skip("ends PostgreSQL's server processes: set ESCR_TEST_DATABASE_URL (.ci/run does)")
    schema = f"escr_restart_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # The router's connections are named, so that only theirs are ended.
    url = f"{_postgres_schema_url(schema)}&application_name={schema}"
    process: subprocess.Popen | None = None
    try:
        key = institution_key(url, PIC)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ESCR_", "PROMETHEUS_"))},
            "ESCR_DATABASE_URL": url,
            "ESCR_SECRET_KEY": "restart-secret",
            "ESCR_PUBLIC_URL": "https://router.test",
            "ESCR_PUBLIC_RATE_LIMIT": "100000/hour",
            "ESCR_INSTANCE_PATH": str(tmp_path / "instance"),
        }
        base = f"http://127.0.0.1:{free_port()}"
        log = tmp_path / "gunicorn.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    *("-c", "python:router.gunicorn_config", "--workers", "1"),
                    *("--threads", str(THREADS), "--bind", base.removeprefix("http://")),
                    "router.wsgi:app",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        wait_until_serving(base, process, why_not=lambda: log.read_text()[-2000:])
        auth = {"Authorization": f"Bearer {key}"}
        person = httpx.post(f"{base}/api/v2/persons", json=person_body(esi(), PIC), headers=auth)
        assert person.status_code == 201, person.text
        card = httpx.post(f"{base}/api/v2/cards", json=card_body(esi(), PIC), headers=auth)
        assert card.status_code == 201, card.text
        yield base, card.json()["cardNumber"], schema
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            process.wait(timeout=30)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _lookups(base: str, escn: str, count: int) -> list[httpx.Response]:
    """``count`` anonymous status lookups, eight at a time, each on a new connection."""

    def one(_: int) -> httpx.Response:
        return httpx.get(f"{base}/api/v2/cards/{escn}/status", timeout=20)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def _end_server_processes(name: str) -> int:
    """End the PostgreSQL server process of every connection named ``name``; how many."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name"
                    ),
                    {"name": name},
                ).all()
            )
    finally:
        admin.dispose()


@pytest.mark.e2e
def test_kept_connections_survive_a_database_restart(served: tuple[str, str, str]) -> None:
    base, escn, name = served
    assert {r.status_code for r in _lookups(base, escn, 40)} == {200}
    # Quiet, then the server processes end: each kept connection is pinged and replaced.
    assert _end_server_processes(name) >= 1
    time.sleep(IDLE_BEFORE_PING + 0.5)
    assert [r.status_code for r in _lookups(base, escn, 40)] == [200] * 40
    # Under load: at most one failed lookup per kept connection, then every lookup is served.
    assert _end_server_processes(name) >= 1
    answers = _lookups(base, escn, 40)
    failed = [r for r in answers if r.status_code != 200]
    assert len(failed) <= THREADS, [r.status_code for r in answers]
    assert all(
        r.status_code == 503 and r.json()["code"] == DatabaseUnavailable.code for r in failed
    ), [r.text for r in failed]
    assert [r.status_code for r in _lookups(base, escn, 20)] == [200] * 20
