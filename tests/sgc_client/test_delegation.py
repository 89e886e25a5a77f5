"""The home's desk and the host's client, in-process against a router (httpx's WSGI transport)."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from reader_tools.desfire.crypto import diversify_dam_keys, open_enc_k, verify_dam_mac
from router.services.caller import Scope
from sgc_client import RouterClient
from sgc_client.cli import cli
from sgc_client.delegation import (
    DelegationError,
    DelegationHost,
    HomeDesk,
    KeyResolver,
    KeyStore,
    KeyStoreError,
    Ledger,
    Refused,
    UntrustedKey,
    parse_policy,
)
from sgc_client.delegation.policy import PolicyError
from sgc_client.protocol import jose
from sgc_client.protocol.errors import ProtocolError
from tests.conftest import MakeTenant, card_body, esi, person_body
from tests.federation.conftest import application
from tests.live_server import free_port

HOME_PIC, HOST_PIC = "999999999", "888888888"
UID = "04A1B2C3D4E5F6"
DEFAULT_KEY = bytes(range(16))


def policy(approval: str = "auto", **host: object) -> dict:
    rule = {"pic": HOST_PIC, "aids": ["F58542"], "max_quota": 64, "approval": approval, **host}
    return {"cards": {"max_delegations": 2}, "hosts": [rule]}


@dataclass
class World:
    """A router with a home (desk, keys, ledger) and a host (client, keys), and a card."""

    transport: httpx.WSGITransport
    home_api_key: str
    home_client: RouterClient
    host_client: RouterClient
    home_keys: KeyStore
    host_keys: KeyStore
    ledger: Ledger
    escn: str

    def desk(self, document: dict | None = None, **kwargs: Any) -> HomeDesk:
        chosen = parse_policy(policy() if document is None else document)
        return HomeDesk(self.home_client, self.home_keys, HOME_PIC, chosen, self.ledger, **kwargs)

    def host(self, **kwargs: Any) -> DelegationHost:
        return DelegationHost(self.host_client, self.host_keys, HOST_PIC, **kwargs)


@pytest.fixture
def world(app: Flask, make_tenant: MakeTenant, tmp_path: Path) -> Iterator[World]:
    transport = httpx.WSGITransport(app=app)
    clients, stores, api_keys = {}, {}, {}
    for pic in (HOME_PIC, HOST_PIC):
        tenant = make_tenant(pic, scopes=[*Scope.INSTITUTION, Scope.KEYS_MANAGE])
        api_keys[pic] = tenant.key
        clients[pic] = RouterClient("http://router.test", api_key=tenant.key, transport=transport)
        stores[pic] = KeyStore(tmp_path / pic / "keys")
        for use in ("sig", "enc"):
            clients[pic].public_keys.register(stores[pic].create(use).public().jwk)
    stores[HOME_PIC].create_dam_base_keys()
    home = clients[HOME_PIC]
    home.persons.create(person_body(esi("DAM1"), HOME_PIC))
    escn = home.cards.create(card_body(esi("DAM1"), HOME_PIC, csn=UID))["cardNumber"]
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    yield World(transport, api_keys[HOME_PIC], home, clients[HOST_PIC], stores[HOME_PIC],
                stores[HOST_PIC], ledger, escn)
    ledger.close()
    for client in clients.values():
        client.close()


def test_keys_and_dam_base_keys_are_kept_like_private_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.create("sig", "Ed25519")
    store.create_dam_base_keys()
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for path in (tmp_path / "keys").glob("*.json"):
        if path.name != "current.json":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert store.signing_key().kid == key.kid and store.signing_key().alg == "Ed25519"
    base = store.dam_base_keys()
    assert len({base.auth, base.mac, base.enc}) == 3
    with pytest.raises(KeyStoreError, match="never overwritten"):
        store.create_dam_base_keys()
    os.chmod(tmp_path / "keys" / "dam-base-keys.json", 0o644)
    with pytest.raises(KeyStoreError, match="accessible to others"):
        store.dam_base_keys()


def test_two_stores_draw_different_dam_base_keys(tmp_path: Path) -> None:
    bases = []
    for name in ("a", "b"):
        store = KeyStore(tmp_path / name)
        store.create_dam_base_keys()
        bases.append(store.dam_base_keys())
    assert bases[0].auth != bases[1].auth and bases[0].enc != bases[1].enc


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"hosts": [{"pic": "12"}]}, "PIC"),
        ({"hosts": [{"pic": HOST_PIC, "aids": []}]}, "aids"),
        ({"hosts": [{"pic": HOST_PIC, "aids": ["F5"]}]}, "aid"),
        ({"hosts": [{"pic": HOST_PIC, "aids": ["*"], "approval": "yes"}]}, "approval"),
        ({"hosts": [{"pic": HOST_PIC, "aids": ["*"], "quota": 3}]}, "unknown"),
        ({"other": 1}, "unknown section"),
    ],
)
def test_a_policy_file_that_breaks_its_format_is_refused(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(document)


def test_an_approved_delegation_opens_on_the_card_and_its_slot_is_tracked(world: World) -> None:
    desk, host = world.desk(), world.host()
    prepared = host.prepare(world.escn, UID, application(), DEFAULT_KEY, 1)
    assert host.submit(prepared)["state"] == "requested"
    assert host.submit(prepared)["id"] == prepared.id  # a retry reads the first copy back
    report = desk.run_once()
    assert (report.approved, report.refused, report.failures) == (1, 0, [])
    view = host.wait(prepared.id, timeout=5)
    assert view["state"] == "approved"
    opened = host.open(prepared, view)
    # What the card itself will check, with its own DAM keys:
    card = diversify_dam_keys(world.home_keys.dam_base_keys(), bytes.fromhex(UID))
    assert opened.dam_auth_key == card.auth
    assert open_enc_k(card.enc, opened.enck) == (DEFAULT_KEY, 1)
    assert verify_dam_mac(card.mac, opened.dam_application(), opened.enck, opened.dam_mac)
    assert (opened.slot_no, opened.slot_version) == (0, 0)
    assert world.ledger.slots(UID) == [(0, "F58542", "reserved")]
    host.report(prepared.id, completed=True)
    desk.settle_slots()
    assert world.ledger.slots(UID) == [(0, "F58542", "used")]
    # The same application again on the same card: the home refuses, saying why.
    again = host.prepare(world.escn, UID, application(), DEFAULT_KEY, 1)
    host.submit(again)
    assert desk.run_once().refused == 1
    refused = host.open(again, host.wait(again.id, timeout=5))
    assert isinstance(refused, Refused) and "already" in refused.reason


def test_refusals_by_policy_and_a_persons_queue(world: World) -> None:
    host = world.host()
    other_app = host.prepare(world.escn, UID, application(aid="F58543"), DEFAULT_KEY, 0)
    too_big = host.prepare(world.escn, UID, application(quota_limit=65), DEFAULT_KEY, 0)
    for prepared in (other_app, too_big):
        host.submit(prepared)
    report = world.desk().run_once()
    assert report.refused == 2
    reasons = [host.open(p, host.wait(p.id, timeout=5)).reason for p in (other_app, too_big)]
    assert "F58543 is not allowed" in reasons[0] and "quota 65" in reasons[1]
    # Nobody allowed at all: the default policy refuses.
    stranger = host.prepare(world.escn, UID, application(), DEFAULT_KEY, 0)
    host.submit(stranger)
    assert world.desk({}).run_once().refused == 1
    # A manual policy queues; a person approves from the queue.
    manual = host.prepare(world.escn, UID, application(), DEFAULT_KEY, 0)
    host.submit(manual)
    desk = world.desk(policy("manual"))
    assert desk.run_once().queued == 1
    assert host.client.delegations.get(manual.id)["state"] == "delivered"
    assert [q.request_id for q in world.ledger.queued()] == [manual.id]
    assert desk.decide_queued(manual.id, approve=True)
    assert world.ledger.queued() == []
    assert not desk.decide_queued(manual.id, approve=True)
    assert host.wait(manual.id, timeout=5)["state"] == "approved"


def test_pinned_keys_are_the_only_ones_trusted(world: World) -> None:
    wrong_pin = {HOME_PIC: ["not-the-homes-thumbprint"]}
    pinned_host = world.host(resolver=KeyResolver(world.host_client.public_keys, pins=wrong_pin))
    with pytest.raises(UntrustedKey):
        pinned_host.prepare(world.escn, UID, application(), DEFAULT_KEY, 0)
    host = world.host()
    prepared = host.prepare(world.escn, UID, application(), DEFAULT_KEY, 0)
    host.submit(prepared)
    desk = world.desk(policy(keys=["a-thumbprint-the-host-does-not-have"]))
    assert desk.run_once().refused == 1
    refused = host.open(prepared, host.wait(prepared.id, timeout=5))
    assert "no active, trusted signing key" in refused.reason


def test_the_host_refuses_a_decision_it_cannot_trust(world: World) -> None:
    host = world.host()
    prepared = host.prepare(world.escn, UID, application(), DEFAULT_KEY, 0)
    host.submit(prepared)
    world.desk().run_once()
    view = host.wait(prepared.id, timeout=5)
    # A router that substitutes the decision of another request, or alters it, is caught.
    other = host.prepare(world.escn, UID, application(aid="F58544"), DEFAULT_KEY, 0)
    with pytest.raises(DelegationError, match="another request"):
        host.open(other, view)
    header, payload, signature = view["decisionToken"].split(".")
    tampered = {**view, "decisionToken": f"{header}.{payload}.{signature[:-4]}AAAA"}
    with pytest.raises(DelegationError, match="signature"):
        host.open(prepared, tampered)
    # The DAM key is sealed to the host's encryption key; no other key opens it.
    sealed = jose.read_compact(view["decisionToken"], "escr-delegation-decision+jwt").claims[
        "damAuthKey"
    ]
    assert jose.read_jwe_header(sealed, "escr-dam-auth-key+json")["kid"] == (
        world.host_keys.current_kid("enc")
    )
    with pytest.raises(ProtocolError):
        jose.decrypt_compact(sealed, world.home_keys.encryption_key(), "escr-dam-auth-key+json")


def test_a_person_lists_approves_and_refuses_queued_requests_from_the_cli(
    world: World, tmp_path: Path
) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(
        f'[[hosts]]\npic = "{HOST_PIC}"\naids = ["*"]\nmax_quota = 64\napproval = "manual"\n'
    )
    host = world.host()
    first, second = (host.prepare(world.escn, UID, application(aid=aid), DEFAULT_KEY, 0)
                     for aid in ("F58542", "F58543"))
    for prepared in (first, second):
        host.submit(prepared)

    def escr_sgc(*args: str) -> Result:
        return CliRunner().invoke(
            cli,
            ["--router", "http://router.test", "--api-key", world.home_api_key, *args,
             "--keys", str(world.home_keys.directory), "--ledger", str(world.ledger.path)],
            obj={"transport": world.transport},
            catch_exceptions=False,
        )

    ran = escr_sgc("delegations", "run", "--once", "--policy", str(policy_file))
    assert ran.exit_code == 0 and "queued=2" in ran.output
    listed = escr_sgc("delegations", "list")
    assert first.id in listed.output and second.id in listed.output
    assert escr_sgc("delegations", "approve", first.id).exit_code == 0
    refused = escr_sgc("delegations", "refuse", second.id, "--reason", "not during exams")
    assert refused.exit_code == 0
    assert escr_sgc("delegations", "approve", second.id).exit_code != 0
    assert host.wait(first.id, timeout=5)["state"] == "approved"
    assert host.open(second, host.wait(second.id, timeout=5)).reason == "not during exams"
    assert escr_sgc("delegations", "slots", UID).output.split() == ["0", "F58542", "reserved"]
    again = escr_sgc("delegations", "run", "--once", "--policy", str(policy_file))
    assert "approved=0 refused=0 queued=0" in again.output


def test_a_signed_webhook_wakes_the_loop_and_anything_else_is_refused() -> None:
    from sgc_client.delegation.cli import _listener
    from sgc_client.webhooks import sign

    wake = threading.Event()
    port = free_port()
    server = _listener(f"127.0.0.1:{port}", "s3cret", wake)
    try:
        body = json.dumps({"id": "1", "type": "delegation.requested", "data": {}}).encode()
        stamp = int(time.time())
        forged = httpx.post(f"http://127.0.0.1:{port}/", content=body, headers={
            "X-Escr-Timestamp": str(stamp), "X-Escr-Signature": sign("wrong", stamp, body)})
        assert forged.status_code == 401 and not wake.is_set()
        answer = httpx.post(f"http://127.0.0.1:{port}/", content=body, headers={
            "X-Escr-Timestamp": str(stamp), "X-Escr-Signature": sign("s3cret", stamp, body)})
        assert answer.status_code == 204 and wake.is_set()
    finally:
        server.shutdown()
        server.server_close()
