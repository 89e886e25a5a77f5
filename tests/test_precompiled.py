"""Statements run on the DBAPI cursor: SQLAlchemy's rows, events and error wrapping, kept."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, exc, func, insert, select, text
from sqlalchemy.engine import Connection, ExecutionContext

from router import db as router_db
from router.db import Database
from router.domain.errors import DatabaseUnavailable
from router.models import VerificationRecord
from router.precompiled import Precompiled
from router.services import credentials, lookups, verification
from tests.conftest import BACKENDS, Register, Tenant

ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True
)


def _key_digest(uni: Tenant) -> str:
    return credentials.digest(uni.key)


def test_rows_and_their_types_are_sqlalchemys(
    client: FlaskClient, db: Database, uni: Tenant, registered: Register
) -> None:
    card = registered()
    number = card["escn"]
    # The key's last use is recorded: a timestamp column that is not NULL is read too.
    assert client.get(f"/api/v2/cards/{number}/status", headers=uni.headers).status_code == 200
    cases = [
        (lookups._PUBLIC, {"number": number}),
        (lookups._WITH_HOLDER_NAME, {"number": number}),
        (lookups._WITH_OWN_HOLDER_NAME, {"number": number, "organisation": 1}),
        (lookups._ORGANISATION_ID, {"pic": uni.pic}),
        (credentials.KEY_READ, {"digest": _key_digest(uni)}),
        (lookups._PUBLIC, {"number": "no such card"}),
    ]
    with db.lookup_connection() as connection:
        for statement, parameters in cases:
            expected = connection.execute(statement, parameters).first()
            got = Precompiled(statement).first(connection, parameters)
            if expected is None:
                assert got is None
                continue
            assert got == tuple(expected)
            assert [type(value) for value in got] == [type(value) for value in expected]
        key = Precompiled(credentials.KEY_READ).first(connection, {"digest": _key_digest(uni)})
    # Dates are dates (SQLite's driver gives strings) and timestamps carry UTC, as Core reads.
    facts = lookups.card_facts(db.lookup_connection(), number)
    assert facts is not None and type(facts.issued_at).__name__ == "date"
    assert key is not None and key[5] is not None and key[5].utcoffset().total_seconds() == 0


def test_the_cursor_events_see_the_statement_and_its_parameters(
    db: Database, registered: Register
) -> None:
    number = registered()["escn"]
    seen: list[tuple[str, object, str]] = []

    def before(
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        seen.append((statement, parameters, "before"))

    def after(
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        seen.append((statement, parameters, "after"))

    with db.lookup_connection() as connection:
        sent_by_core: list[str] = []
        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        try:
            connection.execute(lookups._PUBLIC, {"number": number})
            sent_by_core = [statement for statement, _, _ in seen]
            seen.clear()
            lookups.card_facts(connection, number)
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)
    assert [when for _, _, when in seen] == ["before", "after"]
    # The same text as SQLAlchemy's own execution sends, with the card's number bound.
    assert seen[0][0] == sent_by_core[0]
    assert number in (seen[0][1].values() if isinstance(seen[0][1], dict) else seen[0][1])


def test_a_driver_error_is_wrapped_as_sqlalchemys(db: Database) -> None:
    missing = Precompiled(select(text("1")).select_from(text("no_such_table")))
    with db.lookup_connection() as connection:
        with pytest.raises(exc.DBAPIError) as raised:
            missing.first(connection, {})
        assert not raised.value.connection_invalidated
        # The connection is still usable after a statement's own error.
        assert lookups.card_facts(connection, "no such card") is None


def test_a_write_outside_autocommit_is_committed_by_the_connections_commit(
    db: Database, registered: Register
) -> None:
    number = registered()["escn"]
    run = verification._INSERT_RECORD_RUN
    values = {key: None for key in verification._RECORD_COLUMNS}
    values.update(at=router_db.utcnow(), card_number=number, valid=True)
    with db.engine.connect() as connection:  # a plain connection, in a transaction
        run.execute(connection, values)
        assert connection.in_transaction()
        connection.commit()
    with db.lookup_connection() as connection:  # autocommit on PostgreSQL
        run.execute(connection, values)
        connection.commit()
    with db.session() as session:
        count = select(func.count()).select_from(VerificationRecord)
        assert session.scalar(count.where(VerificationRecord.card_number == number)) == 2


def test_a_statement_needing_python_side_defaults_is_refused(db: Database) -> None:
    # ``at`` has a Python default: only SQLAlchemy's execution context computes it.
    partial = Precompiled(insert(VerificationRecord), column_keys=["card_number", "valid"])
    with db.engine.connect() as connection, pytest.raises(ValueError, match="every column"):
        partial.execute(connection, {"card_number": "x", "valid": True})


def _terminate_pooled_backend(db: Database) -> None:
    with db.engine.connect() as conn:  # the one pooled connection: its server process
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    url_text = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url_text, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _terminate_kept_backend(db: Database) -> None:
    """End the server process of the connection this thread keeps for its lookups."""
    kept = db.pinned_lookup_connection()  # no statement: its pid is in libpq's connection info
    pid = kept.connection.dbapi_connection.info.backend_pid
    url_text = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url_text, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@ON_POSTGRESQL
def test_a_connection_dropped_under_the_statement_is_invalidated(
    db: Database, registered: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = registered("779")["escn"]
    monkeypatch.setattr(router_db, "IDLE_BEFORE_PING", 3600.0)  # no check before use
    db.engine.dispose()
    with db.lookup_connection() as connection:
        assert lookups.card_facts(connection, number) is not None
    _terminate_pooled_backend(db)
    with db.lookup_connection() as connection:
        with pytest.raises(exc.DBAPIError) as raised:
            lookups.card_facts(connection, number)
        assert raised.value.connection_invalidated
        assert connection.invalidated
    assert router_db.is_unavailable(raised.value)
    with db.lookup_connection() as connection:
        assert lookups.card_facts(connection, number) is not None


@ON_POSTGRESQL
def test_a_status_whose_connection_was_dropped_answers_503_and_the_next_works(
    client: FlaskClient,
    db: Database,
    uni: Tenant,
    registered: Register,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = registered("778")["escn"]
    monkeypatch.setattr(router_db, "IDLE_BEFORE_PING", 3600.0)  # the dead one is not pinged
    db.engine.dispose()
    url = f"/api/v2/cards/{number}/status"
    for headers in ({}, uni.headers):
        assert client.get(url, headers=headers).status_code == 200
        _terminate_kept_backend(db)
        failed = client.get(url, headers=headers)
        assert failed.status_code == 503
        assert failed.mimetype == "application/problem+json"
        assert failed.json["code"] == DatabaseUnavailable.code
        assert client.get(url, headers=headers).status_code == 200
