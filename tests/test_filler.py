"""Filler while waiting (voice_worker/filler.py): one acknowledgement in a late turn.

A real voice `AgentSession` with no room: the worker's VAD, a scripted STT, the real
openai plugin LLM against the OpenAI double, a tone TTS, and the agent's audio and
transcript through livekit's `TranscriptSynchronizer` as a room would have them. The
recorder writes to the test database. Nothing waits on the wall clock: the filler's
threshold is a `ManualTimer` the test fires, the slow LLM is a reply held by a `gate`
until the test opens it, and the slow tool a local service that answers when told.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import ConversationItemAddedEvent
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer
from sqlmodel import select

from tests.doubles.audio import (
    CapturedAudioOutput,
    ScriptedSTT,
    SpeechInput,
    ToneTTS,
    have_speech_tools,
    synthesize_speech,
    wait_for,
)
from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from tests.doubles.tool_service import CapturedText, ToolService, store_tool
from voice_worker import http_tools
from voice_worker.filler import TurnFiller
from voice_worker.providers import session_conn_options, turn_handling
from voice_worker.recorder import CallRecorder
from voice_worker.runtime import agent_builder, call_data, load_spec
from voice_worker.worker import INPUT_FRAME_MS, INPUT_SAMPLE_RATE, job_vad
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, CallSession, ConversationTurn, TurnMetric
from voxie_app.services import agent_creation
from voxie_app.settings import Settings

GREETING = "Hello, Bright Smile Dental!"
FILLER = "Just a second."
REPLY = "Your cleaning is on Tuesday at ten."
WAIT = "One moment while I check the diary."
TONE_S = 0.2

needs_speech = pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and sox")


class ManualTimer:
    """The filler's `sleep`: each wait ends when the test calls `fire()`."""

    def __init__(self) -> None:
        self.waits: list[tuple[float, asyncio.Future[None]]] = []

    async def __call__(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waits.append((seconds, fut))
        await fut

    def fire(self) -> None:
        for _, fut in self.waits:
            if not fut.done():
                fut.set_result(None)


@pytest.fixture
def env(
    db: str, configure: Callable[..., Settings], openai_double: OpenAIServerDouble, tmp_path: Path
) -> Settings:
    return configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )


@dataclass
class Call:
    """One voice session of a stored agent, wired as the worker wires it."""

    session: AgentSession
    filler: TurnFiller
    timer: ManualTimer
    tts: ToneTTS
    speaker: CapturedAudioOutput
    transcript: CapturedText
    mic: SpeechInput
    recorder: CallRecorder
    call_id: uuid.UUID
    replies: list[str]

    async def start(self, agent: Any) -> None:
        await self.session.start(agent)
        await wait_for(lambda: self.replies == [GREETING], 5, "the greeting")
        await wait_for(lambda: self.session.agent_state == "listening", 5, "the greeting to play")

    async def close(self) -> None:
        self.mic.close()
        await self.session.aclose()
        await self.recorder.finish(status="completed", reason="")

    def rows(self) -> list[tuple[str, str]]:
        with session_scope() as s:
            rows = s.exec(
                select(ConversationTurn)
                .where(ConversationTurn.call_session_id == self.call_id)
                .order_by(ConversationTurn.turn_number)
            ).all()
            return [(r.speaker, r.transcript) for r in rows]


