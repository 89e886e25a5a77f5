"""Rate limits leave the database: the anonymous lookups are counted by `limits` (memory/Redis).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_windows_window_start"), table_name="rate_limit_windows")
    op.drop_table("rate_limit_windows")


def downgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("bucket", sa.String(length=128), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name=op.f("pk_rate_limit_windows")),
    )
    op.create_index(
        op.f("ix_rate_limit_windows_window_start"), "rate_limit_windows", ["window_start"]
    )
