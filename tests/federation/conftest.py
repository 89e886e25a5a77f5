"""Two routers in one process, each with its own database, talking through real HTTP code.

Router A's peer client reaches router B through ``httpx.WSGITransport``: every byte of the
signed request and answer goes through both routers' real code (signing, Flask, verification),
without sockets; the end-to-end tests do the same across gunicorn processes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from router import migrate
from router.app import create_app
from router.db import Database
from router.federation.keys import write_private_key
from router.federation.membership import FederationPlaces, Membership
from router.federation.settings import FederationSettings
from router.services import credentials, organisations
from router.settings import Settings
from tests.conftest import PG_URL, _postgres_schema_url, _wipe, card_body, esi, person_body
from tests.federation.factories import Authority, PeerRouter

A_PIC, B_PIC, PARTNER_PIC = "111111111", "222222222", "777777777"


@pytest.fixture(scope="session")
def second_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A second migrated database on the same backend as ``database_url``: router B's."""
    if database_url.startswith("sqlite"):
        path = tmp_path_factory.mktemp("sqlite-b") / "router-b.sqlite3"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    schema = f"escr_test_b_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _postgres_schema_url(schema)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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

    def publish(self, *routers, to=("a", "b")) -> None:
        """Sign a catalogue of ``routers`` (default: A and B) and hand it to the routers named."""
        entries = [r.entry() for r in (routers or (self.a, self.b))]
        document = self.authority.sign(entries)
        for name in to:
            app = self.a_app if name == "a" else self.b_app
            app.extensions["escr.federation"].directory.adopt_document(document)

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    def b_card(self, code: str = "1", **card) -> str:
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
    router: PeerRouter, url: str, instance: Path, authority: Authority, **federation
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


def _tenant(app: Flask, pic: str, name: str, *, kind: str = "institution", scopes=None) -> str:
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
def federation_settings() -> dict:
    """Federation settings of both routers (a test may override this fixture)."""
    return {"breaker_failures": 3, "breaker_open_seconds": 30}


@pytest.fixture
def pair(database_url, second_database_url, tmp_path, federation_settings) -> Iterator[Pair]:
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
