"""Reject oversized request bodies with 413 before a handler reads them, and NUL
characters in JSON bodies with 422 (PostgreSQL cannot store them in text or JSONB)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and form fields around a file
REFLEX_UPLOAD_PATH = "/_upload"  # reflex_base.constants.Endpoint.UPLOAD: the UI's file drops
# A refused UI upload's body is read (and dropped) up to this much past the limit before
# the answer, so the browser gets it instead of a reset connection mid-send.
DRAIN_BYTES = 256 * 2**20

Refusal = Callable[[int], bytes]


class _TooLarge(HTTPException):
    """Raised from `receive` inside a handler, so FastAPI answers 413 itself."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body too large (limit {max_bytes} bytes)")


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length or the streamed body exceeds the limit.

    `max_bytes` for every request, except POSTs whose path matches `uploads`
    (document uploads), which get `upload_bytes` plus room for the form fields,
    and POSTs to Reflex's `/_upload` (files dropped on the Knowledge panel), which
    get `ui_upload_bytes` (all the files of one drop) plus that room. A refused
    `/_upload` is answered with `ui_upload_refused(limit)`, a body the page's
    upload code applies like any state update (a toast), instead of plain JSON
    it would only log.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_bytes: int = 0,
        uploads: str = r"^/api/agents/[^/]+/knowledge$",
        ui_upload_bytes: int = 0,
        ui_upload_refused: Refusal | None = None,
    ) -> None:
        self.app = app
        self.default_max = max_bytes
        self.upload_max = max(max_bytes, upload_bytes + FORM_OVERHEAD_BYTES)
        self.ui_upload_max = max(max_bytes, ui_upload_bytes + FORM_OVERHEAD_BYTES)
        self.ui_upload_refused = ui_upload_refused
        self.uploads = re.compile(uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, post = scope.get("path", ""), scope.get("method") == "POST"
        if post and path == REFLEX_UPLOAD_PATH:
            await self._limited(scope, receive, send, self.ui_upload_max, self.ui_upload_refused)
            return
        limit = self.upload_max if post and self.uploads.match(path) else self.default_max
        await self._limited(scope, receive, send, limit)

    async def _limited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        refusal: Refusal | None = None,
    ) -> None:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        # More than 18 digits is over any limit; int() of thousands of digits would raise.
        if (
            declared is not None
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > limit)
        ):
            if refusal is not None:
                await _drain(receive)
            await self._reject(send, limit, refusal)
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
                if refusal is not None:
                    await _drain(receive)
                await self._reject(send, limit, refusal)

    @staticmethod
    async def _reject(send: Send, limit: int, refusal: Refusal | None = None) -> None:
        if refusal is not None:
            body, kind = refusal(limit), b"application/x-ndjson"
        else:
            detail = f"request body too large (limit {limit} bytes)"
            body, kind = json.dumps({"detail": detail}).encode(), b"application/json"
        await send(
            {"type": "http.response.start", "status": 413, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a request body (up to DRAIN_BYTES)."""
    seen = 0
    while seen <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


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
