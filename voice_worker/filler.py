"""Filler while waiting: one short acknowledgement when a caller's reply is late.

The rule, for voice calls: once the caller's turn is committed, if no agent audio has
started within the agent's `filler_after_s` (the LLM is slow, or a tool is running), the
agent says its `filler_message` ("One moment.") once. Never while the caller is
speaking, never twice in a turn, and never in the model's context or the transcript.

How it is said depends on what holds the reply up, because livekit's speech queue
plays one speech at a time and a reply's speech holds it until its audio has played:

- The LLM has not sent its first token: a `session.say` would queue behind the very
  reply it should precede. So the filler goes out as the reply's own first segment:
  the agent's `llm_node` stream (`wrap_llm`) emits it, then a `FlushSentinel`, so the
  TTS speaks it on its own and barge-in stops it as it stops the reply; the agent's
  `transcription_node` (`transcribe`) drops that segment's text, so it reaches neither
  the chat context nor the recorded turn.
- A tool is running (the reply's generation is done, the queue is free): it is said
  with `session.say(..., add_to_chat_ctx=False)`, as an HTTP tool's `wait_message` is.
- Anything else (say, the reply's text is out and its TTS is slow): nothing, since a
  `say` would only play after the reply.

One acknowledgement per turn: a tool's own `wait_message` is more specific, so while a
tool that has one is running the filler leaves the turn to it (`tool_speaks`); once
either has been said, the other stays silent (`claim`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from livekit.agents import AgentSession, llm
from livekit.agents.types import FlushSentinel
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    ToolExecutionUpdatedEvent,
    UserStateChangedEvent,
)

Sleep = Callable[[float], Awaitable[None]]


def _squashed(text: str) -> str:
    return "".join(text.split())


def _is_response(chunk: object) -> bool:
    """Whether a chunk of the LLM's stream is output (text or a tool call), not usage."""
    if isinstance(chunk, llm.ChatChunk):
        return chunk.has_response()
    return isinstance(chunk, str) and bool(chunk)


