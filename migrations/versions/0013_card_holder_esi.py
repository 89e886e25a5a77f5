"""Card searches within the issuer: the holder's ESI copied onto each card (``holder_esi``).

A search of an issuer's cards matched the holder's ESI through a join of ``persons`` and the
unscoped trigram index of every person's ESI, then united that with the card's own two columns.
The holder's ESI is now copied onto each card, with a trigram index scoped to the issuer as the
card number and display name have, so that a search reads the three indexes of one table and
combines them (a ``BitmapOr``): each matching card is read once, sorted and counted in one pass.
The unscoped index of ``persons.esi`` has no reader left and goes (the persons list searches the
links' copy since 0012).

The copy is kept by triggers, as 0012's copies on the links are, so that every writer (the
services, the set-based batches, ``COPY``) keeps it in step in its own transaction.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPED_INDEX = "ix_cards_issuer_holder_esi_trgm"
REPLACED_INDEX = "ix_persons_esi_trgm"

POSTGRESQL_FUNCTIONS = [
    """
    CREATE FUNCTION cards_copy_holder() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      SELECT esi INTO NEW.holder_esi FROM persons WHERE id = NEW.person_id;
      RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION persons_copy_to_cards() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE cards SET holder_esi = NEW.esi WHERE person_id = NEW.id;
      RETURN NULL;
    END $$
    """,
]
POSTGRESQL_TRIGGERS = [
    """
    CREATE TRIGGER cards_copy_holder BEFORE INSERT OR UPDATE OF person_id ON cards
    FOR EACH ROW EXECUTE FUNCTION cards_copy_holder()
    """,
    """
    CREATE TRIGGER persons_copy_to_cards AFTER UPDATE OF esi ON persons FOR EACH ROW
    WHEN (OLD.esi IS DISTINCT FROM NEW.esi) EXECUTE FUNCTION persons_copy_to_cards()
    """,
]
POSTGRESQL_DROPS = [
    "DROP TRIGGER persons_copy_to_cards ON persons",
    "DROP TRIGGER cards_copy_holder ON cards",
    "DROP FUNCTION persons_copy_to_cards()",
    "DROP FUNCTION cards_copy_holder()",
]

_COPY_HOLDER = """
      UPDATE cards SET holder_esi = (SELECT esi FROM persons WHERE id = NEW.person_id)
      WHERE id = NEW.id;
"""
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER cards_copy_holder AFTER INSERT ON cards BEGIN
      {_COPY_HOLDER}
    END
    """,
    f"""
    CREATE TRIGGER cards_repoint AFTER UPDATE OF person_id ON cards BEGIN
      {_COPY_HOLDER}
    END
    """,
    """
    CREATE TRIGGER persons_copy_to_cards AFTER UPDATE OF esi ON persons BEGIN
      UPDATE cards SET holder_esi = NEW.esi WHERE person_id = NEW.id;
    END
    """,
]
SQLITE_DROPS = [
    "DROP TRIGGER persons_copy_to_cards",
    "DROP TRIGGER cards_repoint",
    "DROP TRIGGER cards_copy_holder",
]

BACKFILL = {
    "postgresql": "UPDATE cards c SET holder_esi = p.esi FROM persons p WHERE p.id = c.person_id",
    "sqlite": "UPDATE cards SET holder_esi = (SELECT esi FROM persons WHERE id = person_id)",
}


# As in 0012, copied rather than imported: a migration stays as it was when it ran.
def _extension_schema(bind: sa.Connection, name: str) -> str | None:
    """The schema extension ``name`` lives in, installing it in ``public`` if absent and allowed."""
    query = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = :name"
    ).bindparams(name=name)
    schema = bind.scalar(query)
    if schema is not None:
        return str(schema)
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS {name} SCHEMA public"))
    except sa.exc.DBAPIError:
        return None
    return bind.scalar(query)


def _trigram_schema(bind: sa.Connection, *, scoped: bool) -> str | None:
    """pg_trgm's schema if the (scoped: and btree_gin's) GIN indexes can be built, else None."""
    if bind.dialect.name != "postgresql":
        return None
    trigrams = _extension_schema(bind, "pg_trgm")
    if trigrams is None or (scoped and _extension_schema(bind, "btree_gin") is None):
        return None
    return trigrams


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column("cards", sa.Column("holder_esi", sa.String(255), nullable=True))
    # The triggers first: on PostgreSQL, creating them locks the tables against writes until
    # this transaction commits, so that no write falls between the backfill and the triggers.
    for statement in (
        [*POSTGRESQL_FUNCTIONS, *POSTGRESQL_TRIGGERS]
        if dialect == "postgresql"
        else SQLITE_TRIGGERS
    ):
        op.execute(statement)
    op.drop_index(REPLACED_INDEX, table_name="persons")
    # The backfill before the index, which is then built in one go rather than row by row.
    op.execute(BACKFILL[dialect])
    schema = _trigram_schema(bind, scoped=True)
    if schema is None:
        op.create_index(SCOPED_INDEX, "cards", ["issuer_id", "holder_esi"])
    else:
        op.execute(
            f"CREATE INDEX {SCOPED_INDEX} ON cards USING gin"
            f' (issuer_id, holder_esi "{schema}".gin_trgm_ops)'
        )


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    # The extensions stay: other schemas of the database may use them.
    op.drop_index(SCOPED_INDEX, table_name="cards")
    schema = _trigram_schema(bind, scoped=False)
    if schema is None:
        op.create_index(REPLACED_INDEX, "persons", ["esi"])
    else:
        op.execute(
            f'CREATE INDEX {REPLACED_INDEX} ON persons USING gin (esi "{schema}".gin_trgm_ops)'
        )
    for statement in POSTGRESQL_DROPS if dialect == "postgresql" else SQLITE_DROPS:
        op.execute(statement)
    if dialect == "sqlite":
        op.execute("ALTER TABLE cards DROP COLUMN holder_esi")
    else:
        op.drop_column("cards", "holder_esi")
