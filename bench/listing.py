"""Listing at scale: ``GET /api/v2/cards`` and ``/persons`` against the same SQL run bare.

Creates a throw-away PostgreSQL database, loads ``--cards`` persons with one card each over
``--institutions`` institutions with ``COPY``, then asks, as the first institution, for first
pages, every sort, searches and the deepest page, ``--runs`` times each through the router (the
Flask application in process, as a request would run in a worker). The ceiling of each query is
the router's own SQL statements for it (captured from the engine), replayed bare with psycopg in
the same run. ``--explain`` prints EXPLAIN ANALYZE of every statement.
Run: ``.venv/bin/python bench/listing.py --cards 100000``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_router import escr_admin
from bench.pg_population import (
    add_institutions,
    copy_population,
    libpq_url,
    name_of,
    pic_of,
    throwaway_database,
)
from router.app import create_app, freeze_start_up_objects
from router.settings import Settings

SIZE = 50


def _queries(total: int, names: str) -> list[tuple[str, str]]:
    deepest = max(math.ceil(total / SIZE) - 1, 0)
    probe = 12340 if total * 10 > 12340 else 10
    full_name = quote(name_of(probe, names))
    if names == "student":
        # Every name shares the trigrams of "Student": the worst case of a trigram search.
        name_searches = [("name", full_name), ("common word", "Student")]
    else:
        first, family = name_of(probe, names).split(" ", 1)
        name_searches = [("name", full_name), ("family name", quote(family))]
        # A common first name matches about one person in sixty.
        name_searches.append(("first name", quote(first)))
        # The first letter typed into a search box: every ESI holds an "e", so it matches the
        # whole institution, and counting its matches reads every row (the worst case).
        name_searches.append(("one letter", "e"))
        # Two letters found in a few percent of the rows, and two found in none: a walk of the
        # first rows in sort order finds no page, the matches are read from the search text.
        name_searches.append(("two letters", "jo"))
        name_searches.append(("two letters nowhere", "qx"))
    searches = [
        (f"{kind} search {what}", f"/api/v2/{kind}?size={SIZE}&search={text}")
        for kind in ("cards", "persons")
        for what, text in name_searches
    ]
    if names != "student":
        for kind, sort in (("cards", "displayName"), ("persons", "fullName")):
            for what, text in (("one letter", "e"), ("two letters", "jo")):
                searches.append(
                    (
                        f"{kind} search {what}, {sort}",
                        f"/api/v2/{kind}?size={SIZE}&search={text}&sort={sort}",
                    )
                )
    return [
        *searches,
        ("cards first page", f"/api/v2/cards?page=0&size={SIZE}"),
        ("cards page 2", f"/api/v2/cards?page=2&size={SIZE}"),
        ("cards sort displayName", f"/api/v2/cards?size={SIZE}&sort=displayName"),
        ("cards sort displayName,desc", f"/api/v2/cards?size={SIZE}&sort=displayName,desc"),
        ("cards sort cardNumber,desc", f"/api/v2/cards?size={SIZE}&sort=cardNumber,desc"),
        ("cards sort issuedAt", f"/api/v2/cards?size={SIZE}&sort=issuedAt"),
        ("cards sort expiresAt,desc", f"/api/v2/cards?size={SIZE}&sort=expiresAt,desc"),
        ("cards sort createdAt", f"/api/v2/cards?size={SIZE}&sort=createdAt"),
        ("cards search esi", f"/api/v2/cards?size={SIZE}&search=FR:{probe:09d}"),
        ("cards deepest page", f"/api/v2/cards?page={deepest}&size={SIZE}"),
        (
            "cards deepest, displayName",
            f"/api/v2/cards?page={deepest}&size={SIZE}&sort=displayName",
        ),
        ("persons first page", f"/api/v2/persons?page=0&size={SIZE}"),
        ("persons sort fullName", f"/api/v2/persons?size={SIZE}&sort=fullName"),
        ("persons sort identifier", f"/api/v2/persons?size={SIZE}&sort=identifier"),
        ("persons sort createdAt", f"/api/v2/persons?size={SIZE}&sort=createdAt,desc"),
        ("persons search email", f"/api/v2/persons?size={SIZE}&search=s{probe}@"),
        ("persons search esi", f"/api/v2/persons?size={SIZE}&search=FR:{probe:09d}"),
        ("persons deepest page", f"/api/v2/persons?page={deepest}&size={SIZE}"),
        ("persons deepest, fullName", f"/api/v2/persons?page={deepest}&size={SIZE}&sort=fullName"),
        (
            "persons deepest, identifier",
            f"/api/v2/persons?page={deepest}&size={SIZE}&sort=identifier",
        ),
    ]


def _pct(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _is_set(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SET ")


def _bare(conn: psycopg.Connection, statements: list[tuple[str, Any]]) -> float:
    """The statements replayed in one transaction, as the router runs them (``SET LOCAL``)."""
    start = time.perf_counter()
    with conn.transaction():
        for statement, parameters in statements:
            cursor = conn.execute(statement, parameters)
            if not _is_set(statement):
                cursor.fetchall()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    """Load, measure, print a table and one summary line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--institutions", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--names",
        choices=["varied", "student"],
        default="varied",
        help="varied first and family names, or 'Student <n>' (every name shares its trigrams)",
    )
    parser.add_argument(
        "--database-url",
        help="measure this database, already loaded as --cards, --institutions and --names say"
        " (kept); default: a throw-away database loaded here",
    )
    options = parser.parse_args()
    database = (
        contextlib.nullcontext(options.database_url)
        if options.database_url
        else throwaway_database()
    )
    with database as url, tempfile.TemporaryDirectory() as tmp:
        if not options.database_url:
            started = time.perf_counter()
            with psycopg.connect(libpq_url(url)) as conn:
                orgs = add_institutions(conn, options.institutions)
                copy_population(conn, orgs, options.cards, names=options.names)
                conn.commit()
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            print(f"loaded {options.cards} cards in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "ESCR_DATABASE_URL": url, "ESCR_INSTANCE_PATH": tmp}
        key = escr_admin(env, "key", "create", "--pic", pic_of(0))
        settings = Settings(
            database_url=url,
            instance_path=Path(tmp),
            public_url="https://router.bench",
            secret_key="bench",
        )
        app = create_app(settings)
        client = app.test_client()
        freeze_start_up_objects()  # as router.wsgi does in a worker
        headers = {"Authorization": f"Bearer {key}"}
        captured: list[tuple[str, Any]] = []

        @event.listens_for(app.extensions["escr.database"].engine, "before_cursor_execute")
        def capture(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
        ) -> None:
            # A search's page is a WITH statement (its matches, materialised).
            if statement.lstrip().upper().startswith(("SELECT", "WITH")) or _is_set(statement):
                captured.append((statement, parameters))

        rows = []
        print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
        bare_conn = psycopg.connect(libpq_url(url), autocommit=True)
        total = options.cards // options.institutions
        for name, path in _queries(total, options.names):
            for _ in range(2):  # warm: caches, plans
                assert client.get(path, headers=headers).status_code == 200, path
            captured.clear()
            client.get(path, headers=headers)
            statements = [s for s in captured if "api_keys" not in s[0]]
            router, bare = [], []
            for _ in range(options.runs):
                start = time.perf_counter()
                reply = client.get(path, headers=headers)
                router.append((time.perf_counter() - start) * 1000)
                bare.append(_bare(bare_conn, statements))
            found = reply.json["page"]["totalElements"]
            assert reply.status_code == 200 and (found >= 1 or "nowhere" in name), path
            rows.append(
                (
                    name,
                    _pct(router, 0.5),
                    _pct(router, 0.99),
                    _pct(bare, 0.5),
                    _pct(bare, 0.99),
                    reply.json["page"]["totalElements"],
                )
            )
            if options.explain:
                print(f"\n== {name}: {path}")
                with bare_conn.transaction():
                    for statement, parameters in statements:
                        if _is_set(statement):
                            bare_conn.execute(statement, parameters)
                            print(statement)
                            continue
                        plan = bare_conn.execute(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                        )
                        print("\n".join(r[0] for r in plan.fetchall()))
        bare_conn.close()
        print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")
        print(f"\n{'query':38} {'p50 ms':>8} {'p99 ms':>8} {'SQL p50':>8} {'SQL p99':>8}  total")
        for name, p50, p99, s50, s99, found in rows:
            print(f"{name:38} {p50:8.1f} {p99:8.1f} {s50:8.1f} {s99:8.1f}  {found}")
        deep = [r for r in rows if "deepest" in r[0]]
        others = [r for r in rows if "deepest" not in r[0]]
        worst = max(others, key=lambda r: r[2])
        worst_deep = max(deep, key=lambda r: r[2])
        ratio = statistics.median(r[3] / r[1] for r in rows)
        print(
            f"listing postgresql {options.cards} ({options.names} names):"
            f" p99_ms={worst[2]:.1f} ({worst[0]})"
            f" deepest_p99_ms={worst_deep[2]:.1f} ({worst_deep[0]})"
            f" median_sql_share={ratio:.2f}"
        )


if __name__ == "__main__":
    main()
