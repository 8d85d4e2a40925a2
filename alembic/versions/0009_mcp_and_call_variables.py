"""MCP servers as tools (transport, discovered and allowed tools) and per-call variables

Existing tools are HTTP tools: an empty transport and no MCP tool lists. Existing
calls had no variables.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from voxie_app import dbtypes

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tools", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "transport",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                server_default="",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("discovered_tools", dbtypes.JSONType, server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("allowed_tools", dbtypes.JSONType, server_default="[]", nullable=False)
        )
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("variables", dbtypes.JSONType, server_default="{}", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("call_sessions", schema=None) as batch_op:
        batch_op.drop_column("variables")
    with op.batch_alter_table("tools", schema=None) as batch_op:
        batch_op.drop_column("allowed_tools")
        batch_op.drop_column("discovered_tools")
        batch_op.drop_column("transport")
