"""A local OpenAI-compatible HTTP server for tests.

Why a real HTTP server rather than mocks: the code under test talks to OpenAI
through real clients (`openai.AsyncOpenAI` for structured outputs,
`livekit-plugins-openai` in the voice worker). Pointing them at this server
with `base_url` exercises their actual request building, retries, streaming
and parsing, so a test fails if our code sends something OpenAI would not
accept or misreads what OpenAI sends back.

The server answers from a script: a queue of `Reply` objects consumed one per
request, then an optional `responder` callable. When neither has an answer it
returns a loud 500 ("no scripted reply left") so a test fails instead of
hanging. Every request is recorded for assertions.

Usage::

    with OpenAIServerDouble() as server:
        server.script(Reply(content="Hello!"), Reply(json={"name": "Bot"}))
        client = openai.OpenAI(api_key="k", base_url=server.base_url)
        ...
        assert server.requests[0]["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json as jsonlib
import math
import struct
import threading
import time
import uuid
import wave
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.doubles.http_server import ThreadedServer

_UNSET: Any = object()
_BODY = web.RequestKey("openai_double_body", object)


@dataclass
class ToolCall:
    """A function call the scripted assistant makes.

    `arguments` is a dict (sent as JSON) or a raw string (sent as is, e.g. to
    test how a client copes with malformed arguments).
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return jsonlib.dumps(self.arguments)


