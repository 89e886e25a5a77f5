"""Webhook targets: public addresses only, in any notation, connected to as checked (no SSRF)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from router.db import Database, utcnow
from router.models import WebhookDelivery, WebhookSubscription
from router.services import webhook_delivery
from router.services.webhook_delivery import DeliveryPolicy
from router.settings import Settings
from tests.conftest import FakeDns, Register, Tenant
from tests.live_server import WebhookReceiver, free_port

HOOKS = "/api/x/webhooks"
PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/",
        "https://127.1/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://localhost./",
        "https://LOCALHOST/",
        "https://100.100.100.200/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://240.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://[64:ff9b::a00:1]/",
        "https://[fe80::1]/",
        "https://[::]/",
        "https://internal.example.org/hook",
        "https://mixed.example.org/hook",
        "https://unresolvable.invalid/hook",
    ],
)
def test_a_host_that_is_or_resolves_to_an_internal_address_is_refused(
    client: FlaskClient, uni: Tenant, fake_dns: FakeDns, url: str
) -> None:
    fake_dns.names["internal.example.org"] = ["10.0.0.5"]
    fake_dns.names["mixed.example.org"] = [PUBLIC, "127.0.0.1"]
    response = client.post(HOOKS, json={"url": url}, headers=uni.headers)
    assert response.status_code == 400, response.json
    assert response.json["code"] == "ER-0081"
    assert client.get(HOOKS, headers=uni.headers).json == []


def test_a_host_resolving_to_public_addresses_is_accepted(
    client: FlaskClient, uni: Tenant, fake_dns: FakeDns
) -> None:
    fake_dns.names["hooks.example.org"] = [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    response = client.post(HOOKS, json={"url": "https://hooks.example.org/h"}, headers=uni.headers)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("url", [f"https://{PUBLIC}:0/h", "https://hooks.example.org:0/h"])
def test_port_zero_is_refused_not_read_as_the_default_port(
    client: FlaskClient, uni: Tenant, fake_dns: FakeDns, url: str
) -> None:
    # Port 0 is falsy: it was taken as 443 and the subscription stored without it.
    fake_dns.names["hooks.example.org"] = [PUBLIC]
    response = client.post(HOOKS, json={"url": url}, headers=uni.headers)
    assert response.status_code == 400, response.json
    assert response.json["code"] == "ER-0081"
    assert client.get(HOOKS, headers=uni.headers).json == []


class Recorder:
    """An httpx transport that records what the worker sends and answers ``status``."""

    def __init__(self, status: int = 204, body: bytes = b"") -> None:
        self.status, self.body = status, body
        self.requests: list[httpx.Request] = []

    def client(self) -> httpx.Client:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(self.status, content=self.body)

        return httpx.Client(transport=httpx.MockTransport(handle), follow_redirects=False)


def _subscribe_and_change(
    client: FlaskClient, tenant: Tenant, registered: Register, url: str, code: str
) -> dict[str, Any]:
    response = client.post(HOOKS, json={"url": url}, headers=tenant.headers)
    assert response.status_code == 201, response.json
    escn = registered(code, tenant=tenant)["escn"]
    changed = client.post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=tenant.headers
    )
    assert changed.status_code == 200
    return response.json


def _rows(
    client: FlaskClient, tenant: Tenant, subscription: dict[str, Any]
) -> list[dict[str, Any]]:
    return client.get(f"{HOOKS}/{subscription['id']}/deliveries", headers=tenant.headers).json


def test_a_host_rebound_to_loopback_after_subscribing_is_refused_at_delivery(
    client: FlaskClient, uni: Tenant, db: Database, registered: Register, fake_dns: FakeDns
) -> None:
    fake_dns.names["hooks.example.org"] = [PUBLIC]
    hook = _subscribe_and_change(client, uni, registered, "https://hooks.example.org/h", "R1")
    fake_dns.names["hooks.example.org"] = ["127.0.0.1"]  # DNS rebinding
    recorder = Recorder()
    run = webhook_delivery.deliver_due(db, DeliveryPolicy(), http=recorder.client())
    assert (run.delivered, run.retried) == (0, 1)
    assert recorder.requests == []  # nothing was sent anywhere
    [row] = _rows(client, uni, hook)
    assert row["status"] == "pending" and row["lastError"].startswith("refused")


def test_the_worker_connects_to_the_address_it_checked_and_names_the_host(
    client: FlaskClient, uni: Tenant, db: Database, registered: Register, fake_dns: FakeDns
) -> None:
    fake_dns.names["hooks.example.org"] = [PUBLIC]
    _subscribe_and_change(client, uni, registered, "https://hooks.example.org:8443/h?x=1", "R2")
    fake_dns.lookups.clear()
    recorder = Recorder()
    run = webhook_delivery.deliver_due(db, DeliveryPolicy(), http=recorder.client())
    assert run.delivered == 1
    [request] = recorder.requests
    assert str(request.url) == f"https://{PUBLIC}:8443/h?x=1"
    assert request.headers["Host"] == "hooks.example.org:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.org"
    assert fake_dns.lookups == ["hooks.example.org"]  # one lookup, the checked one


def test_a_subscriber_sees_the_status_of_a_failed_delivery_not_the_body(
    client: FlaskClient, uni: Tenant, db: Database, registered: Register, fake_dns: FakeDns
) -> None:
    fake_dns.names["hooks.example.org"] = [PUBLIC]
    hook = _subscribe_and_change(client, uni, registered, "https://hooks.example.org/h", "R3")
    recorder = Recorder(status=500, body=b"internal admin panel: root password is hunter2")
    webhook_delivery.deliver_due(db, DeliveryPolicy(), http=recorder.client())
    [row] = _rows(client, uni, hook)
    assert row["lastStatusCode"] == 500 and row["lastError"] == "HTTP 500"


def test_a_pinned_delivery_reaches_a_real_receiver_by_name(
    client: FlaskClient,
    uni: Tenant,
    db: Database,
    registered: Register,
    fake_dns: FakeDns,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over real HTTP (insecure mode, loopback): the request carries the subscribed host name."""
    fake_dns.names["receiver.test"] = ["127.0.0.1"]
    port = free_port()
    app_settings = dataclasses.replace(settings, webhook_allow_insecure=True)
    client.application.extensions["escr.settings"] = app_settings
    hook = _subscribe_and_change(client, uni, registered, f"http://receiver.test:{port}/h", "R4")
    receiver = WebhookReceiver(port, hook["secret"])
    receiver.start()
    try:
        fake_dns.lookups.clear()
        run = webhook_delivery.deliver_due(db, DeliveryPolicy(allow_insecure=True))
    finally:
        receiver.stop()
    assert run.delivered == 1
    [delivered] = receiver.received
    assert delivered["valid"] and delivered["headers"]["Host"] == f"receiver.test:{port}"
    assert fake_dns.lookups == ["receiver.test"]