@pytest.fixture
def make_call(env: Settings) -> Callable[..., tuple[Call, Any]]:
    def make(filler_cls: type[TurnFiller] = TurnFiller, **spec: Any) -> tuple[Call, Any]:
        processed = {
            "name": "Dental Bot",
            "instructions": "You are the receptionist of Bright Smile Dental.",
            "greeting": GREETING,
            "filler_message": FILLER,
            "turn_preset": "fast",
            **spec,
        }
        agent_id = agent_creation.submit(user_requirements={}, processed_spec=processed).id
        with session_scope() as s:
            row = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="no-room")
            s.add(row)
        stored = load_spec(agent_id)
        build = agent_builder(env, voice=False)
        data = call_data(
            settings=env, spec=stored, agent_id=agent_id, call_session_id=row.id, build=build
        )
        tts = ToneTTS(duration=TONE_S)
        session: AgentSession = AgentSession(
            stt=ScriptedSTT(["When is my cleaning?", "Sorry, what?"]),
            vad=job_vad(),
            tts=tts,
            userdata=data,
            turn_handling=turn_handling(stored, env),
            conn_options=session_conn_options(env),
        )
        mic = SpeechInput(sample_rate=INPUT_SAMPLE_RATE, frame_ms=INPUT_FRAME_MS)
        speaker = CapturedAudioOutput(playout_speed=1.0)
        transcript = CapturedText()
        sync = TranscriptSynchronizer(next_in_chain_audio=speaker, next_in_chain_text=transcript)
        session.input.audio = mic
        session.output.audio = sync.audio_output
        session.output.transcription = sync.text_output
        timer = ManualTimer()
        data.filler = filler_cls(session, sleep=timer).attach()  # before the recorder
        recorder = CallRecorder(call_session_id=row.id, settings=env)
        recorder.attach(session)
        replies: list[str] = []

        def on_item(ev: ConversationItemAddedEvent) -> None:
            if isinstance(ev.item, ChatMessage) and ev.item.role == "assistant":
                replies.append(ev.item.text_content or "")

        session.on("conversation_item_added", on_item)
        call = Call(
            session, data.filler, timer, tts, speaker, transcript, mic, recorder, row.id, replies
        )
        return call, build(stored, agent_id, None, False)

    return make


def _history(session: AgentSession) -> str:
    return json.dumps(session.history.to_dict())


@needs_speech
async def test_slow_llm_gets_the_filler_once_before_the_reply(
    make_call: Callable[..., tuple[Call, Any]], openai_double: OpenAIServerDouble, tmp_path: Path
) -> None:
    gate = threading.Event()
    openai_double.script(Reply(content=REPLY, gate=gate))
    call, agent = make_call(filler_after_s=2.5)
    speech = await asyncio.to_thread(
        synthesize_speech, "When is my cleaning", sample_rate=INPUT_SAMPLE_RATE
    )
    try:
        await call.start(agent)
        call.mic.say(speech)
        await wait_for(lambda: call.timer.waits and openai_double.requests, 15, "the turn")
        assert [s for s, _ in call.timer.waits] == [2.5]  # the agent's threshold
        call.timer.fire()  # the threshold passes, the LLM still silent
        await wait_for(lambda: len(call.speaker.segments) == 2, 5, "the filler's audio")
        await wait_for(lambda: not call.speaker.playing, 5, "the filler to play")
        gate.set()  # the LLM's first token, after the filler has played
        await wait_for(lambda: len(call.replies) == 2, 10, "the reply")
        await wait_for(lambda: call.session.agent_state == "listening", 5, "the reply to play")
        history = _history(call.session)
    finally:
        gate.set()
        await call.close()

    assert call.filler.said == ["stream"]
    # Said once, on its own, before the reply; neither was cut short.
    assert call.tts.requests == [GREETING, FILLER, REPLY]
    assert len(call.speaker.segments) == 3
    assert not any(s.interrupted for s in call.speaker.segments)
    # ... but in neither the model's context, nor the live transcript, nor the record.
    assert call.replies == [GREETING, REPLY]
    assert FILLER not in history and REPLY in history
    assert FILLER not in call.transcript.text and REPLY in call.transcript.text
    assert call.rows() == [
        ("agent", GREETING),
        ("user", "When is my cleaning?"),
        ("agent", REPLY),
    ]
    # The reply's latency row keeps the LLM's own time to first token (it came after
    # the filler's TONE_S of audio had played), not the filler's.
    with session_scope() as s:
        metrics = s.exec(select(TurnMetric).where(TurnMetric.call_session_id == call.call_id))
        ttfts = [m.llm_ttft for m in metrics.all() if m.llm_ttft is not None]
    assert len(ttfts) == 1 and ttfts[0] >= TONE_S