@dataclass
class Reply:
    """One scripted answer to `POST /v1/chat/completions`.

    - `content`: assistant text (streamed in several chunks when `stream` is on).
    - `json`: any JSON value; becomes `content = json.dumps(json)` (structured output).
    - `tool_calls`: function calls; `finish_reason` becomes "tool_calls".
    - `refusal`: a refusal message instead of content (structured-output refusals).
    - `status` / `error`: an OpenAI-style error body with that HTTP status.
      `retry_after_ms` is sent on errors so clients that retry do so at once
      (the `openai` client honours it), keeping retry tests fast.
    - `finish_reason`: override (e.g. "length").
    - `prompt_tokens` / `completion_tokens`: override the estimated usage.
    - `delay`: seconds to wait before answering (timeouts, slow LLMs).
    - `gate`: a `threading.Event` the answer waits for (at most 30 s): a slow LLM whose
      first token the test releases when it is ready, with no clock involved.
    - `chunk_size`: characters per streamed content/arguments chunk.
    """

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    json: Any = _UNSET
    refusal: str | None = None
    status: int = 200
    error: str | None = None
    error_type: str = "server_error"
    retry_after_ms: float | None = 1
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    delay: float = 0.0
    gate: threading.Event | None = None
    chunk_size: int = 8

    def __post_init__(self) -> None:
        if self.json is not _UNSET:
            if self.content is not None:
                raise ValueError("give either content or json, not both")
            self.content = jsonlib.dumps(self.json)
        if self.error is not None and self.status == 200:
            self.status = 500

    @property
    def is_error(self) -> bool:
        return self.status >= 400


Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class RecordedRequest:
    """Any HTTP request the server received (all routes, including errors)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


SPEECH_SAMPLE_RATE = 24000


def speech_tone(seconds: float, freq: float = 330.0) -> bytes:
    """16-bit mono PCM at `SPEECH_SAMPLE_RATE`: an audible stand-in for speech."""
    n = int(seconds * SPEECH_SAMPLE_RATE)
    return b"".join(
        struct.pack("<h", int(0.3 * 32767 * math.sin(2 * math.pi * freq * i / SPEECH_SAMPLE_RATE)))
        for i in range(n)
    )


def wav_bytes(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


def _chunks(text: str, size: int) -> list[str]:
    """Split text into pieces of `size` characters (at least two when possible)."""
    if not text:
        return []
    size = max(1, min(size, (len(text) + 1) // 2))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OpenAIServerDouble(ThreadedServer):
    """An OpenAI-compatible server on 127.0.0.1, running in a background thread.

    The aiohttp app runs on its own event loop in its own thread, so it serves
    both synchronous clients and async clients running on the test's loop
    (or on FastAPI's TestClient loop) without deadlocks.
    """

    models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")

    thread_name = "openai-double"

    def __init__(self) -> None:
        super().__init__()
        self.replies: deque[Reply] = deque()
        self.responder: Responder | None = None
        self.requests: list[dict[str, Any]] = []
        """Parsed JSON bodies of chat-completion requests, in arrival order."""
        self.headers: list[dict[str, str]] = []
        """Headers of chat-completion requests, parallel to `requests`."""
        self.recorded: list[RecordedRequest] = []
        """Every request to any route (method, path, headers, body)."""
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ script

    def script(self, *replies: Reply) -> OpenAIServerDouble:
        """Queue replies; each chat-completion request consumes the next one."""
        with self._lock:
            self.replies.extend(replies)
        return self

    def reset(self) -> None:
        """Forget queued replies, the responder and recorded requests."""
        with self._lock:
            self.replies.clear()
            self.responder = None
            self.requests.clear()
            self.headers.clear()
            self.recorded.clear()

    @property
    def last_request(self) -> dict[str, Any]:
        if not self.requests:
            raise AssertionError("the OpenAI double received no chat-completion request")
        return self.requests[-1]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.replies:
                return self.replies.popleft()
            responder = self.responder
        if responder is not None:
            return responder(body)
        return Reply(
            status=500,
            error="OpenAI double: no scripted reply left for this request",
            error_type="test_double_error",
            retry_after_ms=None,
        )

    # --------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """What to pass as `base_url` / `OPENAI_BASE_URL`, e.g. `http://127.0.0.1:PORT/v1`."""
        if self.port is None:
            raise RuntimeError("the OpenAI double is not running; use it as a context manager")
        return f"http://127.0.0.1:{self.port}/v1"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    # ---------------------------------------------------------------- handlers

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = jsonlib.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        with self._lock:
            self.recorded.append(
                RecordedRequest(request.method, request.path, dict(request.headers), body)
            )
        request[_BODY] = body
        return await handler(request)

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error(404, f"OpenAI double: no route {request.method} {request.path}")

    async def _list_models(self, request: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "openai-double"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _speech(self, request: web.Request) -> web.Response:
        """`POST /v1/audio/speech`: a WAV tone, longer for longer `input` (24 kHz mono).

        Like many OpenAI-compatible servers it ignores `stream_format` and answers
        with audio bytes, declaring what it sent (`audio/wav`, or `audio/pcm` when
        asked for `pcm`); clients must go by the Content-Type. Bad bodies get
        OpenAI's 400 shape.
        """
        body = request[_BODY]
        if not isinstance(body, dict) or not body.get("input") or not body.get("voice"):
            return self._error(400, "OpenAI double: 'input' and 'voice' are required")
        if not body.get("model"):
            return self._error(400, "OpenAI double: 'model' is required")
        seconds = min(0.2 + 0.05 * len(str(body["input"])), 5.0)
        pcm = speech_tone(seconds)
        if body.get("response_format") == "pcm":
            return web.Response(body=pcm, content_type="audio/pcm")
        return web.Response(body=wav_bytes(pcm), content_type="audio/wav")

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = request[_BODY]
        if not isinstance(body, dict):
            return self._error(400, "request body must be a JSON object", "invalid_request_error")
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
        try:
            reply = self._next_reply(body)
        except Exception as exc:  # noqa: BLE001 - a broken responder must fail loudly
            return self._error(500, f"OpenAI double responder raised {exc!r}", "test_double_error")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.gate is not None:
            await asyncio.get_running_loop().run_in_executor(None, reply.gate.wait, 30)
        if reply.is_error:
            return self._error(
                reply.status, reply.error or "error", reply.error_type, reply.retry_after_ms
            )
        if body.get("stream"):
            return await self._stream(request, body, reply)
        return web.json_response(self._completion(body, reply))

    # ------------------------------------------------------------------ bodies

    @staticmethod
    def _error(
        status: int, message: str, kind: str = "server_error", retry_after_ms: float | None = None
    ) -> web.Response:
        headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms else None
        return web.json_response(
            {"error": {"message": message, "type": kind, "param": None, "code": None}},
            status=status,
            headers=headers,
        )

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-double{next(self._ids)}{uuid.uuid4().hex[:8]}"

    def _finish_reason(self, reply: Reply) -> str:
        return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = _estimate_tokens(jsonlib.dumps(body.get("messages", [])))
        completion = reply.completion_tokens
        if completion is None:
            text = (reply.content or "") + (reply.refusal or "")
            text += "".join(c.name + c.arguments_text() for c in reply.tool_calls)
            completion = _estimate_tokens(text)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _tool_call_ids(self, reply: Reply) -> list[str]:
        return [c.id or f"call_{uuid.uuid4().hex[:24]}" for c in reply.tool_calls]

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": reply.refusal,
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_text()},
                }
                for call, call_id in zip(reply.tool_calls, self._tool_call_ids(reply), strict=True)
            ]
        return {
            "id": self._new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "unknown"),
            "system_fingerprint": "fp_double",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self._finish_reason(reply),
                }
            ],
            "usage": self._usage(body, reply),
        }

    def _chunk_deltas(self, reply: Reply) -> Iterator[dict[str, Any]]:
        """The `delta` objects of a streamed reply, OpenAI-style."""
        yield {"role": "assistant", "content": "", "refusal": None}
        for piece in _chunks(reply.content or "", reply.chunk_size):
            yield {"content": piece}
        for piece in _chunks(reply.refusal or "", reply.chunk_size):
            yield {"refusal": piece}
        for index, (call, call_id) in enumerate(
            zip(reply.tool_calls, self._tool_call_ids(reply), strict=True)
        ):
            pieces = _chunks(call.arguments_text(), reply.chunk_size)
            # First chunk of a call: id, type, name and (empty) arguments.
            yield {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
            for piece in pieces:
                yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": self._new_id("chatcmpl"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "unknown"),
            "system_fingerprint": "fp_double",
        }

        async def send(chunk: dict[str, Any]) -> None:
            if include_usage and "usage" not in chunk:
                chunk["usage"] = None
            await response.write(f"data: {jsonlib.dumps(chunk)}\n\n".encode())

        for delta in self._chunk_deltas(reply):
            await send(
                {
                    **base,
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
                    ],
                }
            )
        await send(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {},
                        "logprobs": None,
                        "finish_reason": self._finish_reason(reply),
                    }
                ],
            }
        )
        if include_usage:
            await send({**base, "choices": [], "usage": self._usage(body, reply)})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
