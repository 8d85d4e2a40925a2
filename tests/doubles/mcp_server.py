"""A real MCP server for tests: the `mcp` SDK's `MCPServer` on a free 127.0.0.1 port.

It serves one transport (streamable HTTP at `/mcp`, or SSE at `/sse`) from uvicorn on
its own thread, with two tools: `check_slots` (the one tests allow) and
`cancel_all_bookings` (listed, never allowed, so never offered to a model).
`check_slots` fails for 1999-01-01 and answers 10,000 characters for 2099-01-01. Each
call is kept in `calls`, with the headers the request carried, so a test can prove
what reached the server.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

SLOTS = ["09:00", "10:30"]


@dataclass
class McpDouble:
    """One running server; use as a context manager."""

    transport: str = "streamable_http"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        path = "/sse" if self.transport == "sse" else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    def _app(self) -> ASGIApp:
        server = MCPServer("clinic")
        calls = self.calls

        @server.tool(description="Free appointment slots on a date (YYYY-MM-DD).")
        def check_slots(date: str, ctx: Context) -> str:
            calls.append(("check_slots", {"date": date}))
            if date == "1999-01-01":
                raise ToolError("the clinic's calendar is down")
            if date == "2099-01-01":
                return "x" * 10_000
            return f"Free on {date}: " + ", ".join(SLOTS)

        @server.tool(description="Cancel every booking of the clinic.")
        def cancel_all_bookings() -> str:
            calls.append(("cancel_all_bookings", {}))
            return "All bookings cancelled."

        app = server.sse_app() if self.transport == "sse" else server.streamable_http_app()
        seen = self.headers

        async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await app(scope, receive, send)

        return with_headers

    def __enter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="critical", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="mcp-double", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP double did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._server.force_exit = True  # SSE streams stay open; do not wait for them
        self._thread.join(timeout=10)
