"""Run the alembic migrations from code (CLI, tests, scripts/serve).

The migrations ship inside the package as ``router.migrations`` (the repository keeps them in its
top-level ``migrations/`` folder; setup.py maps one onto the other), so an installed wheel
migrates its database as well as a checkout does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection


@contextmanager
def alembic_config(database_url: str) -> Iterator[Config]:
    """An alembic configuration pointing at the packaged migrations and ``database_url``."""
    with as_file(files("router.migrations")) as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        config.attributes["database_url"] = database_url
        yield config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at ``database_url`` up to ``revision``."""
    with alembic_config(database_url) as config:
        command.upgrade(config, revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database at ``database_url`` down to ``revision``."""
    with alembic_config(database_url) as config:
        command.downgrade(config, revision)


def head_revisions() -> set[str]:
    """The revisions the code expects the database to be at."""
    with alembic_config("") as config:
        return set(ScriptDirectory.from_config(config).get_heads())


def head_revision() -> str | None:
    """The newest revision of the migrations this code ships (they form one line)."""
    with alembic_config("") as config:
        return ScriptDirectory.from_config(config).get_current_head()


def known_revisions() -> set[str]:
    """Every revision the packaged migrations know."""
    with alembic_config("") as config:
        return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision the database behind ``connection`` is migrated to (None: not migrated)."""
    return MigrationContext.configure(connection).get_current_revision()
