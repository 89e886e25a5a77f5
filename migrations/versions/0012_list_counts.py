"""Lists without a join or a count: the person's ESI and creation time on each link, list counts.

The persons list sorted by ``identifier`` or ``createdAt`` joined the persons table, and a deep
page of a large institution walked a whole index of it; the person's ESI and creation time are
now copied onto each of its links (``person_esi``, ``person_created_at``), with an index per sort
as the other sorts have. The exact ``totalElements`` of an unfiltered list counted every index
entry of the organisation; ``list_counts`` now holds each organisation's number of cards and of
persons.

Searches read trigram indexes scoped to the organisation: a GIN index on (organisation,
column) with pg_trgm and btree_gin (both trusted extensions since PostgreSQL 13, installed in
``public`` when the role may, as 0009 does), so that a common first name is matched among the
organisation's rows and not among every organisation's. Without the extensions they are plain
B-trees, searches correct but slower, as on SQLite. The persons list searches the ESI copied
onto the link, and no longer joins persons.

Both copies and counts are kept by triggers, so that every writer (the services, the set-based
batches, ``COPY``, a cascade) keeps them in step in its own transaction. On PostgreSQL the count
is a sum of rows: each statement that adds or removes cards or links inserts its change and folds
in the rows no other transaction holds (``FOR UPDATE SKIP LOCKED``), so concurrent writers of one
organisation neither wait for nor deadlock on a shared counter, and a reader sums the few rows it
sees in its snapshot. SQLite runs one writer at a time: one row per organisation and list,
updated in place.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINK_INDEXES = [
    ("ix_person_organisations_org_esi", ["organisation_id", "person_esi", "person_id"]),
    (
        "ix_person_organisations_org_created_at",
        ["organisation_id", "person_created_at", "person_id"],
    ),
]

# (name, table, scope column, searched column) of the organisation-scoped search indexes, and
# the unscoped ones (0009's) they replace.
SCOPED_TRIGRAM_INDEXES = [
    ("ix_cards_issuer_card_number_trgm", "cards", "issuer_id", "card_number"),
    ("ix_cards_issuer_display_name_trgm", "cards", "issuer_id", "display_name"),
    (
        "ix_person_organisations_org_full_name_trgm",
        "person_organisations",
        "organisation_id",
        "full_name",
    ),
    ("ix_person_organisations_org_email_trgm", "person_organisations", "organisation_id", "email"),
    (
        "ix_person_organisations_org_esi_trgm",
        "person_organisations",
        "organisation_id",
        "person_esi",
    ),
]
UNSCOPED_TRIGRAM_INDEXES = [
    ("ix_cards_card_number_trgm", "cards", "card_number"),
    ("ix_cards_display_name_trgm", "cards", "display_name"),
    ("ix_person_organisations_full_name_trgm", "person_organisations", "full_name"),
    ("ix_person_organisations_email_trgm", "person_organisations", "email"),
]

POSTGRESQL_FUNCTIONS = [
    # Adds ``delta`` to a count, folding in the count's rows no other transaction holds. None
    # is added for an organisation being deleted (its counts go with it, by the foreign key).
    """
    CREATE FUNCTION list_counts_add(counted text, org integer, delta bigint) RETURNS void
    LANGUAGE sql AS $$
      WITH folded AS (
        DELETE FROM list_counts WHERE id IN (
          SELECT id FROM list_counts WHERE organisation_id = org AND list = counted
          FOR UPDATE SKIP LOCKED)
        RETURNING n)
      INSERT INTO list_counts (organisation_id, list, n)
      SELECT org, counted, coalesce(sum(n), 0) + delta FROM folded
      HAVING EXISTS (SELECT 1 FROM organisations WHERE id = org)
    $$
    """,
    """
    CREATE FUNCTION list_counts_cards() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        PERFORM list_counts_add('cards', issuer_id, count(*)) FROM new_rows GROUP BY issuer_id;
      ELSE
        PERFORM list_counts_add('cards', issuer_id, -count(*)) FROM old_rows GROUP BY issuer_id;
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION list_counts_links() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        PERFORM list_counts_add('persons', organisation_id, count(*))
        FROM new_rows GROUP BY organisation_id;
      ELSE
        PERFORM list_counts_add('persons', organisation_id, -count(*))
        FROM old_rows GROUP BY organisation_id;
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION list_counts_card_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM list_counts_add('cards', OLD.issuer_id, -1);
      PERFORM list_counts_add('cards', NEW.issuer_id, 1);
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION list_counts_link_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM list_counts_add('persons', OLD.organisation_id, -1);
      PERFORM list_counts_add('persons', NEW.organisation_id, 1);
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION person_links_copy_person() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      SELECT esi, created_at INTO NEW.person_esi, NEW.person_created_at
      FROM persons WHERE id = NEW.person_id;
      RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION persons_copy_to_links() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE person_organisations SET person_esi = NEW.esi, person_created_at = NEW.created_at
      WHERE person_id = NEW.id;
      RETURN NULL;
    END $$
    """,
]

POSTGRESQL_TRIGGERS = [
    """
    CREATE TRIGGER list_counts_cards_added AFTER INSERT ON cards
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION list_counts_cards()
    """,
    """
    CREATE TRIGGER list_counts_cards_removed AFTER DELETE ON cards
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION list_counts_cards()
    """,
    """
    CREATE TRIGGER list_counts_links_added AFTER INSERT ON person_organisations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION list_counts_links()
    """,
    """
    CREATE TRIGGER list_counts_links_removed AFTER DELETE ON person_organisations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION list_counts_links()
    """,
    """
    CREATE TRIGGER list_counts_card_moved AFTER UPDATE OF issuer_id ON cards FOR EACH ROW
    WHEN (OLD.issuer_id IS DISTINCT FROM NEW.issuer_id) EXECUTE FUNCTION list_counts_card_moved()
    """,
    """
    CREATE TRIGGER list_counts_link_moved AFTER UPDATE OF organisation_id ON person_organisations
    FOR EACH ROW WHEN (OLD.organisation_id IS DISTINCT FROM NEW.organisation_id)
    EXECUTE FUNCTION list_counts_link_moved()
    """,
    """
    CREATE TRIGGER person_links_copy_person BEFORE INSERT OR UPDATE OF person_id
    ON person_organisations FOR EACH ROW EXECUTE FUNCTION person_links_copy_person()
    """,
    """
    CREATE TRIGGER persons_copy_to_links AFTER UPDATE OF esi, created_at ON persons FOR EACH ROW
    WHEN (OLD.esi IS DISTINCT FROM NEW.esi OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION persons_copy_to_links()
    """,
]
POSTGRESQL_DROPS = [
    "DROP TRIGGER persons_copy_to_links ON persons",
    "DROP TRIGGER person_links_copy_person ON person_organisations",
    "DROP TRIGGER list_counts_link_moved ON person_organisations",
    "DROP TRIGGER list_counts_card_moved ON cards",
    "DROP TRIGGER list_counts_links_removed ON person_organisations",
    "DROP TRIGGER list_counts_links_added ON person_organisations",
    "DROP TRIGGER list_counts_cards_removed ON cards",
    "DROP TRIGGER list_counts_cards_added ON cards",
    "DROP FUNCTION persons_copy_to_links()",
    "DROP FUNCTION person_links_copy_person()",
    "DROP FUNCTION list_counts_link_moved()",
    "DROP FUNCTION list_counts_card_moved()",
    "DROP FUNCTION list_counts_links()",
    "DROP FUNCTION list_counts_cards()",
    "DROP FUNCTION list_counts_add(text, integer, bigint)",
]

_COPY_PERSON = """
      UPDATE person_organisations SET
        person_esi = (SELECT esi FROM persons WHERE id = NEW.person_id),
        person_created_at = (SELECT created_at FROM persons WHERE id = NEW.person_id)
      WHERE id = NEW.id;
"""
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER list_counts_new_organisation AFTER INSERT ON organisations BEGIN
      INSERT INTO list_counts (organisation_id, list, n)
      VALUES (NEW.id, 'cards', 0), (NEW.id, 'persons', 0);
    END
    """,
    """
    CREATE TRIGGER list_counts_card_added AFTER INSERT ON cards BEGIN
      UPDATE list_counts SET n = n + 1 WHERE organisation_id = NEW.issuer_id AND list = 'cards';
    END
    """,
    """
    CREATE TRIGGER list_counts_card_removed AFTER DELETE ON cards BEGIN
      UPDATE list_counts SET n = n - 1 WHERE organisation_id = OLD.issuer_id AND list = 'cards';
    END
    """,
    """
    CREATE TRIGGER list_counts_card_moved AFTER UPDATE OF issuer_id ON cards
    WHEN OLD.issuer_id IS NOT NEW.issuer_id BEGIN
      UPDATE list_counts SET n = n - 1 WHERE organisation_id = OLD.issuer_id AND list = 'cards';
      UPDATE list_counts SET n = n + 1 WHERE organisation_id = NEW.issuer_id AND list = 'cards';
    END
    """,
    """
    CREATE TRIGGER list_counts_link_added AFTER INSERT ON person_organisations BEGIN
      UPDATE list_counts SET n = n + 1
      WHERE organisation_id = NEW.organisation_id AND list = 'persons';
    END
    """,
    """
    CREATE TRIGGER list_counts_link_removed AFTER DELETE ON person_organisations BEGIN
      UPDATE list_counts SET n = n - 1
      WHERE organisation_id = OLD.organisation_id AND list = 'persons';
    END
    """,
    """
    CREATE TRIGGER list_counts_link_moved AFTER UPDATE OF organisation_id ON person_organisations
    WHEN OLD.organisation_id IS NOT NEW.organisation_id BEGIN
      UPDATE list_counts SET n = n - 1
      WHERE organisation_id = OLD.organisation_id AND list = 'persons';
      UPDATE list_counts SET n = n + 1
      WHERE organisation_id = NEW.organisation_id AND list = 'persons';
    END
    """,
    f"""
    CREATE TRIGGER person_links_copy_person AFTER INSERT ON person_organisations BEGIN
      {_COPY_PERSON}
    END
    """,
    f"""
    CREATE TRIGGER person_links_repoint AFTER UPDATE OF person_id ON person_organisations BEGIN
      {_COPY_PERSON}
    END
    """,
    """
    CREATE TRIGGER persons_copy_to_links AFTER UPDATE OF esi, created_at ON persons BEGIN
      UPDATE person_organisations SET person_esi = NEW.esi, person_created_at = NEW.created_at
      WHERE person_id = NEW.id;
    END
    """,
]
SQLITE_DROPS = [
    "DROP TRIGGER persons_copy_to_links",
    "DROP TRIGGER person_links_repoint",
    "DROP TRIGGER person_links_copy_person",
    "DROP TRIGGER list_counts_link_moved",
    "DROP TRIGGER list_counts_link_removed",
    "DROP TRIGGER list_counts_link_added",
    "DROP TRIGGER list_counts_card_moved",
    "DROP TRIGGER list_counts_card_removed",
    "DROP TRIGGER list_counts_card_added",
    "DROP TRIGGER list_counts_new_organisation",
]

