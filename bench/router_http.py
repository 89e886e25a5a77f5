"""Benchmark the router over HTTP: gunicorn on a loopback port, concurrent clients.

Run on demand (not part of the tests):

    .venv/bin/python bench/router_http.py --requests 2000 --concurrency 8
    ESCR_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/router_http.py

Prints, for each scenario, throughput, latency percentiles and the server's memory (RSS).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import click
import httpx
from live_router import BIN, ROOT, LiveRouter, escr_admin
from measure import percentiles, timed_http

PIC = "999999999"


def _run(
    name: str,
    count: int,
    concurrency: int,
    call: Callable[[httpx.Client, int], None],
    server: LiveRouter,
) -> None:
    rate, latencies = timed_http(server.url, count, concurrency, call)
    q = percentiles(latencies)
    click.echo(
        f"{name:<22} {rate:8.1f} req/s   p50 {q[49] * 1000:6.1f} ms   "
        f"p95 {q[94] * 1000:6.1f} ms   p99 {q[98] * 1000:6.1f} ms   "
        f"server RSS {server.rss_mib():6.1f} MiB"
    )


@click.command()
@click.option("--requests", "count", default=2000, show_default=True)
@click.option("--concurrency", default=8, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn workers")
def main(count: int, concurrency: int, workers: int) -> None:
    """Start a router, then measure card registration, reads, public status and listing."""
    instance = Path(tempfile.mkdtemp(prefix="escr-bench-"))
    # The anonymous rate limit still counts every status lookup (its cost is measured) but is
    # set high enough not to refuse the benchmark's own traffic.
    env = {
        **os.environ,
        "ESCR_INSTANCE_PATH": str(instance),
        "ESCR_PUBLIC_RATE_LIMIT": os.environ.get("ESCR_PUBLIC_RATE_LIMIT", "1000000/minute"),
    }
    # As deployed: one process with threads counts the limit in memory; several workers share
    # it in Redis (under a prefix of the benchmark's own).
    if workers > 1:
        env.setdefault("ESCR_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0")
        env.setdefault("ESCR_RATE_LIMIT_PREFIX", f"escr-bench-{os.getpid()}")
    subprocess.run([BIN / "escr-admin", "db", "upgrade"], env=env, check=True, cwd=ROOT)
    try:
        key = escr_admin(env, "key", "create", "--pic", PIC)
    except click.ClickException:  # a new database: the demo organisations first
        escr_admin(env, "demo")
        key = escr_admin(env, "key", "create", "--pic", PIC)
    auth = {"Authorization": f"Bearer {key}"}
    with LiveRouter(env, workers=workers) as server:
        server.wait_ready()
        run_id = os.urandom(4).hex()
        cards: list[str] = []

        def register(client: httpx.Client, i: int) -> None:
            esi = f"urn:schac:personalUniqueCode:int:esi:FR:bench-{run_id}-{i}"
            person = client.post(
                "/api/v2/persons",
                headers=auth,
                json={
                    "identifier": esi,
                    "personOrganisationUpdateViews": [
                        {
                            "organisationIdentifier": PIC,
                            "academicLevel": "MASTER",
                            "email": f"s{i}@example.org",
                            "fullName": f"Student {i}",
                        }
                    ],
                },
            )
            person.raise_for_status()
            card = client.post(
                "/api/v2/cards",
                headers=auth,
                json={
                    "personIdentifier": esi,
                    "issuerIdentifier": PIC,
                    "cardType": "SMART_CDZ",
                    "cardStatusType": "ACTIVE",
                    "issuedAt": "2026-09-01",
                    "expiresAt": "2030-08-31",
                    "displayName": f"Student {i}",
                },
            )
            card.raise_for_status()
            cards.append(card.json()["cardNumber"])

        def read(client: httpx.Client, i: int) -> None:
            client.get(f"/api/v2/cards/{cards[i % len(cards)]}", headers=auth).raise_for_status()

        def status(client: httpx.Client, i: int) -> None:
            client.get(f"/api/v2/cards/{cards[i % len(cards)]}/status").raise_for_status()

        def listing(client: httpx.Client, i: int) -> None:
            client.get(
                "/api/v2/cards", params={"page": i % 10, "size": 50}, headers=auth
            ).raise_for_status()

        click.echo(
            f"{count} requests per scenario, {concurrency} clients, {workers} workers, "
            f"database {env.get('ESCR_DATABASE_URL', 'SQLite')}, rate-limit store "
            f"{env.get('ESCR_RATE_LIMIT_STORAGE', 'memory://')}"
        )
        _run("register person+card", count, concurrency, register, server)
        _run("read card (key)", count, concurrency, read, server)
        _run("public status", count, concurrency, status, server)
        _run("list 50 cards", max(count // 4, 1), concurrency, listing, server)


if __name__ == "__main__":
    main()
