"""Liveness and readiness, for load balancers: is the process up, can it serve requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from router import migrate
from router.db import Database, is_unavailable
from router.domain.errors import DatabaseUnavailable, NotReady


@dataclass(frozen=True)
class Readiness:
    """What a ready router reports: its database answers and is migrated to the code's head."""

    revision: str


def check_ready(database: Database) -> Readiness:
    """Raise 503 unless the database answers and its schema is at the migrations' head."""
    head = migrate.head_revision()
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = migrate.current_revision(connection)
    except Exception as error:
        if is_unavailable(error):
            raise DatabaseUnavailable() from error
        raise
    if current != head:
        raise NotReady(
            f"The database is at migration {current or 'none'}, the code needs {head}: "
            "run 'escr-admin db upgrade'."
        )
    return Readiness(revision=current or "")
