"""covering indexes for analytics (cost sums, latency percentiles)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("token_usage", schema=None) as batch_op:
        batch_op.create_index(
            "idx_token_usage_call_session_cost",
            ["call_session_id"],
            unique=False,
            postgresql_include=["total_cost_usd"],
        )
    with op.batch_alter_table("turn_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "idx_turn_metrics_call_session_e2e",
            ["call_session_id"],
            unique=False,
            postgresql_include=["e2e_latency"],
        )


def downgrade() -> None:
    with op.batch_alter_table("turn_metrics", schema=None) as batch_op:
        batch_op.drop_index("idx_turn_metrics_call_session_e2e")
    with op.batch_alter_table("token_usage", schema=None) as batch_op:
        batch_op.drop_index("idx_token_usage_call_session_cost")
