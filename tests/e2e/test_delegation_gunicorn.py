"""A delegation end to end over HTTP: gunicorn, ``escr-sgc`` for the home, the host's client.

Approved (and checked the way the card checks it), refused by the home's policy, then every refusal
the router owes, over HTTP. Afterwards the router's database dump and logs must hold no DAM key, no
application key and no private key, in any of the encodings they travel in.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from reader_tools.desfire.crypto import diversify_dam_keys, open_enc_k, verify_dam_mac
from router.services.caller import Scope
from sgc_client import RouterClient
from sgc_client.delegation import DelegationHost, KeyStore, Refused
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from tests.conftest import PG_URL, MakeTenant, card_body, esi, person_body
from tests.federation.conftest import application
from tests.live_server import free_port, wait_until_serving

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
HOME_PIC, HOST_PIC = "999999999", "888888888"
UID, OTHER_UID = "04A1B2C3D4E5F6", "04A1B2C3D4E5F7"
DEFAULT_KEY = bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F")


@dataclass
class Live:
    """The router on a loopback port and what the test needs to reach it."""

    url: str
    log: Path
    home_key: str
    host_key: str


@pytest.fixture
def live(app: Flask, database_url: str, make_tenant: MakeTenant, tmp_path: Path) -> Iterator[Live]:
    """gunicorn (two workers) on the test database, with a home and a host institution."""
    scopes = [*Scope.INSTITUTION, Scope.KEYS_MANAGE]
    home, host = make_tenant(HOME_PIC, "Milan", scopes=scopes), make_tenant(HOST_PIC, "Paris",
                                                                             scopes=scopes)
    port = free_port()
    env = {
        **os.environ,
        "ESCR_DATABASE_URL": database_url,
        "ESCR_INSTANCE_PATH": str(tmp_path),
        "ESCR_SECRET_KEY": "test-secret",
        "ESCR_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--access-logfile", "-", "--error-logfile", "-", "--capture-output",
             "--log-level", "debug", "router.wsgi:app"],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, why_not=lambda: log.read_text()[-2000:])
        yield Live(url=url, log=log, home_key=home.key, host_key=host.key)
    finally:
        process.terminate()
        process.wait(timeout=30)


def escr_sgc(live: Live, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESCR_SGC_ROUTER": live.url, "ESCR_SGC_API_KEY": live.home_key}
    done = subprocess.run([str(BIN / "escr-sgc"), *args], env=env, capture_output=True,
                          text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def database_dump(database_url: str) -> str:
    """Everything the router's database holds, as text."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as connection:
            return "\n".join(connection.iterdump())
    schema = url.query["options"].split("search_path=")[1]
    if shutil.which("pg_dump"):
        plain = make_url(PG_URL).set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        done = subprocess.run(["pg_dump", "--data-only", "--schema", schema, plain],
                              capture_output=True, text=True, check=True, timeout=60)
        return done.stdout
    # Without the client tools: every row of every table of the schema, as text.
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
            ), {"s": schema}).scalars().all()
            return "\n".join(
                repr(row) for table in tables
                for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            )
    finally:
        engine.dispose()


def encodings(secret: bytes) -> set[str]:
    """The ways a secret could be written down: hex (both cases), base64 and base64url."""
    b64 = base64.b64encode(secret).decode()
    return {secret.hex(), secret.hex().upper(), b64.rstrip("="), jose.b64url_encode(secret)}


def post(client: httpx.Client, path: str, body: dict) -> httpx.Response:
    return client.post(path, json=body)


