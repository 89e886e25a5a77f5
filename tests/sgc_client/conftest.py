"""A live router for the client's tests: gunicorn on a free loopback port, as scripts/serve runs it.

The router gets a temporary SQLite database migrated with ``escr-admin db upgrade``, and two
institutions with an API key each (``escr-admin org create`` / ``key create``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import free_port, wait_until_serving

BIN = Path(sys.executable).parent


@dataclass
class LiveRouter:
    """A running router and the credentials of its institutions."""

    url: str
    env: dict[str, str]
    keys: dict[str, str]

    def admin(self, *args: str) -> str:
        """Run escr-admin against the router's database; its standard output."""
        done = subprocess.run(
            [str(BIN / "escr-admin"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout


@pytest.fixture(scope="session")
def live_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRouter]:
    """gunicorn serving a fresh router on 127.0.0.1, for the whole session."""
    instance = tmp_path_factory.mktemp("live-router")
    env = {
        **os.environ,
        "ESCR_INSTANCE_PATH": str(instance),
        "ESCR_DATABASE_URL": f"sqlite:///{instance / 'router.sqlite3'}",
        "ESCR_SECRET_KEY": "live-test-secret",
        # The webhook receiver of the tests listens on plain http://127.0.0.1.
        "ESCR_WEBHOOK_ALLOW_INSECURE": "1",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["ESCR_PUBLIC_URL"] = url
    router = LiveRouter(url=url, env=env, keys={})
    router.admin("db", "upgrade")
    for pic, name in (("999999999", "Demo University"), ("888888888", "Other University")):
        router.admin("org", "create", "--pic", pic, "--name", name, "--country", "FR")
        router.keys[pic] = router.admin("key", "create", "--pic", pic).strip().splitlines()[0]
    log = (instance / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "router.wsgi:app",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_serving(url, server, timeout=30, why_not=(instance / 'gunicorn.log').read_text)
        yield router
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@dataclass
class LiveTenant:
    """An institution of the live router with its API key."""

    pic: str
    key: str


_next_pic = iter(range(777_000_001, 777_999_999))


@pytest.fixture
def make_live_tenant(live_router: LiveRouter) -> Callable[[], LiveTenant]:
    """Factory: a fresh institution, so tests do not see each other's persons and cards."""

    def factory() -> LiveTenant:
        pic = str(next(_next_pic))
        live_router.admin("org", "create", "--pic", pic, "--name", f"University {pic}")
        key = live_router.admin("key", "create", "--pic", pic).strip().splitlines()[0]
        return LiveTenant(pic=pic, key=key)

    return factory


@pytest.fixture
def live_tenant(make_live_tenant: Callable[[], LiveTenant]) -> LiveTenant:
    """A fresh institution of the live router."""
    return make_live_tenant()
