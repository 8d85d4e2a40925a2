"""One engine and session factory for both processes, from `DATABASE_URL`.

Supabase and Heroku-style URLs (`postgres://`, `postgresql://`) are normalised
to the psycopg 3 driver so users can paste their connection string unchanged.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from voxie_app.settings import get_settings


def normalize_url(url: str) -> str:
    """Point PostgreSQL URLs at psycopg 3; leave other URLs alone."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_path(url: str) -> Path | None:
    made = sa.engine.make_url(url)
    if made.get_backend_name() != "sqlite" or not made.database or made.database == ":memory:":
        return None
    return Path(made.database)


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: the configured database), created once per URL."""
    return _engine_for(normalize_url(url or get_settings().database_url))


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if (path := sqlite_path(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    # Foreign keys are off by default in SQLite; WAL lets the worker write
    # while the web app reads.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    check = dbapi_conn.cursor()
    try:  # the analytics rollups bin latencies with ln() and floor()
        check.execute("SELECT ln(1.0), floor(1.5)")
        has_math = True
    except sqlite3.OperationalError:  # SQLite built without its math functions
        has_math = False
    finally:
        check.close()  # no statement may be pending while functions are created
    if not has_math:
        dbapi_conn.create_function("ln", 1, _ln, deterministic=True)
        dbapi_conn.create_function("floor", 1, _floor, deterministic=True)


def _ln(x: float | None) -> float | None:
    return math.log(x) if x is not None and x > 0 else None


def _floor(x: float | None) -> int | None:
    return math.floor(x) if x is not None else None


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    Services take a session argument; callers that own a unit of work use this,
    so writes that belong together land in one transaction or not at all.
    """
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def take_write_lock(session: Session) -> None:
    """On SQLite, make this transaction the database's writer now (`BEGIN IMMEDIATE`).

    SQLite has no row locks: a read-modify-write must hold the database write
    lock from its read on, or two of them read the same row and the second
    write loses the first. Python's sqlite3 opens a transaction only before the
    first write, so one already open means the lock is held. No-op elsewhere
    (PostgreSQL callers lock rows with `SELECT ... FOR UPDATE`).
    """
    if dialect_name(session) != "sqlite":
        return
    raw = session.connection().connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")
