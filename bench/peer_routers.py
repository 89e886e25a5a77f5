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

from collections.abc import Callable

import click
import httpx
from measure import Result, timed_http
from router_pair import Institution, router_pair

PIC_A, PIC_B, PARTNER = "111111111", "222222222", "777777777"


def _run(name: str, base: str, count: int, concurrency: int, call: Callable) -> Result:
    return Result.of(name, *timed_http(base, count, concurrency, call))


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
    with router_pair(
        "escr-bench-peers-",
        workers,
        [Institution("a", PIC_A, "University a"), Institution("b", PIC_B, "University b")],
        [Institution("a", PARTNER, "Bench Transport", "transport")],
    ) as routers:
        bases, keys, pg = routers.bases, routers.keys, routers.postgresql
        local_cards = _cards(bases["a"], keys[PIC_A], PIC_A, 50, "a")
        foreign_cards = _cards(bases["b"], keys[PIC_B], PIC_B, 50, "b")
        auth = {"Authorization": f"Bearer {keys[PARTNER]}"}

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


if __name__ == "__main__":
    main()
