"""A whole voice turn with no room: real speech in, agent audio out, all of it recorded.

Speech made by espeak-ng is fed in real time through a custom `AudioInput`, in the
format the worker asks the room for, followed by silence, so the worker's VAD
(livekit's Silero) finds the end of the utterance; the session wraps the
non-streaming STT double with that VAD. The agent is Voxie's
`SpecAgent` built by `agent_builder` from a stored spec, with the real
livekit-plugins-openai LLM talking to the local OpenAI-compatible double; a
TTS double speaks a tone into a captured `AudioOutput`. The `CallRecorder`
writes to the test database, as in the worker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from livekit.agents import AgentSession
from livekit.agents import vad as lk_vad
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import ConversationItemAddedEvent
from sqlmodel import select

from tests.doubles.audio import (
    TTS_SAMPLE_RATE,
    CapturedAudioOutput,
    ScriptedSTT,
    SpeechInput,
    ToneTTS,
    have_speech_tools,
    rms,
    synthesize_speech,
    wait_for,
)
from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voice_worker.providers import session_conn_options, turn_handling
from voice_worker.recorder import CallRecorder, close_outcome
from voice_worker.runtime import agent_builder, call_data, load_spec
from voice_worker.spec_agent import SpecAgent
from voice_worker.worker import INPUT_FRAME_MS, INPUT_SAMPLE_RATE, job_vad
from voxie_app.db import session_scope
from voxie_app.models import TURN_PARTS, CallSession, ConversationTurn, TokenUsage, TurnMetric
from voxie_app.services import agent_creation
from voxie_app.settings import Settings

pytestmark = pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and sox")

SPOKEN = "I would like to book a cleaning"
HEARD = "I would like to book a cleaning."
GREETING = "Hello, Bright Smile Dental!"
REPLY = "Of course. Which day suits you?"


@pytest.fixture
def vad() -> lk_vad.VAD:
    return job_vad()


async def test_spoken_turn_goes_through_vad_stt_llm_tts_and_is_recorded(
    db: str,
    openai_double: OpenAIServerDouble,
    configure: Callable[..., Settings],
    vad: lk_vad.VAD,
    tmp_path: Path,
) -> None:
    settings = configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
        # Should the end-of-turn model be chosen (VOXIE_TURN_DETECTION=model), it may
        # judge the synthetic sentence unfinished and wait the maximum delay: bound it.
        VOXIE_MAX_ENDPOINTING_DELAY="1.0",
    )
    agent_id = agent_creation.submit(
        user_requirements={},
        processed_spec={
            "name": "Dental Bot",
            "instructions": "You are the receptionist of Bright Smile Dental.",
            "greeting": GREETING,
        },
    ).id
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="no-room")
        s.add(call)
    call_id = call.id
    openai_double.script(Reply(content=REPLY, prompt_tokens=120, completion_tokens=9))

    # The worker's own construction, minus the room: spec -> SpecAgent with the
    # OpenAI plugin LLM from settings; the session's STT/TTS are the doubles.
    spec = load_spec(agent_id)
    build = agent_builder(settings, voice=False)
    agent = build(spec, agent_id, None, False)
    assert isinstance(agent, SpecAgent)
    stt_double = ScriptedSTT(HEARD)
    tts_double = ToneTTS(duration=0.2)
    session: AgentSession = AgentSession(
        stt=stt_double,
        vad=vad,
        tts=tts_double,
        userdata=call_data(
            settings=settings, spec=spec, agent_id=agent_id, call_session_id=call_id, build=build
        ),
        turn_handling=turn_handling(spec, settings),
        conn_options=session_conn_options(settings),
    )
    mic = SpeechInput(sample_rate=INPUT_SAMPLE_RATE, frame_ms=INPUT_FRAME_MS)
    speaker = CapturedAudioOutput(playout_speed=1.0)
    session.input.audio = mic
    session.output.audio = speaker
    recorder = CallRecorder(call_session_id=call_id, settings=settings)
    recorder.attach(session)
    replies: list[str] = []

    def on_item(ev: ConversationItemAddedEvent) -> None:
        if isinstance(ev.item, ChatMessage) and ev.item.role == "assistant":
            replies.append(ev.item.text_content or "")

    session.on("conversation_item_added", on_item)

    speech = await asyncio.to_thread(
        synthesize_speech, SPOKEN, sample_rate=INPUT_SAMPLE_RATE, wav_path=tmp_path / "caller.wav"
    )
    try:
        await session.start(agent)
        # The greeting is spoken first (said, not generated): wait until it has played.
        await wait_for(lambda: replies == [GREETING], 5, "the greeting")
        await wait_for(lambda: session.agent_state == "listening", 5, "the greeting to play")
        assert openai_double.requests == []

        spoken_until = mic.say(speech)
        await asyncio.wait_for(spoken_until, 10)
        await wait_for(lambda: len(replies) == 2, 10, "the agent's reply")
        await wait_for(lambda: session.agent_state == "listening", 5, "the reply to play")
    finally:
        mic.close()
        await session.aclose()
        status, reason = close_outcome(recorder.close_event, session.userdata.end_reason)
        await recorder.finish(status=status, reason=reason)

    # What the pipeline did: one utterance cut by the VAD, heard by the STT, one
    # LLM request carrying it, two things spoken (greeting, reply) as tone audio.
    assert len(stt_double.finals) == 1
    assert 1.0 < stt_double.audio_seconds[0] < 4.0  # the utterance, not the silence
    (request,) = openai_double.requests
    assert {"role": "user", "content": HEARD} in request["messages"]
    assert replies == [GREETING, REPLY]
    assert tts_double.requests == [GREETING, REPLY]
    assert len(speaker.segments) == 2
    for segment in speaker.segments:
        assert not segment.interrupted
        assert segment.duration == pytest.approx(0.2, abs=0.03)
        assert all(f.sample_rate == TTS_SAMPLE_RATE for f in segment.frames)
        assert rms(segment.frames) > 1000  # a tone, not silence

    with session_scope() as s:
        rows = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        usage = s.exec(select(TokenUsage).where(TokenUsage.call_session_id == call_id)).all()
        metrics = s.exec(select(TurnMetric).where(TurnMetric.call_session_id == call_id)).all()
        call_row = s.get(CallSession, call_id)
    assert [(r.speaker, r.transcript) for r in rows] == [
        ("agent", GREETING),
        ("user", HEARD),
        ("agent", REPLY),
    ]
    assert {r.agent_name for r in rows} == {"Dental Bot"}

    by_type = {u.usage_type: u for u in usage}
    assert by_type["llm"].model_name == "gpt-4o-mini"
    assert (by_type["llm"].input_tokens, by_type["llm"].output_tokens) == (120, 9)
    assert by_type["stt"].model_name == "stt-double"
    assert by_type["stt"].audio_seconds == pytest.approx(stt_double.audio_seconds[0], abs=0.01)
    assert by_type["tts"].model_name == "tts-double"
    assert by_type["tts"].characters == len(GREETING) + len(REPLY)

    # One latency row per spoken agent turn. The greeting's has only the TTS time to
    # first byte (nothing was generated, nobody spoke before it); the reply's has it all.
    greeting_metric, metric = sorted(metrics, key=lambda m: m.turn_number)
    assert greeting_metric.turn_number == rows[0].turn_number
    assert greeting_metric.tts_ttfb is not None
    assert (greeting_metric.e2e_latency, greeting_metric.llm_ttft) == (None, None)
    assert metric.turn_number == rows[2].turn_number
    assert metric.e2e_latency is not None and 0 < metric.e2e_latency < 5
    assert metric.llm_ttft is not None and 0 <= metric.llm_ttft < 5
    # the turn ends no sooner than the endpointing delay after the last speech (VAD
    # silence 0.25 s, then the default preset's 1.0 s minimum, counted from that speech)
    assert metric.end_of_utterance_delay is not None and metric.end_of_utterance_delay >= 0.5
    assert metric.transcription_delay is not None and metric.transcription_delay >= 0
    assert metric.tts_ttfb is not None and metric.tts_ttfb >= 0
    assert metric.e2e_latency >= metric.end_of_utterance_delay
    # Where the gap went: every part measured, none negative, together the whole gap
    # (consecutive spans of it). The VAD waited its silence before the turn could end;
    # the commit came no sooner than the endpointing delay, so the parts up to it make
    # the end-of-turn delay.
    parts = {name: getattr(metric, name) for name in TURN_PARTS}
    assert all(v is not None and v >= 0 for v in parts.values()), parts
    assert sum(parts.values()) == pytest.approx(metric.e2e_latency, abs=1e-6)
    assert parts["part_silence"] >= 0.2  # the preset's 0.25 s VAD silence, in 10 ms frames
    assert parts["part_silence"] + parts["part_stt"] + parts["part_end_of_turn"] == (
        pytest.approx(metric.end_of_utterance_delay, abs=1e-6)
    )
    assert all(getattr(greeting_metric, name) is None for name in TURN_PARTS)

    assert call_row.call_status == "completed"
    assert call_row.ended_at is not None
