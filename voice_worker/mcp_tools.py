"""MCP servers at call time: each ready server of an agent becomes livekit's own
`MCPToolset(MCPServerHTTP(...))`, reduced to the tools an admin allowed.

The same code serves a voice call and a text chat (both build `SpecAgent`, whose
tools include one `VoxieMcpToolset` per server). The framework calls `setup()` when
the agent starts; there, within the server's timeout:

1. header secrets are resolved (now, never earlier; never logged);
2. the server is connected through the URL guard's httpx2 client (refused addresses
   fail at connect time, also after a redirect) and its tools listed;
3. only `allowed_tools` (valid function names no other tool of the agent has) are kept,
   each wrapped so an invocation checks its arguments against the tool's schema,
   runs within the timeout, hands the model plain text (capped at `MAX_RESULT_CHARS`,
   secret values redacted) and is recorded in `tool_invocations`.

A server that is down, refused or too slow costs the call at most its timeout: the
call goes on without its tools and a warning event on the calls stream says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import referencing.exceptions
from livekit.agents import RunContext, ToolError, function_tool, llm
from livekit.agents.llm.mcp import MCPServerHTTP, MCPToolResultContext, MCPToolset
from mcp.client._transport import TransportStreams

from voice_worker import tool_calls
from voice_worker.calldata import CallData
from voxie_app.db import session_scope
from voxie_app.models import Tool
from voxie_app.services import events
from voxie_app.services import mcp_servers as mcp_svc
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services.calls import CALLS_STREAM
from voxie_app.services.errors import InvalidInput, ServiceError

log = logging.getLogger(__name__)

MAX_RESULT_CHARS = tool_calls.MAX_RESULT_CHARS
MAX_ERROR_CHARS = tool_calls.MAX_ERROR_CHARS
UNAVAILABLE_EVENT = "mcp_server_unavailable"


@dataclass(frozen=True)
class McpServerConfig:
    """A snapshot of a stored MCP server (the row may change while a call runs)."""

    id: uuid.UUID
    name: str
    url: str
    transport: str
    headers: dict[str, str]
    timeout_s: float
    allowed_tools: tuple[str, ...]

    @classmethod
    def of(cls, row: Tool) -> McpServerConfig:
        return cls(
            id=row.id,
            name=row.name,
            url=row.url,
            transport=row.transport or "streamable_http",
            headers=dict(row.headers),
            timeout_s=float(row.timeout_s),
            allowed_tools=tuple(row.allowed_tools or ()),
        )


def load(ids: list[uuid.UUID]) -> list[McpServerConfig]:
    """The agent's ready MCP servers that allow at least one tool (blocking: one read)."""
    if not ids:
        return []
    with session_scope() as session:
        rows = tools_svc.tools_for(session=session, ids=ids, kind="mcp")
        return [McpServerConfig.of(r) for r in rows if r.allowed_tools]