# The counts of the organisations there are, and the links' copies of their persons.
BACKFILL = [
    """
    INSERT INTO list_counts (organisation_id, list, n)
    SELECT o.id, 'cards', (SELECT count(*) FROM cards WHERE issuer_id = o.id) FROM organisations o
    """,
    """
    INSERT INTO list_counts (organisation_id, list, n)
    SELECT o.id, 'persons',
      (SELECT count(*) FROM person_organisations WHERE organisation_id = o.id)
    FROM organisations o
    """,
]
BACKFILL_LINKS = {
    "postgresql": """
    UPDATE person_organisations l SET person_esi = p.esi, person_created_at = p.created_at
    FROM persons p WHERE p.id = l.person_id
    """,
    "sqlite": """
    UPDATE person_organisations SET
      person_esi = (SELECT esi FROM persons WHERE id = person_id),
      person_created_at = (SELECT created_at FROM persons WHERE id = person_id)
    """,
}


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


def _create_scoped_search_indexes(bind: sa.Connection) -> None:
    schema = _trigram_schema(bind, scoped=True)
    for name, table, scope, column in SCOPED_TRIGRAM_INDEXES:
        if schema is None:
            op.create_index(name, table, [scope, column])
        else:
            op.execute(
                f"CREATE INDEX {name} ON {table} USING gin"
                f' ({scope}, {column} "{schema}".gin_trgm_ops)'
            )


