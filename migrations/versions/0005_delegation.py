"""Federation: institutions' public keys, delegation requests and their history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 04:07:48.878180
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("host_pic", sa.String(length=64), nullable=False),
        sa.Column("home_pic", sa.String(length=64), nullable=False),
        sa.Column("card_number", sa.String(length=36), nullable=False),
        sa.Column("uid", sa.String(length=20), nullable=False),
        sa.Column("aid", sa.String(length=6), nullable=False),
        sa.Column("application", sa.Text(), nullable=False),
        sa.Column("request_jws", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(length=43), nullable=False),
        sa.Column("request_kid", sa.String(length=128), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=8), nullable=True),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("decision_jws", sa.Text(), nullable=True),
        sa.Column("decision_kid", sa.String(length=128), nullable=True),
        sa.Column("outcome_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["home_id"], ["organisations.id"], name=op.f("fk_delegations_home_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["organisations.id"], name=op.f("fk_delegations_host_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_delegations_decision_id")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delegations_card_number"), ["card_number"], unique=False
        )
        batch_op.create_index("ix_delegations_home_id_state", ["home_id", "state"], unique=False)
        batch_op.create_index("ix_delegations_host_id_state", ["host_id", "state"], unique=False)
        batch_op.create_index(
            "ix_delegations_state_expires_at", ["state", "expires_at"], unique=False
        )

    op.create_table(
        "institution_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=128), nullable=False),
        sa.Column("use", sa.String(length=3), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=255), nullable=True),
        sa.Column("replaced_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_institution_keys_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution_keys")),
        sa.UniqueConstraint(
            "organisation_id", "kid", name=op.f("uq_institution_keys_organisation_id_kid")
        ),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_institution_keys_thumbprint")),
    )
    with op.batch_alter_table("institution_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_institution_keys_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "delegation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delegation_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegation_id"],
            ["delegations.id"],
            name=op.f("fk_delegation_events_delegation_id_delegations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegation_events")),
    )
    with op.batch_alter_table("delegation_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delegation_events_delegation_id"), ["delegation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delegation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegation_events_delegation_id"))

    op.drop_table("delegation_events")
    with op.batch_alter_table("institution_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institution_keys_organisation_id"))

    op.drop_table("institution_keys")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index("ix_delegations_state_expires_at")
        batch_op.drop_index("ix_delegations_host_id_state")
        batch_op.drop_index("ix_delegations_home_id_state")
        batch_op.drop_index(batch_op.f("ix_delegations_card_number"))

    op.drop_table("delegations")
