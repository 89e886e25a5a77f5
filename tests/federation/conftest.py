"""Fixtures of the federation tests: institutions exchanging signed messages, and peer routers.

- Delegations: two institutions with registered keys, a card of the home, and signed messages
  between them.
- Peer routers: two routers in one process, each with its own database, talking through real HTTP
  code. Router A's peer client reaches router B through ``httpx.WSGITransport``: every byte of the
  signed request and answer goes through both routers' real code (signing, Flask, verification),
  without sockets; the end-to-end tests do the same across gunicorn processes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from router.app import create_app
from router.db import Database
from router.federation.keys import write_private_key
from router.federation.membership import FederationPlaces, Membership
from router.federation.settings import FederationSettings
from router.services import credentials, organisations
from router.services.caller import Scope
from router.settings import Settings
from sgc_client.protocol import delegation as protocol
from sgc_client.protocol import jose
from tests.conftest import (
    MakeTenant,
    Register,
    Tenant,
    _wipe,
    card_body,
    esi,
    migrated_database,
    person_body,
)
from tests.federation.factories import Authority, PeerRouter

# -- delegations between institutions ------------------------------------------------------------

HOME_PIC, HOST_PIC, OTHER_PIC = "999999999", "888888888", "777777777"
UID = "04A1B2C3D4E5F6"


@dataclass
class Party:
    """An institution of the test router with its API key and its private keys."""

    tenant: Tenant
    signing: jose.PrivateKey
    encryption: jose.PrivateKey

    @property
    def pic(self) -> str:
        return self.tenant.pic

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers


class MakeParty(Protocol):
    """The ``make_party`` fixture: an institution with an API key and registered public keys."""

    def __call__(self, pic: str, name: str | None = None) -> Party: ...


@pytest.fixture
def make_party(client: FlaskClient, make_tenant: MakeTenant) -> MakeParty:
    def factory(pic: str, name: str | None = None) -> Party:
        tenant = make_tenant(pic, name, scopes=[*Scope.INSTITUTION, Scope.KEYS_MANAGE])
        party = Party(tenant, jose.generate_key("sig"), jose.generate_key("enc"))
        for key in (party.signing, party.encryption):
            answer = client.post(
                "/api/x/public-keys", json={"jwk": key.public().jwk}, headers=tenant.headers
            )
            assert answer.status_code == 201, answer.json
        return party

    return factory


@pytest.fixture
def home(make_party: MakeParty) -> Party:
    return make_party(HOME_PIC, "Università di Milano")


@pytest.fixture
def host(make_party: MakeParty) -> Party:
    return make_party(HOST_PIC, "Université de Paris")


@pytest.fixture
def card(registered: Register, home: Party) -> dict[str, Any]:
    """An active card of the home, with its chip serial number registered."""
    return registered("MILAN1", tenant=home.tenant, csn=UID)


def application(**changes: Any) -> protocol.Application:
    fields: dict[str, Any] = dict(
        aid="F58542", slot_version=0, quota_limit=16, key_settings_1=0x0B, key_settings_2=0xA3,
        iso_file_id=0x1000, iso_df_name="A00000061404F58542", name="Paris payment",
        description="Pay at the canteens of Paris",
    )
    fields.update(changes)
    return protocol.Application(**fields)


def request_claims(host: Party, home: Party, escn: str, **changes: Any) -> dict[str, Any]:
    """Valid request claims from ``host`` about card ``escn`` of ``home``."""
    request_id = str(uuid.uuid4())
    now = int(time.time())
    claims = protocol.DelegationRequest(
        request_id=request_id,
        host=host.pic,
        issued_at=now,
        expires_at=now + protocol.DEFAULT_LIFETIME,
        escn=escn,
        uid=UID,
        application=application(),
        app_key=protocol.AppKeySecret(request_id, b"\x42" * 16, 1).seal(home.encryption.public()),
    ).claims()
    claims.update(changes)
    return claims


def sign_request(claims: dict[str, Any], key: jose.PrivateKey) -> str:
    return jose.sign_compact(claims, key, protocol.REQUEST_TYPE)


def decision_claims(
    home: Party, host: Party, request: str, outcome: str = "refuse", **changes: Any
) -> dict[str, Any]:
    """Decision claims of ``home`` on the request JWS ``request``."""
    request_id = protocol.read_request(request)[1].request_id
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": home.pic, "aud": host.pic, "jti": str(uuid.uuid4()), "iat": now, "exp": now + 600,
        "requestId": request_id, "requestHash": jose.message_hash(request),
        "decision": outcome, "reason": "not this year" if outcome == "refuse" else "",
    }
    if outcome == "approve":
        claims["dam"] = {"slotNo": 0, "slotVersion": 0, "encK": "AB" * 32, "damMac": "CD" * 8}
        claims["damAuthKey"] = protocol.DamAuthKeySecret(request_id, UID, b"\x10" * 16).seal(
            host.encryption.public()
        )
    claims.update(changes)
    return claims


def sign_decision(claims: dict[str, Any], key: jose.PrivateKey) -> str:
    return jose.sign_compact(claims, key, protocol.DECISION_TYPE)


# -- peer routers ---------------------------------------------------------------------------------

A_PIC, B_PIC, PARTNER_PIC = "111111111", "222222222", "777777777"


@pytest.fixture(scope="session")
def second_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second migrated database on the same backend as ``database_url``: router B's."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with migrated_database(backend, tmp_path_factory, "b") as url:
        yield url


class CountingTransport(httpx.BaseTransport):
    """Passes requests to another router's WSGI app, counting them; can be made to fail."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.requests: list[httpx.Request] = []
        self.failure: Exception | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        return self.inner.handle_request(request)


