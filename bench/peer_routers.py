r"""Benchmark a forwarded partner verification against a local one, on the same machine.

Two routers in their own gunicorn on loopback ports, one signed catalogue. A partner of router A
verifies cards of router A (local: one router, one database) and cards of router B (forwarded:
A signs a request, B verifies it, judges the card, records the lookup and signs its answer, A
verifies that answer). The local run is the ceiling the forwarded one is measured against, in
the same run. Run on demand (not part of the tests)::

    .venv/bin/python bench/peer_routers.py --requests 1000 --concurrency 8
    ESCR_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/peer_routers.py   # router A on PostgreSQL (a schema of its own)

Ends with one summary line: the forwarded run's throughput and p99 as ratios of the local run's.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from router import migrate
from router.cli import escr_group
from router.db import Database
from router.services import credentials, organisations

BIN = Path(sys.executable).parent
PIC_A, PIC_B, PARTNER = "111111111", "222222222", "777777777"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Result:
    """Throughput and latency of one scenario."""

    name: str
    throughput: float
    p50: float
    p99: float

    def line(self) -> str:
        """One line of figures."""
        return (
            f"{self.name:<28} {self.throughput:8.1f} req/s   p50 {self.p50 * 1000:6.1f} ms   "
            f"p99 {self.p99 * 1000:6.1f} ms"
        )


def _run(name: str, base: str, count: int, concurrency: int, call: Callable) -> Result:
    latencies: list[float] = []

    def one(client: httpx.Client, index: int) -> None:
        started = time.perf_counter()
        call(client, index)
        latencies.append(time.perf_counter() - started)

    with httpx.Client(base_url=base, timeout=30) as client:
        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: one(client, i), range(count)))
        elapsed = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100)
    return Result(name, count / elapsed, q[49], q[98])


def _admin(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(escr_group, list(args), env=env, catch_exceptions=False)
    if result.exit_code != 0:
        raise click.ClickException(f"escr-admin {' '.join(args)}: {result.output}")
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


def _postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    schema = f"escr_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    rendered = make_url(url).render_as_string(hide_password=False)
    schema_url = f"{rendered}?options=-csearch_path%3D{schema}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return schema_url, drop


def _cards(base: str, key: str, pic: str, count: int, tag: str) -> list[str]:
    headers = {"Authorization": f"Bearer {key}"}
    numbers = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for index in range(count):
            esi = f"urn:schac:personalUniqueCode:int:esi:FR:{tag}-{index}"
            http.post(
                "/api/v2/persons",
                headers=headers,
                json={
                    "identifier": esi,
                    "personOrganisationUpdateViews": [{"organisationIdentifier": pic}],
                },
            ).raise_for_status()
            card = http.post(
                "/api/v2/cards",
                headers=headers,
                json={
                    "personIdentifier": esi,
                    "issuerIdentifier": pic,
                    "cardType": "SMART_CDZ",
                    "cardStatusType": "ACTIVE",
                    "issuedAt": "2026-09-01",
                    "expiresAt": "2030-08-31",
                },
            )
            card.raise_for_status()
            numbers.append(card.json()["cardNumber"])
    return numbers


@click.command()
@click.option("--requests", "count", default=1000, show_default=True)
@click.option("--concurrency", default=8, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn workers per router")
def main(count: int, concurrency: int, workers: int) -> None:
    """Start routers A and B, then time local and forwarded partner verifications."""
    tmp = Path(tempfile.mkdtemp(prefix="escr-bench-peers-"))
    cleanups: list[Callable[[], None]] = []
    pg = os.environ.get("ESCR_BENCH_DATABASE_URL", "").strip()
    if pg:
        a_database, drop = _postgres_schema(pg)
        cleanups.append(drop)
    else:
        a_database = f"sqlite:///{tmp / 'a.sqlite3'}"
    b_database = f"sqlite:///{tmp / 'b.sqlite3'}"
    ports = {"a": _free_port(), "b": _free_port()}
    authority_key, authority_public = tmp / "authority.pem", tmp / "authority.pem.pub.jwk"
    a_url = f"http://127.0.0.1:{ports['a']}"
    envs = {
        name: {
            "ESCR_DATABASE_URL": database,
            "ESCR_INSTANCE_PATH": str(tmp / name),
            "ESCR_PUBLIC_URL": f"http://127.0.0.1:{ports[name]}",
            "ESCR_ROUTER_ID": f"router-{name}",
            "ESCR_FEDERATION_CATALOGUE_URL": f"{a_url}/api/x/federation/catalogue",
            "ESCR_FEDERATION_AUTHORITY_KEY": str(authority_public),
            "ESCR_FEDERATION_ALLOW_INSECURE": "1",
        }
        for name, database in (("a", a_database), ("b", b_database))
    }
    servers: list[subprocess.Popen] = []
    try:
        _admin({}, "federation", "init-authority", "--key-file", str(authority_key))
        draft = str(tmp / "draft.json")
        keys = {}
        for name, pic in (("a", PIC_A), ("b", PIC_B)):
            migrate.upgrade(envs[name]["ESCR_DATABASE_URL"])
            keys[name] = _organisation(envs[name]["ESCR_DATABASE_URL"], pic, f"University {name}")
            _admin(envs[name], "router", "init")
            identity = tmp / f"{name}.json"
            identity.write_text(_admin(envs[name], "router", "identity"))
            _admin(
                {},
                "federation",
                "add-router",
                "--draft",
                draft,
                "--identity",
                str(identity),
                "--allow-insecure",
            )
        partner = _organisation(a_database, PARTNER, "Bench Transport", "transport")
        catalogue = tmp / "catalogue.json"
        _admin(
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
        _admin(envs["a"], "federation", "publish", str(catalogue))
        for name in ("a", "b"):
            servers.append(
                subprocess.Popen(
                    [
                        BIN / "gunicorn",
                        "--bind",
                        f"127.0.0.1:{ports[name]}",
                        "--workers",
                        str(workers),
                        "router.wsgi:app",
                    ],
                    env={**os.environ, **envs[name]},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        bases = {name: f"http://127.0.0.1:{ports[name]}" for name in ("a", "b")}
        for name in ("a", "b"):
            deadline = time.monotonic() + 60
            while True:
                try:
                    state = httpx.get(f"{bases[name]}/api/x/federation/identity", timeout=2)
                    if state.status_code == 200 and state.json().get("catalogue"):
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise click.ClickException(f"router {name} did not load the catalogue")
                time.sleep(0.1)
        local_cards = _cards(bases["a"], keys["a"], PIC_A, 50, "a")
        foreign_cards = _cards(bases["b"], keys["b"], PIC_B, 50, "b")
        auth = {"Authorization": f"Bearer {partner}"}

        def verify(cards: list[str]) -> Callable:
            def call(client: httpx.Client, index: int) -> None:
                answer = client.post(
                    "/api/x/verify", headers=auth, json={"scanned": cards[index % len(cards)]}
                )
                if answer.status_code != 200 or answer.json()["valid"] is not True:
                    raise click.ClickException(f"HTTP {answer.status_code}: {answer.text}")

            return call

        click.echo(
            f"{count} verifications per run, {concurrency} clients, {workers} workers per router, "
            f"router A on {'PostgreSQL' if pg else 'SQLite'}, router B on SQLite"
        )
        # Warm both paths (connections, caches of the interpreter) before timing.
        _run("warm-up", bases["a"], 50, concurrency, verify(local_cards))
        _run("warm-up", bases["a"], 50, concurrency, verify(foreign_cards))
        local = _run("local verification (A)", bases["a"], count, concurrency, verify(local_cards))
        forwarded = _run(
            "forwarded verification (A→B)", bases["a"], count, concurrency, verify(foreign_cards)
        )
        click.echo(local.line())
        click.echo(forwarded.line())
        click.echo(
            f"summary: forwarded verification {forwarded.throughput:.0f} req/s = "
            f"{forwarded.throughput / local.throughput:.2f}x the local ceiling "
            f"({local.throughput:.0f} req/s); p99 {forwarded.p99 * 1000:.1f} ms = "
            f"{forwarded.p99 / local.p99:.2f}x local ({local.p99 * 1000:.1f} ms)"
        )
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        for cleanup in cleanups:
            cleanup()


if __name__ == "__main__":
    main()
