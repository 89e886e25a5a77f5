"""``/api/x/webhooks``: subscriptions, the outbox rows card changes write, and isolation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import FakeDns, MakeTenant, Register, Tenant, card_body

HOOKS = "/api/x/webhooks"
URL = "https://hooks.example.org/escr"
# A public address the subscribing tests' host names resolve to; nothing connects to it here.
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def public_hooks(fake_dns: FakeDns) -> FakeDns:
    for name in ("hooks.example.org", "other.example.org"):
        fake_dns.names[name] = [PUBLIC_ADDRESS]
    return fake_dns


@pytest.fixture
def subscribe(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    def factory(tenant: Tenant, url: str = URL) -> dict[str, Any]:
        response = client.post(HOOKS, json={"url": url}, headers=tenant.headers)
        assert response.status_code == 201, response.json
        return response.json

    return factory


def _deliveries(
    client: FlaskClient, tenant: Tenant, subscription: dict[str, Any], **query: str | int
) -> list[dict[str, Any]]:
    response = client.get(
        f"{HOOKS}/{subscription['id']}/deliveries", query_string=query, headers=tenant.headers
    )
    assert response.status_code == 200, response.json
    return response.json


def test_subscribe_list_and_unsubscribe(
    client: FlaskClient, uni: Tenant, subscribe: Callable[..., dict[str, Any]]
) -> None:
    created = subscribe(uni)
    assert created["url"] == URL
    assert created["events"] == ["card.status_changed"]
    assert len(created["secret"]) >= 32
    listed = client.get(HOOKS, headers=uni.headers).json
    assert [s["id"] for s in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert client.delete(f"{HOOKS}/{created['id']}", headers=uni.headers).status_code == 204
    assert client.get(HOOKS, headers=uni.headers).json == []
    again = client.delete(f"{HOOKS}/{created['id']}", headers=uni.headers)
    assert again.status_code == 404 and again.json["code"] == "ER-0080"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "http://hooks.example.org/escr"}, "ER-0081"),
        ({"url": "ftp://hooks.example.org/"}, "ER-0081"),
        ({"url": "https://"}, "ER-0081"),
        ({"url": "https://user:pw@hooks.example.org/"}, "ER-0081"),
        ({"url": "https://hooks.example.org:99999/"}, "ER-0081"),
        ({"url": "https://127.0.0.1/hook"}, "ER-0081"),
        ({"url": "https://[::1]/hook"}, "ER-0081"),
        ({"url": "https://10.1.2.3/hook"}, "ER-0081"),
        ({"url": "https://169.254.169.254/latest"}, "ER-0081"),
        ({"url": "https://localhost:8443/hook"}, "ER-0081"),
        ({"url": URL, "events": ["card.created"]}, "ER-0400"),
        ({"url": URL, "events": []}, "ER-0400"),
        ({}, "ER-0400"),
    ],
)
def test_bad_subscriptions_are_refused_and_store_nothing(
    client: FlaskClient, uni: Tenant, body: dict[str, Any], code: str
) -> None:
    response = client.post(HOOKS, json=body, headers=uni.headers)
    assert response.status_code == 400, response.json
    assert response.json["code"] == code
    assert client.get(HOOKS, headers=uni.headers).json == []


def test_webhooks_need_a_credential_and_a_reading_scope(
    client: FlaskClient, uni: Tenant, make_tenant: MakeTenant
) -> None:
    writer = make_tenant(uni.pic, scopes=["persons:write"])
    assert client.get(HOOKS).status_code == 401
    assert client.post(HOOKS, json={"url": URL}).status_code == 401
    refused = client.post(HOOKS, json={"url": URL}, headers=writer.headers)
    assert refused.status_code == 403 and refused.json["code"] == "SE-0002"
    partner = make_tenant("123456789", kind="partner", scopes=["verify"])
    assert client.post(HOOKS, json={"url": URL}, headers=partner.headers).status_code == 201


def test_status_changes_queue_one_signed_event_each(
    client: FlaskClient, uni: Tenant, registered: Register, subscribe: Callable[..., dict[str, Any]]
) -> None:
    hook = subscribe(uni)
    record = registered("W1")
    escn = record["escn"]
    assert _deliveries(client, uni, hook) == []  # issuing a card is not a status change

    client.post(f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=uni.headers)
    client.post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "REACTIVATE"}, headers=uni.headers
    )
    unchanged = card_body(record["esi"], uni.pic, displayName="Renamed only")
    assert (
        client.put(f"/api/v2/cards/{escn}", json=unchanged, headers=uni.headers).status_code == 200
    )
    inactive = card_body(record["esi"], uni.pic, cardStatusType="INACTIVE")
    assert (
        client.put(f"/api/v2/cards/{escn}", json=inactive, headers=uni.headers).status_code == 200
    )
    renewed = client.post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "RENEW"}, headers=uni.headers
    )
    replacement = renewed.json["replacedBy"]
    assert client.delete(f"/api/v2/cards/{replacement}", headers=uni.headers).status_code == 204

    rows = list(reversed(_deliveries(client, uni, hook)))
    data = [row["payload"]["data"] for row in rows]
    assert [(d["cardNumber"], d["previousState"], d["state"], d["reason"]) for d in data] == [
        (escn, "ACTIVE", "SUSPENDED", "SUSPEND"),
        (escn, "SUSPENDED", "ACTIVE", "REACTIVATE"),
        (escn, "ACTIVE", "INACTIVE", "DEACTIVATE"),
        (escn, "INACTIVE", "RENEWED", "RENEW"),
        (replacement, "ACTIVE", "DELETED", "DELETED"),
    ]
    assert [d["cardStatusType"] for d in data] == [
        "INACTIVE",
        "ACTIVE",
        "INACTIVE",
        "INACTIVE",
        "INACTIVE",
    ]
    first = rows[0]
    assert first["status"] == "pending" and first["attempts"] == 0
    assert first["payload"]["type"] == "card.status_changed"
    assert first["payload"]["id"] == first["eventId"]
    assert first["payload"]["occurredAt"]
    assert len({row["eventId"] for row in rows}) == 5


def test_erasing_a_person_queues_the_deletion_of_their_cards(
    client: FlaskClient, uni: Tenant, registered: Register, subscribe: Callable[..., dict[str, Any]]
) -> None:
    hook = subscribe(uni)
    record = registered("W2")
    assert client.delete(f"/api/v2/persons/{record['esi']}", headers=uni.headers).status_code == 204
    rows = _deliveries(client, uni, hook)
    assert [(r["cardNumber"], r["payload"]["data"]["state"]) for r in rows] == [
        (record["escn"], "DELETED")
    ]


def test_a_refused_change_queues_nothing(
    client: FlaskClient, uni: Tenant, registered: Register, subscribe: Callable[..., dict[str, Any]]
) -> None:
    hook = subscribe(uni)
    escn = registered("W3")["escn"]
    client.post(f"/api/x/cards/{escn}/lifecycle", json={"action": "DESTROY"}, headers=uni.headers)
    refused = client.post(
        f"/api/x/cards/{escn}/lifecycle", json={"action": "REACTIVATE"}, headers=uni.headers
    )
    assert refused.status_code == 422
    rows = _deliveries(client, uni, hook)
    assert [r["payload"]["data"]["reason"] for r in rows] == ["DESTROY"]


def test_every_subscription_of_the_issuer_gets_the_event(
    client: FlaskClient, uni: Tenant, registered: Register, subscribe: Callable[..., dict[str, Any]]
) -> None:
    first, second = subscribe(uni), subscribe(uni, "https://other.example.org/hook")
    escn = registered("W4")["escn"]
    client.post(f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=uni.headers)
    one, two = _deliveries(client, uni, first), _deliveries(client, uni, second)
    assert len(one) == len(two) == 1
    assert one[0]["eventId"] == two[0]["eventId"]
    assert json.dumps(one[0]["payload"]) == json.dumps(two[0]["payload"])


def test_organisations_never_see_each_others_subscriptions_or_events(
    client: FlaskClient,
    uni: Tenant,
    other_uni: Tenant,
    registered: Register,
    subscribe: Callable[..., dict[str, Any]],
) -> None:
    mine, theirs = subscribe(uni), subscribe(other_uni, "https://other.example.org/hook")
    escn = registered("W5")["escn"]
    other_escn = registered("W6", tenant=other_uni)["escn"]
    client.post(f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=uni.headers)
    client.post(
        f"/api/x/cards/{other_escn}/lifecycle",
        json={"action": "REPORT_LOST"},
        headers=other_uni.headers,
    )
    assert [s["id"] for s in client.get(HOOKS, headers=uni.headers).json] == [mine["id"]]
    assert [d["cardNumber"] for d in _deliveries(client, uni, mine)] == [escn]
    assert [d["cardNumber"] for d in _deliveries(client, other_uni, theirs)] == [other_escn]
    for method, path in [
        ("GET", f"{HOOKS}/{theirs['id']}/deliveries"),
        ("DELETE", f"{HOOKS}/{theirs['id']}"),
    ]:
        response = client.open(path, method=method, headers=uni.headers)
        assert response.status_code == 404 and response.json["code"] == "ER-0080"
    assert [s["id"] for s in client.get(HOOKS, headers=other_uni.headers).json] == [theirs["id"]]


def test_delivery_list_filters_by_status(
    client: FlaskClient, uni: Tenant, registered: Register, subscribe: Callable[..., dict[str, Any]]
) -> None:
    hook = subscribe(uni)
    escn = registered("W7")["escn"]
    client.post(f"/api/x/cards/{escn}/lifecycle", json={"action": "SUSPEND"}, headers=uni.headers)
    assert len(_deliveries(client, uni, hook, status="pending")) == 1
    assert _deliveries(client, uni, hook, status="dead") == []
    bad = client.get(f"{HOOKS}/{hook['id']}/deliveries?status=lost", headers=uni.headers)
    assert bad.status_code == 400


def test_batch_status_changes_queue_events_unchanged_items_none(
    client: FlaskClient, uni: Tenant, registered: Register, subscribe: Callable[..., dict[str, Any]]
) -> None:
    hook = subscribe(uni)
    record = registered("W8")
    item = card_body(record["esi"], uni.pic, cardNumber=record["escn"], cardStatusType="INACTIVE")
    response = client.post("/api/x/cards:batch", json={"items": [item]}, headers=uni.headers)
    assert response.json["results"][0]["outcome"] == "updated"
    unchanged = client.post("/api/x/cards:batch", json={"items": [item]}, headers=uni.headers)
    assert unchanged.json["results"][0]["outcome"] == "unchanged"
    rows = _deliveries(client, uni, hook)
    assert [r["payload"]["data"]["reason"] for r in rows] == ["DEACTIVATE"]


def test_partners_get_the_events_of_the_cards_they_verified_only(
    client: FlaskClient,
    uni: Tenant,
    registered: Register,
    subscribe: Callable[..., dict[str, Any]],
    make_tenant: MakeTenant,
) -> None:
    partner = make_tenant("777777777", "City Transport", kind="transport", country="BE")
    hook = subscribe(partner)
    verified, other = registered("seen-1"), registered("unseen-1")
    checked = client.post(
        "/api/x/verify", json={"scanned": verified["escn"]}, headers=partner.headers
    )
    assert checked.status_code == 200
    for card in (verified, other):
        client.post(f"/api/x/cards/{card['escn']}/lifecycle", json={"action": "REPORT_STOLEN"},
                    headers=uni.headers)
    data = [row["payload"]["data"] for row in _deliveries(client, partner, hook)]
    assert [(d["cardNumber"], d["state"]) for d in data] == [(verified["escn"], "STOLEN")]
