"""MCP servers as tools: what an admin describes, what "Refresh" finds, what agents get.

An MCP server is a `Tool` row of kind 'mcp'. Its name follows the HTTP tools' rules
(snake_case, unique across all tools, not a built-in's), its URL passes the URL guard
on save, and every connection to it (here, for "Refresh", and in the agent runtime at
call start) goes through the guard's httpx2 client, checked again at connect time.
Header values may hold `{{secret:NAME}}`; they are resolved only when connecting.

"Refresh" lists the server's tools (`discovered_tools`: name and description); an
admin ticks those agents may use (`allowed_tools`, a subset of the listed names).
Nothing else a server offers reaches a model.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

import httpx2
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, select

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import MCP_TRANSPORTS, Tool
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services import url_guard
from voxie_app.services.errors import (
    Conflict,
    InvalidInput,
    ProviderFailed,
    ServiceError,
    parse_model,
)

Transport = Literal["streamable_http", "sse"]
# What a model can call: OpenAI-style function names. A listed tool named otherwise
# is shown on Refresh but cannot be allowed.
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ALLOWED = 100
MAX_DISCOVERED = 200
MAX_DESCRIPTION = 1000
# The SSE stream stays open for the whole call; only its silence is bounded.
SSE_READ_TIMEOUT_S = 300.0

assert set(MCP_TRANSPORTS) == {"streamable_http", "sse"}


class McpIn(BaseModel):
    """An MCP server as an admin writes it (create or full replace)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        description="snake_case, unique across all tools, not a built-in tool's name.",
        json_schema_extra={"pattern": tools_svc.NAME_RE.pattern},
    )
    description: str = Field(default="", max_length=1000, description="For admins.")
    url: str = Field(
        min_length=1,
        max_length=url_guard.MAX_URL,
        description="The server's http(s) endpoint, e.g. https://mcp.example.com/mcp.",
    )
    transport: Transport = Field(
        default="streamable_http", description="streamable_http (current) or sse (legacy)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=tools_svc.MAX_HEADERS,
        description="Sent on every request; values may hold `{{secret:NAME}}`.",
    )
    timeout_s: float = Field(
        default=tools_svc.DEFAULT_TIMEOUT_S,
        ge=tools_svc.MIN_TIMEOUT_S,
        le=tools_svc.MAX_TIMEOUT_S,
        description="For connecting, listing and each tool call, in seconds.",
    )
    allowed_tools: list[str] = Field(
        default_factory=list,
        max_length=MAX_ALLOWED,
        description="Names among the tools the last Refresh listed that agents may call.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return tools_svc.check_name(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return tools_svc.check_headers(value)

    @field_validator("allowed_tools")
    @classmethod
    def _allowed(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


def parse(data: dict[str, Any]) -> McpIn:
    """Validate a server dict (for callers without pydantic at the edge): InvalidInput."""
    return parse_model(McpIn, data)


def check_url(url: str) -> str:
    """The server URL, if the guard accepts it; secrets belong in headers (422 `url`)."""
    url = url.strip()
    if "{" in url or "}" in url:
        raise InvalidInput(
            "the URL cannot hold placeholders or secrets: put an API key in a header",
            field="url",
        )
    url_guard.check_url(url)
    return url


def _check(session: Session, body: McpIn, *, tool: Tool | None) -> None:
    check_url(body.url)
    for name, value in body.headers.items():
        secrets_svc.check_references(session=session, text=value, field=f"headers.{name}")
    clash = session.exec(select(Tool).where(Tool.name == body.name)).first()
    if clash is not None and (tool is None or clash.id != tool.id):
        raise Conflict(f"a tool named {body.name!r} exists")
    listed = {t["name"] for t in (tool.discovered_tools if tool is not None else [])}
    for index, name in enumerate(body.allowed_tools):
        if name not in listed:
            hint = "press Refresh first" if not listed else "Refresh lists the server's tools"
            raise InvalidInput(
                f"{name!r} is not among the tools the server listed ({hint})",
                field=f"allowed_tools.{index}",
            )
        if not TOOL_NAME_RE.match(name):
            raise InvalidInput(
                f"{name!r} cannot be offered to a model (names are A-Z, a-z, 0-9, _ and -)",
                field=f"allowed_tools.{index}",
            )


def _apply(tool: Tool, body: McpIn) -> None:
    tool.name = body.name
    tool.description = body.description
    tool.url = body.url.strip()
    tool.transport = body.transport
    tool.headers = dict(body.headers)
    tool.timeout_s = body.timeout_s
    tool.allowed_tools = list(body.allowed_tools)
    tool.parameters = {}
    tool.method = "POST"
    tool.status = "ready"


def create_server(*, session: Session, body: McpIn, now: datetime | None = None) -> Tool:
    """Save a new MCP server (blocking: the URL guard may resolve the host). It lists
    no tools until its first Refresh, so `allowed_tools` must be empty here."""
    _check(session, body, tool=None)
    if len(session.exec(select(Tool.id)).all()) >= tools_svc.MAX_TOOLS:
        raise Conflict(f"at most {tools_svc.MAX_TOOLS} tools can be stored")
    now = now or utcnow()
    tool = Tool(kind="mcp", name=body.name, description="", url="", created_at=now, updated_at=now)
    _apply(tool, body)
    session.add(tool)
    session.flush()
    return tool


def get_server(*, session: Session, tool_id: uuid.UUID) -> Tool:
    tool = tools_svc.get_tool(session=session, tool_id=tool_id)
    if tool.kind != "mcp":
        raise Conflict("this is an HTTP tool, not an MCP server: change it at /api/tools/{id}")
    return tool


def update_server(
    *, session: Session, tool_id: uuid.UUID, body: McpIn, now: datetime | None = None
) -> Tool:
    """Replace every field an admin writes; the listed tools stay until the next Refresh."""
    tool = get_server(session=session, tool_id=tool_id)
    _check(session, body, tool=tool)
    _apply(tool, body)
    tool.updated_at = now or utcnow()
    session.add(tool)
    session.flush()
    return tool


# ------------------------------------------------------------------ connecting


def resolve_headers(headers: dict[str, str], *, session: Session) -> dict[str, str]:
    """Header values with their secrets filled in (connect time only; never logged)."""
    return {
        name: secrets_svc.resolve(value, session=session, field=f"headers.{name}")
        for name, value in headers.items()
    }


@asynccontextmanager
async def open_streams(
    *, url: str, transport: str, headers: dict[str, str], timeout_s: float
) -> AsyncIterator[Any]:
    """The MCP transport's (read, write) streams to `url`, every connect through the
    URL guard (also each same-origin redirect the SDK follows)."""
    timeout = httpx2.Timeout(timeout_s, read=SSE_READ_TIMEOUT_S)

    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = timeout,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        kwargs: dict[str, Any] = {"headers": headers or {}, "timeout": timeout}
        if auth is not None:
            kwargs["auth"] = auth
        return url_guard.guarded_client2(**kwargs)

    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    if transport == "sse":
        async with sse_client(
            url,
            headers=headers,
            timeout=timeout_s,
            sse_read_timeout=SSE_READ_TIMEOUT_S,
            httpx_client_factory=factory,
        ) as streams:
            yield streams
    else:
        async with (
            factory(headers=headers) as client,
            streamable_http_client(url, http_client=client) as streams,
        ):
            yield streams


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    found = [exc]
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        found.extend(_leaves(exc.__cause__))
    return found


def explain(exc: BaseException, *, timeout_s: float) -> ServiceError:
    """A connection failure as a message safe to show (no header, no secret): the
    refused address (422 naming `url`), a timeout, an unreachable or failing server."""
    from mcp import MCPError

    leaves = _leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, url_guard.AddressRefused2 | url_guard.URLRefused):
            message = getattr(leaf, "message", None) or str(leaf)
            return InvalidInput(f"the MCP server's address is not allowed: {message}", field="url")
    for leaf in leaves:
        if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
            return ProviderFailed(f"the MCP server did not answer within {timeout_s:g} s")
    for leaf in leaves:
        if isinstance(leaf, httpx2.HTTPStatusError):
            return ProviderFailed(
                f"the MCP server answered HTTP {leaf.response.status_code} (check the URL, "
                "the transport and the headers)"
            )
        if isinstance(leaf, httpx2.ConnectError):
            return ProviderFailed("could not reach the MCP server (is it running?)")
        if isinstance(leaf, MCPError):
            return ProviderFailed(
                f"the MCP server answered: {leaf.message[:200]} (check the URL, the "
                "transport and the headers)"
            )
    names = ", ".join(sorted({type(leaf).__name__ for leaf in leaves}))
    return ProviderFailed(f"could not talk to the MCP server ({names[:200]})")


def _listed(tools: list[Any]) -> list[dict[str, str]]:
    return [
        {"name": str(t.name)[:200], "description": str(t.description or "")[:MAX_DESCRIPTION]}
        for t in tools[:MAX_DISCOVERED]
    ]


async def discover(
    *, url: str, transport: str, headers: dict[str, str], timeout_s: float
) -> list[dict[str, str]]:
    """Connect (headers already resolved), list the server's tools, disconnect.
    Errors are `ServiceError`s with a clear message (see `explain`)."""
    from mcp import ClientSession
    from mcp.types import PaginatedRequestParams

    try:
        async with asyncio.timeout(timeout_s):
            async with (
                open_streams(
                    url=url, transport=transport, headers=headers, timeout_s=timeout_s
                ) as (read, write),
                ClientSession(read, write, read_timeout_seconds=timeout_s) as client,
            ):
                await client.initialize()
                tools: list[Any] = []
                cursor: str | None = None
                while len(tools) < MAX_DISCOVERED:
                    params = PaginatedRequestParams(cursor=cursor) if cursor else None
                    result = await client.list_tools(params=params)
                    tools.extend(result.tools)
                    cursor = result.next_cursor
                    if not cursor:
                        break
                return _listed(tools)
    except Exception as exc:  # noqa: BLE001  (every way a connection fails, explained)
        raise explain(exc, timeout_s=timeout_s) from None


def _connection(tool_id: uuid.UUID) -> tuple[str, str, dict[str, str], float]:
    with session_scope() as session:
        tool = get_server(session=session, tool_id=tool_id)
        check_url(tool.url)  # the guard's rules may have changed since it was saved
        headers = resolve_headers(tool.headers, session=session)
        return tool.url, tool.transport or "streamable_http", headers, float(tool.timeout_s)


def _store(tool_id: uuid.UUID, listed: list[dict[str, str]], now: datetime | None) -> Tool:
    with session_scope() as session:
        tool = get_server(session=session, tool_id=tool_id)
        names = {t["name"] for t in listed}
        tool.discovered_tools = listed
        tool.allowed_tools = [n for n in tool.allowed_tools if n in names]
        tool.updated_at = now or utcnow()
        session.add(tool)
        session.flush()
        session.expunge(tool)
        return tool


async def refresh(tool_id: uuid.UUID, *, now: datetime | None = None) -> Tool:
    """List the stored server's tools now, keep them, and drop allowed names no longer
    listed. Blocking parts run in threads; the event loop only waits on the network."""
    url, transport, headers, timeout_s = await asyncio.to_thread(_connection, tool_id)
    listed = await discover(url=url, transport=transport, headers=headers, timeout_s=timeout_s)
    return await asyncio.to_thread(_store, tool_id, listed, now)
