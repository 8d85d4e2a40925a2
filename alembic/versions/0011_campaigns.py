"""Campaigns: outbound calling campaigns, their contacts (the queue), and which
campaign attempt a call was

Existing calls belong to no campaign.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from voxie_app import dbtypes

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", _str(length=80), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("from_number_id", sa.Uuid(), nullable=True),
        sa.Column("status", _str(length=16), nullable=False),
        sa.Column("timezone", _str(length=64), nullable=False),
        sa.Column("window_days", dbtypes.JSONType, nullable=False),
        sa.Column("window_start", _str(length=5), nullable=False),
        sa.Column("window_end", _str(length=5), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delay_minutes", sa.Integer(), nullable=False),
        sa.Column("retry_on", dbtypes.JSONType, nullable=False),
        sa.Column("variable_names", dbtypes.JSONType, nullable=False),
        sa.Column("contact_count", sa.Integer(), nullable=False),
        sa.Column("last_error", _str(length=500), nullable=True),
        sa.Column("created_by", _str(length=255), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dbtypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", dbtypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", dbtypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["from_number_id"], ["phone_numbers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("phone", _str(length=32), nullable=False),
        sa.Column("variables", dbtypes.JSONType, nullable=False),
        sa.Column("status", _str(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", dbtypes.UTCDateTime(), nullable=True),
        sa.Column("claimed_at", dbtypes.UTCDateTime(), nullable=True),
        sa.Column("last_outcome", _str(length=16), nullable=True),
        sa.Column("last_call_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "phone", name="uq_campaign_contacts_phone"),
    )
    op.create_index(
        "idx_campaign_contacts_queue",
        "campaign_contacts",
        ["campaign_id", "status", "next_attempt_at"],
    )
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("campaign_contact_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("campaign_attempt", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_call_sessions_campaign_id",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_call_sessions_campaign_contact_id",
            "campaign_contacts",
            ["campaign_contact_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("idx_call_sessions_campaign_id", ["campaign_id"])
        batch_op.create_unique_constraint(
            "uq_call_sessions_campaign_attempt", ["campaign_contact_id", "campaign_attempt"]
        )


def downgrade() -> None:
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_call_sessions_campaign_attempt", type_="unique")
        batch_op.drop_index("idx_call_sessions_campaign_id")
        batch_op.drop_constraint("fk_call_sessions_campaign_contact_id", type_="foreignkey")
        batch_op.drop_constraint("fk_call_sessions_campaign_id", type_="foreignkey")
        for column in ("campaign_attempt", "campaign_contact_id", "campaign_id"):
            batch_op.drop_column(column)
    op.drop_index("idx_campaign_contacts_queue", table_name="campaign_contacts")
    op.drop_table("campaign_contacts")
    op.drop_index("idx_campaigns_status", table_name="campaigns")
    op.drop_table("campaigns")
