"""Alembic environment: the schema is `SQLModel.metadata` from `voxie_app.models`.

The URL is the app's `DATABASE_URL` unless a caller (tests, `scripts`) sets
`sqlalchemy.url` on the config, so plain `alembic` and the app always agree.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import SQLModel

from alembic import context
from voxie_app import dbtypes, models  # importing models registers the tables
from voxie_app.db import get_engine, normalize_url
from voxie_app.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    return normalize_url(config.get_main_option("sqlalchemy.url") or get_settings().database_url)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our portable column types by name so migrations import them."""
    if type_ == "type" and isinstance(obj, dbtypes.UTCDateTime):
        autogen_context.imports.add("from voxie_app import dbtypes")
        return "dbtypes.UTCDateTime()"
    if type_ == "type" and obj is dbtypes.JSONType:
        autogen_context.imports.add("from voxie_app import dbtypes")
        return "dbtypes.JSONType"
    return False


def _configure(**kw: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        # the dialect-specific full-text index of the knowledge base (migration 0002)
        include_object=models.include_object,
        render_as_batch=True,
        compare_type=True,
        **kw,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with get_engine(_url()).connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
