"""The instant slot service of `bench.tool_overhead`, in a process of its own.

    python -m bench._slot_service        # prints its port, serves until stdin closes

In its own process so that it never waits for the agent's GIL (an in-process thread
did: each hand-over between the agent's event loop and the service's thread could
wait up to Python's 5 ms switch interval, which is the benchmark's harness, not
Voxie). It notes `time.perf_counter()` (CLOCK_MONOTONIC, one clock for every process
on the machine) when a request arrives and when its response is written;
`GET /marks` hands those over and forgets them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web

SLOTS = ["09:00", "10:30"]


def build_app() -> web.Application:
    body = json.dumps({"slots": SLOTS}).encode()
    marks: dict[str, list[float]] = {"arrived": [], "answered": []}

    async def slots(request: web.Request) -> web.StreamResponse:
        marks["arrived"].append(time.perf_counter())
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        marks["answered"].append(time.perf_counter())
        return response

    async def take_marks(_request: web.Request) -> web.Response:
        taken = {k: list(v) for k, v in marks.items()}
        for series in marks.values():
            series.clear()
        return web.json_response(taken)

    app = web.Application()
    app.add_routes([web.get("/slots", slots), web.get("/marks", take_marks)])
    return app


async def main() -> None:
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
