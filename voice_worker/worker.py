"""The LiveKit worker process: one job per call, dispatched by agent name.

Jobs run on threads of the worker process by default (`VOXIE_JOB_EXECUTOR=thread`),
sharing one copy of the models, or one process per job (`process`, livekit's default
on Linux); `build_server` turns the setting into the `AgentServer`'s options. Each job
reads `{call_session_id, agent_id}` from its metadata, builds the
agent from the stored spec, records the call while it runs, marks it ended
when the session closes, then runs the post-call analysis. A job that cannot
start (bad metadata or spec, missing provider key) ends cleanly with the call
marked `failed` and the reason stored.

An inbound phone call has no row yet: LiveKit SIP's dispatch rule sends
`{phone_number_id, agent_id}`, so the job waits for the SIP participant, has
`services.phone_calls` write the row from its `sip.*` attributes, and then runs as
any call, with a `PhoneLine` relaying key presses and the caller's hang-up. Where a
job touches the room is in `RoomSeams`, which tests replace with fakes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Any

from livekit import local_inference
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobExecutorType,
    JobProcess,
    inference,
    room_io,
)
from livekit.agents import vad as lk_vad

from voice_worker import http_tools, phone, phone_features
from voice_worker.analysis import analyze_call
from voice_worker.answer import wait_for_answer
from voice_worker.builder_agent import VOXIE_SPEC, VoxieBuilder, builder_llm_spec
from voice_worker.calldata import CallData
from voice_worker.filler import TurnFiller
from voice_worker.providers import (
    TURN_PRESETS,
    ProviderMissing,
    build_llm,
    build_stt,
    build_tts,
    session_conn_options,
    streams_words,
    turn_handling,
    vad_min_silence,
)
from voice_worker.realtime import realtime_session
from voice_worker.recorder import CallRecorder, close_outcome
from voice_worker.runtime import (
    CannotStart,
    JobMetadata,
    agent_builder,
    call_data,
    load_call_context,
    load_spec,
    parse_metadata,
)
from voxie_app.db import session_scope
from voxie_app.services import call_limits, phone_calls
from voxie_app.services import calls as calls_svc
from voxie_app.settings import Settings, get_settings

log = logging.getLogger("voxie.worker")


JOB_EXECUTORS = {"thread": JobExecutorType.THREAD, "process": JobExecutorType.PROCESS}
# Silence that ends the caller's speech for the VAD until the call's spec is loaded; then
# the agent's turn preset sets it (`providers.TURN_PRESETS`, README "Turn-taking").
VAD_MIN_SILENCE_SECONDS = TURN_PRESETS["default"].vad_min_silence
# What the room delivers to the session: 16 kHz mono in 50 ms frames. Every consumer of
# the caller's audio works at 16 kHz (the VAD, the end-of-turn model, Deepgram's stream;
# OpenAI's STT takes any rate), so at livekit's default of 24 kHz each of them would
# resample every frame; the room's decoder resamples once, natively, instead.
INPUT_SAMPLE_RATE = 16000
INPUT_FRAME_MS = 50
# livekit-agents preloads its local models (VAD and the ~240 MB end-of-turn model) into
# the worker unless this is set to a false value.
PRELOAD_LOCAL_MODELS_ENV = "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE"
# livekit's watchdog reports a call's event loop blocked for at least this long (ms); it
# checks five times per threshold (at least every 20 ms), waking the loop and a thread
# of its own each time. livekit's default is 100 ms (100 wake-ups a second per call);
# at 250 ms it checks every 50 ms (40 a second) and still reports any block of 250 ms+.
LOOP_BLOCK_WARN_ENV = "LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS"
LOOP_BLOCK_WARN_MS = "250"


class InlineExecutor(Executor):
    """Runs what is submitted at once, in the submitting thread.

    For the VAD's inference: livekit hands each 32 ms window (31 a second per call) to an
    executor thread, but the native Silero model answers in about 20 microseconds, much
    less than the two thread wake-ups the hand-off costs; inline, the call's event loop
    spends about 0.6 ms a second on it.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered to whoever awaits it
            future.set_exception(exc)
        return future


_INLINE = InlineExecutor()


