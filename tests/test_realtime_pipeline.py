"""A realtime (speech-to-speech) call with no room, all of it recorded.

The agent is Voxie's `SpecAgent` built by `agent_builder` from a stored spec with
`pipeline: realtime`, so its LLM is the real `livekit-plugins-openai` `RealtimeModel`
with `base_url` pointed at the local OpenAI Realtime double
(`tests/doubles/realtime_server.py`). The session is the worker's own realtime
session (`realtime.realtime_session`: no STT, no TTS). The caller's audio is
espeak-ng speech fed in real time through a captured `AudioInput`; the model's audio
lands in a captured `AudioOutput`. The `CallRecorder` writes to the test database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import ConversationItemAddedEvent
from sqlmodel import select

from tests.doubles.audio import (
    CapturedAudioOutput,
    SpeechInput,
    have_speech_tools,
    rms,
    synthesize_speech,
    wait_for,
)
from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from tests.doubles.realtime_server import SAMPLE_RATE, RealtimeServerDouble, RtReply, usage_of
from voice_worker import realtime
from voice_worker.recorder import CallRecorder, close_outcome
from voice_worker.runtime import agent_builder, call_data, load_spec
from voice_worker.spec_agent import SpecAgent
from voice_worker.text_chat import TextChat
from voice_worker.worker import INPUT_FRAME_MS, INPUT_SAMPLE_RATE, job_vad
from voxie_app.db import session_scope
from voxie_app.models import CallSession, ConversationTurn, TokenUsage, TurnMetric
from voxie_app.services import agent_creation, pricing
from voxie_app.settings import Settings

pytestmark = pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and sox")

GREETING = "Hello, Bright Smile Dental!"
HEARD = "My name is Ada Lovelace."
REPLY = "Thank you Ada, I saved your name."


@pytest.fixture
def rt_double() -> RealtimeServerDouble:
    with RealtimeServerDouble() as server:
        yield server


def _realtime_agent(**spec: object) -> uuid.UUID:
    return agent_creation.submit(
        user_requirements={},
        processed_spec={
            "name": "Dental Bot",
            "instructions": "You are the receptionist of Bright Smile Dental.",
            "greeting": GREETING,
            "pipeline": "realtime",
            **spec,
        },
    ).id


def _start(
    configure: Callable[..., Settings], rt_double: RealtimeServerDouble
) -> tuple[Settings, uuid.UUID, uuid.UUID]:
    settings = configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=rt_double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
    )
    agent_id = _realtime_agent(
        realtime_model="gpt-realtime-mini",
        realtime_voice="cedar",
        tools=["end_call", "record_caller_details"],
    )
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="no-room")
        s.add(call)
    return settings, agent_id, call.id


def _session(settings: Settings, agent_id: uuid.UUID, call_id: uuid.UUID):
    """The worker's construction of a realtime call, minus the room."""
    spec = load_spec(agent_id)
    build = agent_builder(settings, voice=True)
    agent = build(spec, agent_id, None, False)
    assert isinstance(agent, SpecAgent)
    assert realtime.is_realtime(agent.llm)
    data = call_data(
        settings=settings, spec=spec, agent_id=agent_id, call_session_id=call_id, build=build
    )
    session: AgentSession = realtime.realtime_session(data, job_vad(), settings)
    mic = SpeechInput(sample_rate=INPUT_SAMPLE_RATE, frame_ms=INPUT_FRAME_MS)
    speaker = CapturedAudioOutput(playout_speed=1.0)
    session.input.audio = mic
    session.output.audio = speaker
    recorder = CallRecorder(call_session_id=call_id, settings=settings)
    recorder.attach(session)
    return agent, session, mic, speaker, recorder


async def _end(agent: SpecAgent, session: AgentSession, mic: SpeechInput, recorder) -> None:
    """Close the call as the worker does: the session, the model, then the recorder."""
    mic.close()
    await session.aclose()
    await agent.llm.aclose()
    status, reason = close_outcome(recorder.close_event, session.userdata.end_reason)
    await recorder.finish(status=status, reason=reason)


def _rows(call_id: uuid.UUID):
    with session_scope() as s:
        turns = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        usage = s.exec(select(TokenUsage).where(TokenUsage.call_session_id == call_id)).all()
        metrics = s.exec(select(TurnMetric).where(TurnMetric.call_session_id == call_id)).all()
        return turns, usage, metrics, s.get(CallSession, call_id)


