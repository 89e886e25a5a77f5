"""Verification: partner verification records and the shared rate-limit counters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:42:27.774838
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    op.create_table(
        "verification_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("partner_credential", sa.String(length=64), nullable=True),
        sa.Column("card_number", sa.String(length=36), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["organisations.id"],
            name=op.f("fk_verification_records_issuer_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["organisations.id"],
            name=op.f("fk_verification_records_partner_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_records")),
    )
    op.create_index(op.f("ix_verification_records_at"), "verification_records", ["at"])
    op.create_index(
        op.f("ix_verification_records_card_number"), "verification_records", ["card_number"]
    )
    op.create_index(
        "ix_verification_records_issuer_id_at", "verification_records", ["issuer_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_verification_records_issuer_id_at", table_name="verification_records")
    op.drop_index(op.f("ix_verification_records_card_number"), table_name="verification_records")
    op.drop_index(op.f("ix_verification_records_at"), table_name="verification_records")
    op.drop_table("verification_records")
    op.drop_index(op.f("ix_rate_limit_windows_window_start"), table_name="rate_limit_windows")
    op.drop_table("rate_limit_windows")
