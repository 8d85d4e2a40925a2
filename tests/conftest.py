"""Shared fixtures: one migrated SQLite and one migrated PostgreSQL database per run.

`db` is parametrised over both backends; each test starts with empty tables.
Settings never read the developer's `.env` files here; tests set what they need
through `configure(...)`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from voxie_app import db as db_module
from voxie_app.settings import ROOT_DIR, Settings, get_settings

pytest_plugins = ["tests.doubles.fixtures", "tests.doubles.livekit_fixtures"]

PG_ADMIN_URL = os.environ.get(
    "VOXIE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "DEEPGRAM_API_KEY",
    "CARTESIA_API_KEY",
    "STT_BASE_URL",
    "STT_API_KEY",
    "TTS_BASE_URL",
    "TTS_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GOOGLE_API_KEY",
    "GOOGLE_BASE_URL",
    "RAGIE_API_KEY",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_PUBLIC_URL",
)

# Never read the developer's .env/.env.local in tests.
Settings.model_config["env_file"] = None


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("db") / "voxie_test.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    return url


def create_pg_database(prefix: str = "voxie_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = create_pg_database()
    command.upgrade(alembic_config(url), "head")
    yield url
    db_module.get_engine(url).dispose()
    drop_pg_database(url)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Set settings for this test (environment names), returning the fresh Settings."""

    def _configure(**env: str | None) -> Settings:
        for key, value in env.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return get_settings()

    for key in PROVIDER_ENV:
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield _configure
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, configure: Callable[..., Settings]) -> Iterator[str]:
    """The URL of a migrated, empty database; the app's settings point at it."""
    url = request.getfixturevalue(
        {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    )
    configure(DATABASE_URL=url)
    yield url
    engine = db_module.get_engine(url)
    from sqlmodel import SQLModel

    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name != "rollup_state":  # its one row is part of the schema
                conn.execute(table.delete())


@pytest.fixture
def clock() -> Iterator[Callable[[datetime], datetime]]:
    """Start the product's clock (`voxie_app.clock`) at a fixed instant: `clock(at)`.

    It runs on from `at` at the real rate and is restored after the test, so a
    test that depends on where "today" begins gives one answer at any hour.
    """
    from voxie_app import clock as product_clock

    def _set(at: datetime) -> datetime:
        product_clock.set_offset(at - datetime.now(UTC))
        return at

    yield _set
    product_clock.set_offset(timedelta(0))


def admin_headers(role: str = "admin") -> dict[str, str]:
    """An API key of `role` in the configured database, as request headers."""
    from voxie_app.db import session_scope
    from voxie_app.services import auth

    with session_scope() as session:
        raw, _ = auth.create_api_key(session=session, name=f"test {role}", role=role)
    return {"Authorization": f"Bearer {raw}"}
