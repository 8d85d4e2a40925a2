"""`ApiGate`: what every `/api` request meets before a route runs.

The Reflex app is mounted behind the API, so without this a wrong method or an
unknown `/api` path fell through to Reflex's HTML 404. The gate answers, as
JSON: 404 for an unknown `/api` path; 405 with `Allow` (every method the path
has) for a wrong method; `OPTIONS` with 204 and `Allow`; `HEAD` as `GET`
without the body. A literal path segment wins over a parameter, so
`PUT /api/agents/create` is a 405, not `PUT /api/agents/{agent_id}`.

It also authenticates protected routes (401/403) before anything reads the
body, so a request without a valid key never has its body parsed.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass

from fastapi import FastAPI, HTTPException
from fastapi.routing import iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxie_app.api.deps import authenticate, require_access

PREFIX = "/api"


@dataclass(frozen=True)
class _Route:
    path_regex: re.Pattern[str]
    methods: frozenset[str]
    literals: int  # path segments that are not parameters: the more, the more specific
    protected: bool


class _HeadDone(Exception):
    """Raised from `send` once a HEAD response's headers are out: stops a streaming GET."""


class ApiGate:
    """ASGI middleware in front of the API's router (see the module docstring)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._routes: list[_Route] | None = None

    def routes(self) -> list[_Route]:
        """The `/api` routes, read once from the app (after every router is included)."""
        if self._routes is None:
            found = []
            for route in iter_route_contexts(self.api.router.routes):
                path = route.path or ""
                if not (path == PREFIX or path.startswith(PREFIX + "/")):
                    continue
                dependant = getattr(route, "dependant", None)
                calls = {d.call for d in dependant.dependencies} if dependant else set()
                # A mounted static folder (the API docs' assets) has no methods of its own.
                mounted = isinstance(route.original_route, Mount)
                methods = {"GET", "HEAD"} if mounted else route.methods or ()
                found.append(
                    _Route(
                        path_regex=route.path_regex,
                        methods=frozenset(methods),
                        literals=sum("{" not in part for part in path.split("/")),
                        protected=require_access in calls,
                    )
                )
            self._routes = found
        return self._routes

    def _resolve(self, path: str) -> list[_Route]:
        """The most specific routes whose path matches (several: one per method)."""
        matching = [r for r in self.routes() if r.path_regex.match(path)]
        if not matching:
            return []
        best = max(r.literals for r in matching)
        return [r for r in matching if r.literals == best]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        routes = self._resolve(path)
        if not routes and path.endswith("/") and self._resolve(path.rstrip("/")):
            await self.app(scope, receive, send)  # FastAPI redirects to the path without "/"
            return
        if not routes:
            await _json(send, 404, f"no API endpoint at {path}")
            return
        allowed = set().union(*(r.methods for r in routes))
        if "GET" in allowed:
            allowed.add("HEAD")
        allow = ", ".join(sorted(allowed | {"OPTIONS"}))
        if method == "OPTIONS":
            await _json(send, 204, None, {"allow": allow})
            return
        if method not in allowed:
            await _json(send, 405, f"{method} is not allowed here", {"allow": allow})
            return
        as_get = "GET" if method == "HEAD" else method
        route = next(r for r in routes if as_get in r.methods)
        if route.protected:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization")
            try:
                principal = await run_in_threadpool(
                    authenticate, raw.decode("latin-1") if raw else None, method
                )
            except HTTPException as exc:
                await _json(send, exc.status_code, exc.detail, exc.headers)
                return
            scope.setdefault("state", {})["principal"] = principal
        if method == "HEAD":
            await self._head(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the GET and send only its status and headers."""
        done = False

        async def headers_only(message: Message) -> None:
            nonlocal done
            if done:
                raise _HeadDone
            if message["type"] == "http.response.start":
                await send(message)
                return
            done = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            if message.get("more_body", False):
                raise _HeadDone  # a stream: do not let it run on

        with contextlib.suppress(_HeadDone):
            await self.app({**scope, "method": "GET"}, receive, headers_only)


async def _json(
    send: Send, status: int, detail: str | None, headers: dict[str, str] | None = None
) -> None:
    body = b"" if status == 204 else json.dumps({"detail": detail}).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if status != 204:
        raw += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
