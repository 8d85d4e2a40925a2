"""A local OpenAI Realtime API double: a websocket server on 127.0.0.1.

It speaks the protocol `livekit-plugins-openai`'s `RealtimeModel` uses in the pinned
version (the engine is `livekit/agents/llm/_realtime/openai.py`), so the real plugin
runs against it with `base_url` pointed here (`GET /v1/realtime?model=...`, upgraded
to a websocket):

- client `session.update`: kept (`sessions`); the last one's turn detection decides
  whether a committed turn starts a response by itself (`create_response`).
- client `input_audio_buffer.append`: PCM16 at 24 kHz. An energy gate stands in for
  the server's VAD: loud audio sends `input_audio_buffer.speech_started`, then
  `SILENCE_S` of quiet sends `speech_stopped`, commits the turn (as an explicit
  `input_audio_buffer.commit` does): `input_audio_buffer.committed`, the user item
  (`conversation.item.added`), and its transcript
  (`conversation.item.input_audio_transcription.completed`, the next of `hear`,
  with its usage in seconds of audio, as `whisper-1`/`gpt-4o-*-transcribe` report it).
- client `conversation.item.create` / `.delete`: answered `conversation.item.added` /
  `.deleted`, as the plugin waits for (function call outputs arrive this way).
- client `response.create` (or a committed turn): the next scripted `RtReply`:
  `response.created` (echoing the request's metadata, which the plugin matches),
  then for speech `response.output_item.added`, `conversation.item.added`,
  `response.content_part.added`, `response.output_audio_transcript.delta` and
  `response.output_audio.delta` chunks (a 440 Hz tone, 100 ms a chunk),
  `response.output_audio.done`, `response.output_item.done`; for a function call its
  `function_call` item added and done; last `response.done` with `usage` by token
  type (text/audio, cached).
- `responder` answers once the script is used up; `turn_ends` holds the
  `time.perf_counter()` of every caller turn's end (benchmarks time from it).
- `drop()` closes every open websocket from the server side (a dropped connection)
  and refuses new ones (HTTP 503), so the client's reconnection fails too.

Every client event but the audio appends is kept in `events` for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from tests.doubles.http_server import ThreadedServer
from tests.doubles.openai_server import ToolCall

SAMPLE_RATE = 24000
SILENCE_S = 0.3  # quiet after speech that ends the caller's turn
SPEECH_RMS = 500.0  # 16-bit RMS above which a chunk counts as speech
CHUNK_S = 0.1


@dataclass
class RtReply:
    """One scripted response: spoken `text` (with `audio_seconds` of tone), or
    `tool_calls`; `usage` is `response.done`'s (a default is made from the text)."""

    text: str = ""
    audio_seconds: float = 0.3
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, Any] | None = None


def usage_of(
    *,
    text_in: int = 0,
    audio_in: int = 0,
    cached_text: int = 0,
    cached_audio: int = 0,
    text_out: int = 0,
    audio_out: int = 0,
) -> dict[str, Any]:
    """`response.done` usage as OpenAI reports it: cached tokens inside the input ones."""
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def tone(seconds: float, freq: float = 440.0) -> bytes:
    n = int(SAMPLE_RATE * seconds)
    t = np.arange(n) / SAMPLE_RATE
    return (np.sin(2 * math.pi * freq * t) * 12000).astype(np.int16).tobytes()