def plain_text(ctx: MCPToolResultContext) -> str:
    """An MCP tool's result as the text a model reads (images and files as a note)."""
    parts: list[str] = []
    for item in ctx.result.content:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(item.text)
        elif kind == "resource":
            resource = item.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[file {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[link {item.name}: {item.uri}]")
        else:
            parts.append(f"[{kind or 'content'} not shown]")
    if not parts and ctx.result.structured_content is not None:
        parts.append(json.dumps(ctx.result.structured_content, ensure_ascii=False))
    return "\n".join(parts) if parts else "Done."


capped = tool_calls.model_text


class GuardedMCPServer(MCPServerHTTP):
    """livekit's `MCPServerHTTP`, connecting through the URL guard (`open_streams`)."""

    def __init__(self, config: McpServerConfig) -> None:
        super().__init__(
            url=config.url,
            transport_type="sse" if config.transport == "sse" else "streamable_http",
            allowed_tools=list(config.allowed_tools),
            timeout=config.timeout_s,
            client_session_timeout_seconds=config.timeout_s,
            tool_result_resolver=plain_text,
        )
        self._config = config

    def client_streams(self) -> AbstractAsyncContextManager[TransportStreams]:
        return mcp_svc.open_streams(
            url=self._config.url,
            transport=self._config.transport,
            headers=dict(self.headers),
            timeout_s=self._config.timeout_s,
        )

    def __repr__(self) -> str:  # never the headers
        return f"GuardedMCPServer({self._config.name}, {self._config.transport})"


@dataclass
class _Outcome:
    status: str
    arguments: dict[str, Any]
    error: str | None = None
    result_chars: int = 0


@dataclass
class _Invocation:
    """One allowed MCP tool as the agent calls it."""

    server: McpServerConfig
    name: str
    schema: dict[str, Any]
    call: Callable[[dict[str, Any]], Any]
    secret_values: list[str] = field(default_factory=list)

    def check(self, arguments: Any) -> dict[str, Any]:
        if not isinstance(arguments, dict):
            raise _Failed("invalid_arguments", "arguments must be a JSON object")
        try:
            problem = tool_calls.argument_problem(self.schema, arguments)
        except (referencing.exceptions.Unresolvable, jsonschema.SchemaError):
            return arguments  # the server checks what we cannot
        if problem is not None:
            raise _Failed("invalid_arguments", problem)
        return arguments

    async def run(
        self,
        arguments: Any,
        *,
        call_session_id: uuid.UUID | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> str:
        """The text for the model, or a `ToolError`; recorded either way."""
        started = clock()
        outcome = _Outcome("ok", arguments if isinstance(arguments, dict) else {})
        try:
            checked = self.check(arguments)
            async with asyncio.timeout(self.server.timeout_s):
                result = await self.call(checked)
            text = capped(str(result), self.secret_values)
            outcome.result_chars = len(text)
            return text
        except _Failed as exc:
            outcome.status, outcome.error = exc.status, exc.message
        except ToolError as exc:  # the server answered with an error
            outcome.status = "failed"
            outcome.error = capped(exc.message, self.secret_values, MAX_ERROR_CHARS)
        except TimeoutError:
            outcome.status = "timeout"
            outcome.error = f"the MCP server did not answer within {self.server.timeout_s:g} s"
        except Exception as exc:  # noqa: BLE001  (a lost connection, a protocol error)
            explained = mcp_svc.explain(exc, timeout_s=self.server.timeout_s)
            outcome.status = "refused" if isinstance(explained, InvalidInput) else "failed"
            if "could not reach" in explained.message:
                outcome.status = "connection_error"
            outcome.error = explained.message[:MAX_ERROR_CHARS]
        finally:
            outcome.arguments = tool_calls.redacted_arguments(outcome.arguments, self.secret_values)
            latency_ms = int((clock() - started) * 1000)
            tool_calls.record_soon(
                tool_id=self.server.id,
                tool_name=self.name,
                call_session_id=call_session_id,
                status=outcome.status,
                arguments=outcome.arguments,
                latency_ms=latency_ms,
                result_chars=outcome.result_chars,
                error=outcome.error,
            )
        raise ToolError(f"{self.name} failed: {outcome.error}")

    def function_tool(self, description: str) -> llm.RawFunctionTool:
        async def handler(raw_arguments: dict[str, object], context: RunContext[CallData]) -> str:
            return await self.run(raw_arguments, call_session_id=context.userdata.call_session_id)

        return function_tool(
            handler,
            raw_schema={
                "name": self.name,
                "description": description[: mcp_svc.MAX_DESCRIPTION],
                "parameters": self.schema,
            },
        )


class _Failed(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message[:MAX_ERROR_CHARS]


def _connect_material(config: McpServerConfig) -> tuple[dict[str, str], list[str]]:
    """The headers with secrets resolved, and those secrets' values (to redact)."""
    with session_scope() as session:
        headers = mcp_svc.resolve_headers(config.headers, session=session)
        values = [
            secrets_svc.value_of(session=session, name=name)
            for template in config.headers.values()
            for name in secrets_svc.references(template)
        ]
    return headers, [v for v in values if v]


def _announce(config: McpServerConfig, call_session_id: uuid.UUID | None, reason: str) -> None:
    try:
        events.publish(
            CALLS_STREAM,
            UNAVAILABLE_EVENT,
            f"MCP server {config.name} is unavailable ({reason}); "
            "the call goes on without its tools",
            {
                "call_session_id": str(call_session_id) if call_session_id else None,
                "tool_id": str(config.id),
                "server": config.name,
                "reason": reason,
            },
            level="warning",
        )
    except Exception:  # the call must start even if the event is lost
        log.exception("could not publish that MCP server %s is unavailable", config.name)


class VoxieMcpToolset(MCPToolset):
    """One MCP server's allowed tools for one agent; empty if the server is unavailable.

    `taken` holds the names the agent's other tools use (shared by its toolsets, so two
    servers cannot offer the same name); `call_session_id` reads the running call's id
    (the agent's session userdata) when the framework sets the toolset up.
    """

    def __init__(
        self,
        config: McpServerConfig,
        *,
        taken: set[str],
        call_session_id: Callable[[], uuid.UUID | None],
    ) -> None:
        super().__init__(id=f"mcp_{config.name}", mcp_server=GuardedMCPServer(config))
        self.config = config
        self.available: bool | None = None  # None until set up
        self._taken = taken
        self._call_session_id = call_session_id

    async def setup(self, *, reload: bool = False) -> VoxieMcpToolset:
        if self._initialized and not reload:
            return self
        config = self.config
        try:
            async with asyncio.timeout(config.timeout_s):
                headers, secret_values = await asyncio.to_thread(_connect_material, config)
                self._mcp_server.headers = headers
                await super().setup(reload=reload)
        except Exception as exc:  # noqa: BLE001  (down, refused, slow, misconfigured)
            reason = (
                exc.message
                if isinstance(exc, ServiceError)
                else mcp_svc.explain(exc, timeout_s=config.timeout_s).message
            )
            log.warning("MCP server %s unavailable: %s", config.name, reason)
            with contextlib.suppress(Exception):
                await self._mcp_server.aclose()
            self._tools = []
            self.available = False
            await asyncio.to_thread(_announce, config, self._call_session_id(), reason)
            return self
        self._tools = self._allowed(secret_values)
        self.available = True
        return self

    def _allowed(self, secret_values: list[str]) -> list[llm.Tool]:
        kept: list[llm.Tool] = []
        allowed = set(self.config.allowed_tools)
        for tool in self._tools:
            if not isinstance(tool, llm.RawFunctionTool):
                continue
            info = tool.info
            name = info.name
            if name not in allowed or not mcp_svc.TOOL_NAME_RE.match(name):
                continue
            if name in self._taken:
                log.warning("MCP tool %s of %s hidden: the name is taken", name, self.config.name)
                continue
            schema = dict(info.raw_schema.get("parameters") or {})
            schema.setdefault("type", "object")
            try:
                tools_svc.check_parameters(schema)
            except ValueError as exc:
                log.warning("MCP tool %s of %s hidden: its schema %s", name, self.config.name, exc)
                continue
            self._taken.add(name)
            invocation = _Invocation(self.config, name, schema, tool, secret_values)
            kept.append(invocation.function_tool(str(info.raw_schema.get("description") or "")))
        return kept
