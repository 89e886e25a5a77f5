"""/metrics: requests, latency, lookups, verdicts, webhooks, the pool; restrictable by address."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from router.app import create_app
from router.settings import Settings
from tests.conftest import MakeTenant, Register, Tenant


def scrape(client: FlaskClient, **kwargs: Any) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[str, dict[tuple, float]], name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status(
    client: FlaskClient, uni: Tenant, registered: Register
) -> None:
    before = scrape(client)
    card = registered()
    client.get(f"/api/v2/cards/{card['escn']}", headers=uni.headers)
    client.get("/api/v2/cards/f81d4fae-7dec-11d0-a765-001999999999", headers=uni.headers)
    client.get("/no/such/page")
    after = scrape(client)
    route = "/api/v2/cards/<escn>"
    for status, added in (("200", 1), ("404", 1)):
        key = {"method": "GET", "route": route, "status": status}
        assert value(after, "escr_http_requests_total", **key) - value(
            before, "escr_http_requests_total", **key
        ) == added
    # Paths never become labels: an ESCN in a path would make one series per card.
    assert card["escn"] not in str(after)
    assert value(after, "escr_http_requests_total", method="GET", route="unmatched", status="404")
    assert value(after, "escr_http_request_duration_seconds_count", method="GET", route=route) >= 2


def test_public_lookups_and_refusals_are_counted(app: Flask, registered: Register) -> None:
    from router.anonymous_limits import AnonymousLimiter

    settings = replace(app.extensions["escr.settings"], public_rate_limit="2/hour")
    app.extensions["escr.anonymous_limiter"] = AnonymousLimiter(settings)
    client = app.test_client()
    escn = registered()["escn"]
    before = scrape(client)
    statuses = [client.get(f"/api/v2/cards/{escn}/status").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    after = scrape(client)
    for outcome, added in (("allowed", 2), ("refused", 1)):
        name = "escr_public_lookups_total"
        assert value(after, name, outcome=outcome) - value(before, name, outcome=outcome) == added


def test_verifications_are_counted_by_verdict(
    client: FlaskClient, uni: Tenant, registered: Register, make_tenant: MakeTenant
) -> None:
    partner = make_tenant("777777777", "City Transport", kind="transport", country="BE")
    card = registered()
    before = scrape(client)
    client.post("/api/x/verify", json={"scanned": card["escn"]}, headers=partner.headers)
    client.post(
        f"/api/x/cards/{card['escn']}/lifecycle", json={"action": "REPORT_LOST"},
        headers=uni.headers,
    )
    client.post("/api/x/verify", json={"scanned": card["escn"]}, headers=partner.headers)
    after = scrape(client)
    for verdict in ("VALID", "LOST"):
        name = "escr_verifications_total"
        assert value(after, name, verdict=verdict) - value(before, name, verdict=verdict) == 1


def test_webhook_queue_is_read_from_the_database(
    client: FlaskClient, uni: Tenant, registered: Register, app: Flask
) -> None:
    app.extensions["escr.settings"] = replace(
        app.extensions["escr.settings"], webhook_allow_insecure=True
    )
    hook = client.post(
        "/api/x/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=uni.headers
    )
    assert hook.status_code == 201, hook.json
    card = registered()
    for action in ("SUSPEND", "REACTIVATE"):
        client.post(
            f"/api/x/cards/{card['escn']}/lifecycle", json={"action": action}, headers=uni.headers
        )
    samples = scrape(client)
    assert value(samples, "escr_webhook_queue_depth") == 2
    assert value(samples, "escr_webhook_deliveries", status="pending") == 2
    assert value(samples, "escr_webhook_deliveries", status="dead") == 0
    assert value(samples, "escr_webhook_oldest_pending_seconds") >= 0


def test_database_pool_use_is_reported(client: FlaskClient) -> None:
    samples = scrape(client)
    assert value(samples, "escr_db_pool_capacity") >= 1
    assert "escr_db_pool_checked_out" in samples


def test_metrics_need_no_key_but_can_be_restricted_to_address_ranges(settings: Settings) -> None:
    restricted = create_app(replace(settings, metrics_allow="127.0.0.0/8, 10.1.0.0/16"))
    try:
        client = restricted.test_client()
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
        refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.1"})
        assert refused.status_code == 403
        assert refused.mimetype == "application/problem+json"
        assert refused.json["code"] == "ER-0150"
    finally:
        restricted.extensions["escr.database"].engine.dispose()


def test_a_bad_metrics_range_fails_at_start_up(tmp_path: Path) -> None:
    import pytest

    from router.settings import Settings

    with pytest.raises(ValueError, match="ESCR_METRICS_ALLOW"):
        Settings(instance_path=tmp_path, metrics_allow="10.0.0.0/33")
