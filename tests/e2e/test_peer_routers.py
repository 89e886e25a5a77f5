"""Three routers on loopback, one catalogue: every card answered on every router.

Router A (PostgreSQL when ESCR_TEST_DATABASE_URL is set) hosts a partner and publishes the
catalogue; routers B and C (SQLite) host universities. Each runs in its own gunicorn. The
catalogue, keys and identities are made with ``escr-admin`` as operators would. Two misbehaving
peers join the catalogue: one signs with a key that is not its own, one never answers. Router C
fetches the catalogue from a separate source, which the test takes down and then makes serve a
forged catalogue.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from reader_tools.desfire.crypto import diversify_dam_keys
from router import migrate
from router.cli import escr_group
from router.db import Base, Database
from router.domain.escn import default_generator
from router.federation.keys import generate_private_key, public_key_of, read_private_key
from router.models import Card, Person, VerificationRecord
from router.services import credentials, organisations
from sgc_client import RouterClient
from sgc_client.delegation import DelegationHost, KeyStore
from sgc_client.protocol import jose
from tests.conftest import PG_URL, _postgres_schema_url, card_body, esi, person_body
from tests.federation.catalogue_source import CatalogueSource
from tests.federation.conftest import application
from tests.federation.factories import PeerRouter
from tests.federation.misbehaving_peers import SilentPeer, WrongKeyPeer
from tests.live_server import free_port, wait_until_serving

pytestmark = pytest.mark.e2e

GUNICORN = Path(sys.executable).with_name("gunicorn")
PICS = {"a": "111111111", "b": "222222222", "c": "333333333"}
PARTNER_PIC, WRONG_KEY_PIC, SILENT_PIC = "777777777", "444444444", "555555555"
CONNECT_TIMEOUT, READ_TIMEOUT = 1.0, 1.5
UID = "04A1B2C3D4E5F6"
DEFAULT_KEY = bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F")
# A client of the test waits longer than any bound the routers promise, so a hang fails it.
CLIENT_TIMEOUT = 10.0


@dataclass
class Router:
    """One router of the test federation."""

    name: str
    database_url: str
    instance: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"router-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, catalogue_url: str, authority_key: Path, **extra: str) -> dict[str, str]:
        return {
            "ESCR_DATABASE_URL": self.database_url,
            "ESCR_INSTANCE_PATH": str(self.instance),
            "ESCR_PUBLIC_URL": self.url,
            "ESCR_SECRET_KEY": "test-secret",
            "ESCR_ROUTER_ID": self.id,
            "ESCR_PUBLIC_RATE_LIMIT": "10000/minute",
            "ESCR_FEDERATION_CATALOGUE_URL": catalogue_url,
            "ESCR_FEDERATION_AUTHORITY_KEY": str(authority_key),
            "ESCR_FEDERATION_ALLOW_INSECURE": "1",
            "ESCR_FEDERATION_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
            "ESCR_FEDERATION_READ_TIMEOUT": str(READ_TIMEOUT),
            "ESCR_FEDERATION_BREAKER_FAILURES": "2",
            **extra,
        }

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}


@dataclass
class Federation:
    """The three routers, the misbehaving peers, the catalogue source and the authority files."""

    a: Router
    b: Router
    c: Router
    source: CatalogueSource
    wrong_key: WrongKeyPeer
    silent: SilentPeer
    authority_public: Path
    envs: dict[str, dict[str, str]]


def _admin(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(escr_group, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _organisation(url: str, pic: str, name: str, kind: str = "institution") -> str:
    database = Database(url)
    try:
        with database.session() as session:
            organisation = organisations.create_organisation(
                session, organisations.OrganisationInput(identifier=pic, name=name, kind=kind)
            )
            return credentials.create_api_key(session, organisation).secret
    finally:
        database.engine.dispose()


def _databases(tmp: Path) -> Iterator[tuple[str, str, str]]:
    sqlite = [f"sqlite:///{tmp / name}.sqlite3" for name in ("a", "b", "c")]
    if not PG_URL:
        yield sqlite[0], sqlite[1], sqlite[2]
        return
    schema = f"escr_peers_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(schema), sqlite[1], sqlite[2]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _wait_for_catalogue(router: Router, serial: int = 1) -> dict:
    deadline = time.monotonic() + 30
    while True:
        identity = httpx.get(f"{router.url}/api/x/federation/identity", timeout=5).json()
        if (identity.get("catalogue") or {}).get("serial") == serial:
            return identity
        if time.monotonic() > deadline:
            raise AssertionError(f"{router.id} holds no catalogue {serial}: {identity}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("peers")
    databases = _databases(tmp)
    a_url, b_url, c_url = next(databases)
    a, b, c = (Router(n, u, tmp / n) for n, u in (("a", a_url), ("b", b_url), ("c", c_url)))
    source = CatalogueSource().start()
    wrong_key = WrongKeyPeer(generate_private_key()).start()
    silent = SilentPeer().start()
    authority_key = tmp / "authority.pem"
    authority_public = tmp / "authority.pem.pub.jwk"
    envs = {
        "a": a.env(f"{a.url}/api/x/federation/catalogue", authority_public),
        "b": b.env(f"{a.url}/api/x/federation/catalogue", authority_public),
        # C refreshes every second from its own source, so the test can watch it cope.
        "c": c.env(source.url, authority_public, ESCR_FEDERATION_REFRESH="1",
                   ESCR_FEDERATION_RETRY="1"),
    }
    draft = str(tmp / "draft.json")
    _admin({}, "federation", "init-authority", "--key-file", str(authority_key))
    for router, pic in ((a, PICS["a"]), (b, PICS["b"]), (c, PICS["c"])):
        migrate.upgrade(router.database_url)
        router.keys["uni"] = _organisation(router.database_url, pic, f"University {router.name}")
        _admin(envs[router.name], "router", "init")
        identity = tmp / f"{router.name}.identity.json"
        identity.write_text(_admin(envs[router.name], "router", "identity"))
        _admin({}, "federation", "add-router", "--draft", draft, "--identity", str(identity),
               "--allow-insecure")
    a.keys["partner"] = _organisation(a.database_url, PARTNER_PIC, "City Transport", "transport")
    # The misbehaving peers are in the catalogue under keys they do not sign with.
    for router_id, peer, pic in (("router-x", wrong_key, WRONG_KEY_PIC),
                                 ("router-slow", silent, SILENT_PIC)):
        listed_key = tmp / f"{router_id}.jwk"
        listed_key.write_text(json.dumps(dict(public_key_of(generate_private_key().public_key())
                                              .jwk)))
        _admin({}, "federation", "add-router", "--draft", draft, "--id", router_id,
               "--base-url", peer.url, "--public-key", str(listed_key), "--pic", pic,
               "--allow-insecure")
    catalogue = tmp / "catalogue.json"
    _admin({}, "federation", "sign", "--draft", draft, "--authority-key", str(authority_key),
           "-o", str(catalogue), "--allow-insecure")
    _admin(envs["a"], "federation", "publish", str(catalogue))
    source.publish(catalogue.read_bytes())

    for router in (a, b, c):
        log = (tmp / f"{router.name}.log").open("w")
        router.process = subprocess.Popen(
            [str(GUNICORN), "--workers", "1", "--bind", f"127.0.0.1:{router.port}",
             "router.wsgi:app"],
            env={**os.environ, **envs[router.name]}, stdout=subprocess.DEVNULL, stderr=log,
        )
    try:
        for router in (a, b, c):
            wait_until_serving(router.url, router.process,
                               why_not=lambda r=router: (tmp / f"{r.name}.log").read_text()[-3000:])
            _wait_for_catalogue(router)
        yield Federation(a, b, c, source, wrong_key, silent, authority_public, envs)
    finally:
        for router in (a, b, c):
            if router.process is not None and router.process.poll() is None:
                router.process.terminate()
                router.process.wait(timeout=30)
        source.stop()
        wrong_key.stop()
        silent.stop()
        next(databases, None)


def _card(router: Router, code: str) -> str:
    headers = router.headers("uni")
    pic = PICS[router.name]
    with httpx.Client(base_url=router.url, timeout=CLIENT_TIMEOUT) as http:
        assert http.post("/api/v2/persons", json=person_body(esi(code), pic),
                         headers=headers).status_code == 201
        created = http.post("/api/v2/cards", json=card_body(esi(code), pic), headers=headers)
        assert created.status_code == 201, created.text
        return created.json()["cardNumber"]


def _count(url: str, model: type[Base]) -> int:
    database = Database(url)
    try:
        with database.session() as session:
            return session.scalar(select(func.count()).select_from(model))
    finally:
        database.engine.dispose()


def test_a_partner_of_router_a_verifies_a_card_of_router_c(federation: Federation) -> None:
    a, c = federation.a, federation.c
    escn = _card(c, "C1")
    answer = httpx.post(f"{a.url}/api/x/verify", json={"scanned": f"{c.url}/cards/{escn}"},
                        headers=a.headers("partner"), timeout=CLIENT_TIMEOUT)
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert verdict["valid"] is True and verdict["answeredBy"] == "router-c"
    assert verdict["issuer"]["identifier"] == PICS["c"] and verdict["displayName"] is None
    log = httpx.get(f"{c.url}/api/x/verifications", headers=c.headers("uni"),
                    timeout=CLIENT_TIMEOUT).json()
    assert [r["cardNumber"] for r in log["content"]] == [escn]
    assert log["content"][0]["partner"]["router"] == "router-a"
    # Router A keeps no personal data of the foreign card: no record, no card.
    assert _count(a.database_url, VerificationRecord) == 0
    assert _count(a.database_url, Card) == 0


def test_the_v2_status_of_a_card_of_router_b_asked_on_router_a(federation: Federation) -> None:
    a, b = federation.a, federation.b
    escn = _card(b, "B1")
    on_b = httpx.get(f"{b.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    on_a = httpx.get(f"{a.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    assert on_a.status_code == 200, on_a.text
    assert on_a.json() == on_b.json()
    assert on_a.headers["Escr-Answered-By"] == "router-b"
    page = httpx.get(f"{a.url}/cards/{escn}", headers={"Accept": "text/html"},
                     timeout=CLIENT_TIMEOUT)
    assert 'data-router="router-b"' in page.text and 'data-valid="true"' in page.text


def test_a_signed_json_post_crosses_both_ways(federation: Federation) -> None:
    """The generic path a delegation request will take: `federation ping` posts JSON to C."""
    output = _admin(federation.envs["a"], "federation", "ping", "router-c")
    assert "router-c answered as router-c to router-a" in output
    assert "signatures verified both ways" in output


def _peer_request(
    router: PeerRouter,
    target: Router,
    *,
    at: dt.datetime | None = None,
    request_id: str | None = None,
) -> httpx.Response:
    body = json.dumps({"ping": "escr"}).encode()
    request = router.signed_request("POST", f"{target.url}/api/x/federation/peer/echo", body,
                                    at=at, request_id=request_id)
    return httpx.Client(timeout=CLIENT_TIMEOUT).send(request)


def test_a_router_missing_from_the_catalogue_a_replay_and_a_stale_request_are_refused(
    federation: Federation,
) -> None:
    b = federation.b
    stranger = PeerRouter("router-z", "http://127.0.0.1:9", ("999999999",))
    refused = _peer_request(stranger, b)
    assert refused.status_code == 403 and refused.json()["code"] == "ER-0261"

    a_key = read_private_key(federation.a.instance / "router-key.pem")
    a = PeerRouter("router-a", federation.a.url, (PICS["a"],), a_key)
    request_id = str(uuid.uuid4())
    assert _peer_request(a, b, request_id=request_id).status_code == 200
    replayed = _peer_request(a, b, request_id=request_id)
    assert replayed.status_code == 409 and replayed.json()["code"] == "ER-0263"
    stale = _peer_request(a, b, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    assert stale.status_code == 401 and stale.json()["code"] == "ER-0262"


def test_a_peer_answering_with_a_wrong_key_is_refused(federation: Federation) -> None:
    escn = default_generator.generate(WRONG_KEY_PIC, "001")
    answer = httpx.get(f"{federation.a.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    assert answer.status_code == 502 and answer.json()["code"] == "ER-0252"
    assert "router-x" in answer.json()["message"]


def test_a_silent_peer_is_a_504_bounded_by_the_timeouts(federation: Federation) -> None:
    escn = default_generator.generate(SILENT_PIC, "001")
    answer = httpx.get(f"{federation.a.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    assert answer.status_code == 504 and answer.json()["code"] == "ER-0251"


def _catalogue_state(router: Router) -> dict:
    return httpx.get(f"{router.url}/api/x/federation/identity", timeout=5).json()["catalogue"]


def _wait(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_with_its_source_down_or_forged_a_router_keeps_its_valid_catalogue(
    federation: Federation
) -> None:
    b, c, source = federation.b, federation.c, federation.source
    escn = _card(b, "B2")
    source.stop()
    _wait(lambda: _catalogue_state(c)["lastError"], "router C to notice its source is down")
    answer = httpx.get(f"{c.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    assert answer.status_code == 200 and answer.headers["Escr-Answered-By"] == "router-b"

    forged = json.loads(source.document)
    forged["payload"] = forged["payload"][:-6] + "AAAAAA"
    source.publish(json.dumps(forged).encode())
    source.start()
    _wait(lambda: "signature" in (_catalogue_state(c)["lastError"] or ""),
          "router C to refuse the forged catalogue")
    assert _catalogue_state(c)["serial"] == 1
    again = httpx.get(f"{c.url}/cards/{escn}", headers={"Accept": "application/json"},
                      timeout=CLIENT_TIMEOUT)
    assert again.status_code == 200 and again.headers["Escr-Answered-By"] == "router-b"


@dataclass
class Kiosk:
    """The host (router A's university) and the home (router B's), with their own keys."""

    host: DelegationHost
    host_store: KeyStore
    home_keys: Path
    policy: Path
    escn: str


def _escr_sgc(router: Router, *args: str) -> str:
    env = {**os.environ, "ESCR_SGC_ROUTER": router.url, "ESCR_SGC_API_KEY": router.keys["uni"]}
    done = subprocess.run([str(GUNICORN.with_name("escr-sgc")), *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def kiosk(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Kiosk:
    a, b = federation.a, federation.b
    tmp = tmp_path_factory.mktemp("kiosk")
    home_keys = tmp / "home-keys"
    _escr_sgc(b, "keys", "create", "--keys", str(home_keys), "--register")
    _escr_sgc(b, "dam-keys", "create", "--keys", str(home_keys))
    policy = tmp / "policy.toml"
    policy.write_text(f'[[hosts]]\npic = "{PICS["a"]}"\naids = ["F58542"]\nmax_quota = 64\n'
                      'approval = "auto"\n')
    b_client = RouterClient(b.url, api_key=b.keys["uni"])
    b_client.persons.create(person_body(esi("D1"), PICS["b"]))
    escn = b_client.cards.create(card_body(esi("D1"), PICS["b"], csn=UID))["cardNumber"]
    host_store = KeyStore(tmp / "host-keys")
    a_client = RouterClient(a.url, api_key=a.keys["uni"])
    for use in ("sig", "enc"):
        a_client.public_keys.register(host_store.create(use).public().jwk)
    # The host knows only its own router: the home's keys come through router A's directory.
    host = DelegationHost(a_client, host_store, PICS["a"])
    return Kiosk(host, host_store, home_keys, policy, escn)


def test_a_delegation_asked_at_a_is_decided_by_the_home_on_b_and_followed_on_a(
    federation: Federation, kiosk: Kiosk
) -> None:
    a, b = federation.a, federation.b
    prepared = kiosk.host.prepare(kiosk.escn, UID, application(), DEFAULT_KEY, 1)
    assert kiosk.host.submit(prepared)["state"] == "requested"
    run = _escr_sgc(b, "delegations", "run", "--once", "--keys", str(kiosk.home_keys),
                    "--policy", str(kiosk.policy))
    assert "approved=1 refused=0" in run
    view = kiosk.host.wait(prepared.id, timeout=20)
    assert view["state"] == "approved"
    on_b = httpx.get(f"{b.url}/api/x/delegations/{prepared.id}", headers=b.headers("uni"),
                     timeout=CLIENT_TIMEOUT).json()
    assert view["decisionToken"] == on_b["decisionToken"], "the home's answer, unchanged"
    # The host checks the home's signature and opens the DAM key meant for it.
    authorisation = kiosk.host.open(prepared, view)
    card = diversify_dam_keys(KeyStore(kiosk.home_keys).dam_base_keys(), bytes.fromhex(UID))
    assert authorisation.dam_auth_key == card.auth
    kiosk.host.report(prepared.id, completed=True)
    on_b = httpx.get(f"{b.url}/api/x/delegations/{prepared.id}", headers=b.headers("uni"),
                     timeout=CLIENT_TIMEOUT).json()
    assert on_b["state"] == "completed" and on_b["history"][-1]["actor"] == PICS["a"]
    # Router A keeps the host's request and the states: no card, no card holder of B.
    assert _count(a.database_url, Card) == 0
    assert _count(a.database_url, Person) == 0


def test_a_tampered_or_dishonest_forwarding_is_refused_by_b(
    federation: Federation, kiosk: Kiosk
) -> None:
    a, b, c = federation.a, federation.b, federation.c
    prepared = kiosk.host.prepare(kiosk.escn, UID, application(), DEFAULT_KEY, 1)
    keys = {"keys": [dict(kiosk.host_store.signing_key().public().jwk)]}
    header, payload, signature = prepared.compact.split(".")
    claims = json.loads(jose.b64url_decode(payload))
    claims["application"]["quotaLimit"] = 64
    altered = ".".join((header, jose.b64url_encode(json.dumps(claims).encode()), signature))

    def forward(router: Router, compact: str) -> httpx.Response:
        signer = PeerRouter(router.id, router.url, (PICS[router.name],),
                            read_private_key(router.instance / "router-key.pem"))
        body = json.dumps({"request": compact, "hostKeys": keys}).encode()
        request = signer.signed_request("POST", f"{b.url}/api/x/federation/peer/delegations",
                                        body)
        return httpx.Client(timeout=CLIENT_TIMEOUT).send(request)

    tampered = forward(a, altered)
    assert tampered.status_code == 422 and tampered.json()["code"] == "ER-0202"
    # Router C speaks for router A's institution: not its own.
    dishonest = forward(c, prepared.compact)
    assert dishonest.status_code == 403 and dishonest.json()["code"] == "ER-0240"
    listed = httpx.get(f"{b.url}/api/x/delegations?role=home", headers=b.headers("uni"),
                       timeout=CLIENT_TIMEOUT).json()
    assert prepared.id not in [d["id"] for d in listed["content"]]


def test_router_b_stopped_is_a_clear_502_then_its_circuit_opens(
    federation: Federation, kiosk: Kiosk
) -> None:
    a, b = federation.a, federation.b
    escn = _card(b, "B3")  # never asked before: not in router A's cache
    b.process.terminate()
    b.process.wait(timeout=30)
    # A delegation for a card of B is refused at once, clearly, and nothing is kept on A.
    prepared = kiosk.host.prepare(kiosk.escn, UID, application(), DEFAULT_KEY, 1)
    started = time.monotonic()
    delegation = httpx.post(f"{a.url}/api/x/delegations", json={"request": prepared.compact},
                            headers=a.headers("uni"), timeout=CLIENT_TIMEOUT)
    assert time.monotonic() - started < CLIENT_TIMEOUT
    assert delegation.status_code == 502, delegation.text
    assert delegation.json()["code"] == "ER-0250" and "router-b" in delegation.json()["message"]
    answer = httpx.get(f"{a.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "ER-0250" and "router-b" in answer.json()["message"]
    refused = httpx.get(f"{a.url}/api/v2/cards/{escn}/status", timeout=CLIENT_TIMEOUT)
    assert refused.status_code == 503 and refused.json()["code"] == "ER-0253"
    assert int(refused.headers["Retry-After"]) >= 1
    # Router A's own cards are unaffected.
    own = _card(a, "A1")
    local = httpx.get(f"{a.url}/api/v2/cards/{own}/status", timeout=CLIENT_TIMEOUT)
    assert local.status_code == 200 and "Escr-Answered-By" not in local.headers
