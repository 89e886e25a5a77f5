"""One card lookup on PostgreSQL through each layer: CPU time per statement, same connection.

Run on demand with the project's virtualenv (not part of the tests):

    .venv/bin/python bench/pg_statement.py --statements 3000

Where the QR-scan path's statement cost goes between psycopg and the router: the same lookup
(``router.services.lookups``' public statement, one card) run as raw psycopg on its own
connection (the ceiling), as the driver cursor under a SQLAlchemy connection, as SQLAlchemy's
``exec_driver_sql`` (no compiled cache, no cache key), as SQLAlchemy Core ``execute(...).first()``,
as the router's precompiled statement on the cursor (``router.precompiled``) and as
``card_facts`` with the request's connection checkout and close around it
(``Database.lookup_connection``: the pool events, the autocommit switch and the reset at
check-in); then the verification record's ``INSERT``, by Core and precompiled. Each with
psycopg's server-side prepared statements as configured by default (``prepare_threshold=5``)
and without them (``prepare_threshold=None``). CPU time is ``time.process_time`` (the database
server's work is not in it); the best of ``--rounds`` rounds. It creates a throw-away, migrated
database on 127.0.0.1:5432 (``bench/pg_population.py``) and drops it.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from typing import Any

import click
import psycopg
from pg_population import libpq_url, throwaway_database
from sqlalchemy import event

NUMBER = "00000001-0001-1001-8001-001900000001"


def _fill(database: Any) -> None:
    from router.models import Card, Organisation, Person

    with database.session() as session:
        issuer, person = (
            Organisation(identifier="900000001", name="U", country="FR"),
            Person(esi="urn:schac:personalUniqueCode:int:esi:FR:bench1"),
        )
        session.add_all([issuer, person])
        session.flush()
        session.add(
            Card(
                card_number=NUMBER,
                person_id=person.id,
                issuer_id=issuer.id,
                card_type="SMART_CDZ",
                state="ACTIVE",
                issued_at=dt.date(2026, 9, 1),
                expires_at=dt.date(2030, 8, 31),
            )
        )
        session.commit()


def _unprepared(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.prepare_threshold = None


def _cpu_us(run: Callable[[], object], count: int, rounds: int) -> tuple[float, float]:
    """The best round's CPU time per call, and that round's wall time, in microseconds."""
    for _ in range(min(count, 200)):  # warm: compiled cache, prepared statements
        run()
    best = (float("inf"), float("inf"))
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        best = min(best, (cpu / count * 1e6, wall / count * 1e6))
    return best


@click.command()
@click.option("--statements", default=3000, show_default=True, help="Statements per round.")
@click.option("--rounds", default=3, show_default=True)
def main(statements: int, rounds: int) -> None:
    """Print CPU us per statement for each layer, and a summary last line."""
    from router.db import Database, utcnow
    from router.services.lookups import _PUBLIC, _PUBLIC_RUN, card_facts
    from router.services.verification import (
        _INSERT_RECORD,
        _INSERT_RECORD_RUN,
        _RECORD_COLUMNS,
    )

    figures: dict[str, tuple[float, float]] = {}
    # Migrated as the router is, so the lookup runs on its real schema and indexes.
    with throwaway_database() as url:
        database = Database(url)
        _fill(database)
        sql = str(_PUBLIC.compile(dialect=database.engine.dialect))
        parameters = {"number": NUMBER}
        # Every column given, as the service writes it.
        record = {
            **dict.fromkeys(_RECORD_COLUMNS),
            "at": utcnow(),
            "card_number": NUMBER,
            "valid": True,
        }
        for prepare in ("default", "none"):
            connect_args = {} if prepare == "default" else {"prepare_threshold": None}
            raw = psycopg.connect(libpq_url(url), autocommit=True, **connect_args)

            def raw_lookup(raw: psycopg.Connection = raw) -> object:
                with raw.cursor() as cursor:
                    cursor.execute(sql, parameters)
                    return cursor.fetchone()

            figures[f"raw psycopg, prepare {prepare}"] = _cpu_us(raw_lookup, statements, rounds)
            raw.close()
            subject = database
            if connect_args:
                subject = Database(url)
                event.listen(subject.engine, "connect", _unprepared)
            with subject.lookup_connection() as connection:
                driver = connection.connection.driver_connection

                def driver_lookup(driver: Any = driver) -> object:
                    with driver.cursor() as cursor:
                        cursor.execute(sql, parameters)
                        return cursor.fetchone()

                runs: dict[str, Callable[[], object]] = {
                    "driver cursor under SQLAlchemy": driver_lookup,
                    "exec_driver_sql().first()": lambda c=connection: c.exec_driver_sql(
                        sql, parameters
                    ).first(),
                    "Core execute().first()": lambda c=connection: c.execute(
                        _PUBLIC, parameters
                    ).first(),
                    # router.precompiled: the compiled text on the driver's cursor, through
                    # SQLAlchemy's cursor execution (events, error wrapping) and type processors.
                    "precompiled on the cursor": lambda c=connection: _PUBLIC_RUN.first(
                        c, parameters
                    ),
                    "card_facts": lambda c=connection: card_facts(c, NUMBER),
                    "verification INSERT": lambda c=connection: c.execute(_INSERT_RECORD, record),
                    "verification INSERT, precompiled": lambda c=connection: (
                        _INSERT_RECORD_RUN.execute(c, record)
                    ),
                }
                for label, run in runs.items():
                    figures[f"{label}, prepare {prepare}"] = _cpu_us(run, statements, rounds)

            def checkout_lookup(subject: Database = subject) -> object:
                with subject.lookup_connection() as connection:
                    return card_facts(connection, NUMBER)

            label = f"lookup_connection + card_facts + close, prepare {prepare}"
            figures[label] = _cpu_us(checkout_lookup, statements, rounds)
            if subject is not database:
                subject.engine.dispose()
        database.engine.dispose()
    ceiling = figures["raw psycopg, prepare default"][0]
    click.echo(f"{'layer':60} cpu us  wall us  ratio to raw psycopg (cpu)")
    for label, (cpu, wall) in figures.items():
        click.echo(f"{label:60} {cpu:6.1f}  {wall:7.1f}  {ceiling / cpu:5.2f}")
    load = os.getloadavg()[0]
    unprepared = figures["Core execute().first(), prepare none"]
    click.echo(
        f"pg statement: raw={ceiling:.0f} "
        f"driver={figures['driver cursor under SQLAlchemy, prepare default'][0]:.0f} "
        f"driver_sql={figures['exec_driver_sql().first(), prepare default'][0]:.0f} "
        f"core={figures['Core execute().first(), prepare default'][0]:.0f} "
        f"precompiled={figures['precompiled on the cursor, prepare default'][0]:.0f} "
        f"request={figures['lookup_connection + card_facts + close, prepare default'][0]:.0f} "
        f"insert={figures['verification INSERT, prepare default'][0]:.0f} "
        f"precompiled_insert={figures['verification INSERT, precompiled, prepare default'][0]:.0f} "
        f"core_wall={figures['Core execute().first(), prepare default'][1]:.0f} "
        f"unprepared_core_wall={unprepared[1]:.0f} load={load:.2f}"
    )


if __name__ == "__main__":
    main()
