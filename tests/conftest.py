"""Fixtures shared by the whole suite: a migrated database on every backend, apps, credentials.

Every test that uses a database runs on SQLite and, when ESCR_TEST_DATABASE_URL names a PostgreSQL
database, on PostgreSQL too, in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from router import migrate
from router.app import create_app
from router.db import Base, Database
from router.services import credentials, organisations
from router.settings import Settings

# The PC/SC stack and the simulated card in its reader: one per session, for every folder.
pytest_plugins = ["tests.reader_tools.pcsc_stack"]

PG_URL = os.environ.get("ESCR_TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
# Redis for the tests of shared rate limits (.ci/run sets it to redis://127.0.0.1:6379/0).
REDIS_URL = os.environ.get("ESCR_TEST_REDIS_URL", "").strip()


def _postgres_schema_url(schema: str) -> str:
    url = make_url(PG_URL)
    options = quote(f"-csearch_path={schema}")
    return f"{url.render_as_string(hide_password=False)}?options={options}"


@contextlib.contextmanager
def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, name: str = "router"
) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp(f"sqlite-{name}") / f"{name}.sqlite3"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    schema = f"escr_test_{name}_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database per backend, for the whole session."""
    with migrated_database(request.param, tmp_path_factory) as url:
        yield url


@dataclass
class RedisStore:
    """A Redis server and a key prefix of one test's own."""

    url: str
    prefix: str


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    """Redis with a key prefix of this test's own; its keys are deleted afterwards."""
    if not REDIS_URL:
        pytest.skip("set ESCR_TEST_REDIS_URL (.ci/run does) to run the tests that need Redis")
    import redis

    store = RedisStore(REDIS_URL, f"escr-test-{uuid.uuid4().hex[:12]}")
    yield store
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{store.prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _wipe(database: Database) -> None:
    with database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of a test router."""
    return Settings(
        database_url=database_url,
        instance_path=tmp_path,
        public_url="https://router.test",
        secret_key="test-secret",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """A router application on a clean database."""
    application = create_app(settings)
    application.config["TESTING"] = True
    database: Database = application.extensions["escr.database"]
    _wipe(database)
    yield application
    database.engine.dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    """The test application's database."""
    return app.extensions["escr.database"]


@dataclass
class Tenant:
    """An organisation of the test router with an API key."""

    pic: str
    key: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        """Headers authenticating as this organisation."""
        return {"Authorization": f"Bearer {self.key}"}


class MakeTenant(Protocol):
    """The ``make_tenant`` fixture: register an organisation and issue it an API key."""

    def __call__(
        self,
        pic: str,
        name: str | None = None,
        *,
        scopes: list[str] | None = None,
        kind: str = "institution",
        country: str = "FR",
        prefixes: list[str] | None = None,
        vat: bool = False,
    ) -> Tenant: ...


@pytest.fixture
def make_tenant(db: Database) -> MakeTenant:
    """Factory: register an organisation and issue it an API key."""

    def factory(
        pic: str,
        name: str | None = None,
        *,
        scopes: list[str] | None = None,
        kind: str = "institution",
        country: str = "FR",
        prefixes: list[str] | None = None,
        vat: bool = False,
    ) -> Tenant:
        with db.session() as session:
            organisation = organisations.find_organisation(session, pic)
            if organisation is None:
                organisation = organisations.create_organisation(
                    session,
                    organisations.OrganisationInput(
                        identifier=pic,
                        identifier_type="VAT" if vat else "PIC",
                        name=name or f"University {pic}",
                        country=country,
                        kind=kind,
                        prefixes=prefixes or ["001"],
                    ),
                )
            issued = credentials.create_api_key(session, organisation, scopes=scopes)
            return Tenant(pic=pic, key=issued.secret, name=organisation.name)

    return factory


@pytest.fixture
def uni(make_tenant: MakeTenant) -> Tenant:
    """The first test university."""
    return make_tenant("999999999", "Demo University")


@pytest.fixture
def other_uni(make_tenant: MakeTenant) -> Tenant:
    """A second university, to prove isolation."""
    return make_tenant("888888888", "Other University")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the application."""
    return app.test_client()


def oauth_client(db: Database, pic: str, scopes: list[str] | None = None) -> tuple[str, str]:
    """Register an OAuth2 client-credentials client of the organisation ``pic``: id and secret."""
    with db.session() as session:
        organisation = organisations.get_organisation(session, pic)
        issued = credentials.create_oauth_client(session, organisation, scopes=scopes)
        return issued.record.client_id, issued.secret


def access_token(client: FlaskClient, db: Database, pic: str, scopes: list[str]) -> str:
    """An access token of a new OAuth2 client of ``pic`` with ``scopes`` (secret in the form)."""
    client_id, secret = oauth_client(db, pic, scopes)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def esi(code: str = "12345", scope: str = "FR") -> str:
    """A valid ESI."""
    return f"urn:schac:personalUniqueCode:int:esi:{scope}:{code}"


def person_body(identifier: str, pic: str, **link: Any) -> dict[str, Any]:
    """A PersonUpdateView body linking ``identifier`` to the organisation ``pic``."""
    view = {
        "organisationIdentifier": pic,
        "academicLevel": "MASTER",
        "email": "s@example.org",
        "fullName": "Ada Lovelace",
    }
    view.update(link)
    return {"identifier": identifier, "personOrganisationUpdateViews": [view]}


def card_body(person: str, pic: str, **fields: Any) -> dict[str, Any]:
    """A CardUpdateView body for a card of ``person`` issued by ``pic``."""
    body = {
        "cardType": "SMART_CDZ",
        "cardStatusType": "ACTIVE",
        "issuedAt": "2026-09-01",
        "expiresAt": "2030-08-31",
        "issuerIdentifier": pic,
        "personIdentifier": person,
        "displayName": "Card of Ada",
    }
    body.update(fields)
    return body


class Register(Protocol):
    """The ``registered`` fixture: register a person and issue them a card; the card's record."""

    def __call__(
        self, code: str = "12345", tenant: Tenant | None = None, **card: Any
    ) -> dict[str, Any]: ...


@pytest.fixture
def registered(client: FlaskClient, uni: Tenant) -> Register:
    """Factory: register a person at ``uni`` (or another tenant) and issue them a card."""

    def factory(code: str = "12345", tenant: Tenant | None = None, **card: Any) -> dict[str, Any]:
        owner = tenant or uni
        identifier = esi(code)
        response = client.post(
            "/api/v2/persons", json=person_body(identifier, owner.pic), headers=owner.headers
        )
        assert response.status_code == 201, response.json
        response = client.post(
            "/api/v2/cards", json=card_body(identifier, owner.pic, **card), headers=owner.headers
        )
        assert response.status_code == 201, response.json
        return {"esi": identifier, "escn": response.json["cardNumber"], "card": response.json}

    return factory


# One answer of socket.getaddrinfo: family, type, protocol, canonical name, address.
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]


class FakeDns:
    """Names the tests resolve without a network; numeric hosts go to the real resolver."""

    def __init__(self, real: Callable[..., list[AddrInfo]]) -> None:
        self.real = real
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def getaddrinfo(
        self, host: str | bytes | None, port: str | int | None, *args: Any, **kwargs: Any
    ) -> list[AddrInfo]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        name = name.rstrip(".").lower()
        if name not in self.names:
            return self.real(host, port, *args, **kwargs)
        self.lookups.append(name)
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port or 0),
            )
            for address in self.names[name]
        ]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Resolve chosen host names to chosen addresses (``fake_dns.names[host] = [...]``)."""
    dns = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns
