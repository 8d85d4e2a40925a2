"""Turn parts: where each agent turn's response gap went (the caller's silence waited,
the transcript, the end-of-turn decision, LLM first token, TTS first byte, playout)

Nullable columns on `turn_metrics`; rows written before keep null (unknown).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTS = (
    "part_silence",
    "part_stt",
    "part_end_of_turn",
    "part_llm",
    "part_tts",
    "part_playout",
)


def upgrade() -> None:
    with op.batch_alter_table("turn_metrics") as batch:
        for name in PARTS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turn_metrics") as batch:
        for name in reversed(PARTS):
            batch.drop_column(name)
