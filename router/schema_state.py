"""Whether the database is at the revision this code needs, said in one line when it is not.

``escr-admin`` and the WSGI entry point ask before they touch the database, so that a database
that was never migrated (or migrated by another version) gets one sentence naming the command to
run, instead of a traceback about a missing table. The check never creates a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from router import migrate
from router.db import make_engine


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def schema_problem(database_url: str) -> str | None:
    """One line saying what is wrong with the database and what to run, or None when current."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.exists():
            return (
                f"No database at {path}: run `escr-admin db upgrade` to create it "
                "(or set ESCR_INSTANCE_PATH or ESCR_DATABASE_URL to the database you meant)."
            )
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") else error).strip().splitlines()[0]
        return f"Cannot reach the database at {_shown(database_url)}: {reason}"
    finally:
        engine.dispose()
    wanted = migrate.head_revisions()
    if current == wanted:
        return None
    if not current:
        return (
            f"The database at {_shown(database_url)} is not migrated: "
            "run `escr-admin db upgrade`."
        )
    if current - migrate.known_revisions():
        return (
            f"The database at {_shown(database_url)} is at revision {', '.join(sorted(current))}, "
            "which this version of escrouter does not know: install the newer escrouter that "
            "migrated it."
        )
    return (
        f"The database at {_shown(database_url)} is at revision {', '.join(sorted(current))}, "
        f"this escrouter needs {', '.join(sorted(wanted))}: run `escr-admin db upgrade`."
    )
