"""Delegations across peer routers: either party may live on another router of the federation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.alter_column("host_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("home_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("peer_router", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("host_keys", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM delegations WHERE peer_router IS NOT NULL")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_column("host_keys")
        batch_op.drop_column("peer_router")
        batch_op.alter_column("home_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("host_id", existing_type=sa.Integer(), nullable=False)
