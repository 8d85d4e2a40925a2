"""Record a call as it happens: turns, tool calls, usage and cost, per-turn latency
and where each turn's response gap went (`turn_parts`).

Session events only enqueue small write jobs (microseconds on the audio path);
one writer task runs them in order in a thread, each in its own transaction,
so a crash loses at most the job in flight and the turn order is kept.

Usage (running totals per model: LLM tokens, STT seconds, TTS characters) changes
several times a turn, as each model reports. It is not written on its own: the
latest totals ride along with the next turn written (the caller's turn, the
agent's, a tool call) and with the call's end, in the same transaction. That is
two transactions per exchange instead of five or six; a crash loses at most the
usage reported since the last turn was written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from livekit import rtc
from livekit.agents import AgentSession, AgentTask
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics import (
    LLMModelUsage,
    RealtimeModelMetrics,
    STTModelUsage,
    TTSModelUsage,
)
from livekit.agents.voice.events import (
    CloseEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    SessionUsageUpdatedEvent,
    SpeechCreatedEvent,
    UserStateChangedEvent,
)
from sqlmodel import Session

from voice_worker import realtime, tool_calls
from voxie_app.db import session_scope
from voxie_app.models import TURN_PARTS
from voxie_app.services import calls as calls_svc
from voxie_app.services import recording
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

Job = Callable[[Session], Any]
Usage = tuple[str, str, int, int, float, int]  # kind, model, in, out, seconds, characters
MAX_TOOL_TEXT = 2000
WRITE_RETRIES = 3


RECENT_SPEECHES = 8  # speech handles kept to find a reply's (preemptive retries included)


def _spans(milestones: Sequence[tuple[float | None, bool]], end: float) -> list[float | None]:
    """The consecutive spans from 0 through each milestone to `end`.

    `milestones`: (seconds, whether it cannot come before any earlier one). A milestone
    reached before the one listed ahead of it (work done in parallel, such as a
    preemptive LLM's first token before the turn was committed) counts as reached with
    it: its span is 0, so the spans never overlap and add up to `end`. Every milestone is
    capped at `end`. An unknown milestone (None) makes its span unknown, and the spans
    after it too until one that cannot come before it (where the time is known again).
    """
    spans: list[float | None] = []
    reached: float | None = 0.0
    for point, after_all in [*milestones, (end, True)]:
        if point is None:
            spans.append(None)
            reached = None
            continue
        if reached is None:
            spans.append(None)
            reached = min(point, end) if after_all else None
            continue
        at = min(max(point, reached), end)
        spans.append(at - reached)
        reached = at
    return spans


def turn_parts(
    *,
    e2e: float | None,
    silence: float | None,
    transcription_delay: float | None,
    end_of_turn_delay: float | None,
    llm_start: float | None,
    llm_ttft: float | None,
    llm_ttfs: float | None,
    tts_ttfb: float | None,
) -> dict[str, float | None]:
    """Split one agent turn's response gap into `TURN_PARTS`, from livekit's measurements.

    Every time is in seconds after the caller's last speech (`stopped_speaking_at` of
    the caller's message, livekit's anchor for `e2e_latency`). The gap's milestones, in
    order: the VAD declared the speech over (`silence`: the silence it waited, plus its
    inference), the final transcript arrived (`transcription_delay`), the turn was
    committed (`end_of_turn_delay`), the LLM's first token (`llm_start`, when the reply's
    speech was created, plus `llm_node_ttft`), the TTS's first audio (`llm_start` plus
    `llm_node_ttfs`, the first sentence reaching the TTS, plus `tts_node_ttfb`) and the
    first frame played (`e2e`). Each part is the time from one milestone to the next
    (`_spans`), so the six add up to `e2e`; a part livekit did not measure is None.
    """
    if e2e is None or e2e < 0:
        return dict.fromkeys(TURN_PARTS)
    if silence is not None and end_of_turn_delay is not None:
        silence = min(silence, end_of_turn_delay)  # only what was waited before the commit
    first_token = first_audio = None
    if llm_start is not None and llm_ttft is not None:
        first_token = llm_start + llm_ttft
    if llm_start is not None and llm_ttfs is not None and tts_ttfb is not None:
        first_audio = llm_start + llm_ttfs + tts_ttfb
    # The commit needs the VAD's end (capped above) and a final transcript; the first
    # audio needs the first token; the first frame played needs everything.
    milestones = [
        (silence, False),
        (transcription_delay, False),
        (end_of_turn_delay, True),
        (first_token, False),
        (first_audio, True),
    ]
    return dict(zip(TURN_PARTS, _spans(milestones, e2e), strict=True))


def _agent_name(session: AgentSession) -> str | None:
    try:
        agent = session.current_agent
    except RuntimeError:
        return None
    spec = getattr(agent, "spec", None)
    return spec.name if spec is not None else type(agent).__name__


class CallRecorder:
    """Attach to an `AgentSession` and write everything said to the call's rows."""

    def __init__(
        self,
        *,
        call_session_id: uuid.UUID,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.call_session_id = call_session_id
        self.settings = settings
        self._clock = clock  # livekit's clock for its speaking times (time.time)
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._pending_user_metrics: dict[str, float] = {}
        self._speech_end_at: float | None = None  # the VAD's latest end of speech
        self._pending_speech_end: float | None = None  # that of the caller's last turn
        self._speeches: deque[tuple[Any, float]] = deque(maxlen=RECENT_SPEECHES)
        self._usage_seen: dict[tuple[str, str], tuple] = {}
        self._usage_pending: dict[tuple[str, str], Usage] = {}
        self.close_event: CloseEvent | None = None
        self.failed_writes = 0
        self._session: AgentSession | None = None
        self._task_ids: set[str] = set()
        self._realtime_ttft: float | None = None  # the latest realtime reply's

    # ---------------------------------------------------------------- wiring
    def attach(self, session: AgentSession) -> None:
        self._session = session
        try:
            data = session.userdata
        except (ValueError, AttributeError):  # a session without userdata
            data = None
        if data is not None and hasattr(data, "recorder"):
            data.recorder = self  # so tools write their own rows in the call's order
        self._writer = asyncio.create_task(self._write_loop(), name="voxie-recorder")
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("session_usage_updated", self._on_usage)
        session.on("close", self._on_close)
        session.on("user_state_changed", self._on_user_state)
        session.on("speech_created", self._on_speech_created)
        if isinstance(session, AgentSession):
            # A realtime model's metrics reach the session only as this event, deprecated
            # (so `AgentSession.on` logs a warning per call): registered past that warning.
            rtc.EventEmitter.on(session, "metrics_collected", self._on_metrics)

    def submit(self, job: Job) -> None:
        """Queue a write of a tool's own (a system turn, an outcome) behind the turns
        already queued, in the writer's order (a write beside it would race for the
        next turn number)."""
        self._submit(job)

    def _submit(self, job: Job) -> None:
        """Queue `job`, with the usage totals reported since the last write, if any."""
        usage, self._usage_pending = self._usage_pending, {}
        if not usage:
            self._queue.put_nowait(job)
            return

        def with_usage(s: Session) -> Any:
            result = job(s)
            for kind, model, tin, tout, secs, chars in usage.values():
                recording.set_usage(
                    session=s,
                    call_session_id=self.call_session_id,
                    usage_type=kind,  # type: ignore[arg-type]
                    model_name=model,
                    input_tokens=tin,
                    output_tokens=tout,
                    audio_seconds=secs,
                    characters=chars,
                    settings=self.settings,
                )
            return result

        self._queue.put_nowait(with_usage)

    # ---------------------------------------------------------------- events
    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        agent_name = _agent_name(self._session) if self._session else None
        call_id = self.call_session_id
        if getattr(item, "type", None) == "agent_handoff":
            new_agent = getattr(item, "new_agent_id", "") or ""
            if getattr(item, "old_agent_id", None) is None:
                return  # the session's first agent, not a transfer
            current = self._session.current_agent if self._session else None
            if isinstance(current, AgentTask):
                self._task_ids.add(new_agent)
                return  # a task run inside a tool (e.g. a warm transfer), not a transfer
            if getattr(item, "old_agent_id", None) in self._task_ids:
                return  # back from that task to the same agent
            self._submit(
                lambda s: recording.add_turn(
                    session=s,
                    call_session_id=call_id,
                    speaker="system",
                    transcript=f"Call handed over to {agent_name or new_agent}",
                    agent_name=agent_name,
                    function_called="transfer_to_agent",
                )
            )
            return
        if not isinstance(item, ChatMessage) or item.role not in ("user", "assistant"):
            return
        text = item.text_content or ""
        if not text.strip():
            return
        metrics: dict[str, float] = dict(item.metrics or {})  # type: ignore[arg-type]
        if item.role == "user":
            self._pending_user_metrics = metrics
            self._pending_speech_end = self._speech_end_at
            self._submit(
                lambda s: recording.add_turn(
                    session=s,
                    call_session_id=call_id,
                    speaker="user",
                    transcript=text,
                    agent_name=agent_name,
                )
            )
            return
        user_metrics, self._pending_user_metrics = self._pending_user_metrics, {}
        parts = self._parts(item, metrics, user_metrics)
        first_audio, self._realtime_ttft = self._realtime_ttft, None
        if first_audio is not None:  # a realtime reply: the model's own time to first audio
            metrics.setdefault("llm_node_ttft", first_audio)

        def write_agent_turn(s: Session) -> None:
            turn = recording.add_turn(
                session=s,
                call_session_id=call_id,
                speaker="agent",
                transcript=text,
                agent_name=agent_name,
            )
            if any(k in metrics for k in ("llm_node_ttft", "tts_node_ttfb", "e2e_latency")):
                recording.add_turn_metric(
                    session=s,
                    call_session_id=call_id,
                    turn_number=turn.turn_number,
                    end_of_utterance_delay=user_metrics.get("end_of_turn_delay"),
                    transcription_delay=user_metrics.get("transcription_delay"),
                    llm_ttft=metrics.get("llm_node_ttft"),
                    tts_ttfb=metrics.get("tts_node_ttfb"),
                    e2e_latency=metrics.get("e2e_latency"),
                    parts=parts,
                )

        self._submit(write_agent_turn)

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        """The caller stopped speaking: the VAD's end of speech, after its silence. The
        event's `created_at` is backdated to the last speech, so the instant is read now."""
        if ev.old_state == "speaking" and ev.new_state == "listening":
            self._speech_end_at = self._clock()

    def _on_speech_created(self, ev: SpeechCreatedEvent) -> None:
        """A reply's speech is created as its LLM request starts (a preemptive one too)."""
        self._speeches.append((ev.speech_handle, ev.created_at))

    def _parts(
        self, item: ChatMessage, metrics: dict[str, Any], user_metrics: dict[str, Any]
    ) -> dict[str, float | None]:
        """Where this reply's gap went (`turn_parts`), from the caller's message metrics,
        the reply's, and the two instants livekit does not put on the messages: the
        VAD's end of speech and the creation of the reply's speech."""
        stopped = user_metrics.get("stopped_speaking_at")
        speech_end, self._pending_speech_end = self._pending_speech_end, None
        # The reply's speech: the one holding it, else the one playing (a pipeline reply
        # is announced before its speech lists it).
        current = self._session.current_speech if self._session is not None else None
        created = next(
            (
                at
                for handle, at in reversed(self._speeches)
                if any(i.id == item.id for i in handle.chat_items)
            ),
            next((at for handle, at in self._speeches if handle is current), None),
        )

        def since_stop(at: float | None) -> float | None:
            return at - stopped if at is not None and stopped is not None else None

        silence = since_stop(speech_end)
        return turn_parts(
            e2e=metrics.get("e2e_latency"),
            silence=silence if silence is not None and silence >= 0 else None,
            transcription_delay=user_metrics.get("transcription_delay"),
            end_of_turn_delay=user_metrics.get("end_of_turn_delay"),
            llm_start=since_stop(created),
            llm_ttft=metrics.get("llm_node_ttft"),
            llm_ttfs=metrics.get("llm_node_ttfs"),
            tts_ttfb=metrics.get("tts_node_ttfb"),
        )

    def _on_tools(self, ev: FunctionToolsExecutedEvent) -> None:
        agent_name = _agent_name(self._session) if self._session else None
        call_id = self.call_session_id
        outputs = {o.call_id: o for o in ev.function_call_outputs if o is not None}
        for call in ev.function_calls:
            out = outputs.get(call.call_id)
            result = out.output if out is not None else ""
            text = f"{call.name}({_short(call.arguments)}) -> {_short(result)}"
            name = call.name
            self._submit(
                lambda s, text=text, name=name: recording.add_turn(
                    session=s,
                    call_session_id=call_id,
                    speaker="tool",
                    transcript=text[:MAX_TOOL_TEXT],
                    agent_name=agent_name,
                    function_called=name,
                )
            )

    def _on_usage(self, ev: SessionUsageUpdatedEvent) -> None:
        """Keep the latest totals per model; `_submit` writes them with the next turn."""
        for usage in ev.usage.model_usage:
            if isinstance(usage, LLMModelUsage) and realtime.is_realtime_usage(usage):
                for name, tin, tout in realtime.usage_lines(usage):  # a row per token type
                    self._note_usage(("llm", name, tin, tout, 0.0, 0))
                continue
            if isinstance(usage, LLMModelUsage):
                values = ("llm", usage.model, usage.input_tokens, usage.output_tokens, 0.0, 0)
            elif isinstance(usage, STTModelUsage):
                values = ("stt", usage.model, 0, 0, usage.audio_duration, 0)
            elif isinstance(usage, TTSModelUsage):
                values = ("tts", usage.model, 0, 0, 0.0, usage.characters_count)
            else:
                continue
            self._note_usage(values)

    def _note_usage(self, values: tuple) -> None:
        key = (values[0], values[1] or "unknown")
        if self._usage_seen.get(key) == values:
            return  # nothing new for this model
        self._usage_seen[key] = values
        kind, _, tin, tout, secs, chars = values
        self._usage_pending[key] = (kind, key[1], tin, tout, secs, chars)

    def _on_metrics(self, ev: MetricsCollectedEvent) -> None:
        """A realtime reply's time to first audio (from `response.created` to the first
        audio delta), kept for the reply's latency row. livekit puts no per-turn model
        timing on a realtime reply's message, only its `e2e_latency`."""
        m = ev.metrics
        if isinstance(m, RealtimeModelMetrics) and m.ttft >= 0 and not m.cancelled:
            self._realtime_ttft = m.ttft

    def _on_close(self, ev: CloseEvent) -> None:
        self.close_event = ev

    # ---------------------------------------------------------------- writing
    async def _write_loop(self) -> None:
        while True:
            job = await self._queue.get()
            if job is None:
                return
            await asyncio.to_thread(self._run, job)

    def _run(self, job: Job) -> None:
        for attempt in range(WRITE_RETRIES):
            try:
                with session_scope() as session:
                    job(session)
                return
            except sa.exc.OperationalError:
                log.warning("recorder write failed (attempt %d), retrying", attempt + 1)
            except Exception:
                log.exception("recorder write failed")
                break
        self.failed_writes += 1

    async def flush(self) -> None:
        """Write the usage reported so far and wait until every queued write is done
        (tool invocation records included)."""
        await tool_calls.flush()
        if self._usage_pending:
            self._submit(lambda _s: None)  # the usage alone, committed before `done`
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._queue.put_nowait(lambda _s: loop.call_soon_threadsafe(done.set))
        await done.wait()

    async def finish(self, *, status: str, reason: str) -> None:
        """Flush, mark the call ended, and stop the writer."""
        await tool_calls.flush()
        call_id = self.call_session_id
        self._submit(
            lambda s: calls_svc.end_call_record(
                session=s, call_session_id=call_id, status=status, reason=reason
            )
        )
        self._queue.put_nowait(None)
        if self._writer is not None:
            await self._writer

    async def discard(self) -> None:
        """Stop the writer without ending the call (a call that never connected, such as
        an outbound call nobody answered: its dialler records the outcome)."""
        self._queue.put_nowait(None)
        if self._writer is not None:
            await self._writer


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def close_outcome(
    ev: CloseEvent | None, end_reason: str | None, end_status: str | None = None
) -> tuple[str, str]:
    """The call's final status and reason from how the session closed. `end_status`
    (a call handed to a person: `transferred`) wins: the call left the agent whole."""
    if end_status is not None:
        return end_status, end_reason or end_status
    if ev is None:
        return "completed", end_reason or "session_closed"
    if ev.error is not None:
        err = ev.error
        inner = getattr(err, "error", err)
        return "failed", f"{type(inner).__name__}: {inner}"[:500]
    return "completed", end_reason or str(getattr(ev.reason, "value", ev.reason))
