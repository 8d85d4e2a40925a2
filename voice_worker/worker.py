"""The LiveKit worker process: one job per call, dispatched by agent name.

Each job reads `{call_session_id, agent_id}` from its metadata, builds the
agent from the stored spec, records the call while it runs, marks it ended
when the session closes, then runs the post-call analysis. A job that cannot
start (bad metadata or spec, missing provider key) ends cleanly with the call
marked `failed` and the reason stored.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, JobProcess
from livekit.plugins import silero

from voice_worker.analysis import analyze_call
from voice_worker.builder_agent import VOXIE_SPEC, VoxieBuilder, builder_llm_spec
from voice_worker.calldata import CallData
from voice_worker.providers import (
    ProviderMissing,
    build_llm,
    build_stt,
    build_tts,
    session_conn_options,
    turn_handling,
)
from voice_worker.recorder import CallRecorder, close_outcome
from voice_worker.runtime import (
    CannotStart,
    JobMetadata,
    agent_builder,
    call_data,
    load_spec,
    parse_metadata,
)
from voxie_app.db import session_scope
from voxie_app.services import calls as calls_svc
from voxie_app.settings import Settings, get_settings

log = logging.getLogger("voxie.worker")


def prewarm(proc: JobProcess) -> None:
    """Load Silero VAD once per process, before any job arrives."""
    proc.userdata["vad"] = silero.VAD.load()


def fail_call(call_session_id: uuid.UUID, reason: str) -> None:
    with session_scope() as session:
        calls_svc.end_call_record(
            session=session, call_session_id=call_session_id, status="failed", reason=reason
        )


def _prepare(meta: JobMetadata, settings: Settings, vad: object) -> tuple[Agent, CallData, object]:
    """Build the agent, its userdata and the STT for a job (database reads: run in a thread)."""
    build = agent_builder(settings, voice=True)
    if meta.builder_session_id is not None:
        spec = VOXIE_SPEC
        agent: Agent = VoxieBuilder(
            llm=build_llm(builder_llm_spec(settings), settings), tts=build_tts(spec, settings)
        )
    else:
        assert meta.agent_id is not None
        spec = load_spec(meta.agent_id)
        agent = build(spec, meta.agent_id, None, False)
    data = call_data(
        settings=settings,
        spec=spec,
        agent_id=meta.agent_id,
        call_session_id=meta.call_session_id,
        build=build,
    )
    if meta.builder_session_id is not None:
        data.extra["session_id"] = meta.builder_session_id
    return agent, data, build_stt(spec, settings, vad)  # type: ignore[arg-type]


async def run_call(ctx: JobContext, settings: Settings) -> None:
    """Entry point of one call."""
    try:
        meta = parse_metadata(ctx.job.metadata)
    except CannotStart as exc:
        log.error("job %s refused: %s", ctx.job.id, exc.reason)
        ctx.shutdown(exc.reason)
        return

    vad = ctx.proc.userdata.get("vad")
    try:
        agent, data, stt = await asyncio.to_thread(_prepare, meta, settings, vad)
    except (CannotStart, ProviderMissing) as exc:
        reason = exc.reason if isinstance(exc, CannotStart) else exc.message
        log.error("call %s cannot start: %s", meta.call_session_id, reason)
        await asyncio.to_thread(fail_call, meta.call_session_id, reason)
        ctx.shutdown(reason)
        return
    spec = data.spec

    session: AgentSession = AgentSession(
        stt=stt,
        vad=vad,
        userdata=data,
        turn_handling=turn_handling(spec, settings),
        conn_options=session_conn_options(settings),
    )
    recorder = CallRecorder(call_session_id=meta.call_session_id, settings=settings)
    recorder.attach(session)
    finished = asyncio.Event()

    async def finish(_reason: str = "") -> None:
        if finished.is_set():
            return
        finished.set()
        status, reason = close_outcome(recorder.close_event, data.end_reason)
        await recorder.finish(status=status, reason=reason)
        await analyze_call(call_session_id=meta.call_session_id, settings=settings)

    def on_close(_ev: object) -> None:
        # The caller hung up, the agent ended the call, or a provider failed:
        # close the room for everyone and end the job.
        ctx.shutdown("session closed")

    session.on("close", on_close)
    ctx.add_shutdown_callback(finish)
    await ctx.connect()
    await session.start(agent=agent, room=ctx.room)


settings = get_settings()
# Post-call analysis runs in the job's shutdown callback; give it time to finish
# (missed analyses are caught up by the reconciler loop and `analyze --pending`).
server = AgentServer(setup_fnc=prewarm, shutdown_process_timeout=90.0)


@server.rtc_session(agent_name=settings.agent_name)
async def entrypoint(ctx: JobContext) -> None:
    await run_call(ctx, settings)
