"""The LiveKit worker process: one job per call, dispatched by agent name.

Jobs run on threads of the worker process by default (`VOXIE_JOB_EXECUTOR=thread`),
sharing one copy of the models, or one process per job (`process`, livekit's default
on Linux); `build_server` turns the setting into the `AgentServer`'s options. Each job
reads `{call_session_id, agent_id}` from its metadata, builds the
agent from the stored spec, records the call while it runs, marks it ended
when the session closes, then runs the post-call analysis. A job that cannot
start (bad metadata or spec, missing provider key) ends cleanly with the call
marked `failed` and the reason stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import uuid
from typing import Any

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobExecutorType,
    JobProcess,
)
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


JOB_EXECUTORS = {"thread": JobExecutorType.THREAD, "process": JobExecutorType.PROCESS}

_vad_lock = threading.Lock()
_vad_model: silero.VAD | None = None


def job_vad() -> silero.VAD:
    """A Silero VAD for one job, on the process's one copy of the model.

    The ONNX model is loaded once per process (about 26 MB the first time, 10 MB for
    every further copy) and shared: onnxruntime sessions may run concurrently from
    several threads, and each call's `VADStream` keeps its own recurrent state. The
    `VAD` object itself is not shared: it is an event emitter, and every stream
    reports its metrics on it once a second; a session listens to its VAD's events, so
    with one shared `VAD` every call would receive every other call's VAD metrics
    (on the other call's thread, in thread mode).
    """
    global _vad_model
    with _vad_lock:
        if _vad_model is None:
            _vad_model = silero.VAD.load()  # type: ignore[assignment]
        model = _vad_model
    assert model is not None
    return silero.VAD(session=model._onnx_session, opts=dataclasses.replace(model._opts))


def prewarm(proc: JobProcess) -> None:
    """Before any job arrives: load Silero VAD (once per process, see `job_vad`).

    livekit runs this for every job executor: once per job process in process mode,
    once per job thread (each with its own `proc.userdata`) in thread mode.
    """
    proc.userdata["vad"] = job_vad()


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


def server_options(settings: Settings) -> dict[str, Any]:
    """The `AgentServer` keyword arguments that come from settings or are ours."""
    return {
        "job_executor_type": JOB_EXECUTORS[settings.job_executor],
        "setup_fnc": prewarm,
        # Post-call analysis runs in the job's shutdown callback; give it time to finish
        # (missed analyses are caught up by the reconciler loop and `analyze --pending`).
        "shutdown_process_timeout": 90.0,
    }


def build_server(settings: Settings, **overrides: Any) -> AgentServer:
    """The worker's `AgentServer` (no entrypoint yet). `overrides` are for benchmarks
    and tests, e.g. `port=0` for the health server."""
    return AgentServer(**{**server_options(settings), **overrides})


settings = get_settings()
server = build_server(settings)


@server.rtc_session(agent_name=settings.agent_name)
async def entrypoint(ctx: JobContext) -> None:
    await run_call(ctx, settings)
