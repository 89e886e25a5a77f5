"""Listing at scale: an index per sort key of an organisation's lists, trigram indexes for search.

On PostgreSQL the search indexes are pg_trgm GIN indexes (``ILIKE '%text%'`` becomes an index
scan); the extension is created if the role may (it is a trusted extension since PostgreSQL 13),
in ``public`` so that every schema of the database shares the one installation, and the operator
class is named with its schema so a ``search_path`` without it still finds it. Without the
extension the search indexes are plain B-trees, and searches stay correct, only slower. SQLite
gets plain indexes everywhere (its LIKE uses none of them; its searches scan).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns) of the B-tree indexes the lists are served from.
SORT_INDEXES = [
    ("ix_cards_issuer_id_id", "cards", ["issuer_id", "id"]),
    ("ix_cards_issuer_card_number", "cards", ["issuer_id", "card_number"]),
    ("ix_cards_issuer_issued_at", "cards", ["issuer_id", "issued_at", "id"]),
    ("ix_cards_issuer_expires_at", "cards", ["issuer_id", "expires_at", "id"]),
    ("ix_cards_issuer_display_name", "cards", ["issuer_id", "display_name", "id"]),
    ("ix_cards_issuer_created_at", "cards", ["issuer_id", "created_at", "id"]),
    ("ix_persons_created_at_id", "persons", ["created_at", "id"]),
    (
        "ix_person_organisations_org_person",
        "person_organisations",
        ["organisation_id", "person_id"],
    ),
    (
        "ix_person_organisations_org_full_name",
        "person_organisations",
        ["organisation_id", "full_name", "person_id"],
    ),
]
# (name, table, column) of the search indexes.
TRIGRAM_INDEXES = [
    ("ix_cards_card_number_trgm", "cards", "card_number"),
    ("ix_cards_display_name_trgm", "cards", "display_name"),
    ("ix_persons_esi_trgm", "persons", "esi"),
    ("ix_person_organisations_full_name_trgm", "person_organisations", "full_name"),
    ("ix_person_organisations_email_trgm", "person_organisations", "email"),
]
# Replaced by the composite indexes above, which begin with the same column.
REPLACED = [
    ("ix_cards_issuer_id", "cards", "issuer_id"),
    ("ix_person_organisations_organisation_id", "person_organisations", "organisation_id"),
]


def _trigram_schema(bind: sa.Connection) -> str | None:
    """The schema pg_trgm lives in, installing it in ``public`` if absent; None if not allowed."""
    query = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_trgm'"
    )
    schema = bind.scalar(query)
    if schema is not None:
        return str(schema)
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except sa.exc.DBAPIError:
        return None
    return bind.scalar(query)


def upgrade() -> None:
    bind = op.get_bind()
    for name, table, columns in SORT_INDEXES:
        op.create_index(name, table, columns)
    schema = _trigram_schema(bind) if bind.dialect.name == "postgresql" else None
    for name, table, column in TRIGRAM_INDEXES:
        if schema is None:
            op.create_index(name, table, [column])
        else:
            op.execute(
                f'CREATE INDEX {name} ON {table} USING gin ({column} "{schema}".gin_trgm_ops)'
            )
    for name, table, _column in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    # pg_trgm stays: other schemas of the database may use it.
    for name, table, column in REPLACED:
        op.create_index(name, table, [column])
    for name, table, _column in TRIGRAM_INDEXES:
        op.drop_index(name, table_name=table)
    for name, table, _columns in SORT_INDEXES:
        op.drop_index(name, table_name=table)
