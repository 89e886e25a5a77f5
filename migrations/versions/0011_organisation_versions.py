"""A row version on organisations, so that concurrent administrative changes are serialised.

Two administrators changing one organisation's prefixes at once could both write: one answered
500 on a duplicate prefix and the prefix set left matched neither request. With the version
checked on every write, the later change runs again on the earlier one's result.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite adds and, since 3.35, drops a column in place): a
# batch copy of the table would have to drop the referenced ``organisations`` with its rows.


def upgrade() -> None:
    op.add_column(
        "organisations", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE organisations DROP COLUMN version")
    else:
        op.drop_column("organisations", "version")
