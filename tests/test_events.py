"""The event log: publish, replay, and live subscribe (LISTEN/NOTIFY or polling)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from voxie_app.db import session_scope
from voxie_app.services import events
from voxie_app.settings import ROOT_DIR


def test_publish_and_list_in_order(db: str) -> None:
    for i in range(5):
        events.publish("s1", "step", f"step {i}", {"i": i})
    events.publish("other", "noise", "not mine")
    with session_scope() as s:
        rows = events.list_events(session=s, stream="s1")
        assert [r.data["i"] for r in rows] == [0, 1, 2, 3, 4]
        after = events.list_events(session=s, stream="s1", after_id=rows[2].id)
    assert [r.message for r in after] == ["step 3", "step 4"]


def test_publish_in_a_failed_transaction_leaves_nothing(db: str) -> None:
    with pytest.raises(RuntimeError), session_scope() as s:
        events.publish("s1", "step", "will roll back", session=s)
        raise RuntimeError("boom")
    with session_scope() as s:
        assert events.list_events(session=s, stream="s1") == []


def test_bad_level_is_rejected(db: str) -> None:
    with pytest.raises(ValueError, match="level"):
        events.publish("s1", "step", level="shouting")


async def _collect(stream: str, after: int, n: int, **kw: float) -> list[events.EventOut]:
    got: list[events.EventOut] = []
    async for event in events.subscribe(stream, after, **kw):
        got.append(event)
        if len(got) == n:
            break
    return got


async def test_subscribe_sees_live_events_and_resumes(db: str) -> None:
    events.publish("live", "step", "before")
    task = asyncio.create_task(_collect("live", 0, 4, poll_interval=0.05, heartbeat=30))
    await asyncio.sleep(0.3)
    for i in range(3):
        await asyncio.to_thread(events.publish, "live", "step", f"live {i}")
    got = await asyncio.wait_for(task, 10)
    assert [e.message for e in got] == ["before", "live 0", "live 1", "live 2"]

    # A reader that reconnects from its last id gets exactly what it missed.
    await asyncio.to_thread(events.publish, "live", "step", "while away 1")
    await asyncio.to_thread(events.publish, "live", "step", "while away 2")
    resumed = await asyncio.wait_for(_collect("live", got[-1].id, 2, poll_interval=0.05), 10)
    assert [e.message for e in resumed] == ["while away 1", "while away 2"]
    ids = [e.id for e in got + resumed]
    assert ids == sorted(set(ids))


async def test_publish_from_another_process_reaches_subscriber(db: str) -> None:
    task = asyncio.create_task(_collect("xproc", 0, 3, poll_interval=0.05, heartbeat=30))
    await asyncio.sleep(0.3)
    code = (
        "from voxie_app.services import events\n"
        "for i in range(3): events.publish('xproc', 'step', f'from child {i}')\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT_DIR, env={**_env(), "DATABASE_URL": db}
    )
    assert await proc.wait() == 0
    # heartbeat=30 s: on PostgreSQL only NOTIFY can deliver this within the timeout.
    got = await asyncio.wait_for(task, 10)
    assert [e.message for e in got] == [f"from child {i}" for i in range(3)]


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
