"""Chip data zone: institutions' certificate chains and the revocation lists the router publishes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate_chains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_certificate_chains_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_chains")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_certificate_chains_organisation_id")),
    )
    op.create_table(
        "revocation_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_digest", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_lists")),
        sa.UniqueConstraint("issuer_digest", name=op.f("uq_revocation_lists_issuer_digest")),
    )


def downgrade() -> None:
    op.drop_table("revocation_lists")
    op.drop_table("certificate_chains")
