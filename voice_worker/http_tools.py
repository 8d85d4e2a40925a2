"""Custom HTTP tools at call time: each ready tool of an agent becomes a function tool.

The same code serves a voice call and a text chat (both build `SpecAgent`). For one
invocation, in order:

1. the model's arguments are checked against the tool's JSON Schema; if they do not
   fit, the model gets a `ToolError` saying what is wrong and nothing is sent;
2. the URL's `{param}` placeholders are filled (url-encoded), its per-call
   `{{variable}}` placeholders rendered (url-encoded) and its `{{secret:NAME}}`
   references resolved in one pass over the admin's template (so a model's argument
   or a variable's value that looks like a reference stays text); an argument the
   model left out whose schema `default` is a `{{variable}}` template gets the
   rendered default (the model's own values are never rendered); header secrets are
   resolved now, never earlier, and never reach the model, a log line or a record;
3. the request goes through the URL guard's client (checked at connect time, no
   redirects, no proxies), with the tool's timeout, and at most `MAX_RESPONSE_BYTES`
   of the answer is read;
4. timeout, connection failure, a refused address and a non-2xx answer each become a
   short `ToolError`; the conversation goes on;
5. a JSON answer is narrowed by `result_path`, and the model sees at most
   `MAX_RESULT_CHARS` characters, with any secret value redacted;
6. every invocation is recorded in `tool_invocations` for the call session, off the
   critical path (`tool_calls.record_soon`).

A tool's `wait_message` is said once the request has run `WAIT_MESSAGE_DELAY_S`
with the agent silent (see `function_tool_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import referencing.exceptions
from livekit.agents import RunContext, ToolError, function_tool, llm

from voice_worker import realtime, tool_calls
from voice_worker.calldata import CallData
from voxie_app.db import session_scope
from voxie_app.models import Tool
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services import url_guard
from voxie_app.services import variables as variables_svc
from voxie_app.services.errors import InvalidInput

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_RESULT_CHARS = tool_calls.MAX_RESULT_CHARS
MAX_ERROR_CHARS = tool_calls.MAX_ERROR_CHARS
USER_AGENT = "Voxie-Tools/1.0"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# How long a request runs, the agent silent, before its tool's wait_message is said
# (read at call time, so tests can shorten it).
WAIT_MESSAGE_DELAY_S = 1.5
# One pass over the URL template: a secret reference (group 1), a per-call variable
# (groups 2-3) or a {param} placeholder (group 4).
_TOKEN_RE = re.compile(
    "|".join(
        p.pattern
        for p in (secrets_svc.REFERENCE_RE, variables_svc.PLACEHOLDER_RE, tools_svc.PLACEHOLDER_RE)
    )
)


@dataclass(frozen=True)
class HttpTool:
    """A snapshot of a stored tool (the row may change while a call runs)."""

    id: uuid.UUID
    name: str
    description: str
    parameters: dict[str, Any]
    method: str
    url: str
    headers: dict[str, str]
    timeout_s: float
    wait_message: str
    result_path: str

    @property
    def uses_secrets(self) -> bool:
        """Whether the URL or a header refers to a secret (resolving one reads the database)."""
        return any(
            secrets_svc.REFERENCE_RE.search(text) for text in (self.url, *self.headers.values())
        )

    @classmethod
    def of(cls, row: Tool) -> HttpTool:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            parameters=dict(row.parameters),
            method=row.method,
            url=row.url,
            headers=dict(row.headers),
            timeout_s=float(row.timeout_s),
            wait_message=row.wait_message,
            result_path=row.result_path,
        )


def load(ids: list[uuid.UUID]) -> list[HttpTool]:
    """The agent's ready tools, in its spec's order (blocking: one read)."""
    if not ids:
        return []
    with session_scope() as session:
        return [HttpTool.of(t) for t in tools_svc.tools_for(session=session, ids=ids, kind="http")]


@dataclass
class Outcome:
    """What one invocation did, as recorded (no secret value in any field)."""

    status: str
    arguments: dict[str, Any]
    http_status: int | None = None
    error: str | None = None
    result_chars: int = 0


class _Failed(Exception):
    def __init__(self, status: str, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.http_status = http_status


class _RedactSecrets(logging.Filter):
    """Redacts the secret values of requests in flight from `httpx`/`httpcore` records
    (httpx logs each request's URL, which may carry a secret in its query)."""

    def __init__(self) -> None:
        super().__init__()
        self.active: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.active:
            text = record.getMessage()
            redacted = secrets_svc.redact(text, list(self.active))
            if redacted != text:
                record.msg, record.args = redacted, None
        return True


_REDACT = _RedactSecrets()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_REDACT)


