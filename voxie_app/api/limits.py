"""Reject oversized request bodies with 413 before a handler reads them, and NUL
characters in JSON bodies with 422 (PostgreSQL cannot store them in text or JSONB)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and form fields around a file


class _TooLarge(HTTPException):
    """Raised from `receive` inside a handler, so FastAPI answers 413 itself."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body too large (limit {max_bytes} bytes)")


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length or the streamed body exceeds the limit.

    `max_bytes` for every request, except POSTs whose path matches `uploads`
    (document uploads), which get `upload_bytes` plus room for the form fields.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_bytes: int = 0,
        uploads: str = r"^/api/agents/[^/]+/knowledge$",
    ) -> None:
        self.app = app
        self.default_max = max_bytes
        self.upload_max = max(max_bytes, upload_bytes + FORM_OVERHEAD_BYTES)
        self.uploads = re.compile(uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope.get("method") == "POST" and self.uploads.match(scope.get("path", ""))
        limit = self.upload_max if is_upload else self.default_max
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        # More than 18 digits is over any limit; int() of thousands of digits would raise.
        if (
            declared is not None
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > limit)
        ):
            await self._reject(send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit)

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        body = json.dumps({"detail": f"request body too large (limit {limit} bytes)"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _nul_path(value: Any, path: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Where the first NUL character is in a decoded JSON value (None: nowhere)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        if (found := _nul_path(item, (*path, key))) is not None:
            return found
    return None


async def reject_nul_characters(request: Request) -> None:
    """Dependency: 422 naming the field when a JSON body has a NUL character in a string."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method not in ("POST", "PUT", "PATCH") or not kind.endswith("json"):
        return
    body = await request.body()
    if b"\\u0000" not in body:  # the only way JSON can carry a NUL
        return
    try:
        data = json.loads(body)
    except ValueError:
        return  # malformed JSON: the route's own validation answers
    path = _nul_path(data, ("body",))
    if path is not None:
        raise RequestValidationError(
            [{"loc": path, "msg": "must not contain NUL characters", "type": "value_error"}]
        )