@dataclass
class Pair:
    """Routers A (the caller's) and B (the card's), one authority, and their organisations."""

    authority: Authority
    a: PeerRouter
    b: PeerRouter
    a_app: Flask
    b_app: Flask
    to_b: CountingTransport
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def a_membership(self) -> Membership:
        return self.a_app.extensions["escr.federation"]

    @property
    def b_membership(self) -> Membership:
        return self.b_app.extensions["escr.federation"]

    def publish(self, *routers: PeerRouter, to: tuple[str, ...] = ("a", "b")) -> None:
        """Sign a catalogue of ``routers`` (default: A and B) and hand it to the routers named."""
        entries = [r.entry() for r in (routers or (self.a, self.b))]
        document = self.authority.sign(entries)
        for name in to:
            app = self.a_app if name == "a" else self.b_app
            app.extensions["escr.federation"].directory.adopt_document(document)

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    def b_card(self, code: str = "1", **card: Any) -> str:
        """Register a person and a card at B's university; return the card number."""
        client = self.b_app.test_client()
        person = esi(code)
        headers = self.headers("b-uni")
        assert client.post("/api/v2/persons", json=person_body(person, B_PIC),
                           headers=headers).status_code == 201
        created = client.post("/api/v2/cards", json=card_body(person, B_PIC, **card),
                              headers=headers)
        assert created.status_code == 201, created.json
        return created.json["cardNumber"]


def _settings(
    router: PeerRouter, url: str, instance: Path, authority: Authority, **federation: Any
) -> Settings:
    key_file = instance / "router-key.pem"
    write_private_key(router.key, key_file)
    return Settings(
        database_url=url,
        instance_path=instance,
        public_url=router.base_url,
        secret_key="test-secret",
        federation=FederationSettings(
            router_id=router.id,
            catalogue_url="https://authority.test/catalogue.json",
            authority_key=json.dumps(dict(authority.public.jwk)),
            **federation,
        ),
    )


def _app(settings: Settings, transport: httpx.BaseTransport | None = None) -> Flask:
    # The app starts standalone (fetching nothing), then joins with the tests' membership.
    app = create_app(replace(settings, federation=FederationSettings()))
    app.config["TESTING"] = True
    membership = Membership.create(
        settings.federation,
        FederationPlaces(settings.instance_path, settings.public_url),
        transport=transport,
    )
    assert membership.directory is not None
    membership.directory.auto_refresh = False  # catalogues are handed over by the tests
    app.extensions["escr.federation"] = membership
    _wipe(app.extensions["escr.database"])
    return app


def _tenant(
    app: Flask, pic: str, name: str, *, kind: str = "institution", scopes: list[str] | None = None
) -> str:
    database: Database = app.extensions["escr.database"]
    with database.session() as session:
        organisation = organisations.find_organisation(session, pic)
        if organisation is None:
            organisation = organisations.create_organisation(
                session, organisations.OrganisationInput(identifier=pic, name=name, kind=kind,
                                                         country="FR")
            )
        return credentials.create_api_key(session, organisation, scopes=scopes).secret


@pytest.fixture
def federation_settings() -> dict[str, Any]:
    """Federation settings of both routers (a test may override this fixture)."""
    return {"breaker_failures": 3, "breaker_open_seconds": 30}


@pytest.fixture
def pair(
    database_url: str, second_database_url: str, tmp_path: Path, federation_settings: dict[str, Any]
) -> Iterator[Pair]:
    authority = Authority()
    a = PeerRouter("router-a", "https://a.test", (A_PIC,))
    b = PeerRouter("router-b", "https://b.test", (B_PIC,))
    b_app = _app(_settings(b, second_database_url, tmp_path / "b", authority,
                           **federation_settings))
    to_b = CountingTransport(b_app)
    a_app = _app(_settings(a, database_url, tmp_path / "a", authority, **federation_settings),
                 transport=to_b)
    pair = Pair(authority, a, b, a_app, b_app, to_b)
    pair.publish()
    pair.keys["a-uni"] = _tenant(a_app, A_PIC, "University A")
    pair.keys["partner"] = _tenant(a_app, PARTNER_PIC, "City Transport", kind="transport")
    pair.keys["holder-partner"] = _tenant(a_app, PARTNER_PIC, "City Transport",
                                          scopes=["verify", "verify:holder"])
    pair.keys["b-uni"] = _tenant(b_app, B_PIC, "University B")
    yield pair
    for app in (a_app, b_app):
        app.extensions["escr.database"].engine.dispose()
