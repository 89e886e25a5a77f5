"""Benchmark: issuing N cards through ``/api/x/cards:batch`` versus one ``POST`` per card.

Run on demand, never by the tests::

    .venv/bin/python bench/batch_import.py                  # Flask test client, fresh SQLite
    .venv/bin/python bench/batch_import.py --database-url postgresql+psycopg://...
    .venv/bin/python bench/batch_import.py --base-url http://127.0.0.1:8080 --api-key KEY --pic P

With ``--base-url`` it talks HTTP to a live router (gunicorn) whose organisation ``--pic`` owns
``--api-key``. It prints, for each method, the wall time, cards per second and the latency
percentiles of its requests (one batch of up to 500 cards, or one card).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1] * 1000}


def _test_client(database_url: str | None) -> tuple[Post, str]:
    """A Flask test client on a migrated database with a fresh organisation and key."""
    from router import migrate
    from router.app import create_app
    from router.services import credentials, organisations
    from router.settings import Settings

    instance = Path(tempfile.mkdtemp(prefix="escr-bench-"))
    url = database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
    migrate.upgrade(url)
    app = create_app(Settings(database_url=url, instance_path=instance, secret_key="bench"))
    pic = f"{uuid.uuid4().int % 10**9:09d}"
    with app.extensions["escr.database"].session() as session:
        organisation = organisations.create_organisation(
            session,
            organisations.OrganisationInput(identifier=pic, name="Bench University", country="FR"),
        )
        key = credentials.create_api_key(session, organisation).secret
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = client.post(path, json=body, headers=headers)
        return response.status_code, response.json

    return post, pic


def _live(base_url: str, api_key: str) -> Post:
    import httpx

    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=120
    )

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = client.post(path, json=body)
        return response.status_code, response.json()

    return post


def _person(identifier: str, pic: str) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "personOrganisationUpdateViews": [
            {"organisationIdentifier": pic, "academicLevel": "MASTER", "fullName": "Bench"}
        ],
    }


def _card(identifier: str, pic: str, n: int) -> dict[str, Any]:
    return {
        "cardType": "SMART_CDZ",
        "cardStatusType": "ACTIVE",
        "issuedAt": "2026-09-01",
        "expiresAt": "2030-08-31",
        "issuerIdentifier": pic,
        "personIdentifier": identifier,
        "displayName": f"Card {n}",
    }


def _report(name: str, count: int, wall: float, latencies: list[float], failed: int) -> None:
    marks = _percentiles(latencies)
    print(
        f"{name:<22} {count:>6} cards  {wall:8.2f} s  {count / wall:8.1f} cards/s  "
        f"{len(latencies):>6} requests  latency ms p50 {marks['p50']:.1f}  p90 {marks['p90']:.1f}"
        f"  p99 {marks['p99']:.1f}  max {marks['max']:.1f}  failed {failed}"
    )


def main() -> None:
    """Parse the options, prepare persons, then time both ways of issuing the cards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="cards per method")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--persons", type=int, default=1000, help="holders the cards share")
    parser.add_argument("--database-url", help="test-client mode: this database, not SQLite")
    parser.add_argument("--base-url", help="a live router instead of the test client")
    parser.add_argument("--api-key")
    parser.add_argument("--pic", help="the PIC of --api-key's organisation (live mode)")
    args = parser.parse_args()

    if args.base_url:
        if not (args.api_key and args.pic):
            parser.error("--base-url needs --api-key and --pic")
        post, pic = _live(args.base_url, args.api_key), args.pic
    else:
        post, pic = _test_client(args.database_url)

    run = uuid.uuid4().hex[:8].upper()
    holders = [
        f"urn:schac:personalUniqueCode:int:esi:FR:BENCH{run}{i:06d}" for i in range(args.persons)
    ]
    started = time.perf_counter()
    for start in range(0, len(holders), args.batch_size):
        chunk = holders[start : start + args.batch_size]
        status, body = post("/api/x/persons:batch", {"items": [_person(h, pic) for h in chunk]})
        if status != 200 or body["summary"]["failed"]:
            raise SystemExit(f"could not register the holders: {status} {body}")
    print(f"registered {len(holders)} holders in {time.perf_counter() - started:.2f} s")

    cards = [_card(holders[n % len(holders)], pic, n) for n in range(args.count)]

    latencies: list[float] = []
    failed = 0
    started = time.perf_counter()
    for start in range(0, len(cards), args.batch_size):
        began = time.perf_counter()
        status, body = post("/api/x/cards:batch", {"items": cards[start : start + args.batch_size]})
        latencies.append(time.perf_counter() - began)
        failed += body["summary"]["failed"] if status == 200 else args.batch_size
    _report(
        f"cards:batch ({args.batch_size})",
        args.count,
        time.perf_counter() - started,
        latencies,
        failed,
    )

    latencies, failed = [], 0
    started = time.perf_counter()
    for card in cards:
        began = time.perf_counter()
        status, _ = post("/api/v2/cards", card)
        latencies.append(time.perf_counter() - began)
        failed += status != 201
    _report("POST /api/v2/cards", args.count, time.perf_counter() - started, latencies, failed)
    print(f"median single request {statistics.median(latencies) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
