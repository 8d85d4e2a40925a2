"""Worker entry: jobs that cannot start end cleanly with the call marked failed; the
job executor setting reaches the `AgentServer`; jobs share the VAD model safely."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import AgentServer, JobExecutorType, inference
from livekit.agents.telemetry.loop_monitor import LoopMonitorThresholds
from livekit.agents.utils import is_given
from pydantic import ValidationError

from voice_worker import realtime
from voice_worker.filler import TurnFiller
from voice_worker.providers import TURN_PRESETS
from voice_worker.worker import (
    LOOP_BLOCK_WARN_ENV,
    PRELOAD_LOCAL_MODELS_ENV,
    VAD_MIN_SILENCE_SECONDS,
    RoomSeams,
    build_server,
    job_vad,
    prewarm,
    room_options,
    run_call,
)
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession
from voxie_app.services import agent_creation
from voxie_app.services.reconciler import reconcile
from voxie_app.settings import Settings

SPEC = {"name": "Dental Bot", "instructions": "You help.", "greeting": "Hi!"}


class FakeJobContext:
    """Just enough of `JobContext` for the paths that end before a room is joined."""

    def __init__(self, metadata: str) -> None:
        self.job = SimpleNamespace(id="job-1", metadata=metadata)
        self.proc = SimpleNamespace(userdata={"vad": None})
        self.shutdown_reasons: list[str] = []
        self.connected = False

    def shutdown(self, reason: str = "") -> None:
        self.shutdown_reasons.append(reason)

    def add_shutdown_callback(self, _cb: object) -> None:
        raise AssertionError("a failed start must not register call callbacks")

    async def connect(self) -> None:
        self.connected = True


def _call(agent_id: uuid.UUID | None) -> uuid.UUID:
    with session_scope() as s:
        call = CallSession(session_id="s", agent_id=agent_id, room_name="room")
        s.add(call)
    return call.id


def _row(call_id: uuid.UUID) -> CallSession:
    with session_scope() as s:
        return s.get(CallSession, call_id)


async def test_bad_metadata_is_refused(db: str, configure: Callable[..., Settings]) -> None:
    ctx = FakeJobContext("not json")
    await run_call(ctx, configure())  # type: ignore[arg-type]
    assert ctx.shutdown_reasons == ["bad job metadata: JSONDecodeError"]
    assert not ctx.connected


async def test_missing_agent_marks_call_failed(db: str, configure: Callable[..., Settings]) -> None:
    call_id = _call(None)
    missing = uuid.uuid4()
    ctx = FakeJobContext(json.dumps({"call_session_id": str(call_id), "agent_id": str(missing)}))
    await run_call(ctx, configure(OPENAI_API_KEY="k"))  # type: ignore[arg-type]
    row = _row(call_id)
    assert row.call_status == "failed"
    assert f"agent {missing}" in row.end_reason and "not found" in row.end_reason
    assert ctx.shutdown_reasons and not ctx.connected


async def test_missing_provider_key_marks_call_failed(
    db: str, configure: Callable[..., Settings]
) -> None:
    agent = agent_creation.submit(user_requirements={}, processed_spec=SPEC)
    call_id = _call(agent.id)
    ctx = FakeJobContext(json.dumps({"call_session_id": str(call_id), "agent_id": str(agent.id)}))
    await run_call(ctx, configure())  # type: ignore[arg-type]
    row = _row(call_id)
    assert row.call_status == "failed"
    assert "OPENAI_API_KEY" in row.end_reason
    assert ctx.shutdown_reasons == [row.end_reason]


async def test_missing_speech_provider_marks_call_failed(
    db: str, configure: Callable[..., Settings]
) -> None:
    # Deepgram and Cartesia cover speech, but the agent still needs an LLM.
    agent = agent_creation.submit(user_requirements={}, processed_spec=SPEC)
    call_id = _call(agent.id)
    ctx = FakeJobContext(json.dumps({"call_session_id": str(call_id), "agent_id": str(agent.id)}))
    await run_call(ctx, configure(DEEPGRAM_API_KEY="dg", CARTESIA_API_KEY="ca"))  # type: ignore[arg-type]
    assert "no LLM configured" in _row(call_id).end_reason


async def test_invalid_stored_spec_marks_call_failed(
    db: str, configure: Callable[..., Settings]
) -> None:
    agent = agent_creation.submit(user_requirements={}, processed_spec=SPEC)
    with session_scope() as s:
        from voxie_app.models import Agent

        row = s.get(Agent, agent.id)
        row.processed_spec = {**SPEC, "temperature": 99}
        s.add(row)
    call_id = _call(agent.id)
    ctx = FakeJobContext(json.dumps({"call_session_id": str(call_id), "agent_id": str(agent.id)}))
    await run_call(ctx, configure(OPENAI_API_KEY="k"))  # type: ignore[arg-type]
    assert "invalid spec" in _row(call_id).end_reason


@pytest.mark.parametrize("idle_minutes", [30])
def test_reconciler_marks_only_stale_active_calls(db: str, idle_minutes: int) -> None:
    now = utcnow()
    with session_scope() as s:
        stale = CallSession(
            session_id="a",
            room_name="r1",
            started_at=now - timedelta(hours=2),
            last_activity_at=now - timedelta(minutes=idle_minutes),
        )
        never_seen = CallSession(
            session_id="b", room_name="r2", started_at=now - timedelta(hours=1)
        )
        fresh = CallSession(
            session_id="c",
            room_name="r3",
            started_at=now - timedelta(hours=2),
            last_activity_at=now - timedelta(minutes=1),
        )
        ended = CallSession(
            session_id="d",
            room_name="r4",
            started_at=now - timedelta(hours=3),
            ended_at=now - timedelta(hours=2),
            call_status="completed",
        )
        s.add_all([stale, never_seen, fresh, ended])
    with session_scope() as s:
        failed = reconcile(session=s, idle_seconds=15 * 60, now=now)
    assert sorted(failed) == sorted([str(stale.id), str(never_seen.id)])
    assert _row(stale.id).call_status == "failed"
    assert _row(stale.id).end_reason == "abandoned"
    assert _row(fresh.id).call_status == "active"
    assert _row(ended.id).call_status == "completed"
    with session_scope() as s:  # idempotent
        assert reconcile(session=s, idle_seconds=15 * 60, now=now) == []


async def test_builder_call_without_llm_marks_call_failed(
    db: str, configure: Callable[..., Settings]
) -> None:
    call_id = _call(None)
    ctx = FakeJobContext(
        json.dumps({"call_session_id": str(call_id), "builder": True, "session_id": "b1"})
    )
    await run_call(ctx, configure(DEEPGRAM_API_KEY="dg"))  # type: ignore[arg-type]
    assert "no LLM configured" in _row(call_id).end_reason


@pytest.mark.parametrize(
    "metadata",
    [
        {"call_session_id": "not-a-uuid", "agent_id": str(uuid.uuid4())},
        {"call_session_id": str(uuid.uuid4())},
        {"call_session_id": str(uuid.uuid4()), "builder": True},
        ["a", "list"],
    ],
)
async def test_malformed_metadata_is_refused(
    db: str, configure: Callable[..., Settings], metadata: object
) -> None:
    ctx = FakeJobContext(json.dumps(metadata))
    await run_call(ctx, configure())  # type: ignore[arg-type]
    assert ctx.shutdown_reasons[0].startswith("bad job metadata")


# ---------------------------------------------------------------- job executor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, JobExecutorType.THREAD),  # the default
        ("thread", JobExecutorType.THREAD),
        ("process", JobExecutorType.PROCESS),
        (" Process ", JobExecutorType.PROCESS),
    ],
)
def test_job_executor_setting_reaches_the_agent_server(
    configure: Callable[..., Settings], value: str | None, expected: JobExecutorType
) -> None:
    server = build_server(configure(VOXIE_JOB_EXECUTOR=value))
    assert server._job_executor_type is expected
    assert server.setup_fnc is prewarm


def test_bad_job_executor_is_refused_naming_the_setting_and_the_choices(
    configure: Callable[..., Settings],
) -> None:
    with pytest.raises(ValidationError) as caught:
        configure(VOXIE_JOB_EXECUTOR="fork")
    message = str(caught.value)
    assert "VOXIE_JOB_EXECUTOR" in message
    assert "'thread' or 'process'" in message


def test_each_job_gets_its_own_vad_on_the_shared_model() -> None:
    """Thread mode runs prewarm once per job, in the job's thread, each with its own
    `proc.userdata`: every job gets its own `VAD` (an event emitter) of livekit's native
    Silero, whose model is one per process."""
    procs = [SimpleNamespace(userdata={}) for _ in range(4)]
    threads = [threading.Thread(target=prewarm, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    vads = [p.userdata["vad"] for p in procs]
    assert all(isinstance(v, inference.VAD) for v in vads)
    assert len({id(v) for v in vads}) == 4
    assert vads[0].min_silence_duration == VAD_MIN_SILENCE_SECONDS


def test_vad_turn_detection_skips_the_end_of_turn_model_preload(
    configure: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PRELOAD_LOCAL_MODELS_ENV, raising=False)
    build_server(configure(VOXIE_TURN_DETECTION="model"))
    assert PRELOAD_LOCAL_MODELS_ENV not in os.environ
    build_server(configure(VOXIE_TURN_DETECTION="vad"))
    assert os.environ[PRELOAD_LOCAL_MODELS_ENV] == "0"
    monkeypatch.setenv(PRELOAD_LOCAL_MODELS_ENV, "1")  # the operator's choice wins
    build_server(configure())
    assert os.environ[PRELOAD_LOCAL_MODELS_ENV] == "1"


def test_loop_watchdog_threshold_defaults_to_250_ms_unless_set(
    configure: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(LOOP_BLOCK_WARN_ENV, raising=False)
    build_server(configure())
    assert os.environ[LOOP_BLOCK_WARN_ENV] == "250"
    assert LoopMonitorThresholds.from_env() == LoopMonitorThresholds(warn=0.25, error=0.5)
    monkeypatch.setenv(LOOP_BLOCK_WARN_ENV, "100")
    build_server(configure())
    assert os.environ[LOOP_BLOCK_WARN_ENV] == "100"


def test_thread_mode_keeps_one_idle_executor(configure: Callable[..., Settings]) -> None:
    assert build_server(configure())._num_idle_processes == 1
    # process mode keeps livekit's default (a warm process per CPU, up to 4)
    process = build_server(configure(VOXIE_JOB_EXECUTOR="process"))
    assert process._num_idle_processes == AgentServer._default_num_idle_processes


async def test_a_jobs_vad_metrics_reach_only_that_job() -> None:
    first, second = job_vad(), job_vad()
    heard: dict[str, int] = {"first": 0, "second": 0}
    first.on("metrics_collected", lambda _m: heard.__setitem__("first", heard["first"] + 1))
    second.on("metrics_collected", lambda _m: heard.__setitem__("second", heard["second"] + 1))
    stream = first.stream()
    silence = rtc.AudioFrame(bytes(3200), 16000, 1, 1600)  # 100 ms
    for _ in range(15):  # 1.5 s: at least one metrics report (one per ~31 inferences)
        stream.push_frame(silence)
    stream.end_input()
    async for _ev in stream:
        pass
    await stream.aclose()
    assert heard["first"] >= 1
    assert heard["second"] == 0


def test_the_room_delivers_the_callers_audio_at_16_khz() -> None:
    audio = room_options().get_audio_input_options()
    assert audio is not None
    assert (audio.sample_rate, audio.num_channels, audio.frame_size_ms) == (16000, 1, 50)


# ----------------------------------------------------------------- our CLI


@pytest.mark.parametrize("command", ["analyze", "reconcile"])
def test_cli_commands_have_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from voice_worker.__main__ import main

    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"Usage: python -m voice_worker {command}" in out
    assert ("--pending" in out) == (command == "analyze")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze"], "give either CALL_ID or --pending"),
        (["analyze", "--pending", str(uuid.uuid4())], "give either CALL_ID or --pending"),
        (["analyze", "not-a-call"], "Invalid value for 'call_id'"),
        (["analyze", "--everything"], "No such option"),
        (["reconcile", "extra"], "Got unexpected extra argument"),
    ],
)
def test_cli_usage_errors_exit_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from voice_worker.__main__ import main

    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Usage: python -m voice_worker" in err
    assert message in err


class StartedJobContext(FakeJobContext):
    """A job that gets as far as starting its session (in a room the test fakes)."""

    def __init__(self, metadata: str, vad: object) -> None:
        super().__init__(metadata)
        self.proc = SimpleNamespace(userdata={"vad": vad})
        self.room = SimpleNamespace(name="room", isconnected=lambda: True)
        self.callbacks: list[Callable[[str], Any]] = []

    def add_shutdown_callback(self, cb: Callable[[str], Any]) -> None:
        self.callbacks.append(cb)


async def _started_call(spec: dict, settings: Settings, vad: Any) -> tuple[Any, Any, Any]:
    """Run a job for a new call of a new agent with `spec` up to the session's start (the
    room's side faked): its context, session and agent."""
    agent_id = agent_creation.submit(user_requirements={}, processed_spec=spec).id
    call_id = _call(agent_id)
    ctx = StartedJobContext(
        json.dumps({"call_session_id": str(call_id), "agent_id": str(agent_id)}), vad
    )
    started: list[Any] = []

    async def start_session(_ctx: Any, session: Any, agent: Any, _options: Any) -> None:
        started.append((session, agent))

    await run_call(ctx, settings, RoomSeams(start_session=start_session))  # type: ignore[arg-type]
    ((session, agent),) = started
    return ctx, session, agent


