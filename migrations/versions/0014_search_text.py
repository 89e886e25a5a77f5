"""Searches of one or two letters: each searched row's three columns in one text, B-tree indexed.

A search is matched by trigram indexes, which cannot narrow a text shorter than three letters:
such a search (the first letter typed into a search box) matched every row of the organisation
and tested each row's three columns with ``ILIKE``, read from the table (about 0.5 s for the
300,000 cards of one institution in 3 million, with the count). Each card and each person link
now has ``search_text``, its three searched columns lower-cased and joined by a separator
(U+001F), computed by the database (a generated column: every writer, the services, the
set-based batches, ``COPY`` and 0012's and 0013's triggers, keeps it in step with no code of
its own). A short search matches it with ``LIKE`` from a B-tree on (organisation, search_text)
that includes the row's key, an index-only scan that neither reads the table nor lower-cases:
the matches' keys come from the index alone, then are sorted and counted in one pass as before.

On PostgreSQL the column is ``STORED``: adding it rewrites both tables under an exclusive lock
(about 150 s for 3 million cards and their holders' links on a 2-core machine; writes and reads
of those tables wait). On SQLite it is computed when read (``VIRTUAL``; SQLite cannot add a
stored column), and its index keeps the computed values. After the upgrade, ``VACUUM ANALYZE
cards, person_organisations`` (or autovacuum's next pass) marks the rewritten pages
all-visible, which index-only scans need.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 23:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEPARATOR = "\x1f"

# (table, the organisation's column, the searched columns, the index, the key it includes)
SEARCHED = [
    (
        "cards",
        "issuer_id",
        ("card_number", "display_name", "holder_esi"),
        "ix_cards_issuer_search_text",
        "id",
    ),
    (
        "person_organisations",
        "organisation_id",
        ("full_name", "email", "person_esi"),
        "ix_person_organisations_org_search_text",
        "person_id",
    ),
]


def _expression(columns: Sequence[str]) -> str:
    joined = f" || '{SEPARATOR}' || ".join(f"coalesce({column}, '')" for column in columns)
    return f"lower({joined})"


def upgrade() -> None:
    # SQLite adds no stored column to a table: there it is computed when read (VIRTUAL).
    persisted = None if op.get_bind().dialect.name == "sqlite" else True
    for table, scope, columns, index, key in SEARCHED:
        computed = sa.Computed(_expression(columns), persisted=persisted)
        op.add_column(table, sa.Column("search_text", sa.Text(), computed))
        op.create_index(index, table, [scope, "search_text"], postgresql_include=[key])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, _, _, index, _ in SEARCHED:
        op.drop_index(index, table_name=table)
        if dialect == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN search_text")
        else:
            op.drop_column(table, "search_text")
