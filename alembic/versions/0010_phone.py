"""Phone: SIP outbound trunks, phone numbers, the do-not-call list, phone call fields

Existing calls are web calls and chats: no numbers, no SIP fields.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from voxie_app import dbtypes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "sip_outbound_trunks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", _str(length=80), nullable=False),
        sa.Column("address", _str(length=255), nullable=False),
        sa.Column("transport", _str(length=8), nullable=False),
        sa.Column("numbers", dbtypes.JSONType, server_default="[]", nullable=False),
        sa.Column("auth_username", _str(length=128), nullable=False),
        sa.Column("auth_password_secret", _str(length=64), nullable=False),
        sa.Column("livekit_trunk_id", _str(length=64), nullable=True),
        sa.Column("sync_error", _str(length=500), nullable=True),
        sa.Column("created_at", dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", _str(length=32), nullable=False),
        sa.Column("label", _str(length=80), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("inbound_trunk_id", _str(length=64), nullable=True),
        sa.Column("trunk_managed", sa.Boolean(), nullable=False),
        sa.Column("dispatch_rule_id", _str(length=64), nullable=True),
        sa.Column("outbound_trunk_id", sa.Uuid(), nullable=True),
        sa.Column("sync_error", _str(length=500), nullable=True),
        sa.Column("created_at", dbtypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dbtypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["outbound_trunk_id"], ["sip_outbound_trunks.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "do_not_call",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", _str(length=32), nullable=False),
        sa.Column("reason", _str(length=200), nullable=False),
        sa.Column("created_at", dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("called_number", _str(length=32), nullable=True))
        batch_op.add_column(sa.Column("phone_number_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("sip_call_id", _str(length=128), nullable=True))
        batch_op.add_column(sa.Column("dial_status", _str(length=16), nullable=True))
        batch_op.add_column(sa.Column("sip_status_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sip_status_reason", _str(length=200), nullable=True))
        batch_op.create_foreign_key(
            "fk_call_sessions_phone_number_id",
            "phone_numbers",
            ["phone_number_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_call_sessions_phone_number_id", type_="foreignkey")
        for column in (
            "sip_status_reason",
            "sip_status_code",
            "dial_status",
            "sip_call_id",
            "phone_number_id",
            "called_number",
        ):
            batch_op.drop_column(column)
    op.drop_table("do_not_call")
    op.drop_table("phone_numbers")
    op.drop_table("sip_outbound_trunks")
