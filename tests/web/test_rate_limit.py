"""Anonymous lookups are limited per client address, in the store the settings name."""

from __future__ import annotations

import threading
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import limits.storage.memory
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from router import anonymous_limits
from router.anonymous_limits import AnonymousLimiter
from router.app import create_app
from router.db import Database
from router.domain.errors import RateLimited
from router.settings import Settings
from tests.conftest import RedisStore, Register, Tenant

START = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """One clock for the in-memory store and for Retry-After, moved by the tests."""
    now = {"t": START}
    monkeypatch.setattr(limits.storage.memory, "time", types.SimpleNamespace(time=lambda: now["t"]))
    monkeypatch.setattr(anonymous_limits, "clock", lambda: now["t"])
    return now


def _limit(app: Flask, **changes: Any) -> Flask:
    settings = replace(app.extensions["escr.settings"], **changes)
    app.extensions["escr.settings"] = settings
    app.extensions["escr.anonymous_limiter"] = AnonymousLimiter(settings)
    return app


@pytest.fixture
def limited(app: Flask, clock: dict[str, float]) -> Flask:
    return _limit(app, public_rate_limit="3/minute")


def test_fourth_anonymous_lookup_in_a_minute_is_429_with_retry_after(
    limited: Flask, registered: Register
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(3):
        assert client.get(f"/cards/{escn}").status_code == 200
    refused = client.get(f"/cards/{escn}")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "Too many checks" in refused.get_data(as_text=True)


def test_page_and_json_status_share_one_budget(
    limited: Flask, registered: Register, clock: dict[str, float]
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    assert client.get(f"/cards/{escn}").status_code == 200
    assert client.get(f"/api/v2/cards/{escn}/status").status_code == 200
    assert client.get(f"/cards/{escn}", headers={"Accept": "application/json"}).status_code == 200
    clock["t"] += 45
    refused = client.get(f"/api/v2/cards/{escn}/status")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["code"] == "ER-0094"
    assert refused.headers["Retry-After"] == "15"


def test_the_limit_resets_with_the_next_window(
    limited: Flask, registered: Register, clock: dict[str, float]
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(4):
        client.get(f"/cards/{escn}")
    assert client.get(f"/cards/{escn}").status_code == 429
    clock["t"] += 60
    assert client.get(f"/cards/{escn}").status_code == 200


def test_several_limits_each_hold(
    app: Flask, clock: dict[str, float], registered: Register
) -> None:
    _limit(app, public_rate_limit="2/second;4/minute")
    escn = registered()["escn"]
    client = app.test_client()
    assert [client.get(f"/cards/{escn}").status_code for _ in range(3)] == [200, 200, 429]
    clock["t"] += 1
    assert client.get(f"/cards/{escn}").status_code == 200
    refused = client.get(f"/cards/{escn}")
    assert refused.status_code == 429
    # Refused lookups count too: the minute's budget is spent, its window ends in 59 s.
    assert refused.headers["Retry-After"] == "59"


def test_addresses_are_counted_apart(limited: Flask, registered: Register) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(3):
        client.get(f"/cards/{escn}", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert (
        client.get(f"/cards/{escn}", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 429
    )
    assert (
        client.get(f"/cards/{escn}", environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 200
    )


def test_authenticated_status_calls_are_not_limited(
    limited: Flask, registered: Register, uni: Tenant
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(5):
        response = client.get(f"/api/v2/cards/{escn}/status", headers=uni.headers)
        assert response.status_code == 200


def test_rate_limited_lookups_change_nothing(
    limited: Flask, registered: Register, uni: Tenant
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(5):
        client.get(f"/cards/{escn}")
    history = client.get(f"/api/x/cards/{escn}/history", headers=uni.headers).json
    assert len(history) == 1


def test_the_count_is_not_kept_in_the_database(
    limited: Flask, registered: Register, db: Database
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    from sqlalchemy import inspect

    client.get(f"/cards/{escn}")
    assert "rate_limit_windows" not in inspect(db.engine).get_table_names()


def _proxied(client: FlaskClient, escn: str, client_address: str) -> TestResponse:
    return client.get(
        f"/cards/{escn}",
        environ_base={"REMOTE_ADDR": "10.0.0.1"},  # the reverse proxy
        headers={"X-Forwarded-For": client_address},
    )


def test_behind_a_trusted_proxy_the_client_is_counted_not_the_proxy(
    settings: Settings, clock: dict[str, float], registered: Register
) -> None:
    proxied = create_app(replace(settings, public_rate_limit="3/minute", trusted_proxies=1))
    try:
        escn = registered()["escn"]
        client = proxied.test_client()
        for _ in range(3):
            assert _proxied(client, escn, "198.51.100.7").status_code == 200
        assert _proxied(client, escn, "198.51.100.7").status_code == 429
        # Another client behind the same proxy has its own budget.
        assert _proxied(client, escn, "198.51.100.8").status_code == 200
        # A client cannot choose its address: the proxy appends the one it saw, and only the
        # last (trusted) hop counts.
        assert _proxied(client, escn, "203.0.113.9, 198.51.100.7").status_code == 429
    finally:
        proxied.extensions["escr.database"].engine.dispose()


def test_without_trusted_proxies_forwarded_headers_are_ignored(
    limited: Flask, registered: Register
) -> None:
    escn = registered()["escn"]
    client = limited.test_client()
    for n in range(3):
        assert _proxied(client, escn, f"198.51.100.{n}").status_code == 200
    # Every request came from the proxy's address: a spoofed header changes nothing.
    assert _proxied(client, escn, "198.51.100.99").status_code == 429


def test_two_workers_on_one_redis_share_the_count(
    settings: Settings, registered: Register, redis_store: RedisStore
) -> None:
    """Two application objects stand for two gunicorn workers (or hosts) on one Redis."""
    shared = replace(
        settings,
        public_rate_limit="3/hour",
        rate_limit_storage=redis_store.url,
        rate_limit_prefix=redis_store.prefix,
    )
    first, second = create_app(shared), create_app(shared)
    try:
        escn = registered()["escn"]
        one, two = first.test_client(), second.test_client()
        assert one.get(f"/cards/{escn}").status_code == 200
        assert two.get(f"/cards/{escn}").status_code == 200
        assert one.get(f"/cards/{escn}").status_code == 200
        refused = two.get(f"/cards/{escn}")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
    finally:
        for worker in (first, second):
            worker.extensions["escr.database"].engine.dispose()


def _redis_limiter(settings: Settings, store: RedisStore, rate: str) -> AnonymousLimiter:
    return AnonymousLimiter(
        replace(
            settings,
            public_rate_limit=rate,
            rate_limit_storage=store.url,
            rate_limit_prefix=store.prefix,
        )
    )


def test_on_redis_each_thread_counts_on_a_connection_of_its_own_one_count_for_all(
    settings: Settings, redis_store: RedisStore
) -> None:
    import redis

    limiter = _redis_limiter(settings, redis_store, "5/hour")
    admin = redis.Redis.from_url(redis_store.url)
    before = {client["id"] for client in admin.client_list()}
    outcomes: list[bool] = []
    counted = threading.Barrier(4)
    done = threading.Event()

    def lookups(count: int) -> None:
        for _ in range(count):
            try:
                limiter.hit("192.0.2.7")
                outcomes.append(True)
            except RateLimited:
                outcomes.append(False)
        counted.wait()
        done.wait()  # the thread's connection lives as long as the thread

    threads = [threading.Thread(target=lookups, args=(3,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        counted.wait(timeout=10)
        # Three threads, three connections of their own, opened when each first counted.
        opened = {client["id"] for client in admin.client_list()} - before - {admin.client_id()}
        assert len(opened) == 3
    finally:
        done.set()
        for thread in threads:
            thread.join()
        admin.close()
    # Nine lookups from three threads: one count, five let through.
    assert sorted(outcomes) == [False] * 4 + [True] * 5
    with pytest.raises(RateLimited):
        limiter.hit("192.0.2.7")


def test_on_redis_a_thread_whose_connection_was_dropped_counts_on_a_new_one(
    settings: Settings, redis_store: RedisStore
) -> None:
    import redis

    limiter = _redis_limiter(settings, redis_store, "3/hour")
    limiter.hit("192.0.2.8")
    admin = redis.Redis.from_url(redis_store.url)
    try:
        # Every client connection but the admin's own, as a Redis restart would.
        assert admin.client_kill_filter(skipme=True, _type="normal") >= 1
    finally:
        admin.close()
    limiter.hit("192.0.2.8")
    limiter.hit("192.0.2.8")
    with pytest.raises(RateLimited):
        limiter.hit("192.0.2.8")


def test_an_unreachable_store_lets_lookups_through_and_counts_it(
    settings: Settings, registered: Register
) -> None:
    from router import metrics

    down = create_app(
        replace(settings, public_rate_limit="1/hour", rate_limit_storage="redis://127.0.0.1:1/0")
    )
    try:
        escn = registered()["escn"]
        before = metrics.RATE_LIMIT_STORE_ERRORS._value.get()
        client = down.test_client()
        assert [client.get(f"/cards/{escn}").status_code for _ in range(3)] == [200] * 3
        assert metrics.RATE_LIMIT_STORE_ERRORS._value.get() == before + 3
    finally:
        down.extensions["escr.database"].engine.dispose()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/minute", [(60, 60)]),
        ("1000 per hour", [(1000, 3600)]),
        ("10/30 seconds", [(10, 30)]),
        ("5/day", [(5, 86400)]),
        ("60/minute;1000/day", [(60, 60), (1000, 86400)]),
    ],
)
def test_rate_limit_settings_parse(
    text: str, expected: list[tuple[int, int]], tmp_path: Path
) -> None:
    rates = Settings(instance_path=tmp_path, public_rate_limit=text).public_rates
    assert [(rate.amount, rate.get_expiry()) for rate in rates] == expected


@pytest.mark.parametrize("text", ["", "fast", "0/minute", "10/fortnight", "-1/second"])
def test_bad_rate_limit_settings_fail_at_start_up(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ESCR_PUBLIC_RATE_LIMIT"):
        Settings(instance_path=tmp_path, public_rate_limit=text)


def test_rate_limit_and_retention_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "ESCR_INSTANCE_PATH": str(tmp_path),
            "ESCR_PUBLIC_RATE_LIMIT": "5/second",
            "ESCR_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/3",
            "ESCR_RATE_LIMIT_PREFIX": "router-a",
            "ESCR_TRUSTED_PROXIES": "2",
            "ESCR_VERIFICATION_RETENTION_DAYS": "30",
        }
    )
    assert [(r.amount, r.get_expiry()) for r in settings.public_rates] == [(5, 1)]
    assert settings.rate_limit_storage == "redis://127.0.0.1:6379/3"
    assert settings.rate_limit_prefix == "router-a"
    assert settings.trusted_proxies == 2
    assert settings.verification_retention_days == 30
