"""Two federated routers, A and B, each in its own gunicorn, under one signed catalogue.

Shared by ``bench/peer_routers.py`` and ``bench/delegation_forwarding.py``: router A's database is a
throw-away PostgreSQL schema when ``ESCR_BENCH_DATABASE_URL`` names a server, else SQLite; router B
is always on SQLite. Router A publishes the catalogue; both load it before the pair is handed out.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
from click.testing import CliRunner
from live_router import LiveRouter, free_port
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from router import migrate
from router.cli import escr_group
from router.db import Database
from router.services import credentials, organisations

NAMES = ("a", "b")


@dataclass(frozen=True)
class Institution:
    """An organisation to create on one of the routers (``"a"`` or ``"b"``)."""

    router: str
    pic: str
    name: str
    kind: str = "institution"


@dataclass
class RouterPair:
    """The two routers' databases, addresses and API keys (by PIC)."""

    tmp: Path
    postgresql: bool
    databases: dict[str, str]
    bases: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)


def admin(env: dict[str, str], *args: str) -> str:
    """Run an escr-admin command in this process; its output."""
    result = CliRunner().invoke(escr_group, list(args), env=env, catch_exceptions=False)
    if result.exit_code != 0:
        raise click.ClickException(f"escr-admin {' '.join(args)}: {result.output}")
    return result.stdout


def create_organisation(url: str, pic: str, name: str, kind: str = "institution") -> str:
    """Create an organisation directly in a router's database; its new API key."""
    database = Database(url)
    try:
        with database.session() as session:
            organisation = organisations.create_organisation(
                session, organisations.OrganisationInput(identifier=pic, name=name, kind=kind)
            )
            return credentials.create_api_key(session, organisation).secret
    finally:
        database.engine.dispose()


def postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A new schema on the PostgreSQL server at ``url``: its URL and the function that drops it."""
    schema = f"escr_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    rendered = make_url(url).render_as_string(hide_password=False)
    schema_url = f"{rendered}?options=-csearch_path%3D{schema}"

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    return schema_url, drop


def _catalogue_loaded(server: LiveRouter) -> None:
    server.wait_ready(
        "/api/x/federation/identity",
        lambda answer: answer.status_code == 200 and bool(answer.json().get("catalogue")),
    )


@contextlib.contextmanager
def router_pair(
    prefix: str,
    workers: int,
    listed: Sequence[Institution],
    unlisted: Sequence[Institution] = (),
) -> Iterator[RouterPair]:
    """Set up, start and finally stop routers A and B with their institutions.

    ``listed`` institutions exist before the routers' identities are taken (so the catalogue
    names them); ``unlisted`` ones are added after. Plain gunicorn with ``workers`` workers each.
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    cleanups: list[Callable[[], None]] = []
    servers: list[LiveRouter] = []
    pg = os.environ.get("ESCR_BENCH_DATABASE_URL", "").strip()
    try:
        if pg:
            a_database, drop = postgres_schema(pg)
            cleanups.append(drop)
        else:
            a_database = f"sqlite:///{tmp / 'a.sqlite3'}"
        ports = {name: free_port() for name in NAMES}
        pair = RouterPair(
            tmp,
            bool(pg),
            {"a": a_database, "b": f"sqlite:///{tmp / 'b.sqlite3'}"},
            {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
        )
        authority_key, authority_public = tmp / "authority.pem", tmp / "authority.pem.pub.jwk"
        envs = {
            name: {
                "ESCR_DATABASE_URL": pair.databases[name],
                "ESCR_INSTANCE_PATH": str(tmp / name),
                "ESCR_PUBLIC_URL": pair.bases[name],
                "ESCR_ROUTER_ID": f"router-{name}",
                "ESCR_FEDERATION_CATALOGUE_URL": f"{pair.bases['a']}/api/x/federation/catalogue",
                "ESCR_FEDERATION_AUTHORITY_KEY": str(authority_public),
                "ESCR_FEDERATION_ALLOW_INSECURE": "1",
            }
            for name in NAMES
        }
        admin({}, "federation", "init-authority", "--key-file", str(authority_key))
        draft = str(tmp / "draft.json")
        for database in pair.databases.values():
            migrate.upgrade(database)
        # Institutions first: a router's identity lists the PICs it hosts for the catalogue.
        for each in listed:
            pair.keys[each.pic] = create_organisation(
                pair.databases[each.router], each.pic, each.name, each.kind
            )
        for name in NAMES:
            admin(envs[name], "router", "init")
            identity = tmp / f"{name}.json"
            identity.write_text(admin(envs[name], "router", "identity"))
            admin(
                {},
                "federation",
                "add-router",
                "--draft",
                draft,
                "--identity",
                str(identity),
                "--allow-insecure",
            )
        for each in unlisted:
            pair.keys[each.pic] = create_organisation(
                pair.databases[each.router], each.pic, each.name, each.kind
            )
        catalogue = tmp / "catalogue.json"
        admin(
            {},
            "federation",
            "sign",
            "--draft",
            draft,
            "--authority-key",
            str(authority_key),
            "-o",
            str(catalogue),
            "--allow-insecure",
        )
        admin(envs["a"], "federation", "publish", str(catalogue))
        for name in NAMES:
            env = {**os.environ, **envs[name]}
            servers.append(LiveRouter(env, workers=workers, config=False, port=ports[name]))
        for server in servers:
            _catalogue_loaded(server)
        yield pair
    finally:
        for server in servers:
            server.stop()
        for cleanup in cleanups:
            cleanup()
