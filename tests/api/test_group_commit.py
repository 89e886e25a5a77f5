"""Group commit of verification records: each row committed before its writer returns."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, exc, func, select
from sqlalchemy.engine import Connection

from router.db import Database, utcnow
from router.models import VerificationRecord
from router.services import verification
from router.services.group_commit import GroupWriter, group_writer

NUMBER = "f81d4fae-7dec-11d0-a765-001999999999"


_tags = iter(range(1_000_000))


def _row(number: str | None = NUMBER) -> dict:
    return {
        "at": utcnow(),
        "card_number": number,
        "valid": True,
        "partner_credential": str(next(_tags)),
    }


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(VerificationRecord))


def _write_all(db: Database, writer: GroupWriter, rows: list[dict]) -> list[BaseException | None]:
    errors: list[BaseException | None] = [None] * len(rows)

    def one(index: int) -> None:
        with db.session() as session:
            try:
                writer.write(session, rows[index])
                # Returned: the row is committed, another connection sees it.
                with db.session() as other:
                    found = other.scalar(
                        select(func.count())
                        .select_from(VerificationRecord)
                        .where(
                            VerificationRecord.partner_credential
                            == rows[index]["partner_credential"]
                        )
                    )
                    assert found == 1
            except BaseException as error:  # handed to the test thread
                errors[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    return threads, errors  # type: ignore[return-value]


def test_rows_written_at_once_are_all_committed_before_their_writers_return(db: Database) -> None:
    writer = GroupWriter(VerificationRecord.__table__)
    rows = [_row() for _ in range(12)]
    threads, errors = _write_all(db, writer, rows)
    for thread in threads:
        thread.join(30)
    assert errors == [None] * 12
    assert _count(db) == 12


def test_a_bad_row_in_a_group_fails_alone(db: Database) -> None:
    writer = GroupWriter(VerificationRecord.__table__)
    rows = [_row(), _row(), _row(None), _row()]  # a record needs its card number
    writer._writer.acquire()  # hold the writer's turn so that all four queue into one group
    try:
        threads, errors = _write_all(db, writer, rows)
        deadline = time.monotonic() + 30
        while len(writer._queue) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(writer._queue) == 4
    finally:
        writer._writer.release()
    for thread in threads:
        thread.join(30)
    assert [error is None for error in errors] == [True, True, False, True]
    assert _count(db) == 3


def test_only_sqlite_groups_its_commits(db: Database) -> None:
    writer = group_writer(db.engine, VerificationRecord.__table__)
    assert (writer is not None) == (db.engine.dialect.name == "sqlite")


def _full_row(number: str | None = NUMBER) -> dict:
    """A verification record as the service writes it: every column given."""
    return {**dict.fromkeys(verification._RECORD_COLUMNS), **_row(number)}


def test_a_row_alone_on_a_lookup_connection_is_committed_and_counted_as_a_statement(
    db: Database
) -> None:
    """A group of one row runs precompiled on the cursor: still one INSERT, committed."""
    writer = GroupWriter(VerificationRecord.__table__)
    sent: list[str] = []

    def record(_conn: Connection, _cursor: Any, statement: str, *_args: object) -> None:
        sent.append(statement)

    with db.lookup_connection() as connection:
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            writer.write(connection, _full_row())
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert _count(db) == 1  # seen by another connection once write returns
    assert [statement.split()[0] for statement in sent] == ["INSERT"]


def test_a_bad_row_alone_fails_wrapped_and_the_next_is_written(db: Database) -> None:
    writer = GroupWriter(VerificationRecord.__table__)
    with db.lookup_connection() as connection:
        with pytest.raises(exc.IntegrityError):  # a record needs its card number
            writer.write(connection, _full_row(None))
        writer.write(connection, _full_row())
    assert _count(db) == 1


def test_a_row_leaving_out_a_defaulted_column_gets_its_default(db: Database) -> None:
    # ``at`` has a Python-side default: such a row is Core's to insert.
    writer = GroupWriter(VerificationRecord.__table__)
    with db.lookup_connection() as connection:
        writer.write(connection, {"card_number": NUMBER, "valid": True})
    with db.session() as session:
        assert session.scalar(select(VerificationRecord.at)) is not None