def _restore_unscoped_search_indexes(bind: sa.Connection) -> None:
    schema = _trigram_schema(bind, scoped=False)
    for name, table, column in UNSCOPED_TRIGRAM_INDEXES:
        if schema is None:
            op.create_index(name, table, [column])
        else:
            op.execute(
                f'CREATE INDEX {name} ON {table} USING gin ({column} "{schema}".gin_trgm_ops)'
            )
    for name, table, _scope, _column in SCOPED_TRIGRAM_INDEXES:
        op.drop_index(name, table_name=table)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("person_organisations", sa.Column("person_esi", sa.String(255), nullable=True))
    op.add_column(
        "person_organisations",
        sa.Column("person_created_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "list_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "organisation_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("list", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_list_counts_org_list", "list_counts", ["organisation_id", "list", "n"])
    # The triggers first: on PostgreSQL, creating them locks the tables against writes until
    # this transaction commits, so that no write falls between the backfill and the triggers.
    for statement in (
        [*POSTGRESQL_FUNCTIONS, *POSTGRESQL_TRIGGERS]
        if dialect == "postgresql"
        else SQLITE_TRIGGERS
    ):
        op.execute(statement)
    # The replaced search indexes go before the backfill rewrites every link, so that it need
    # not maintain them (a GIN insert per row); the new indexes are built after it, in one go.
    for name, table, _column in UNSCOPED_TRIGRAM_INDEXES:
        op.drop_index(name, table_name=table)
    for statement in [*BACKFILL, BACKFILL_LINKS[dialect]]:
        op.execute(statement)
    for name, columns in LINK_INDEXES:
        op.create_index(name, "person_organisations", columns)
    # The persons list sorted by creation reads the links' own index now.
    op.drop_index("ix_persons_created_at_id", table_name="persons")
    _create_scoped_search_indexes(op.get_bind())


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    # The extensions stay: other schemas of the database may use them.
    _restore_unscoped_search_indexes(op.get_bind())
    for statement in POSTGRESQL_DROPS if dialect == "postgresql" else SQLITE_DROPS:
        op.execute(statement)
    op.create_index("ix_persons_created_at_id", "persons", ["created_at", "id"])
    for name, _columns in LINK_INDEXES:
        op.drop_index(name, table_name="person_organisations")
    op.drop_index("ix_list_counts_org_list", table_name="list_counts")
    op.drop_table("list_counts")
    for column in ("person_created_at", "person_esi"):
        if dialect == "sqlite":
            op.execute(f"ALTER TABLE person_organisations DROP COLUMN {column}")
        else:
            op.drop_column("person_organisations", column)
