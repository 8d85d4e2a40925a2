"""call_sessions.kind ('web', 'chat', 'phone') and direction ('inbound', 'outbound')

Existing rows are browser voice calls placed by the caller: 'web', 'inbound'.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind", sqlmodel.sql.sqltypes.AutoString(), server_default="web", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "direction",
                sqlmodel.sql.sqltypes.AutoString(),
                server_default="inbound",
                nullable=False,
            )
        )
        batch_op.create_index("idx_call_sessions_kind", ["kind"], unique=False)
        batch_op.create_check_constraint(
            "ck_call_sessions_kind", "kind IN ('web', 'chat', 'phone')"
        )
        batch_op.create_check_constraint(
            "ck_call_sessions_direction", "direction IN ('inbound', 'outbound')"
        )


def downgrade() -> None:
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.drop_constraint("ck_call_sessions_direction", type_="check")
        batch_op.drop_constraint("ck_call_sessions_kind", type_="check")
        batch_op.drop_index("idx_call_sessions_kind")
        batch_op.drop_column("direction")
        batch_op.drop_column("kind")