def job_vad() -> lk_vad.VAD:
    """The VAD for one job: livekit's built-in Silero VAD (the framework's default).

    Its model is a process-wide singleton of livekit's native runtime, loaded once and
    shared by every job of the process (each stream keeps its own recurrent state), and
    it runs in about half the CPU of the `livekit-plugins-silero` ONNX session. The
    `VAD` object itself is one per job: it is an event emitter, every stream reports its
    metrics on it once a second, and a session listens to its VAD; with one shared
    `VAD` every call would receive every other call's VAD metrics (on the other call's
    thread, in thread mode). Inference runs inline (`InlineExecutor`).
    """
    return inference.VAD(min_silence_duration=VAD_MIN_SILENCE_SECONDS, executor=_INLINE)


def prewarm(proc: JobProcess) -> None:
    """Before any job arrives: load the VAD model (once per process) and make the job's VAD.

    livekit runs this for every job executor: once per job process in process mode,
    once per job thread (each with its own `proc.userdata`) in thread mode.
    """
    local_inference.init_vad()  # idempotent; otherwise the first call pays it on its loop
    proc.userdata["vad"] = job_vad()


def room_options(participant_identity: str | None = None) -> room_io.RoomOptions:
    """How the session uses the room: the caller's audio at `INPUT_SAMPLE_RATE`, from
    `participant_identity` when given (a phone call's SIP participant), else from the
    first participant who joins."""
    extra: dict[str, Any] = {}
    if participant_identity:
        extra["participant_identity"] = participant_identity
    return room_io.RoomOptions(
        audio_input=room_io.AudioInputOptions(
            sample_rate=INPUT_SAMPLE_RATE, frame_size_ms=INPUT_FRAME_MS
        ),
        **extra,
    )


def framework_defaults(settings: Settings) -> None:
    """livekit-agents settings that only exist as environment variables, given Voxie's
    defaults here (before the server starts; job processes and threads inherit them).
    A value already in the environment wins.

    - With VAD turn detection nothing uses livekit's end-of-turn model: do not preload its
      weights (about 240 MB of RSS in the worker, or in the forkserver that job processes
      are forked from).
    - The loop watchdog's threshold: see `LOOP_BLOCK_WARN_MS`.
    """
    if settings.turn_detection == "vad":
        os.environ.setdefault(PRELOAD_LOCAL_MODELS_ENV, "0")
    os.environ.setdefault(LOOP_BLOCK_WARN_ENV, LOOP_BLOCK_WARN_MS)


def fail_call(call_session_id: uuid.UUID, reason: str) -> None:
    with session_scope() as session:
        calls_svc.end_call_record(
            session=session, call_session_id=call_session_id, status="failed", reason=reason
        )


async def _start_in_room(
    ctx: JobContext, session: AgentSession, agent: Agent, options: room_io.RoomOptions
) -> None:
    """Join the room (a phone call's job has already) and start the session in it."""
    if not ctx.room.isconnected():
        await ctx.connect()
    await session.start(agent=agent, room=ctx.room, room_options=options)


@dataclass(frozen=True)
class RoomSeams:
    """Where a job touches the LiveKit room, so tests can fake the room's side: the
    SIP participant (with its `sip.*` attributes), the not-in-service message, and
    starting the session in the room."""

    wait_for_sip_caller: Callable[[JobContext], Awaitable[Any]] = phone.wait_for_sip_caller
    not_in_service: Callable[[JobContext, Settings], Awaitable[None]] = phone.say_not_in_service
    busy: Callable[[JobContext, Settings], Awaitable[None]] = phone.say_busy
    start_session: Callable[
        [JobContext, AgentSession, Agent, room_io.RoomOptions], Awaitable[None]
    ] = _start_in_room


ROOM = RoomSeams()


def _open_inbound(
    meta: JobMetadata, attributes: dict[str, str], room_name: str, settings: Settings
):
    with session_scope() as session:
        return phone_calls.open_inbound_call(
            session=session,
            phone_number_id=meta.phone_number_id,
            metadata_agent_id=meta.agent_id,
            attributes=attributes,
            room_name=room_name,
            settings=settings,
        )


