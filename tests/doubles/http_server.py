"""The part every local HTTP double shares: an aiohttp app on a free 127.0.0.1 port,
served from its own thread and event loop, so synchronous tests, the app under
test and other threads can all reach it. Use a double as a context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any, Self

from aiohttp import web


class ThreadedServer:
    """Subclasses build their `web.Application` in `build_app` (run on the server's loop)."""

    thread_name = "http-double"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ------------------------------------------------------------ for subclasses

    def build_app(self) -> web.Application:
        raise NotImplementedError

    def runner_options(self) -> dict[str, Any]:
        return {"access_log": None}

    async def before_stop(self) -> None:
        """Runs on the server's loop before the runner shuts down (close long-lived streams)."""

    # -------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=10)
        return self

    async def _serve(self) -> None:
        runner = web.AppRunner(self.build_app(), **self.runner_options())
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self.port = sock.getsockname()[1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            await self.before_stop()
            if self._runner is not None:
                await self._runner.cleanup()

        with contextlib.suppress(Exception):  # stopping must not hide the test's own failure
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = self._runner = None
        self.port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
