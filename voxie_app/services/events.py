"""The event log behind live logs (builder console, SSE, dashboard refresh).

`publish` writes a row, so nothing is lost and a reconnecting reader replays
from its last id. On PostgreSQL the same transaction sends `NOTIFY`, delivered
on commit, and publishers of one stream are serialised by an advisory lock so
ids of a stream commit in order (a reader never skips a late-committing id).
`subscribe` LISTENs on PostgreSQL and polls on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, select

from voxie_app.db import get_engine, normalize_url, session_scope
from voxie_app.models import Event
from voxie_app.settings import get_settings

CHANNEL = "voxie_events"
MAX_MESSAGE = 2000
LEVELS = ("info", "warning", "error")
# Event ids are BIGINT on PostgreSQL; a larger `after` would fail in the query.
MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,19}")


def parse_event_id(value: str | None) -> int:
    """A client's event id (SSE `Last-Event-ID`) as an int; 0 (replay all) if it is not one.

    Only ASCII digits within BIGINT are ids: `str.isdigit()` also accepts `²` and
    other digits `int()` refuses, and a 5,000-digit string exceeds Python's
    int-parsing limit, so neither may reach `int()`.
    """
    if value is None or not _EVENT_ID.fullmatch(value.strip()):
        return 0
    parsed = int(value.strip())
    return parsed if parsed <= MAX_EVENT_ID else 0


def _bounded(after_id: int) -> int:
    return min(max(after_id, 0), MAX_EVENT_ID)


class EventOut(BaseModel):
    """An event as readers see it."""

    id: int
    stream: str
    kind: str
    level: str
    message: str
    data: dict[str, Any]
    created_at: datetime


def _out(row: Event) -> EventOut:
    assert row.id is not None
    return EventOut(
        id=row.id,
        stream=row.stream,
        kind=row.kind,
        level=row.level,
        message=row.message,
        data=row.data or {},
        created_at=row.created_at,
    )


def lock_stream(session: Session, stream: str) -> None:
    """Serialise writers of `stream` until `session` commits (PostgreSQL; SQLite has one writer).

    `publish` takes it so ids commit in order; a caller that must check the stream
    before writing to it (a creation claiming a client's session id) takes it first.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": stream})


def has_events(*, session: Session, stream: str) -> bool:
    return session.exec(select(Event.id).where(Event.stream == stream).limit(1)).first() is not None


def publish(
    stream: str,
    kind: str,
    message: str = "",
    data: dict[str, Any] | None = None,
    *,
    level: str = "info",
    session: Session | None = None,
) -> EventOut:
    """Append an event to `stream`. With `session`, it commits with the caller's work."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    if session is None:
        with session_scope() as own:
            return publish(stream, kind, message, data, level=level, session=own)
    lock_stream(session, stream)
    row = Event(
        stream=stream, kind=kind, level=level, message=message[:MAX_MESSAGE], data=data or {}
    )
    session.add(row)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_notify(:c, :s)"), {"c": CHANNEL, "s": stream[:7000]})
    return _out(row)


def list_events(
    *, session: Session, stream: str, after_id: int = 0, limit: int = 500
) -> list[EventOut]:
    """Events of `stream` with id greater than `after_id`, oldest first."""
    after_id = _bounded(after_id)
    rows = session.exec(
        select(Event)
        .where(Event.stream == stream, Event.id > after_id)  # type: ignore[operator]
        .order_by(Event.id)  # type: ignore[arg-type]
        .limit(limit)
    ).all()
    return [_out(r) for r in rows]


def _fetch(url: str | None, stream: str, after_id: int) -> list[EventOut]:
    with Session(get_engine(url)) as session:
        return list_events(session=session, stream=stream, after_id=after_id)


async def subscribe(
    stream: str,
    after_id: int = 0,
    *,
    url: str | None = None,
    poll_interval: float = 0.2,
    heartbeat: float = 5.0,
) -> AsyncIterator[EventOut]:
    """Yield every event of `stream` after `after_id`, forever, in id order.

    PostgreSQL: LISTEN, re-reading the table on each notification (and every
    `heartbeat` seconds, in case a notification was missed while reconnecting).
    SQLite: re-read every `poll_interval` seconds. Either way the table is the
    truth, so no event is lost or repeated.
    """
    url = normalize_url(url or get_settings().database_url)
    last = _bounded(after_id)
    if sa.engine.make_url(url).get_backend_name() != "postgresql":
        while True:
            for event in await asyncio.to_thread(_fetch, url, stream, last):
                last = event.id
                yield event
            await asyncio.sleep(poll_interval)

    import psycopg

    conninfo = (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        while True:
            for event in await asyncio.to_thread(_fetch, url, stream, last):
                last = event.id
                yield event
            with contextlib.suppress(TimeoutError):
                async for note in conn.notifies(timeout=heartbeat):
                    if note.payload == stream[:7000]:
                        break