def check_arguments(tool: HttpTool, arguments: Any) -> dict[str, Any]:
    """The arguments if they fit the tool's schema, else `_Failed` saying what is wrong."""
    if not isinstance(arguments, dict):
        raise _Failed("invalid_arguments", "arguments must be a JSON object")
    try:
        problem = tool_calls.argument_problem(tool.parameters, arguments)
    # A schema stored before a rule existed: an unresolvable $ref, a bad schema.
    except (referencing.exceptions.Unresolvable, jsonschema.SchemaError):
        log.warning("tool %s has a schema its arguments cannot be checked with", tool.name)
        raise _Failed("failed", "the tool's parameters cannot be checked") from None
    if problem is not None:
        raise _Failed("invalid_arguments", problem)
    return arguments


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    body: dict[str, Any] | None
    secret_values: list[str]


def _templated_defaults(
    tool: HttpTool, arguments: dict[str, Any], variables: Mapping[str, str]
) -> dict[str, Any]:
    """`arguments` plus, for each property the model left out whose schema `default` is a
    `{{variable}}` template (the admin's text), that default rendered."""
    properties = tool.parameters.get("properties") or {}
    filled = dict(arguments)
    for name, schema in properties.items() if isinstance(properties, dict) else ():
        default = schema.get("default") if isinstance(schema, dict) else None
        if (
            name not in filled
            and isinstance(default, str)
            and variables_svc.has_placeholder(default)
        ):
            filled[name] = variables_svc.render(default, variables)
    return filled