async def answer_inbound(
    ctx: JobContext, meta: JobMetadata, settings: Settings, seams: RoomSeams
) -> tuple[JobMetadata, Any] | None:
    """An inbound phone call's start: wait for the SIP caller and write the call row.

    Returns the job's metadata completed with the new row's id and the answering
    agent, and the SIP participant; or None when the job ends here (no caller came,
    the number is not in service, or a concurrent-call limit is full: the caller is
    told so and the row says why).
    """
    caller = await seams.wait_for_sip_caller(ctx)
    if caller is None:
        ctx.shutdown("no SIP participant joined")
        return None
    try:
        opened = await asyncio.to_thread(
            _open_inbound, meta, dict(caller.attributes or {}), ctx.room.name, settings
        )
    except Exception:
        log.exception("could not record the phone call in room %s", ctx.room.name)
        ctx.shutdown("could not record the phone call")
        return None
    refusal = None
    if opened.busy:
        refusal = ("busy (a concurrent-call limit is full)", seams.busy, call_limits.BUSY)
    elif not opened.in_service:
        refusal = (
            "the number is not in service (no ready agent bound)",
            seams.not_in_service,
            phone_calls.NOT_IN_SERVICE,
        )
    if refusal is not None:
        why, tell_the_caller, reason = refusal
        log.warning("call %s to %s: %s", opened.call_session_id, opened.called_number, why)
        await tell_the_caller(ctx, settings)
        ctx.shutdown(reason)
        return None
    return replace(meta, call_session_id=opened.call_session_id, agent_id=opened.agent_id), caller


def _prepare(
    meta: JobMetadata, settings: Settings, vad: object
) -> tuple[Agent, CallData, object | None]:
    """Build the agent, its userdata and the STT for a job (database reads: run in a thread)."""
    context = None if meta.builder_session_id else load_call_context(meta.call_session_id, settings)
    line = (
        None
        if meta.builder_session_id
        else phone_features.prepare_line(meta.call_session_id, settings)
    )
    build = agent_builder(settings, voice=True, context=context, phone_call=line is not None)
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
    data.phone = line
    if spec.pipeline == "realtime" and meta.builder_session_id is None:
        return agent, data, None  # the Realtime model hears the caller itself
    return agent, data, build_stt(spec, settings, vad)  # type: ignore[arg-type]


async def run_call(ctx: JobContext, settings: Settings, seams: RoomSeams = ROOM) -> None:
    """Entry point of one call."""
    try:
        meta = parse_metadata(ctx.job.metadata)
    except CannotStart as exc:
        log.error("job %s refused: %s", ctx.job.id, exc.reason)
        ctx.shutdown(exc.reason)
        return
    caller: Any = None  # a phone call's SIP participant
    if meta.phone_number_id is not None:
        answered = await answer_inbound(ctx, meta, settings, seams)
        if answered is None:
            return
        meta, caller = answered
    call_id = meta.call_session_id
    assert call_id is not None

    vad = ctx.proc.userdata.get("vad")
    try:
        agent, data, stt = await asyncio.to_thread(_prepare, meta, settings, vad)
    except (CannotStart, ProviderMissing) as exc:
        reason = exc.reason if isinstance(exc, CannotStart) else exc.message
        log.error("call %s cannot start: %s", call_id, reason)
        await asyncio.to_thread(fail_call, call_id, reason)
        ctx.shutdown(reason)
        return
    spec = data.spec
    if isinstance(vad, lk_vad.VAD) and hasattr(vad, "update_options"):
        # The agent's turn preset: how much silence ends the caller's speech.
        vad.update_options(min_silence_duration=vad_min_silence(spec))

    if stt is None:  # speech-to-speech: the model's server VAD takes the turns
        session: AgentSession = realtime_session(data, vad, settings)
    else:
        session = AgentSession(
            stt=stt,
            vad=vad,
            userdata=data,
            turn_handling=turn_handling(spec, settings, word_stt=streams_words(stt)),
            conn_options=session_conn_options(settings),
        )
        # The filler rule first: it corrects a reply's latency metrics before the recorder
        # writes them (voice_worker/filler.py). A realtime agent has no TTS to say it.
        data.filler = TurnFiller(session).attach()
    recorder = CallRecorder(call_session_id=call_id, settings=settings)
    recorder.attach(session)
    data.room = ctx.room
    # The phone line's far end: the SIP caller (inbound) or the callee (outbound). Its key
    # presses reach the agent and its hang-up ends the call (`phone.PhoneLine`).
    line_identity: str | None = None
    if caller is not None:
        line_identity = caller.identity
    elif meta.outbound is not None:
        line_identity = meta.outbound.participant_identity
    relay = None
    if line_identity is not None:
        relay = phone.PhoneLine(
            room=ctx.room, session=session, caller_identity=line_identity, data=data
        )
    finished = asyncio.Event()

    async def finish(_reason: str = "") -> None:
        if finished.is_set():
            return
        finished.set()
        if relay is not None:
            relay.detach()
        status, reason = close_outcome(recorder.close_event, data.end_reason, data.end_status)
        await recorder.finish(status=status, reason=reason)
        await http_tools.close_clients()
        await analyze_call(call_session_id=call_id, settings=settings)

    def on_close(_ev: object) -> None:
        # The caller hung up, the agent ended the call, or a provider failed:
        # close the room for everyone and end the job.
        ctx.shutdown("session closed")

    session.on("close", on_close)
    ctx.add_shutdown_callback(finish)
    if meta.outbound is not None:  # an outbound phone call: say nothing to a ringing line
        if not ctx.room.isconnected():
            await ctx.connect()
        why = await wait_for_answer(
            ctx.room, identity=meta.outbound.participant_identity, within_s=meta.outbound.wait_s
        )
        if why is not None:
            log.info("call %s not answered: %s", meta.call_session_id, why)
            finished.set()  # nothing to record here: the dialler records the dial's outcome
            await recorder.discard()
            ctx.shutdown(why)
            return
    await seams.start_session(ctx, session, agent, room_options(line_identity))
    phone_features.session_started(ctx.room, session, data)
    if relay is not None:
        relay.attach()


