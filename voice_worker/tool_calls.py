"""What every custom tool call does around its request, HTTP tool or MCP tool alike.

One place for the rules both kinds must keep identically: arguments checked against
the tool's JSON Schema before anything is sent, the text the model sees redacted and
capped, arguments stored with secret values redacted, and one `tool_invocations` row
per call that never breaks the call when it cannot be written.

The row is written off the call's critical path (`record_soon`): the tool's answer
goes to the model at once, and the database write starts `RECORD_DELAY_S` later, while
the model works on its reply. (A write on a worker thread still takes the GIL from the
event loop; started at once, it slowed the next LLM request by a few milliseconds.)
`flush()` starts every pending write now and waits for them; the call recorder calls it
before it flushes or finishes, so nothing is lost when a call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import weakref
from typing import Any

import jsonschema

from voxie_app.db import session_scope
from voxie_app.models import Tool, ToolInvocation
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc

log = logging.getLogger(__name__)

MAX_RESULT_CHARS = tools_svc.MAX_RESULT_CHARS
MAX_ERROR_CHARS = 300
_TRUNCATED = " …[truncated]"
RECORD_DELAY_S = 0.3
# Invocation writes pending or in flight (a strong reference each, or the loop may drop
# them), and per event loop the event `flush()` sets to start them at once.
_PENDING: set[asyncio.Task[None]] = set()
_NOW: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
    weakref.WeakKeyDictionary()
)


def argument_problem(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` do not fit `schema` ("invalid arguments: date: ..."), or None.

    Raises `referencing.exceptions.Unresolvable` / `jsonschema.SchemaError` for a
    schema that cannot be checked: each caller decides what that means for its kind."""
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(arguments)
    )
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    message = f"{where}: {error.message}" if where else error.message
    return f"invalid arguments: {message}"[:MAX_ERROR_CHARS]


def model_text(text: str, secret_values: list[str], limit: int = MAX_RESULT_CHARS) -> str:
    """`text` as the model (or a record) may see it: secret values redacted, capped."""
    text = secrets_svc.redact(text, secret_values)
    if len(text) > limit:
        text = text[: limit - len(_TRUNCATED)] + _TRUNCATED
    return text


def redacted_arguments(arguments: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """The model's arguments with any secret value in them replaced, for the record."""
    if not values:
        return arguments
    return json.loads(secrets_svc.redact(json.dumps(arguments, ensure_ascii=False), values))


def record_invocation(
    *,
    tool_id: uuid.UUID,
    tool_name: str,
    call_session_id: uuid.UUID | None,
    status: str,
    arguments: dict[str, Any],
    latency_ms: int,
    result_chars: int,
    error: str | None = None,
    http_status: int | None = None,
) -> None:
    """One `tool_invocations` row (blocking). A tool deleted meanwhile is recorded by
    name only; a row that cannot be written is logged, never raised: a lost record
    must not break the call."""
    try:
        with session_scope() as session:
            alive = session.get(Tool, tool_id) is not None
            session.add(
                ToolInvocation(
                    call_session_id=call_session_id,
                    tool_id=tool_id if alive else None,
                    tool_name=tool_name[:64],
                    arguments=arguments,
                    status=status,
                    http_status=http_status,
                    error=error,
                    latency_ms=latency_ms,
                    result_chars=result_chars,
                )
            )
    except Exception:
        log.exception("could not record an invocation of tool %s", tool_name)


def _start_now() -> asyncio.Event:
    loop = asyncio.get_running_loop()
    event = _NOW.get(loop)
    if event is None:
        event = _NOW[loop] = asyncio.Event()
    return event


async def _write_soon(fields: dict[str, Any]) -> None:
    start_now = _start_now()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RECORD_DELAY_S):
            await start_now.wait()
    await asyncio.to_thread(record_invocation, **fields)


def record_soon(**fields: Any) -> None:
    """`record_invocation(**fields)` on a worker thread `RECORD_DELAY_S` from now (or
    at the next `flush()`), without waiting for it."""
    task = asyncio.get_running_loop().create_task(_write_soon(fields))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


async def flush() -> None:
    """Start every pending invocation write of this event loop now and wait for them."""
    loop = asyncio.get_running_loop()
    while mine := [t for t in _PENDING if t.get_loop() is loop]:
        event = _start_now()
        event.set()
        await asyncio.gather(*mine, return_exceptions=True)
        if _NOW.get(loop) is event:
            del _NOW[loop]  # later writes wait their delay again
