"""daily rollups for analytics (per agent and settled local day)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from voxie_app import dbtypes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_days",
        sa.Column("tz", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", dbtypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", dbtypes.UTCDateTime(), nullable=False),
        sa.Column("computed_at", dbtypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tz", "day"),
    )
    with op.batch_alter_table("rollup_days", schema=None) as batch_op:
        batch_op.create_index("idx_rollup_days_bounds", ["starts_at", "ends_at"], unique=False)

    state = op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0}])
    op.create_table(
        "rollup_agent_days",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tz", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("rating_sum", sa.Float(), nullable=False),
        sa.Column("rating_n", sa.Integer(), nullable=False),
        sa.Column("resolved_yes", sa.Integer(), nullable=False),
        sa.Column("resolved_known", sa.Integer(), nullable=False),
        sa.Column("latency_offset", sa.Integer(), nullable=False),
        sa.Column("latency_counts", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tz", "day"], ["rollup_days.tz", "rollup_days.day"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollup_agent_days", schema=None) as batch_op:
        batch_op.create_index("idx_rollup_agent_days_agent", ["agent_id"], unique=False)
        batch_op.create_index("idx_rollup_agent_days_day", ["tz", "day"], unique=False)

    op.create_table(
        "rollup_label_counts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tz", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("all_agents", sa.Boolean(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tz", "day"], ["rollup_days.tz", "rollup_days.day"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollup_label_counts", schema=None) as batch_op:
        batch_op.create_index("idx_rollup_label_counts_day", ["tz", "day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rollup_label_counts", schema=None) as batch_op:
        batch_op.drop_index("idx_rollup_label_counts_day")

    op.drop_table("rollup_label_counts")
    with op.batch_alter_table("rollup_agent_days", schema=None) as batch_op:
        batch_op.drop_index("idx_rollup_agent_days_day")
        batch_op.drop_index("idx_rollup_agent_days_agent")

    op.drop_table("rollup_agent_days")
    op.drop_table("rollup_state")
    with op.batch_alter_table("rollup_days", schema=None) as batch_op:
        batch_op.drop_index("idx_rollup_days_bounds")

    op.drop_table("rollup_days")