def build_request(
    tool: HttpTool,
    arguments: dict[str, Any],
    secret: Callable[[str], str],
    variables: Mapping[str, str] | None = None,
) -> _Request:
    """The request for `arguments`; `secret(name)` gives a secret's value (send time);
    `variables` are the call's values for `{{name}}` placeholders."""
    used: set[str] = set()
    values: list[str] = []
    variables = variables or {}
    arguments = _templated_defaults(tool, arguments, variables)

    def fill(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            value = secret(match.group(1))
            values.append(value)
            return value
        if match.group(4) is None:  # a per-call variable
            return quote(variables_svc.substitute(match, variables, name=2), safe="")
        name = match.group(4)
        if name not in arguments:
            raise _Failed("invalid_arguments", f"invalid arguments: {name!r} is required")
        used.add(name)
        return quote(_query_value(arguments[name]), safe="")

    url = _TOKEN_RE.sub(fill, tool.url)
    headers = {"User-Agent": USER_AGENT}
    for name, template in tool.headers.items():

        def header_secret(match: re.Match[str]) -> str:
            value = secret(match.group(1))
            values.append(value)
            return value

        headers[name] = secrets_svc.REFERENCE_RE.sub(header_secret, template)
    rest = {k: v for k, v in arguments.items() if k not in used}
    if tool.method in BODY_METHODS:
        return _Request(tool.method, url, headers, {}, rest, values)
    params = {k: _query_value(v) for k, v in rest.items() if v is not None}
    return _Request(tool.method, url, headers, params, None, values)


def pick(value: Any, path: str) -> Any:
    """`value` narrowed by a dotted `path` (`data.slots`, `items.0.id`)."""
    for key in path.split(".") if path else []:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise _Failed("failed", f"the answer has nothing at {path!r}")
    return value


def result_text(tool: HttpTool, status: int, raw: bytes, secret_values: list[str]) -> str:
    """What the model sees: the (narrowed) answer as text, redacted, capped."""
    if not raw.strip():
        return f"Done (HTTP {status})."
    text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        if tool.result_path:
            raise _Failed("failed", "the answer was not JSON") from None
    else:
        data = pick(data, tool.result_path)
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return tool_calls.model_text(text, secret_values)


async def _read(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _resolve_secret(name: str) -> str:
    with session_scope() as session:
        return secrets_svc.value_of(session=session, name=name)


# One guarded client per event loop (a call's, or the web app's for chats and the Test
# button), kept for the loop's life so a tool's service is reached over a kept-alive
# connection: a second request in a call skips the connect (and TLS handshake). Each new
# connection still goes through the URL guard when it is opened.
KEEPALIVE_S = 30.0
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(loop)
    if client is None or client.is_closed:
        client = _CLIENTS[loop] = url_guard.guarded_client(
            limits=httpx.Limits(
                max_connections=50, max_keepalive_connections=10, keepalive_expiry=KEEPALIVE_S
            )
        )
    return client


async def close_clients() -> None:
    """Close this event loop's client (the end of a call: its kept connections go)."""
    client = _CLIENTS.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


async def _send(tool: HttpTool, request: _Request) -> tuple[int, bytes]:
    for value in request.secret_values:
        _REDACT.active[value] = _REDACT.active.get(value, 0) + 1
    try:
        async with (
            asyncio.timeout(tool.timeout_s),
            _client().stream(
                request.method,
                # merged into the template's own query (`params=` would replace it)
                httpx.URL(request.url).copy_merge_params(request.params),
                headers=request.headers,
                json=request.body,
                timeout=httpx.Timeout(tool.timeout_s),
            ) as response,
        ):
            raw = await _read(response)
            return response.status_code, raw
    except (TimeoutError, httpx.TimeoutException):
        raise _Failed(
            "timeout", f"the service did not answer within {tool.timeout_s:g} s"
        ) from None
    except url_guard.AddressRefused:
        raise _Failed("refused", "the tool's address is not allowed") from None
    except httpx.ConnectError:
        raise _Failed("connection_error", "could not reach the service") from None
    except httpx.HTTPError as exc:
        raise _Failed("failed", f"the request failed ({type(exc).__name__})") from None
    finally:
        for value in request.secret_values:
            left = _REDACT.active.get(value, 1) - 1
            if left <= 0:
                _REDACT.active.pop(value, None)
            else:
                _REDACT.active[value] = left


async def invoke(
    tool: HttpTool,
    arguments: Any,
    *,
    call_session_id: uuid.UUID | None,
    clock: Callable[[], float] = time.monotonic,
    variables: Mapping[str, str] | None = None,
    on_done: Callable[[Outcome, int], None] | None = None,
) -> str:
    """Run `tool` with the model's `arguments`: the text for the model, or `ToolError`.
    `variables`: the call's per-call values (the running agent's).
    `on_done(outcome, latency_ms)` sees what is recorded (the Test button shows it)."""
    started = clock()
    outcome = Outcome(status="ok", arguments=arguments if isinstance(arguments, dict) else {})
    secret_values: list[str] = []
    try:
        checked = check_arguments(tool, arguments)
        try:
            if tool.uses_secrets:  # a database read per secret: off the event loop
                request = await asyncio.to_thread(
                    build_request, tool, checked, _resolve_secret, variables
                )
            else:
                request = build_request(tool, checked, _resolve_secret, variables)
        except secrets_svc.UnknownSecret as exc:
            raise _Failed("failed", f"the tool is not set up ({exc.message})") from None
        secret_values = request.secret_values
        status, raw = await _send(tool, request)
        outcome.http_status = status
        if not 200 <= status < 300:
            raise _Failed("http_error", f"the service answered HTTP {status}", status)
        text = result_text(tool, status, raw, secret_values)
        outcome.result_chars = len(text)
        return text
    except _Failed as exc:
        outcome.status, outcome.error = exc.status, exc.message
        raise ToolError(f"{tool.name} failed: {exc.message}") from None
    finally:
        outcome.arguments = tool_calls.redacted_arguments(outcome.arguments, secret_values)
        latency_ms = int((clock() - started) * 1000)
        if on_done is not None:
            on_done(outcome, latency_ms)
        tool_calls.record_soon(
            tool_id=tool.id,
            tool_name=tool.name,
            call_session_id=call_session_id,
            status=outcome.status,
            arguments=outcome.arguments,
            latency_ms=latency_ms,
            result_chars=outcome.result_chars,
            error=outcome.error,
            http_status=outcome.http_status,
        )


@dataclass(frozen=True)
class TryResult:
    """One run from the Test button: what the model would have seen, and how it went."""

    status: str  # as recorded: ok, invalid_arguments, timeout, http_error, ...
    http_status: int | None
    latency_ms: int
    result: str  # the capped, redacted text the model would get, or the tool error

    @property
    def ok(self) -> bool:
        return self.status == "ok"


async def try_tool(
    tool: HttpTool, arguments: Any, *, clock: Callable[[], float] = time.monotonic
) -> TryResult:
    """Run `tool` once with sample `arguments` through the path a call takes (schema
    check, URL guard, secrets resolved here and redacted from the answer, recorded
    with no call session)."""
    seen: list[tuple[Outcome, int]] = []
    try:
        text = await invoke(
            tool,
            arguments,
            call_session_id=None,
            clock=clock,
            on_done=lambda o, ms: seen.append((o, ms)),
        )
    except ToolError:
        text = ""
    await tool_calls.flush()  # the Test's record is written before its answer
    outcome, latency_ms = seen[0]
    return TryResult(
        status=outcome.status,
        http_status=outcome.http_status,
        latency_ms=latency_ms,
        result=text if outcome.status == "ok" else (outcome.error or "failed"),
    )


async def try_stored(tool_id: uuid.UUID, arguments: Any) -> TryResult:
    """`try_tool` for a stored tool (NotFound; InvalidInput naming `url` while it has none)."""

    def snapshot() -> HttpTool:
        with session_scope() as session:
            row = tools_svc.get_tool(session=session, tool_id=tool_id)
            if row.kind != "http":
                raise InvalidInput("only HTTP tools can be tested here", field="kind")
            if not row.url.strip():
                raise InvalidInput("the tool has no URL yet: set it up first", field="url")
            return HttpTool.of(row)

    return await try_tool(await asyncio.to_thread(snapshot), arguments)


def function_tool_for(tool: HttpTool) -> llm.RawFunctionTool:
    """The livekit function tool the model calls for `tool`."""

    async def handler(raw_arguments: dict[str, object], context: RunContext[CallData]) -> str:
        call_session_id = context.userdata.call_session_id
        variables = getattr(context.session.current_agent, "variables", None)
        if not tool.wait_message:
            return await invoke(
                tool, raw_arguments, call_session_id=call_session_id, variables=variables
            )
        # The framework's filler: it speaks only once the session has been idle for the
        # delay (never over the agent's own words or the caller's), through the speech
        # queue, and is cancelled, unsaid, when the request ends first. A text session
        # has no TTS: `say` then only forwards the text to the transcription output.
        # Not added to the chat context: the model's history holds what it said itself.
        # On a voice call it is the turn's one acknowledgement (voice_worker/filler.py):
        # the agent's filler leaves the turn to it while it runs, and it stays silent
        # when the filler was already said (None skips the framework's filler).
        filler = getattr(context.userdata, "filler", None)

        def say_wait(_step: int) -> object:
            if filler is not None and not filler.claim():
                return None
            if realtime.is_realtime(getattr(context.session.current_agent, "llm", None)):
                return None  # no TTS to say it mid-tool; the model answers when it is done
            return context.session.say(tool.wait_message, add_to_chat_ctx=False)

        with filler.tool_speaks() if filler is not None else contextlib.nullcontext():
            async with context.with_filler(say_wait, delay=WAIT_MESSAGE_DELAY_S):  # type: ignore[arg-type]
                return await invoke(
                    tool, raw_arguments, call_session_id=call_session_id, variables=variables
                )

    return function_tool(
        handler,
        raw_schema={
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    )