def test_a_delegation_end_to_end_leaves_no_secret_on_the_router(
    live: Live, database_url: str, tmp_path: Path
) -> None:
    home_keys, host_keys = tmp_path / "home-keys", tmp_path / "host-keys"
    # The home: keys and DAM base keys by its own tools, public halves registered.
    created = escr_sgc(live, "keys", "create", "--keys", str(home_keys), "--register")
    assert created.stdout.count("registered") == 2
    escr_sgc(live, "dam-keys", "create", "--keys", str(home_keys))
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[[hosts]]\npic = "{HOST_PIC}"\naids = ["F58542"]\nmax_quota = 64\n'
                      'approval = "auto"\n')
    home_client = RouterClient(live.url, api_key=live.home_key)
    home_client.persons.create(person_body(esi("E2E1"), HOME_PIC))
    escn = home_client.cards.create(card_body(esi("E2E1"), HOME_PIC, csn=UID))["cardNumber"]
    # The host: its kiosk's keys, and its client.
    host_store = KeyStore(host_keys)
    host_client = RouterClient(live.url, api_key=live.host_key)
    for use in ("sig", "enc"):
        host_client.public_keys.register(host_store.create(use).public().jwk)
    host = DelegationHost(host_client, host_store, HOST_PIC)

    # Approved: the home's desk runs once; the host opens the answer; the card would accept it.
    approved = host.prepare(escn, UID, application(), DEFAULT_KEY, 1)
    assert host.submit(approved)["state"] == "requested"
    run = escr_sgc(live, "delegations", "run", "--once", "--keys", str(home_keys),
                   "--policy", str(policy))
    assert "approved=1 refused=0" in run.stdout
    authorisation = host.open(approved, host.wait(approved.id, timeout=30))
    base = KeyStore(home_keys).dam_base_keys()
    card = diversify_dam_keys(base, bytes.fromhex(UID))
    assert authorisation.dam_auth_key == card.auth
    assert open_enc_k(card.enc, authorisation.enck) == (DEFAULT_KEY, 1)
    assert verify_dam_mac(card.mac, authorisation.dam_application(), authorisation.enck,
                          authorisation.dam_mac)
    host.report(approved.id, completed=True)
    slots = escr_sgc(live, "delegations", "slots", UID, "--keys", str(home_keys))
    assert slots.stdout.split() == ["0", "F58542", "reserved"]

    # Refused by policy, with the home's loop running until it has answered.
    loop = subprocess.Popen(
        [str(BIN / "escr-sgc"), "delegations", "run", "--keys", str(home_keys),
         "--policy", str(policy), "--interval", "0.2"],
        env={**os.environ, "ESCR_SGC_ROUTER": live.url, "ESCR_SGC_API_KEY": live.home_key},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        other = host.prepare(escn, UID, application(aid="F58543"), DEFAULT_KEY, 1)
        host.submit(other)
        refused = host.open(other, host.wait(other.id, timeout=30))
        assert isinstance(refused, Refused) and "F58543 is not allowed" in refused.reason
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err
    assert "refused=1" in out and out.rstrip().endswith("stopped")

    # Every refusal, over HTTP, each with its own code; nothing is recorded as approved.
    home_signing = KeyStore(home_keys).signing_key()
    home_enc = KeyStore(home_keys).encryption_key().public()
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.host_key}"},
                      timeout=30) as http_host, httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {live.home_key}"}, timeout=30
    ) as http_home:
        refusals = _refusals(escn, host_store, home_signing, home_enc, http_host, http_home,
                             home_client)
    assert refusals == {case: code for case, (code, _) in EXPECTED.items()}

    # Nothing secret on the router: not in its database, not in its logs.
    secrets_ = {
        "default application key": DEFAULT_KEY,
        "DAM auth key": card.auth, "DAM MAC key": card.mac, "DAM ENC key": card.enc,
        "DAM base auth key": base.auth, "DAM base MAC key": base.mac,
        "DAM base ENC key": base.enc,
    }
    for store in (KeyStore(home_keys), host_store):
        for use in ("sig", "enc"):
            private = store.key(use).private_jwk()
            secrets_[f"private {use} key {store.directory.name}"] = jose.b64url_decode(private["d"])
    dump, logs = database_dump(database_url), live.log.read_text()
    assert approved.id in dump and approved.compact in dump  # the dump does hold the messages
    assert f"/api/x/delegations/{approved.id}" in logs  # and the log the requests
    for where, content in (("database dump", dump), ("logs", logs)):
        assert "PRIVATE KEY" not in content
        for name, secret in secrets_.items():
            found = [form for form in encodings(secret) if form in content]
            assert not found, f"{name} found in the router's {where}"


# case -> (problem code, expected state of the delegation afterwards or None)
EXPECTED = {
    "unsigned request": ("ER-0201", None),
    "forged request": ("ER-0202", None),
    "unknown key": ("ER-0203", None),
    "revoked key": ("ER-0204", None),
    "replayed request": ("ER-0205", None),
    "expired request": ("ER-0206", None),
    "unknown card": ("ER-0211", None),
    "inactive card": ("ER-0212", None),
    "uid not the card's": ("ER-0213", None),
    "host's own card": ("ER-0215", None),
    "forged decision": ("ER-0220", "requested"),
    "decision not from the issuer": ("ER-0221", "requested"),
    "approving an expired request": ("ER-0223", "expired"),
}


