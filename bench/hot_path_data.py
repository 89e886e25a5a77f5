"""The data of ``bench/hot_path.py``: N cards loaded by SQL, and a sample of their numbers for wrk.

``COPY`` on PostgreSQL, ``executemany`` on SQLite: one person per card (with its link to the
issuing institution), several institutions, mostly valid cards with some lost, suspended or
expired ones, so that every verdict is exercised.
"""

from __future__ import annotations

import contextlib
import io
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import click

# What the card numbers given to wrk are drawn from: a random sample of every card, enough that
# lookups spread over the whole index while each wrk thread loads its list quickly.
SAMPLE = 200_000
BATCH = 50_000
INSTITUTIONS = [f"90000000{i}" for i in range(1, 6)]
PARTNER = "777000001"


def card_number(index: int, prefix: str, pic: str) -> str:
    """A valid ESCN (UUID v1, node = prefix + PIC), unique by ``index``."""
    return f"{index:08x}-{index % 65536:04x}-1{index % 4096:03x}-8{index % 4096:03x}-{prefix}{pic}"


@dataclass
class Row:
    """One generated card with its person and link."""

    person_id: int
    card_number: str
    issuer_id: int
    state: str
    expires_at: str


def _rows(count: int, first_id: int, issuers: dict[str, int]) -> Iterator[Row]:
    pics = list(issuers)
    for n in range(count):
        pic = pics[n % len(pics)]
        # Mostly valid cards, some lost or suspended, some expired: every verdict is exercised.
        state = "LOST" if n % 20 == 7 else "SUSPENDED" if n % 50 == 11 else "ACTIVE"
        expires = "2025-08-31" if n % 25 == 3 else "2030-08-31"
        number = card_number(first_id + n, "001", pic)
        yield Row(first_id + n, number, issuers[pic], state, expires)


def load_postgresql(url: str, count: int, issuers: dict[str, int]) -> None:
    """Add ``count`` cards with their persons and links by COPY, in batches; then ANALYZE."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM persons").fetchone()[0]
        now = "2026-09-01 00:00:00+00"
        for start in range(0, count, BATCH):
            persons, links, cards = io.StringIO(), io.StringIO(), io.StringIO()
            for row in _rows(min(BATCH, count - start), first + start, issuers):
                esi = f"urn:schac:personalUniqueCode:int:esi:FR:bench{row.person_id}"
                persons.write(f"{row.person_id}\t{esi}\t{now}\t{now}\t1\n")
                links.write(
                    f"{row.person_id}\t{row.person_id}\t{row.issuer_id}\tMASTER\t"
                    f"Student {row.person_id}\ts{row.person_id}@example.org\t{now}\t{now}\n"
                )
                cards.write(
                    f"{row.person_id}\t{row.card_number}\t{row.person_id}\t{row.issuer_id}\t"
                    f"SMART_CDZ\t{row.state}\t2026-09-01\t{row.expires_at}\t"
                    f"Student {row.person_id}\t{now}\t{now}\t1\n"
                )
            with conn.cursor() as cur:
                for table, columns, data in (
                    ("persons", "id, esi, created_at, updated_at, version", persons),
                    (
                        "person_organisations",
                        "id, person_id, organisation_id, academic_level, full_name, email, "
                        "created_at, updated_at",
                        links,
                    ),
                    (
                        "cards",
                        "id, card_number, person_id, issuer_id, card_type, state, issued_at, "
                        "expires_at, display_name, created_at, updated_at, version",
                        cards,
                    ),
                ):
                    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        copy.write(data.getvalue())
            conn.commit()
            _progress(start + BATCH, count)
        for table in ("persons", "person_organisations", "cards"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE persons, person_organisations, cards")


def load_sqlite(path: str, count: int, issuers: dict[str, int]) -> None:
    """Add ``count`` cards with their persons and links by executemany, in batches."""
    import sqlite3

    conn = sqlite3.connect(path)
    first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM persons").fetchone()[0]
    now = "2026-09-01 00:00:00.000000"
    for start in range(0, count, BATCH):
        rows = list(_rows(min(BATCH, count - start), first + start, issuers))
        conn.executemany(
            "INSERT INTO persons (id, esi, created_at, updated_at, version) VALUES (?, ?, ?, ?, 1)",
            [
                (
                    r.person_id,
                    f"urn:schac:personalUniqueCode:int:esi:FR:bench{r.person_id}",
                    now,
                    now,
                )
                for r in rows
            ],
        )
        conn.executemany(
            "INSERT INTO person_organisations (id, person_id, organisation_id, academic_level, "
            "full_name, email, created_at, updated_at) VALUES (?, ?, ?, 'MASTER', ?, ?, ?, ?)",
            [
                (
                    r.person_id,
                    r.person_id,
                    r.issuer_id,
                    f"Student {r.person_id}",
                    f"s{r.person_id}@example.org",
                    now,
                    now,
                )
                for r in rows
            ],
        )
        conn.executemany(
            "INSERT INTO cards (id, card_number, person_id, issuer_id, card_type, state, "
            "issued_at, expires_at, display_name, created_at, updated_at, version) "
            "VALUES (?, ?, ?, ?, 'SMART_CDZ', ?, '2026-09-01', ?, ?, ?, ?, 1)",
            [
                (
                    r.person_id,
                    r.card_number,
                    r.person_id,
                    r.issuer_id,
                    r.state,
                    r.expires_at,
                    f"Student {r.person_id}",
                    now,
                    now,
                )
                for r in rows
            ],
        )
        conn.commit()
        _progress(start + BATCH, count)
    conn.execute("ANALYZE")
    conn.close()


def _progress(done: int, total: int) -> None:
    click.echo(f"\r  loaded {min(done, total):,} / {total:,} cards", nl=False, err=True)
    if done >= total:
        click.echo("", err=True)


def sample(url: str, path: Path) -> None:
    """Write a random sample of existing card numbers, one a line, for wrk."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.scalar(text("SELECT count(*) FROM cards"))
        ids = random.sample(range(1, total + 1), min(SAMPLE, total))
        numbers: list[str] = []
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            numbers += conn.scalars(
                text(f"SELECT card_number FROM cards WHERE id IN ({','.join(map(str, chunk))})")
            ).all()
    engine.dispose()
    path.write_text("\n".join(numbers) + "\n")