class _Waiting:
    """An LLM stream that has not produced output yet; `text` set = say it first."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.text = ""

    def request(self, text: str) -> None:
        self.text = text
        self.requested.set()


class TurnFiller:
    """The filler rule for one voice session (attach it before the recorder).

    `sleep` waits the threshold (tests inject one they release by hand, so nothing
    depends on the wall clock).
    """

    def __init__(self, session: AgentSession, *, sleep: Sleep = asyncio.sleep) -> None:
        self.session = session
        self._sleep = sleep
        self._timer: asyncio.Task[None] | None = None
        self._acknowledged = False  # the filler or a tool's wait_message said this turn
        self._tools_running: set[str] = set()
        self._tools_speaking = 0  # running tools with a wait_message of their own
        self._waiting: _Waiting | None = None
        self._drop: str | None = None  # the filler's text, until its segment is dropped
        self._true_ttft: float | None = None
        self.said: list[str] = []  # how each filler went out ("stream" or "say"), in order

    def attach(self) -> TurnFiller:
        """Listen to the session. Before the recorder: `_on_item` corrects the latency
        metrics of a reply the filler preceded before they are written."""
        self.session.on("conversation_item_added", self._on_item)
        self.session.on("agent_state_changed", self._on_agent_state)
        self.session.on("user_state_changed", self._on_user_state)
        self.session.on("tool_execution_updated", self._on_tool)
        self.session.on("close", lambda _ev: self._cancel())
        return self

    # ------------------------------------------------------------- the turn
    def _message(self) -> tuple[str, float] | None:
        """The current agent's filler and threshold (the builder's is its own spec's),
        or None (no filler, a text session, an agent without a spec)."""
        spec = getattr(self.session.current_agent, "spec", None)
        text = getattr(spec, "filler_message", "") or ""
        if not text.strip() or self.session.output.audio is None:
            return None
        return text.strip(), float(spec.filler_after_s)  # type: ignore[union-attr]

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "assistant" and self._true_ttft is not None:
            # The stream's first chunk was the filler, so the framework's time to first
            # token is the filler's: put back the LLM's own.
            if item.metrics is not None and "llm_node_ttft" in item.metrics:
                item.metrics["llm_node_ttft"] = self._true_ttft
            self._true_ttft = None
        if item.role != "user":
            return
        # A committed caller turn: a new turn, with its own one acknowledgement.
        self._cancel()
        self._acknowledged = False
        self._true_ttft = self._drop = None
        if (message := self._message()) is not None:
            text, after = message
            self._timer = asyncio.create_task(self._wait(text, after), name="voxie-filler")

    async def _wait(self, text: str, after: float) -> None:
        await self._sleep(after)
        self._timer = None
        self._fire(text)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        # Reply audio started (nothing to cover any more), or the reply is over or was
        # interrupted (nothing to cover either).
        if ev.new_state in ("speaking", "listening"):
            self._cancel()

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        # The caller speaks again: never over them; what they say is a turn of its own.
        if ev.new_state == "speaking":
            self._cancel()

    def _on_tool(self, ev: ToolExecutionUpdatedEvent) -> None:
        update = ev.update
        if update.type == "tool_call_started":
            self._tools_running.add(update.function_call.call_id)
        elif update.type == "tool_call_ended":
            self._tools_running.discard(update.call_id)

    def _fire(self, text: str) -> None:
        session = self.session
        if self._acknowledged or session.user_state == "speaking":
            return
        if session.agent_state != "thinking":
            return
        if self._waiting is not None:
            self._waiting.request(text)
            how = "stream"
        elif self._tools_running and not self._tools_speaking:
            self._drop = text
            try:
                session.say(text, add_to_chat_ctx=False, allow_interruptions=True)
            except RuntimeError:  # the session is closing: nothing to say it to
                self._drop = None
                return
            how = "say"
        else:
            return  # a tool's own wait_message covers it, or a say would come too late
        self._acknowledged = True
        self.said.append(how)

    # ------------------------------------------------------- tool messages
    def claim(self) -> bool:
        """Take the turn's one acknowledgement (for a tool's wait_message): False when
        the filler or another message was already said in this turn."""
        if self._acknowledged:
            return False
        self._acknowledged = True
        return True

    @contextlib.contextmanager
    def tool_speaks(self) -> Iterator[None]:
        """While a tool with its own wait_message runs, the filler leaves it the turn."""
        self._tools_speaking += 1
        try:
            yield
        finally:
            self._tools_speaking -= 1

    # ----------------------------------------------------- the agent's nodes
    async def wrap_llm(self, stream: AsyncIterable[Any]) -> AsyncIterator[Any]:
        """The LLM stream, with the filler as its first segment when asked for before
        the first token."""
        waiting = _Waiting()
        self._waiting = waiting
        self._true_ttft = None
        started = time.perf_counter()
        chunks = aiter(stream)
        nxt: asyncio.Future[Any] | None = None
        try:
            while True:
                nxt = asyncio.ensure_future(anext(chunks))
                if self._waiting is waiting and not waiting.requested.is_set():
                    asked = asyncio.ensure_future(waiting.requested.wait())
                    try:
                        await asyncio.wait({nxt, asked}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        asked.cancel()
                    if waiting.requested.is_set() and not nxt.done():
                        self._drop = waiting.text
                        yield waiting.text
                        yield FlushSentinel()
                try:
                    chunk = await nxt
                except StopAsyncIteration:
                    return
                finally:
                    nxt = None
                if self._waiting is waiting and _is_response(chunk):
                    self._waiting = None
                    if waiting.requested.is_set():
                        self._true_ttft = time.perf_counter() - started
                yield chunk
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()
                await asyncio.wait([nxt])  # the stream must be idle before it is closed
            if self._waiting is waiting:
                self._waiting = None
            if (aclose := getattr(stream, "aclose", None)) is not None:
                await aclose()

    async def transcribe(self, text: AsyncIterable[Any]) -> AsyncIterator[Any]:
        """A segment's transcript, without the filler's own segment."""
        drop = self._drop
        if drop is None:
            async for piece in text:
                yield piece
            return
        target, seen = _squashed(drop), ""
        held: list[Any] | None = []
        async for piece in text:
            if held is None:
                yield piece
                continue
            held.append(piece)
            seen += _squashed(str(piece))
            if not target.startswith(seen):  # not the filler: give back what was held
                for kept in held:
                    yield kept
                held = None
        if held is not None and seen:
            # The filler's segment (or the start of it, when barge-in cut it short).
            self._drop = None