# What `CallLoad` reports at the cap. livekit marks a worker full when its load reaches
# `load_threshold` (it refuses availability requests and tells the server `WS_FULL`).
FULL_LOAD = 1.0


class CallLoad:
    """The worker's load for LiveKit's dispatcher: its running calls over the cap.

    livekit's default load is the machine's CPU use (full at 70%), which says little
    about a thread-mode worker: its Python work is bound to one core whatever the
    machine has, and a call's cost is nearly constant (bench/worker_resources). The
    call count is what we sized, so it is what the worker reports: at
    `VOXIE_MAX_CALLS_PER_WORKER` running calls the load is `FULL_LOAD`, the worker
    answers "not available" to new jobs, and LiveKit dispatches them to another worker.
    livekit calls it with the `AgentServer` (on an executor thread, every 0.5 s and
    before each availability answer).
    """

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("the call cap must be at least 1")
        self.cap = cap

    def __call__(self, server: Any) -> float:
        return min(len(server.active_jobs) / self.cap, FULL_LOAD)


def server_options(settings: Settings) -> dict[str, Any]:
    """The `AgentServer` keyword arguments that come from settings or are ours."""
    options: dict[str, Any] = {}
    if settings.job_executor == "thread":
        # livekit keeps one warm executor per CPU (up to 4) waiting for calls: right for
        # processes, which take seconds to start. A job thread starts in milliseconds
        # (the models are already in the process), and every idle one runs an event loop
        # and livekit's loop watchdog (about 0.4% of a core each): keep one.
        options["num_idle_processes"] = 1
    return {
        **options,
        "job_executor_type": JOB_EXECUTORS[settings.job_executor],
        "setup_fnc": prewarm,
        "load_fnc": CallLoad(settings.max_calls_per_worker),
        "load_threshold": FULL_LOAD,
        # SIGTERM (in `start` mode) drains: no new jobs, active calls run to their end
        # for up to this long, then the worker closes (README "The voice worker").
        "drain_timeout": settings.worker_drain_seconds,
        # Post-call analysis runs in the job's shutdown callback; give it time to finish
        # (missed analyses are caught up by the reconciler loop and `analyze --pending`).
        "shutdown_process_timeout": 90.0,
    }


def build_server(settings: Settings, **overrides: Any) -> AgentServer:
    """The worker's `AgentServer` (no entrypoint yet). `overrides` are for benchmarks
    and tests, e.g. `port=0` for the health server."""
    framework_defaults(settings)
    return AgentServer(**{**server_options(settings), **overrides})


settings = get_settings()
server = build_server(settings)


@server.rtc_session(agent_name=settings.agent_name)
async def entrypoint(ctx: JobContext) -> None:
    await run_call(ctx, settings)