def _insert_subscription(db: Database, organisation_id: int, url: str) -> str:
    """A subscription row as an older router version may have stored it, unchecked."""
    with db.session() as session:
        subscription = WebhookSubscription(
            id=str(uuid.uuid4()), organisation_id=organisation_id, url=url,
            events="card.status_changed", secret="s" * 43, created_at=utcnow(),
        )
        session.add(subscription)
        session.commit()
        return subscription.id


def _organisation_id(db: Database, pic: str) -> int:
    from router.services import organisations

    with db.session() as session:
        return organisations.get_organisation(session, pic).id


def test_one_unusable_subscription_never_stops_the_others_deliveries(
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    db: Database,
    registered: Register,
    fake_dns: FakeDns,
) -> None:
    fake_dns.names["hooks.example.org"] = [PUBLIC]
    good = _subscribe_and_change(client, other_uni, registered, "https://hooks.example.org/g", "B1")
    bad_id = _insert_subscription(db, _organisation_id(db, uni.pic), "https://bad.example.org/\x01")
    escn = registered("B2")["escn"]
    client.post(f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=uni.headers)
    recorder = Recorder()
    run = webhook_delivery.deliver_due(
        db, DeliveryPolicy(max_attempts=2, backoff_seconds=0), http=recorder.client()
    )
    assert (run.delivered, run.retried) == (1, 1)
    assert [r.headers["Host"] for r in recorder.requests] == ["hooks.example.org"]
    assert _rows(client, other_uni, good)[0]["status"] == "delivered"
    with db.session() as session:
        [bad] = session.query(WebhookDelivery).filter_by(subscription_id=bad_id).all()
        assert bad.attempts == 1 and bad.last_error and bad.claim_token is None
    # The next pass gives it up (dead) instead of failing again and again.
    again = webhook_delivery.drain(
        db, DeliveryPolicy(max_attempts=2, backoff_seconds=0), http=recorder.client()
    )
    assert again.dead == 1


def test_an_exception_inside_one_delivery_fails_that_delivery_only(
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    db: Database,
    registered: Register,
    fake_dns: FakeDns,
) -> None:
    fake_dns.names["hooks.example.org"] = [PUBLIC]
    fake_dns.names["broken.example.org"] = [PUBLIC]
    _subscribe_and_change(client, uni, registered, "https://broken.example.org/h", "C1")
    good = _subscribe_and_change(client, other_uni, registered, "https://hooks.example.org/g", "C2")
    sent: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers["Host"] == "broken.example.org":
            raise httpx.InvalidURL("refused by the client")
        sent.append(request.headers["Host"])
        return httpx.Response(204)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    run = webhook_delivery.deliver_due(db, DeliveryPolicy(), http=http)
    assert (run.delivered, run.retried) == (1, 1) and sent == ["hooks.example.org"]
    assert _rows(client, other_uni, good)[0]["status"] == "delivered"
