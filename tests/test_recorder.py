"""The call recorder's writes: usage totals ride along with the next turn, in one
transaction, and nothing reported is lost at the end of the call."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics import LLMModelUsage, STTModelUsage, TTSModelUsage
from livekit.agents.metrics.usage import AgentSessionUsage
from livekit.agents.voice import SpeechHandle
from livekit.agents.voice.events import (
    ConversationItemAddedEvent,
    SessionUsageUpdatedEvent,
    SpeechCreatedEvent,
    UserStateChangedEvent,
)
from sqlmodel import select

from voice_worker.recorder import CallRecorder, turn_parts
from voxie_app.db import session_scope
from voxie_app.models import TURN_PARTS, CallSession, ConversationTurn, TokenUsage, TurnMetric
from voxie_app.settings import Settings


class FakeSession:
    """What the recorder uses of an `AgentSession`: event subscription."""

    current_speech = None

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], None]] = {}

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        self.handlers[event] = handler

    @property
    def current_agent(self) -> object:
        raise RuntimeError("no agent")

    def emit(self, event: str, ev: object) -> None:
        self.handlers[event](ev)


def usage(llm: tuple[int, int] = (0, 0), stt: float = 0.0, tts: int = 0) -> Any:
    models = [
        LLMModelUsage(provider="p", model="gpt-4o-mini", input_tokens=llm[0], output_tokens=llm[1]),
        STTModelUsage(provider="p", model="nova-3", audio_duration=stt),
        TTSModelUsage(provider="p", model="sonic-2", characters_count=tts),
    ]
    return SessionUsageUpdatedEvent(usage=AgentSessionUsage(model_usage=models))


def said(role: str, text: str, metrics: dict | None = None) -> ConversationItemAddedEvent:
    item = ChatMessage(role=role, content=[text], metrics=metrics or {})  # type: ignore[arg-type]
    return ConversationItemAddedEvent(item=item)


def rows(call_id: uuid.UUID) -> tuple[list[str], dict[str, TokenUsage]]:
    with session_scope() as s:
        turns = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        used = s.exec(select(TokenUsage).where(TokenUsage.call_session_id == call_id)).all()
        return [t.transcript for t in turns], {u.usage_type: u for u in used}


@pytest.fixture
def recorded(db: str, configure: Callable[..., Settings]) -> tuple[CallRecorder, FakeSession]:
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, room_name="r")
        s.add(call)
    recorder = CallRecorder(call_session_id=call.id, settings=configure())
    return recorder, FakeSession()


async def test_usage_is_written_with_the_next_turn_in_one_transaction(
    recorded: tuple[CallRecorder, FakeSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, session = recorded
    transactions: list[int] = []
    run = recorder._run
    monkeypatch.setattr(recorder, "_run", lambda job: (transactions.append(1), run(job)))
    recorder.attach(session)  # type: ignore[arg-type]

    # One exchange, in the order a session reports it: STT usage, the caller's turn,
    # LLM usage, TTS usage, the agent's turn; every model reports more than once.
    session.emit("session_usage_updated", usage(stt=1.0))
    session.emit("session_usage_updated", usage(stt=2.5))
    session.emit("conversation_item_added", said("user", "Book me in"))
    session.emit("session_usage_updated", usage(stt=2.5, llm=(100, 10)))
    session.emit("session_usage_updated", usage(stt=2.5, llm=(100, 10), tts=20))
    session.emit("session_usage_updated", usage(stt=2.5, llm=(100, 10), tts=42))
    session.emit("conversation_item_added", said("assistant", "Tuesday at ten?"))
    await recorder.flush()

    # the caller's turn and the agent's turn, each with the usage so far; then flush's
    # marker (it writes nothing). Per-report writes would have been 7.
    assert len(transactions) == 3
    turns, used = rows(recorder.call_session_id)
    assert turns == ["Book me in", "Tuesday at ten?"]
    assert used["stt"].audio_seconds == pytest.approx(2.5)
    assert (used["llm"].input_tokens, used["llm"].output_tokens) == (100, 10)
    assert used["tts"].characters == 42

    # usage reported after the last turn is written when the call ends
    session.emit("session_usage_updated", usage(stt=3.0, llm=(100, 10), tts=42))
    await recorder.finish(status="completed", reason="done")
    _, used = rows(recorder.call_session_id)
    assert used["stt"].audio_seconds == pytest.approx(3.0)
    assert recorder.failed_writes == 0


async def test_flush_writes_pending_usage_before_it_returns(
    recorded: tuple[CallRecorder, FakeSession],
) -> None:
    recorder, session = recorded
    recorder.attach(session)  # type: ignore[arg-type]
    session.emit("session_usage_updated", usage(llm=(7, 3)))
    await recorder.flush()
    _, used = rows(recorder.call_session_id)
    assert (used["llm"].input_tokens, used["llm"].output_tokens) == (7, 3)
    await recorder.finish(status="completed", reason="done")


# ------------------------------------------------------------------ turn parts

MEASURED = {
    "e2e": 1.2,
    "silence": 0.25,
    "transcription_delay": 0.4,
    "end_of_turn_delay": 1.0,
    "llm_start": 1.0,  # the reply's request started at the commit (no preemptive reply)
    "llm_ttft": 0.05,
    "llm_ttfs": 0.1,
    "tts_ttfb": 0.06,
}


def parts(**changes: float | None) -> list[float | None]:
    got = turn_parts(**{**MEASURED, **changes})  # type: ignore[arg-type]
    return [None if v is None else round(v, 6) for v in (got[k] for k in TURN_PARTS)]


def test_parts_are_consecutive_spans_of_the_gap() -> None:
    # silence 0.25; transcript at 0.4; commit at 1.0; first token 1.05; audio 1.16; played 1.2
    assert parts() == [0.25, 0.15, 0.6, 0.05, 0.11, 0.04]
    assert sum(parts()) == pytest.approx(1.2)  # type: ignore[arg-type]


def test_work_done_in_parallel_costs_the_gap_nothing() -> None:
    # a preemptive LLM started with the transcript: its first token came before the commit
    assert parts(llm_start=0.4) == [0.25, 0.15, 0.6, 0.0, 0.0, 0.2]
    # the transcript arrived during the silence
    assert parts(transcription_delay=0.1) == [0.25, 0.0, 0.75, 0.05, 0.11, 0.04]
    # a milestone past the first frame is capped there
    assert parts(tts_ttfb=0.5) == [0.25, 0.15, 0.6, 0.05, 0.15, 0.0]


def test_an_unmeasured_milestone_leaves_its_parts_unknown_not_guessed() -> None:
    # no VAD end seen: the silence and the transcript's share are unknown; the commit
    # cannot come before either, so the decision is unknown too and later parts stand
    assert parts(silence=None) == [None, None, None, 0.05, 0.11, 0.04]
    # no reply speech found: the LLM's first token and the first audio are unknown, so
    # everything after the commit is (their sum is still e2e minus the commit)
    assert parts(llm_start=None) == [0.25, 0.15, 0.6, None, None, None]
    assert parts(llm_ttfs=None) == [0.25, 0.15, 0.6, 0.05, None, None]
    # no gap (a greeting, a text turn): nothing at all
    assert parts(e2e=None) == [None] * 6


async def test_the_recorder_stores_the_parts_from_the_session_events(
    db: str, configure: Callable[..., Settings]
) -> None:
    """The two instants not on the messages come from session events: the VAD's end
    of speech read off the clock when the caller turns "listening", and the reply's
    speech creation (a preemptive reply, found as the speech playing)."""
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, room_name="r")
        s.add(call)
    now = [0.0]
    recorder = CallRecorder(call_session_id=call.id, settings=configure(), clock=lambda: now[0])
    session = FakeSession()
    recorder.attach(session)  # type: ignore[arg-type]
    handle = SpeechHandle.create()

    now[0] = 100.25  # the VAD ends the speech 0.25 s after the last word (at 100.0)
    session.emit(
        "user_state_changed",
        UserStateChangedEvent(old_state="speaking", new_state="listening", created_at=100.0),
    )
    # the transcript at 100.3 starts a preemptive reply
    session.emit(
        "speech_created",
        SpeechCreatedEvent(
            speech_handle=handle, user_initiated=False, source="generate_reply", created_at=100.3
        ),
    )
    user = {"stopped_speaking_at": 100.0, "transcription_delay": 0.3, "end_of_turn_delay": 1.0}
    session.emit("conversation_item_added", said("user", "Book me in", user))
    session.current_speech = handle  # type: ignore[assignment]
    reply = {"e2e_latency": 1.1, "llm_node_ttft": 0.2, "llm_node_ttfs": 0.25, "tts_node_ttfb": 0.05}
    session.emit("conversation_item_added", said("assistant", "Tuesday at ten?", reply))
    await recorder.finish(status="completed", reason="done")

    with session_scope() as s:
        (metric,) = s.exec(select(TurnMetric).where(TurnMetric.call_session_id == call.id)).all()
    got = [round(getattr(metric, name), 6) for name in TURN_PARTS]
    # silence 0.25, transcript 0.05 after it, commit at 1.0; the first token (0.5) and
    # audio (0.6) were ready before the commit; the first frame played at 1.1
    assert got == [0.25, 0.05, 0.7, 0.0, 0.0, 0.1]
    assert metric.e2e_latency == 1.1