class _Conn:
    """One websocket's conversation state."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.last_item: str | None = None
        self.speaking = False
        self.quiet_s = 0.0
        self.buffered_s = 0.0
        self.user_item: str | None = None


class RealtimeServerDouble(ThreadedServer):
    thread_name = "realtime-double"

    def __init__(self) -> None:
        super().__init__()
        self.replies: deque[RtReply] = deque()
        # Answers once the script is used up (benchmarks: the same reply every turn).
        self.responder: Callable[[], RtReply] | None = None
        # `time.perf_counter()` of each caller turn's end (speech_stopped), for benchmarks.
        self.turn_ends: list[float] = []
        self.hear_queue: deque[str] = deque()
        self.events: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.connects: list[dict[str, str]] = []  # path query + auth header per connect
        self.audio_in_s = 0.0
        self.committed_s: list[float] = []  # audio seconds of each committed caller turn
        self._ids = itertools.count(1)
        self._conns: set[_Conn] = set()
        self._refuse = False
        self.refused = 0  # connection attempts refused after `drop()`

    # ------------------------------------------------------------------ script
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: RtReply) -> None:
        self.replies.extend(replies)

    def hear(self, *transcripts: str) -> None:
        """What the server transcribes for the next committed caller turns."""
        self.hear_queue.extend(transcripts)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def drop(self) -> None:
        """Close every connection from the server side and refuse new ones."""
        assert self._loop is not None
        self._refuse = True

        async def close_all() -> None:
            for conn in list(self._conns):
                await conn.ws.close(code=1011, message=b"double dropped the connection")

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=5)

    # --------------------------------------------------------------- protocol
    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/realtime", self._ws)
        return app

    async def before_stop(self) -> None:
        for conn in list(self._conns):
            await conn.ws.close()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self._refuse:
            self.refused += 1
            return web.Response(status=503, text="the double refuses connections")
        self.connects.append(
            {
                "model": request.query.get("model", ""),
                "authorization": request.headers.get("Authorization", ""),
            }
        )
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.add(conn)
        await self._send(conn, {"type": "session.created", "session": {"id": self._id("sess")}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._on_event(conn, json.loads(msg.data))
        finally:
            self._conns.discard(conn)
        return ws

    async def _send(self, conn: _Conn, event: dict[str, Any]) -> None:
        event.setdefault("event_id", self._id("event"))
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps(event))

    async def _on_event(self, conn: _Conn, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.append":
            await self._on_audio(conn, base64.b64decode(event["audio"]))
            return
        self.events.append(event)
        if kind == "session.update":
            self.sessions.append(event.get("session", {}))
        elif kind == "conversation.item.create":
            item = dict(event["item"])
            item.setdefault("id", self._id("item"))
            await self._add_item(conn, item, event.get("previous_item_id"))
        elif kind == "conversation.item.delete":
            await self._send(
                conn, {"type": "conversation.item.deleted", "item_id": event["item_id"]}
            )
        elif kind == "input_audio_buffer.commit":
            await self._commit(conn)
        elif kind == "response.create":
            metadata = (event.get("response") or {}).get("metadata")
            await self._respond(conn, metadata)

    async def _add_item(
        self, conn: _Conn, item: dict[str, Any], previous: str | None = None
    ) -> None:
        if previous in (None, "root"):
            previous = conn.last_item if previous is None else None
        await self._send(
            conn, {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        conn.last_item = item["id"]

    def _turn_detection(self) -> dict[str, Any] | None:
        for session in reversed(self.sessions):
            audio_in = (session.get("audio") or {}).get("input") or {}
            if "turn_detection" in audio_in:
                return audio_in["turn_detection"]
        return None

    async def _on_audio(self, conn: _Conn, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
        if not len(samples):
            return
        seconds = len(samples) / SAMPLE_RATE
        self.audio_in_s += seconds
        conn.buffered_s += seconds
        loud = float(np.sqrt(np.mean(samples**2))) > SPEECH_RMS
        detection = self._turn_detection()
        if detection is None:
            return  # no server VAD: the client commits
        if loud:
            conn.quiet_s = 0.0
            if not conn.speaking:
                conn.speaking = True
                conn.user_item = self._id("item")
                await self._send(
                    conn,
                    {
                        "type": "input_audio_buffer.speech_started",
                        "item_id": conn.user_item,
                        "audio_start_ms": 0,
                    },
                )
        elif conn.speaking:
            conn.quiet_s += seconds
            if conn.quiet_s >= SILENCE_S:
                conn.speaking = False
                self.turn_ends.append(time.perf_counter())
                await self._send(
                    conn,
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "item_id": conn.user_item,
                        "audio_end_ms": 0,
                    },
                )
                await self._commit(conn)
                if detection.get("create_response", True):
                    await self._respond(conn, None)

    async def _commit(self, conn: _Conn) -> None:
        item_id = conn.user_item or self._id("item")
        conn.user_item = None
        seconds, conn.buffered_s = conn.buffered_s, 0.0
        self.committed_s.append(seconds)
        previous = conn.last_item
        await self._send(
            conn,
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            },
        )
        await self._add_item(
            conn,
            {
                "id": item_id,
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}],
            },
            previous,
        )
        transcript = self.hear_queue.popleft() if self.hear_queue else ""
        await self._send(
            conn,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": {"type": "duration", "seconds": seconds},
            },
        )

    async def _respond(self, conn: _Conn, metadata: dict[str, Any] | None) -> None:
        reply = self.replies.popleft() if self.replies else None
        if reply is None and self.responder is not None:
            reply = self.responder()
        response_id = self._id("resp")
        base = {"id": response_id, "object": "realtime.response", "metadata": metadata}
        await self._send(
            conn,
            {
                "type": "response.created",
                "response": {**base, "status": "in_progress", "output": []},
            },
        )
        if reply is None:
            await self._send(
                conn,
                {
                    "type": "response.done",
                    "response": {
                        **base,
                        "status": "failed",
                        "status_details": {
                            "type": "failed",
                            "error": {"type": "server_error", "code": "no scripted reply left"},
                        },
                        "output": [],
                    },
                },
            )
            return
        output: list[dict[str, Any]] = []
        for index, call in enumerate(reply.tool_calls):
            item = {
                "id": self._id("item"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.id or self._id("call"),
                "name": call.name,
                "arguments": "",
            }
            await self._send(
                conn,
                {
                    "type": "response.output_item.added",
                    "response_id": response_id,
                    "output_index": index,
                    "item": item,
                },
            )
            await self._add_item(conn, item)
            done = {**item, "status": "completed", "arguments": call.arguments_text()}
            await self._send(
                conn,
                {
                    "type": "response.output_item.done",
                    "response_id": response_id,
                    "output_index": index,
                    "item": done,
                },
            )
            output.append(done)
        if reply.text:
            output.append(await self._speak(conn, response_id, len(output), reply))
        usage = reply.usage or usage_of(
            text_in=20, audio_in=40, text_out=len(reply.text.split()), audio_out=50
        )
        await self._send(
            conn,
            {
                "type": "response.done",
                "response": {**base, "status": "completed", "output": output, "usage": usage},
            },
        )

    async def _speak(
        self, conn: _Conn, response_id: str, index: int, reply: RtReply
    ) -> dict[str, Any]:
        item_id = self._id("item")
        item = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        ref = {"response_id": response_id, "item_id": item_id, "output_index": index}
        await self._send(conn, {"type": "response.output_item.added", **ref, "item": item})
        await self._add_item(conn, item)
        await self._send(
            conn,
            {
                "type": "response.content_part.added",
                **ref,
                "content_index": 0,
                "part": {"type": "audio", "transcript": ""},
            },
        )
        words = reply.text.split(" ")
        for i, word in enumerate(words):
            delta = word if i == 0 else f" {word}"
            await self._send(
                conn,
                {
                    "type": "response.output_audio_transcript.delta",
                    **ref,
                    "content_index": 0,
                    "delta": delta,
                },
            )
        pcm = tone(reply.audio_seconds)
        step = int(SAMPLE_RATE * CHUNK_S) * 2
        for start in range(0, len(pcm), step):
            chunk = base64.b64encode(pcm[start : start + step]).decode()
            await self._send(
                conn,
                {"type": "response.output_audio.delta", **ref, "content_index": 0, "delta": chunk},
            )
        await self._send(conn, {"type": "response.output_audio.done", **ref, "content_index": 0})
        await self._send(
            conn,
            {
                "type": "response.output_audio_transcript.done",
                **ref,
                "content_index": 0,
                "transcript": reply.text,
            },
        )
        done = {
            **item,
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": reply.text}],
        }
        await self._send(conn, {"type": "response.output_item.done", **ref, "item": done})
        return done