async def test_realtime_call_greets_calls_a_tool_and_is_recorded_and_priced(
    db: str,
    rt_double: RealtimeServerDouble,
    configure: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    settings, agent_id, call_id = _start(configure, rt_double)
    rt_double.script(
        RtReply(
            text=GREETING,
            usage=usage_of(text_in=300, cached_text=100, text_out=8, audio_out=60),
        ),
        RtReply(tool_calls=[ToolCall("record_caller_details", {"name": "Ada Lovelace"})]),
        RtReply(
            text=REPLY,
            usage=usage_of(text_in=400, audio_in=80, cached_audio=30, text_out=9, audio_out=70),
        ),
    )
    rt_double.hear(HEARD)
    agent, session, mic, speaker, recorder = _session(settings, agent_id, call_id)
    replies: list[str] = []

    def on_item(ev: ConversationItemAddedEvent) -> None:
        if isinstance(ev.item, ChatMessage) and ev.item.role == "assistant":
            replies.append(ev.item.text_content or "")

    session.on("conversation_item_added", on_item)
    speech = await asyncio.to_thread(
        synthesize_speech, HEARD, sample_rate=INPUT_SAMPLE_RATE, wav_path=tmp_path / "caller.wav"
    )
    try:
        await session.start(agent)
        await wait_for(lambda: replies == [GREETING], 10, "the greeting")
        await wait_for(lambda: session.agent_state == "listening", 5, "the greeting to play")
        await asyncio.wait_for(mic.say(speech), 10)
        await wait_for(lambda: len(replies) == 2, 10, "the reply after the tool")
        await wait_for(lambda: session.agent_state == "listening", 5, "the reply to play")
        await recorder.flush()
    finally:
        await _end(agent, session, mic, recorder)

    # The plugin spoke to the double as to OpenAI: the spec's model and voice, the key,
    # the instructions and tools in session updates, the greeting asked for by
    # response.create, the caller's audio appended, the tool's output sent back.
    assert rt_double.connects[0] == {
        "model": "gpt-realtime-mini",
        "authorization": "Bearer test-key",
    }
    voices = [s["audio"]["output"]["voice"] for s in rt_double.sessions if "audio" in s]
    assert voices and set(voices) == {"cedar"}
    assert any("Bright Smile Dental" in (s.get("instructions") or "") for s in rt_double.sessions)
    tools = {t["name"] for s in rt_double.sessions for t in s.get("tools") or []}
    assert {"end_call", "record_caller_details"} <= tools
    first = rt_double.of_type("response.create")[0]
    assert GREETING in first["response"]["instructions"]
    assert rt_double.audio_in_s > 1.0
    outputs = [
        e["item"]
        for e in rt_double.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert [o["output"] for o in outputs] == ["Saved."]

    # Two things spoken, as the double's tone at 24 kHz.
    assert replies == [GREETING, REPLY]
    assert len(speaker.segments) == 2
    for segment in speaker.segments:
        assert not segment.interrupted
        assert all(f.sample_rate == SAMPLE_RATE for f in segment.frames)
        assert rms(segment.frames) > 1000

    turns, usage, metrics, call_row = _rows(call_id)
    assert [(t.speaker, t.transcript) for t in turns] == [
        ("agent", GREETING),
        ("user", HEARD),
        ("tool", 'record_caller_details({"name": "Ada Lovelace"}) -> Saved.'),
        ("agent", REPLY),
    ]
    assert call_row.customer_name == "Ada Lovelace"
    assert call_row.call_status == "completed"

    # Usage: one row per token type, summed over the three responses (the tool call's
    # response has the double's default usage), cached tokens out of the full-price rows,
    # each priced from its own table entry.
    by_model = {u.model_name: u for u in usage if u.usage_type == "llm"}
    # The caller's transcription is the session's input transcription model, by the second.
    assert len(rt_double.committed_s) == 1 and rt_double.committed_s[0] > 1.0
    (stt_row,) = [u for u in usage if u.usage_type == "stt"]
    assert stt_row.model_name == "gpt-4o-mini-transcribe"
    assert stt_row.audio_seconds == pytest.approx(sum(rt_double.committed_s), abs=0.01)
    assert stt_row.total_cost_usd > 0
    expected = {
        "gpt-realtime-mini/text": (300 - 100 + 20 + 400, 8 + 9),
        "gpt-realtime-mini/audio": (40 + 80 - 30, 60 + 50 + 70),
        "gpt-realtime-mini/cached-text": (100, 0),
        "gpt-realtime-mini/cached-audio": (30, 0),
    }
    assert {m: (u.input_tokens, u.output_tokens) for m, u in by_model.items()} == expected
    for model, (tin, tout) in expected.items():
        price = pricing.find_price(model, settings)
        assert price is not None
        want = (price.input * tin + price.output * tout) / Decimal(1_000_000)
        assert by_model[model].total_cost_usd == want.quantize(Decimal("0.00000001"))
        assert by_model[model].total_cost_usd > 0

    # Latency: each spoken reply has the model's time to first audio; the reply to the
    # caller also its end-to-end gap.
    by_turn = {m.turn_number: m for m in metrics}
    greeting_metric = by_turn[turns[0].turn_number]
    reply_metric = by_turn[turns[3].turn_number]
    assert greeting_metric.llm_ttft is not None and greeting_metric.llm_ttft >= 0
    assert reply_metric.llm_ttft is not None and reply_metric.llm_ttft >= 0
    assert reply_metric.e2e_latency is not None and reply_metric.e2e_latency > 0


async def test_dropped_realtime_websocket_fails_the_call_with_the_reason(
    db: str,
    rt_double: RealtimeServerDouble,
    configure: Callable[..., Settings],
) -> None:
    settings, agent_id, call_id = _start(configure, rt_double)
    rt_double.script(RtReply(text=GREETING))
    agent, session, mic, _speaker, recorder = _session(settings, agent_id, call_id)
    closed = asyncio.Event()
    session.on("close", lambda _ev: closed.set())
    try:
        await session.start(agent)
        await wait_for(lambda: session.agent_state == "listening", 10, "the greeting to play")
        await asyncio.to_thread(rt_double.drop)
        await asyncio.wait_for(closed.wait(), 10)
    finally:
        await _end(agent, session, mic, recorder)

    _turns, _usage, _metrics, call_row = _rows(call_id)
    assert call_row.call_status == "failed"
    # The plugin tried to reconnect once the socket dropped; refused, the call failed with
    # the connection error as its reason (and the session did close: `_Session`).
    assert rt_double.refused >= 1
    assert call_row.end_reason.startswith("APIConnectionError: OpenAI Realtime API"), (
        call_row.end_reason
    )
    assert "connection" in call_row.end_reason


def test_realtime_model_is_built_from_the_spec_and_refused_without_a_key(
    configure: Callable[..., Settings],
) -> None:
    from voice_worker.providers import ProviderMissing
    from voxie_app.models import AgentSpec

    spec = AgentSpec(name="a", instructions="b", pipeline="realtime", realtime_voice="ash")
    settings = configure(OPENAI_API_KEY="k", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    model = realtime.build_realtime(spec, settings)
    assert (model.model, model._opts.voice, model._opts.base_url) == (
        "gpt-realtime",
        "ash",
        "http://127.0.0.1:9/v1",
    )
    with pytest.raises(ProviderMissing, match="OPENAI_API_KEY"):
        realtime.build_realtime(spec, configure(OPENAI_API_KEY=None))


async def test_a_realtime_agents_text_chat_runs_on_its_text_llm(
    db: str,
    openai_double: OpenAIServerDouble,
    configure: Callable[..., Settings],
) -> None:
    """The chat is the spec's `llm_model` over chat completions (text_chat.py says why);
    the greeting is said as in any chat, not asked of a Realtime model."""
    settings = configure(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=openai_double.base_url)
    agent_id = _realtime_agent(llm_model="gpt-4.1-mini")
    openai_double.script(Reply(content="We open at nine."))
    chat = await TextChat.open(agent_id=agent_id, settings=settings)
    reply = await chat.send("When do you open?")
    await chat.aclose()
    assert reply.messages == ["We open at nine."]
    (request,) = openai_double.requests
    assert request["model"] == "gpt-4.1-mini"


class _Speaker:
    """Records what a session was asked to say (the two ways `realtime.speak` can)."""

    def __init__(self, llm: object) -> None:
        self.current_agent = SimpleNamespace(llm=llm)
        self.calls: list[tuple[str, dict]] = []

    def say(self, text: str, **options: object) -> str:
        self.calls.append(("say", {"text": text, **options}))
        return "said"

    def generate_reply(self, **options: object) -> str:
        self.calls.append(("generate_reply", options))
        return "generated"


def test_a_fixed_text_is_said_by_the_tts_or_asked_of_the_realtime_model(
    configure: Callable[..., Settings],
) -> None:
    """The greeting and the voicemail message go through `speak`: a cascade agent's TTS
    reads them; a realtime agent's model is told to say them word for word."""
    from voxie_app.models import AgentSpec

    spec = AgentSpec(name="a", instructions="b", pipeline="realtime")
    model = realtime.build_realtime(spec, configure(OPENAI_API_KEY="k"))
    on_realtime, on_cascade = _Speaker(model), _Speaker(object())
    assert realtime.speak(on_realtime, "Please call us back.", allow_interruptions=False) == (
        "generated"
    )
    assert on_realtime.calls == [
        (
            "generate_reply",
            {
                "instructions": 'Say exactly this to the caller, and nothing else: "Please call '
                'us back."',
                "allow_interruptions": False,
            },
        )
    ]
    assert realtime.speak(on_cascade, "Hi!", add_to_chat_ctx=False) == "said"
    assert on_cascade.calls == [("say", {"text": "Hi!", "add_to_chat_ctx": False})]