@pytest.mark.parametrize("preset", ["fast", "patient"])
async def test_the_worker_gives_the_session_the_agents_turn_preset(
    db: str, configure: Callable[..., Settings], preset: str
) -> None:
    """The preset's endpointing reaches the call's session and its VAD silence the job's
    VAD (which starts at another value here), and the filler rule is attached."""
    chosen = TURN_PRESETS[preset]
    vad = inference.VAD(min_silence_duration=0.9)
    ctx, session, agent = await _started_call(
        {**SPEC, "turn_preset": preset}, configure(OPENAI_API_KEY="k"), vad
    )
    try:
        assert vad.min_silence_duration == chosen.vad_min_silence
        for key, value in chosen.endpointing.items():
            assert session.options.endpointing[key] == value
        assert isinstance(session.userdata.filler, TurnFiller)
        assert session.userdata.filler.session is session
        assert agent.spec.turn_preset == preset
    finally:
        for cb in ctx.callbacks:
            await cb("session closed")


REALTIME_SPEC = {**SPEC, "pipeline": "realtime", "realtime_voice": "cedar"}


async def test_realtime_agent_without_openai_key_is_refused_at_call_start(
    db: str, configure: Callable[..., Settings]
) -> None:
    configure(OPENAI_API_KEY="k")  # saved while the key was set
    agent = agent_creation.submit(user_requirements={}, processed_spec=REALTIME_SPEC)
    call_id = _call(agent.id)
    ctx = FakeJobContext(json.dumps({"call_session_id": str(call_id), "agent_id": str(agent.id)}))
    await run_call(ctx, configure(OPENAI_API_KEY=None, DEEPGRAM_API_KEY="dg"))  # type: ignore[arg-type]
    row = _row(call_id)
    assert row.call_status == "failed"
    assert row.end_reason == "a realtime agent needs OPENAI_API_KEY (OpenAI Realtime API)"
    assert ctx.shutdown_reasons == [row.end_reason]


async def test_the_worker_runs_a_realtime_agent_on_the_realtime_model_alone(
    db: str, configure: Callable[..., Settings]
) -> None:
    """A realtime call's session has no STT, TTS or filler; its agent's LLM is the
    spec's Realtime model and voice, and no turn preset is applied (the server's VAD)."""
    vad = inference.VAD(min_silence_duration=0.9)
    ctx, session, agent = await _started_call(REALTIME_SPEC, configure(OPENAI_API_KEY="k"), vad)
    try:
        assert (session.stt, session.tts) == (None, None)
        assert not is_given(agent.tts)
        assert isinstance(agent.llm, realtime.VoxieRealtimeModel)
        assert (agent.llm.model, agent.llm._opts.voice) == ("gpt-realtime", "cedar")
        assert session.userdata.filler is None
    finally:
        for cb in ctx.callbacks:
            await cb("session closed")
        await agent.llm.aclose()