def router_database(
    db: str, database_url: str | None, instance: Path
) -> AbstractContextManager[str]:
    """The router's database URL: the one given, SQLite in ``instance``, or a throw-away one.

    The throw-away PostgreSQL database (``bench/pg_population.py``) is dropped on leaving; a
    database given with ``--database-url`` is kept.
    """
    if database_url:
        return contextlib.nullcontext(database_url)
    if db == "sqlite":
        return contextlib.nullcontext(f"sqlite:///{instance / 'escrouter.sqlite3'}")
    from pg_population import throwaway_database

    return throwaway_database()


def populate(env: Mapping[str, str], url: str, db: str, count: int) -> tuple[str, str]:
    """Migrate, create the institutions and a partner, load ``count`` cards; the two API keys.

    Returns the first institution's key and the partner's (``verify``) key.
    """
    from live_router import escr_admin

    escr_admin(env, "db", "upgrade")
    for pic in INSTITUTIONS:
        escr_admin(
            env, "org", "create", "--pic", pic, "--name", f"University {pic}", "--country", "FR"
        )
    escr_admin(
        env,
        "org",
        "create",
        "--pic",
        PARTNER,
        "--name",
        "City Transport",
        "--kind",
        "transport",
        "--country",
        "BE",
    )
    institution_key = escr_admin(env, "key", "create", "--pic", INSTITUTIONS[0])
    partner_key = escr_admin(env, "key", "create", "--pic", PARTNER)
    started = time.perf_counter()
    issuers = _organisation_ids(url)
    if db == "postgresql":
        load_postgresql(url, count, issuers)
    else:
        load_sqlite(url.removeprefix("sqlite:///"), count, issuers)
    seconds = time.perf_counter() - started
    click.echo(f"loaded {count:,} cards in {seconds:.1f} s ({count / seconds:,.0f} cards/s, {db})")
    return institution_key, partner_key


def _organisation_ids(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT identifier, id FROM organisations")).all())
    engine.dispose()
    return {pic: found[pic] for pic in INSTITUTIONS}
