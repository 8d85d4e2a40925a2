"""Alembic owns the schema: upgrade from empty, no drift from the models, downgrade."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from alembic import command
from tests.conftest import alembic_config, create_pg_database, drop_pg_database
from voxie_app import db as db_module
from voxie_app import models

TABLES = {
    "users",
    "user_sessions",
    "api_keys",
    "webhooks",
    "webhook_deliveries",
    "processed_webhooks",
    "agents",
    "call_sessions",
    "conversation_turns",
    "token_usage",
    "call_summaries",
    "turn_metrics",
    "events",
    "secrets",
    "tools",
    "tool_invocations",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    url = create_pg_database("voxie_migrate")
    yield url
    db_module.get_engine(url).dispose()
    drop_pg_database(url)


def _tables(url: str) -> set[str]:
    return set(sa.inspect(db_module.get_engine(url)).get_table_names())


def test_upgrade_check_downgrade(empty_url: str) -> None:
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "head")
    assert _tables(empty_url) >= TABLES

    with db_module.get_engine(empty_url).connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": models.include_object}
            ),
            SQLModel.metadata,
        )
    assert diff == [], f"models and migrations disagree: {diff}"
    command.check(cfg)  # the same check `alembic check` runs

    command.downgrade(cfg, "base")
    assert _tables(empty_url) & TABLES == set()
    command.upgrade(cfg, "head")  # and back up again
    assert _tables(empty_url) >= TABLES


def test_seed_indexes_exist(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "head")
    inspector = sa.inspect(db_module.get_engine(empty_url))
    names = {
        index["name"]
        for table in ("call_sessions", "conversation_turns", "token_usage", "call_summaries")
        for index in inspector.get_indexes(table)
    }
    assert {
        "idx_call_sessions_agent_id",
        "idx_call_sessions_started_at",
        "idx_conversation_turns_call_session_id",
        "idx_token_usage_call_session_id",
        "idx_call_summaries_call_session_id",
    } <= names


def test_postgres_uses_jsonb_and_timestamptz(postgres_url: str) -> None:
    with db_module.get_engine(postgres_url).connect() as conn:
        rows = dict(
            conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'agents'"
                )
            ).all()
        )
    assert rows["processed_spec"] == "jsonb"
    assert rows["id"] == "uuid"
    assert rows["created_at"] == "timestamp with time zone"


def test_existing_calls_become_inbound_web_calls(empty_url: str) -> None:
    """0006 adds `kind`/`direction`: rows from before are browser calls placed by the caller."""
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0005")
    engine = db_module.get_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO call_sessions (id, session_id, room_name, started_at, call_status)"
                " VALUES (:id, 's', 'r', :at, 'completed')"
            ),
            {"id": "0" * 32, "at": "2026-01-01 00:00:00"},
        )
    command.upgrade(cfg, "head")
    with engine.begin() as conn:
        row = conn.execute(sa.text("SELECT kind, direction FROM call_sessions")).one()
        assert tuple(row) == ("web", "inbound")
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("UPDATE call_sessions SET kind = 'fax'"))