def _refusals(
    escn: str,
    host_store: KeyStore,
    home_signing: jose.PrivateKey,
    home_enc: jose.PublicKey,
    http_host: httpx.Client,
    http_home: httpx.Client,
    home_client: RouterClient,
) -> dict[str, str]:
    """Send each refused message over HTTP; the code each answer carries."""
    codes: dict[str, str] = {}
    host_signing = host_store.signing_key()
    now = int(time.time())

    def claims(**changes: Any) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        base = protocol.DelegationRequest(
            request_id=request_id, host=HOST_PIC, issued_at=now, expires_at=now + 600,
            escn=escn, uid=UID, application=application(),
            app_key=protocol.AppKeySecret(request_id, DEFAULT_KEY, 1).seal(home_enc),
        ).claims()
        return {**base, **changes}

    def request(name: str, compact: str, client: httpx.Client = http_host) -> httpx.Response:
        answer = post(client, "/api/x/delegations", {"request": compact})
        codes[name] = answer.json().get("code")
        return answer

    def sign(body: dict[str, Any], key: jose.PrivateKey = host_signing) -> str:
        return jose.sign_compact(body, key, protocol.REQUEST_TYPE)

    request("unsigned request", json.dumps(claims()))
    good = sign(claims())
    header, payload, signature = good.split(".")
    tampered = json.loads(jose.b64url_decode(payload))
    tampered["application"]["quotaLimit"] = 0xFFFF
    request("forged request",
            f"{header}.{jose.b64url_encode(json.dumps(tampered).encode())}.{signature}")
    request("unknown key", sign(claims(), jose.generate_key("sig")))
    spare = jose.generate_key("sig")
    http_host.post("/api/x/public-keys", json={"jwk": spare.public().jwk})
    http_host.post(f"/api/x/public-keys/{spare.kid}/revoke", json={"reason": "test"})
    request("revoked key", sign(claims(), spare))
    assert post(http_host, "/api/x/delegations", {"request": good}).status_code == 201
    request("replayed request", good)
    request("expired request", sign(claims(iat=now - 1200, exp=now - 600)))
    request("unknown card", sign(claims(escn="00000000" + escn[8:])))
    request("uid not the card's", sign(claims(uid=OTHER_UID)))
    home_client.persons.create(person_body(esi("E2E2"), HOME_PIC))
    lost = home_client.cards.create(card_body(esi("E2E2"), HOME_PIC, csn=OTHER_UID))
    home_client.cards.report_lost(lost["cardNumber"])
    request("inactive card", sign(claims(escn=lost["cardNumber"], uid=OTHER_UID)))
    own = {**claims(), "iss": HOME_PIC}
    request("host's own card", jose.sign_compact(own, home_signing, protocol.REQUEST_TYPE),
            client=http_home)

    pending_id = protocol.read_request(good)[1].request_id

    def decision(signer: jose.PrivateKey, **changes: Any) -> str:
        body = {
            "iss": HOME_PIC, "aud": HOST_PIC, "jti": str(uuid.uuid4()), "iat": int(time.time()),
            "exp": int(time.time()) + 600, "requestId": pending_id,
            "requestHash": jose.message_hash(good), "decision": "refuse", "reason": "no",
            **changes,
        }
        return jose.sign_compact(body, signer, protocol.DECISION_TYPE)

    def decide(
        name: str,
        token: str,
        client: httpx.Client,
        delegation_id: str = pending_id,
        expected_state: str = "requested",
    ) -> None:
        answer = post(client, f"/api/x/delegations/{delegation_id}/decision", {"decision": token})
        codes[name] = answer.json().get("code")
        state = client.get(f"/api/x/delegations/{delegation_id}").json()["state"]
        assert state == expected_state, (name, state)

    honest = decision(home_signing)
    h, p, s = honest.split(".")
    forged = json.loads(jose.b64url_decode(p))
    forged["reason"] = "changed on the way"
    decide("forged decision",
           f"{h}.{jose.b64url_encode(json.dumps(forged).encode())}.{s}", http_home)
    decide("decision not from the issuer", decision(host_signing, iss=HOST_PIC), http_host)
    short = claims(exp=now + 2)
    expiring = sign(short)
    assert post(http_host, "/api/x/delegations", {"request": expiring}).status_code == 201
    time.sleep(max(0.0, now + 2.2 - time.time()))
    late = jose.sign_compact(
        {"iss": HOME_PIC, "aud": HOST_PIC, "jti": str(uuid.uuid4()), "iat": int(time.time()),
         "exp": int(time.time()) + 600, "requestId": short["jti"],
         "requestHash": jose.message_hash(expiring), "decision": "approve", "reason": "",
         "dam": {"slotNo": 1, "slotVersion": 0, "encK": "00" * 32, "damMac": "00" * 8},
         "damAuthKey": protocol.DamAuthKeySecret(short["jti"], UID, bytes(16)).seal(
             host_store.encryption_key().public())},
        home_signing, protocol.DECISION_TYPE)
    decide("approving an expired request", late, http_home, short["jti"], "expired")
    return codes
