"""Many workers: each reports its load (running calls over `VOXIE_MAX_CALLS_PER_WORKER`)
so LiveKit sends new calls elsewhere at the cap, and a drain (what livekit's `start`
command runs on SIGTERM) lets the active call finish, ending `completed`.

The drain test runs the worker's own `AgentServer` (`build_server`, thread executor,
the worker's prewarm) unregistered, with no LiveKit server: the call is launched with
the framework's `simulate_job(fake_job=True)`, the path a dispatched job takes to its
job thread, and runs the worker's `run_call` with the session started in text mode
(no room: `RoomSeams.start_session`), the real openai plugin talking to the OpenAI
double and the recorder writing to the test database.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from livekit.agents import JobContext
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voice_worker.worker import FULL_LOAD, CallLoad, RoomSeams, build_server, run_call
from voxie_app.db import session_scope
from voxie_app.models import CallSession, ConversationTurn
from voxie_app.services import agent_creation
from voxie_app.settings import Settings

SPEC = {"name": "Dental Bot", "instructions": "You help.", "greeting": "Hi!"}


def _server_with_jobs(count: int) -> SimpleNamespace:
    return SimpleNamespace(active_jobs=[object()] * count)


@pytest.mark.parametrize(("running", "load"), [(0, 0.0), (1, 0.25), (3, 0.75), (4, 1.0), (6, 1.0)])
def test_the_load_is_running_calls_over_the_cap(running: int, load: float) -> None:
    assert CallLoad(4)(_server_with_jobs(running)) == load


def test_at_the_cap_the_worker_reports_full(configure: Callable[..., Settings]) -> None:
    server = build_server(configure(VOXIE_MAX_CALLS_PER_WORKER="3"))
    assert isinstance(server.load_fnc, CallLoad)
    assert server._load_threshold == FULL_LOAD
    # livekit: full (refuses jobs, reports WS_FULL) when load >= load_threshold
    assert server.load_fnc(_server_with_jobs(2)) < server._load_threshold
    assert server.load_fnc(_server_with_jobs(3)) >= server._load_threshold


def test_the_cap_and_drain_default_and_are_checked(configure: Callable[..., Settings]) -> None:
    settings = configure()
    server = build_server(settings)
    assert server.load_fnc.cap == settings.max_calls_per_worker == 25
    assert server._drain_timeout == settings.worker_drain_seconds == 600
    with pytest.raises(ValueError, match="VOXIE_MAX_CALLS_PER_WORKER"):
        configure(VOXIE_MAX_CALLS_PER_WORKER="0")


async def test_a_drain_lets_the_active_call_finish_completed(
    db: str, openai_double: OpenAIServerDouble, configure: Callable[..., Settings]
) -> None:
    settings = configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_JOB_EXECUTOR="thread",
        VOXIE_WORKER_DRAIN_SECONDS="120",  # livekit's drain raises past it: no hang
        VOXIE_ANALYSIS_MIN_USER_TURNS="5",  # no post-call analysis for this short call
    )
    openai_double.script(Reply(content="We open at nine."))
    agent_id = agent_creation.submit(user_requirements={}, processed_spec=SPEC).id
    with session_scope() as s:
        row = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="room")
        s.add(row)
    call_id = row.id
    in_call, go_on = threading.Event(), threading.Event()
    talks: list[asyncio.Task[None]] = []

    async def talk(session: Any) -> None:
        await asyncio.to_thread(go_on.wait)  # the test drains the worker meanwhile
        await session.run(user_input="When do you open?")
        await session.aclose()  # the caller hangs up: the job ends

    async def start_in_text_mode(_ctx: Any, session: Any, agent: Any, _options: Any) -> None:
        await session.start(agent=agent)  # no room: a text-mode session
        talks.append(asyncio.create_task(talk(session)))
        in_call.set()

    async def entrypoint(ctx: JobContext) -> None:
        ctx.job.metadata = json.dumps({"call_session_id": str(call_id), "agent_id": str(agent_id)})
        await run_call(ctx, settings, RoomSeams(start_session=start_in_text_mode))

    server = build_server(settings, port=0)
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    started = asyncio.Event()
    server.on("worker_started", started.set)
    running = asyncio.create_task(server.run(devmode=False, unregistered=True))
    try:
        await started.wait()
        await server.simulate_job("room", fake_job=True)
        await asyncio.to_thread(in_call.wait)
        assert len(server.active_jobs) == 1

        drain = asyncio.create_task(server.drain())
        while not server.draining:  # noqa: ASYNC110 - livekit emits no event for it
            await asyncio.sleep(0.01)
        assert not server._is_available()  # a new job would be refused
        assert not drain.done()  # the drain waits for the call
        with session_scope() as s:
            assert s.get(CallSession, call_id).call_status == "active"

        go_on.set()
        await drain
        assert server.active_jobs == []
    finally:
        go_on.set()
        await server.aclose()
        await running
    with session_scope() as s:
        call = s.get(CallSession, call_id)
        assert call.call_status == "completed"
        said = s.exec(
            select(ConversationTurn.transcript)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
    assert list(said) == ["Hi!", "When do you open?", "We open at nine."]
