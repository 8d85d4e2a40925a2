"""A provider API double for "Check providers": any GET answers by `mode`.

- `ok`: a model list in the shape each vendor uses (`data` for OpenAI-compatible
  servers and Anthropic, `models` for Gemini);
- `unauthorized`: 401 with an OpenAI/Anthropic-style error body (`error.message`);
- `hang`: never answers (until the double stops), for the check's time cap.

Every request is recorded (path and headers), so a test can see the key was sent
where it belongs, and nowhere in what the page shows.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web

from tests.doubles.http_server import ThreadedServer

Mode = Literal["ok", "unauthorized", "hang"]
UNAUTHORIZED_MESSAGE = "Incorrect API key provided. You can find your API key in your account."


class ProviderDouble(ThreadedServer):
    thread_name = "provider-double"

    def __init__(self, mode: Mode = "ok") -> None:
        super().__init__()
        self.mode = mode
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._release: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """For vendors whose base URL has no `/v1` (Anthropic, Gemini)."""
        return f"http://127.0.0.1:{self.port}"

    def build_app(self) -> web.Application:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._answer)
        return app

    async def before_stop(self) -> None:
        if self._release is not None:
            self._release.set()

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append((request.path_qs, dict(request.headers)))
        if self.mode == "hang":
            assert self._release is not None
            await self._release.wait()
            return web.Response(status=504)
        if self.mode == "unauthorized":
            return web.json_response(
                {"error": {"message": UNAUTHORIZED_MESSAGE, "type": "invalid_request_error"}},
                status=401,
            )
        if request.path.startswith("/v1beta/"):
            return web.json_response({"models": [{"name": "models/gemini-2.5-flash"}]})
        return web.json_response({"object": "list", "data": [{"id": "m1"}, {"id": "m2"}]})
