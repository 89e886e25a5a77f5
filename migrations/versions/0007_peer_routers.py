"""Peer routers: the request ids seen from peers, and verifications by partners of peers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_peer_requests",
        sa.Column("router_id", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "router_id", "request_id", name=op.f("pk_federation_peer_requests")
        ),
    )
    op.create_index(
        op.f("ix_federation_peer_requests_seen_at"), "federation_peer_requests", ["seen_at"]
    )
    with op.batch_alter_table("verification_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_router", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("partner_identifier", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("partner_name", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verification_records", schema=None) as batch_op:
        batch_op.drop_column("partner_name")
        batch_op.drop_column("partner_identifier")
        batch_op.drop_column("partner_router")
    op.drop_index(
        op.f("ix_federation_peer_requests_seen_at"), table_name="federation_peer_requests"
    )
    op.drop_table("federation_peer_requests")
