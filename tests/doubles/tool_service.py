"""A custom HTTP tool's service for voice-session tests, and the transcript a room shows.

`ToolService` is an aiohttp app in the test's own event loop (the `tool_service`
fixture in `tests.doubles.fixtures`): `/slow` answers only once the test sets
`release`, `/fast` at once, so a test decides when a "slow" tool ends and nothing
races the wall clock. `store_tool` saves an HTTP tool pointing at it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from livekit.agents.voice.io import TextOutput

from voxie_app.db import session_scope
from voxie_app.services import tools as tools_svc


@dataclass
class ToolService:
    base: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: list[str] = field(default_factory=list)


async def run_tool_service() -> AsyncIterator[ToolService]:
    """Serve `/slow` and `/fast` on 127.0.0.1 until the generator is closed."""
    state = ToolService()

    async def slow(request: web.Request) -> web.Response:
        state.arrived.append("slow")
        await state.release.wait()
        return web.json_response({"slots": ["09:00"]})

    async def fast(request: web.Request) -> web.Response:
        state.arrived.append("fast")
        return web.json_response({"slots": ["11:00"]})

    app = web.Application()
    app.add_routes([web.get("/slow", slow), web.get("/fast", fast)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


def store_tool(url: str, wait_message: str = "") -> uuid.UUID:
    """A stored, ready HTTP tool `check_slots` calling `url` (the answer's `slots`)."""
    body = {
        "name": "check_slots",
        "description": "Free appointment slots.",
        "parameters": {"type": "object", "properties": {"date": {"type": "string"}}},
        "url": url,
        "timeout_s": 10,
        "wait_message": wait_message,
        "result_path": "slots",
    }
    with session_scope() as session:
        return tools_svc.create_tool(session=session, body=tools_svc.parse(body)).id


class CapturedText(TextOutput):
    """The session's text output: what a chat or a room's live transcript would show."""

    def __init__(self) -> None:
        super().__init__(label="captured", next_in_chain=None)
        self.parts: list[str] = []

    async def capture_text(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        self.parts.append("\n")

    @property
    def text(self) -> str:
        return "".join(self.parts)
