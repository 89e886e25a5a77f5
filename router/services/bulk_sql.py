"""Set-based statements for batches: many rows in one statement whose size does not grow.

On PostgreSQL a batch's rows travel as one JSON text (``INSERT ... SELECT FROM
json_to_recordset(...)``) and its keys as one array (``unnest``, ``= ANY``): one short statement,
parsed and planned the same way whatever the batch's size, instead of a ``VALUES`` list or an
``IN`` list of one parameter per value (which the driver then has to split and the server to
parse, thousands of parameters per batch). SQLite has neither: there the same statements are
sent as SQLAlchemy's multi-row ``VALUES`` and expanding ``IN``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Row,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value sent as JSON")


def _json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(rows, default=_json_value)


def on_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (arrays, ``unnest``)."""
    return session.get_bind().dialect.name == "postgresql"


def one_of(session: Session, column: Any, keys: Collection[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``keys``: an array parameter on PostgreSQL, an ``IN`` list elsewhere."""
    if on_postgresql(session):
        return column == any_(cast(bindparam(None, list(keys)), postgresql.ARRAY(column.type)))
    return column.in_(list(keys))


def keyed_lookup(lookup: Select[Any], column: Any, keys: Collection[Any]) -> Select[Any]:
    """PostgreSQL: ``lookup`` run once per key, as a ``LATERAL`` subquery with ``LIMIT 1``.

    Each key is then a probe of ``column``'s index whatever the statistics say: a table filled
    by the running import has none yet, and the planner, believing it tiny, would otherwise scan
    it whole (or all of an organisation's rows) for every batch.
    """
    given = func.unnest(cast(bindparam("keys", list(keys)), postgresql.ARRAY(column.type)))
    key = given.table_valued("key").render_derived(name="k")
    found = lookup.where(column == key.c.key).limit(1).lateral("found")
    return select(found).select_from(key).join(found, true())


def by_keys(
    session: Session, lookup: Select[Any], column: Any, keys: Collection[Any]
) -> list[Row[Any]]:
    """The rows of ``lookup`` whose ``column`` (unique) is one of ``keys``.

    On PostgreSQL one index probe per key (:func:`keyed_lookup`); on SQLite an ``IN`` list, which
    its planner always serves from the column's index.
    """
    keys = list(keys)
    if not keys:
        return []
    if on_postgresql(session):
        return list(session.execute(keyed_lookup(lookup, column, keys)).all())
    return list(session.execute(lookup.where(column.in_(keys))).all())


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    same: Mapping[str, Any] | None = None,
    ignore_conflicts: bool = False,
    returning: Sequence[Any] = (),
) -> list[Any]:
    """Insert ``rows`` (each with the same keys), plus the columns ``same`` sets for all of them.

    With ``ignore_conflicts`` a row that meets a unique conflict is skipped
    (``ON CONFLICT DO NOTHING``); the ``returning`` columns of the rows inserted are returned.
    """
    if not rows:
        return []
    same = dict(same or {})
    if on_postgresql(session):
        names = list(rows[0])
        # The rows as one JSON text that json_to_recordset turns back into typed rows: the
        # encoding is json's C encoder, where one array per column went through the driver's
        # list dumper element by element (a cost per value that showed in the profiles).
        items = (
            func.json_to_recordset(cast(bindparam("rows", _json_rows(rows), type_=Text), JSON))
            .table_valued(*[column(name, table.c[name].type) for name in names])
            .render_derived(name="item", with_types=True)
        )
        constants = [
            cast(bindparam(f"s_{name}", value, type_=table.c[name].type), table.c[name].type)
            for name, value in same.items()
        ]
        source = select(*[items.c[name] for name in names], *constants)
        statement: Insert = postgresql.insert(table).from_select([*names, *same], source)
        if ignore_conflicts:
            statement = statement.on_conflict_do_nothing()  # type: ignore[attr-defined]
        if returning:
            return list(session.execute(statement.returning(*returning)).all())
        session.execute(statement)
        return []
    full = [{**row, **same} for row in rows]
    statement = sqlite.insert(table).on_conflict_do_nothing() if ignore_conflicts else insert(table)
    if returning:
        # Executemany with RETURNING: sent as multi-row VALUES ("insertmanyvalues").
        return list(session.execute(statement.returning(*returning), full).all())
    session.execute(statement, full)
    return []