async def test_fast_llm_gets_no_filler(
    make_call: Callable[..., tuple[Call, Any]], openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(content=REPLY))
    call, agent = make_call()
    try:
        await call.start(agent)
        await call.session.run(user_input="When is my cleaning?")
        # The reply's audio started first: the threshold's wait was called off.
        ((seconds, fut),) = call.timer.waits
        assert seconds == 1.2 and fut.cancelled()
        call.timer.fire()
        await call.session.wait_for_idle()
    finally:
        await call.close()
    assert call.filler.said == []
    assert call.tts.requests == [GREETING, REPLY]


async def test_slow_tool_gets_one_acknowledgement(
    make_call: Callable[..., tuple[Call, Any]],
    openai_double: OpenAIServerDouble,
    tool_service: ToolService,
) -> None:
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-08"})]),
        Reply(content=REPLY),
    )
    call, agent = make_call(custom_tools=[str(store_tool(f"{tool_service.base}/slow"))])
    try:
        await call.start(agent)
        run = asyncio.ensure_future(call.session.run(user_input="Anything free Tuesday?"))
        await wait_for(lambda: tool_service.arrived == ["slow"], 10, "the tool's request")
        call.timer.fire()  # the threshold passes while the tool runs
        await wait_for(lambda: FILLER in call.tts.requests, 5, "the filler")
        await wait_for(lambda: not call.speaker.playing, 5, "the filler to play")
        tool_service.release.set()
        result = await run
        result.expect.next_event().is_function_call(name="check_slots")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        history = _history(call.session)
    finally:
        tool_service.release.set()
        await call.close()
    assert call.filler.said == ["say"]
    assert call.tts.requests == [GREETING, FILLER, REPLY]
    assert FILLER not in history
    assert FILLER not in json.dumps(openai_double.requests[-1]["messages"])
    assert FILLER not in call.transcript.text
    assert ("agent", FILLER) not in call.rows()


async def test_a_tools_own_wait_message_takes_the_turn(
    make_call: Callable[..., tuple[Call, Any]],
    openai_double: OpenAIServerDouble,
    tool_service: ToolService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tool's message waits for the session to be idle this long (the framework's
    # dwell); the filler's threshold is fired well before it.
    monkeypatch.setattr(http_tools, "WAIT_MESSAGE_DELAY_S", 0.5)
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-08"})]),
        Reply(content=REPLY),
    )
    call, agent = make_call(custom_tools=[str(store_tool(f"{tool_service.base}/slow", WAIT))])
    try:
        await call.start(agent)
        run = asyncio.ensure_future(call.session.run(user_input="Anything free Tuesday?"))
        await wait_for(lambda: tool_service.arrived == ["slow"], 10, "the tool's request")
        call.timer.fire()
        await wait_for(lambda: WAIT in call.tts.requests, 5, "the tool's wait message")
        await wait_for(lambda: not call.speaker.playing, 5, "the wait message to play")
        tool_service.release.set()
        await run
    finally:
        tool_service.release.set()
        await call.close()
    assert call.filler.said == []
    assert call.tts.requests == [GREETING, WAIT, REPLY]


class ClaimSpy(TurnFiller):
    """Records the tool's claims on the turn's acknowledgement, and lets the slow
    service answer once the tool has asked (so the test never waits on a clock)."""

    release: asyncio.Event | None = None
    claims: list[bool]

    def claim(self) -> bool:
        got = super().claim()
        self.claims = [*getattr(self, "claims", []), got]
        if self.release is not None:
            self.release.set()
        return got


