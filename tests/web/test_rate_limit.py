"""Anonymous lookups are limited per client address, in a counter every worker shares."""

from __future__ import annotations

from dataclasses import replace

import pytest

from router import anonymous_limits
from router.app import create_app
from router.domain.rate_limit import RateLimit, parse_rate_limit
from router.settings import Settings

START = 1_800_000_000.0  # a window boundary for 60 s windows (divisible by 60)


@pytest.fixture
def clock(monkeypatch):
    now = {"t": START}
    monkeypatch.setattr(anonymous_limits, "clock", lambda: now["t"])
    return now


@pytest.fixture
def limited(app, clock):
    app.extensions["escr.settings"] = replace(
        app.extensions["escr.settings"], public_rate_limit="3/minute"
    )
    return app


def test_fourth_anonymous_lookup_in_a_minute_is_429_with_retry_after(limited, registered):
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(3):
        assert client.get(f"/cards/{escn}").status_code == 200
    refused = client.get(f"/cards/{escn}")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "Too many checks" in refused.get_data(as_text=True)


def test_page_and_json_status_share_one_budget(limited, registered, clock):
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


def test_the_limit_resets_with_the_next_window(limited, registered, clock):
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(4):
        client.get(f"/cards/{escn}")
    assert client.get(f"/cards/{escn}").status_code == 429
    clock["t"] += 60
    assert client.get(f"/cards/{escn}").status_code == 200


def test_addresses_are_counted_apart(limited, registered):
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


def test_authenticated_status_calls_are_not_limited(limited, registered, uni):
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(5):
        response = client.get(f"/api/v2/cards/{escn}/status", headers=uni.headers)
        assert response.status_code == 200


def test_two_apps_on_one_database_share_the_count(limited, settings, registered, clock):
    """Two application objects stand for two gunicorn workers: one counter in the database."""
    escn = registered()["escn"]
    other_worker = create_app(replace(settings, public_rate_limit="3/minute"))
    first, second = limited.test_client(), other_worker.test_client()
    try:
        assert first.get(f"/cards/{escn}").status_code == 200
        assert second.get(f"/cards/{escn}").status_code == 200
        assert first.get(f"/cards/{escn}").status_code == 200
        assert second.get(f"/cards/{escn}").status_code == 429
    finally:
        other_worker.extensions["escr.database"].engine.dispose()


def test_rate_limited_lookups_change_nothing_but_the_counter(limited, registered, uni):
    escn = registered()["escn"]
    client = limited.test_client()
    for _ in range(5):
        client.get(f"/cards/{escn}")
    history = client.get(f"/api/x/cards/{escn}/history", headers=uni.headers).json
    assert len(history) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/minute", RateLimit(60, 60)),
        ("1000 per hour", RateLimit(1000, 3600)),
        ("10/30 seconds", RateLimit(10, 30)),
        ("5/day", RateLimit(5, 86400)),
    ],
)
def test_rate_limit_settings_parse(text, expected):
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["", "fast", "0/minute", "10/fortnight", "-1/second"])
def test_bad_rate_limit_settings_fail_at_start_up(text, tmp_path):
    with pytest.raises(ValueError):
        Settings(instance_path=tmp_path, public_rate_limit=text)


def test_rate_limit_and_retention_come_from_the_environment(tmp_path):
    settings = Settings.from_env(
        {
            "ESCR_INSTANCE_PATH": str(tmp_path),
            "ESCR_PUBLIC_RATE_LIMIT": "5/second",
            "ESCR_VERIFICATION_RETENTION_DAYS": "30",
        }
    )
    assert settings.public_rate == RateLimit(5, 1)
    assert settings.verification_retention_days == 30
