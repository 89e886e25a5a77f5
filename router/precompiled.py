"""Core statements compiled once per dialect and run on the DBAPI cursor of a Core connection.

The QR-scan path sends the same few statements on every request. SQLAlchemy's execution of a
compiled statement costs about as much CPU as the driver's own work (its execution context, its
result built from the cursor's description, its row processing): here the text and the type
processors are taken from SQLAlchemy's compilation once, and each execution is the driver's
``cursor.execute`` and ``fetchone``.

What SQLAlchemy guarantees around a statement is kept, through the connection's own cursor
execution (the one SQLAlchemy uses for defaults and sequences): the ``before_cursor_execute``
and ``after_cursor_execute`` events (with no execution context, as for those statements), echo
logging, and the wrapping of driver errors, which marks a lost connection invalidated (the
router's 503) and replaces it. The rows are converted by the same type processors SQLAlchemy
applies (SQLite's dates are strings to its driver).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

_Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Compiled:
    """One statement's text for one dialect and how its values are converted."""

    sql: str
    positional: bool
    # (the caller's parameter name, the driver's name, the bind processor)
    binds: tuple[tuple[str, str, _Processor], ...]
    result_types: tuple[TypeEngine[Any], ...]
    # Filled on the first execution: SQLAlchemy picks them by the cursor's type codes.
    result_processors: tuple[_Processor, ...] | None = field(default=None)


class Precompiled:
    """A Core statement run on the DBAPI cursor of the connection it is given."""

    def __init__(self, statement: Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        # An INSERT or UPDATE compiles for the columns it is given values of.
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=self._column_keys)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            # Python-side column defaults are computed by SQLAlchemy's execution context.
            raise ValueError("a precompiled statement must be given every column it writes")
        escaped = compiled.escaped_bind_names or {}
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        binds = []
        for name in names or ():
            bind = compiled.binds[name]
            if not bind.required or bind.expanding:
                raise ValueError(f"parameter {name!r} must be given at each execution")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds.append((bind.key, escaped.get(name, name), processor))
        selected = getattr(self.statement, "selected_columns", ())
        result_types = tuple(column.type for column in selected)
        entry = _Compiled(compiled.string, compiled.positional, tuple(binds), result_types)
        self._by_dialect[dialect] = entry
        return entry

    def runs_on(self, dialect: Dialect) -> bool:
        """Whether the statement compiles for ``dialect`` to run here (it needs no defaults)."""
        try:
            self._by_dialect.get(dialect) or self._compile(dialect)
        except ValueError:
            return False
        return True

    def _parameters(
        self, compiled: _Compiled, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | dict[str, Any]:
        if compiled.positional:
            return tuple(
                values[key] if processor is None else processor(values[key])
                for key, _, processor in compiled.binds
            )
        return {
            driver_name: values[key] if processor is None else processor(values[key])
            for key, driver_name, processor in compiled.binds
        }

    def _run(self, connection: Connection, values: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        """The statement compiled for the connection's dialect, executed on a new cursor."""
        compiled = self._by_dialect.get(connection.dialect) or self._compile(connection.dialect)
        parameters = self._parameters(compiled, values)
        cursor = _cursor(connection, compiled.sql, parameters)
        # Wraps and reports the driver's errors itself, and dispatches the cursor events.
        connection._cursor_execute(cursor, compiled.sql, parameters)
        return compiled, cursor

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of the statement's result (as SQLAlchemy converts it), or None."""
        dialect = connection.dialect
        compiled, cursor = self._run(connection, values)
        try:
            row = cursor.fetchone()
            processors = compiled.result_processors
            if processors is None:
                processors = compiled.result_processors = _result_processors(
                    compiled, dialect, cursor.description
                )
            cursor.close()
        except BaseException as error:
            connection._handle_dbapi_exception(error, None, None, cursor, None)
        if row is None or not any(processors):
            return None if row is None else tuple(row)
        return tuple(
            value if processor is None else processor(value)
            for value, processor in zip(row, processors, strict=True)
        )

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows (a write); the caller commits, as with Core.

        Outside autocommit a transaction is begun first, as SQLAlchemy's own execution begins
        one, so that the connection's ``commit()`` commits the write.
        """
        if not connection.in_transaction() and (
            connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
        ):
            connection.begin()
        _, cursor = self._run(connection, values)
        try:
            cursor.close()
        except BaseException as error:
            connection._handle_dbapi_exception(error, None, None, cursor, None)


def _cursor(connection: Connection, sql: str, parameters: Any) -> Any:
    """A new cursor of the connection's DBAPI connection, its errors wrapped as SQLAlchemy does."""
    try:
        return connection.connection.cursor()
    except BaseException as error:
        connection._handle_dbapi_exception(error, sql, parameters, None, None)


def _result_processors(
    compiled: _Compiled, dialect: Dialect, description: Sequence[Sequence[Any]] | None
) -> tuple[_Processor, ...]:
    """The result processors SQLAlchemy would use, chosen by the cursor's type codes."""
    if description is None:
        return ()
    return tuple(
        type_.dialect_impl(dialect).result_processor(dialect, column[1])
        for type_, column in zip(compiled.result_types, description, strict=True)
    )