async def test_after_the_filler_a_tools_wait_message_stays_silent(
    make_call: Callable[..., tuple[Call, Any]],
    openai_double: OpenAIServerDouble,
    tool_service: ToolService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_tools, "WAIT_MESSAGE_DELAY_S", 0.05)
    gate = threading.Event()
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-08"})], gate=gate),
        Reply(content=REPLY),
    )
    call, agent = make_call(
        ClaimSpy, custom_tools=[str(store_tool(f"{tool_service.base}/slow", WAIT))]
    )
    spy = call.filler
    assert isinstance(spy, ClaimSpy)
    spy.release = tool_service.release
    try:
        await call.start(agent)
        run = asyncio.ensure_future(call.session.run(user_input="Anything free Tuesday?"))
        await wait_for(lambda: call.timer.waits and openai_double.requests, 10, "the turn")
        call.timer.fire()  # the LLM is slow: the filler goes first
        await wait_for(lambda: FILLER in call.tts.requests, 5, "the filler")
        gate.set()  # then the model calls the slow tool, which has its own message
        await run
    finally:
        gate.set()
        tool_service.release.set()
        await call.close()
    assert call.filler.said == ["stream"]
    assert spy.claims == [False]
    assert call.tts.requests == [GREETING, FILLER, REPLY]


@needs_speech
async def test_no_filler_over_a_caller_who_is_speaking(
    make_call: Callable[..., tuple[Call, Any]], openai_double: OpenAIServerDouble
) -> None:
    gate = threading.Event()
    openai_double.script(Reply(content="Sorry?", gate=gate))
    openai_double.responder = lambda _body: Reply(content=REPLY)
    call, agent = make_call()
    first, second = await asyncio.gather(
        asyncio.to_thread(synthesize_speech, "When is my cleaning", sample_rate=INPUT_SAMPLE_RATE),
        asyncio.to_thread(
            synthesize_speech, "Actually I meant the check up", sample_rate=INPUT_SAMPLE_RATE
        ),
    )
    try:
        await call.start(agent)
        call.mic.say(first)
        await wait_for(lambda: call.timer.waits and openai_double.requests, 15, "the turn")
        call.mic.say(second)  # the caller goes on while the LLM is still silent
        await wait_for(lambda: call.session.user_state == "speaking", 5, "the caller")
        call.timer.fire()  # the threshold passes while they speak
        await asyncio.sleep(0)
        gate.set()
        await wait_for(lambda: REPLY in call.replies, 15, "the answer to the second turn")
        await wait_for(lambda: call.session.agent_state == "listening", 5, "the reply to play")
    finally:
        gate.set()
        await call.close()
    assert call.filler.said == []
    assert FILLER not in call.tts.requests


async def test_an_empty_filler_message_turns_it_off(
    make_call: Callable[..., tuple[Call, Any]], openai_double: OpenAIServerDouble
) -> None:
    gate = threading.Event()
    openai_double.script(Reply(content=REPLY, gate=gate))
    call, agent = make_call(filler_message="")
    try:
        await call.start(agent)
        run = asyncio.ensure_future(call.session.run(user_input="When is my cleaning?"))
        await wait_for(lambda: bool(openai_double.requests), 10, "the LLM request")
        assert call.timer.waits == []  # nothing armed
        call.timer.fire()
        gate.set()
        await run
    finally:
        gate.set()
        await call.close()
    assert call.filler.said == []
    assert call.tts.requests == [GREETING, REPLY]


def test_the_spec_bounds_the_filler() -> None:
    base = {"name": "A", "instructions": "B"}
    spec = AgentSpec.model_validate(base)
    assert (spec.filler_message, spec.filler_after_s) == ("One moment.", 1.2)
    assert AgentSpec.model_validate({**base, "filler_message": "  "}).filler_message == ""
    for bad in (
        {"filler_after_s": 0.2},
        {"filler_after_s": 6.0},
        {"filler_after_s": "1.5"},
        {"filler_message": "x" * 101},
        {"filler_message": "One\x00moment"},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            AgentSpec.model_validate({**base, **bad})
