"""Group commit for SQLite: rows of many threads written in one transaction, one flush to disk.

On SQLite every commit waits for its write-ahead log to reach the disk, and only one writer runs at
a time: threads recording verifications at once would each wait for their own flush in turn.
Here the thread that gets the writer's turn inserts every row queued so far and commits them
together; each caller returns only once the commit holding its row is done, so nothing that was
answered can be lost. When a group fails, its rows are retried one by one, so a bad row fails
alone. PostgreSQL flushes concurrent commits together by itself and does not need this.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.engine import Dialect

from router.db import Executor
from router.precompiled import Precompiled


@dataclass
class _Row:
    values: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupWriter:
    """Inserts rows of one table for many threads; each write returns once its row is committed."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._insert = insert(table)
        # A group of one row (the usual one) runs precompiled on the connection's cursor, one
        # statement per set of columns given (router.precompiled); a larger group is Core's
        # executemany.
        self._insert_one: dict[tuple[str, ...], Precompiled | None] = {}
        self._queue: list[_Row] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def write(self, session: Executor, values: dict[str, Any]) -> None:
        """Insert ``values`` (with whatever else is queued) and return once it is committed."""
        row = _Row(values)
        with self._queue_lock:
            self._queue.append(row)
        with self._writer:
            if not row.done.is_set():
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit(session, group)
        if row.error is not None:
            raise row.error

    def _commit(self, session: Executor, group: list[_Row]) -> None:
        try:
            try:
                values = group[0].values
                if (
                    len(group) == 1
                    and isinstance(session, Connection)
                    and (one := self._precompiled(session.dialect, values)) is not None
                ):
                    one.execute(session, values)
                else:
                    session.execute(self._insert, [row.values for row in group])
                session.commit()
            except Exception:
                session.rollback()
                if len(group) == 1:
                    raise
                for row in group:  # the group failed: each row on its own, so a bad one fails alone
                    self._commit(session, [row])
                return
        except Exception as error:
            group[0].error = error
        finally:
            for row in group:
                row.done.set()

    def _precompiled(self, dialect: Dialect, values: dict[str, Any]) -> Precompiled | None:
        """The precompiled INSERT of these columns, or None when Core must run it.

        Core runs it when the values leave out a column whose default SQLAlchemy computes.
        """
        columns = tuple(values)
        if columns not in self._insert_one:
            statement: Precompiled | None = Precompiled(self._insert, column_keys=columns)
            if not statement.runs_on(dialect):
                statement = None
            self._insert_one[columns] = statement
        return self._insert_one[columns]


_WRITERS: weakref.WeakKeyDictionary[Engine, dict[str, GroupWriter]] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def group_writer(engine: Engine, table: Table) -> GroupWriter | None:
    """The group writer of ``table`` for ``engine``'s SQLite database; None on another database."""
    if engine.dialect.name != "sqlite":
        return None
    with _WRITERS_LOCK:
        writers = _WRITERS.setdefault(engine, {})
        return writers.setdefault(table.name, GroupWriter(table))
