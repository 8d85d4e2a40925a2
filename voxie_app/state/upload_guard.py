"""`/_upload` answers only to the session cookie of the request itself.

Reflex's upload endpoint runs the handler named in `reflex-event-handler` for the
tab named in `reflex-client-token`, and the event it makes carries no headers.
This ASGI middleware (wrapped around the whole app) checks the request's
`voxie_session` cookie and the handler's access level before Reflex reads the
body: 401 without a valid session, 403 when the role may not run it. While an
accepted upload runs, `guard.upload_grant` lets its events stand on that cookie.
"""

from __future__ import annotations

import json

from reflex_base.registry import RegistrationContext
from starlette.types import ASGIApp, Receive, Scope, Send

from voxie_app.state import guard

UPLOAD_PATH = "/_upload"


class UploadGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (
            path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/")
        ):
            await self.app(scope, receive, send)
            return
        if scope.get("method") != "POST" or path != UPLOAD_PATH:  # files read back: signed in
            if guard.principal_for(_cookie_token(scope)) is None:
                await _answer(send, 401, "sign in first")
                return
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        client_token = headers.get("reflex-client-token", "")
        session_token = guard.session_cookie(headers.get("cookie", ""))
        status, detail = _check(headers.get("reflex-event-handler", ""), session_token)
        if status:
            await _answer(send, status, detail)
            return
        with guard.upload_grant(client_token, session_token):
            await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or []:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        out[name] = f"{out[name]}; {value}" if name == "cookie" and name in out else value
    return out


def _cookie_token(scope: Scope) -> str:
    return guard.session_cookie(_headers(scope).get("cookie", ""))


def _check(handler_name: str, session_token: str) -> tuple[int, str]:
    """(0, "") to let the upload in, else the status and reason to answer."""
    registered = RegistrationContext.get().event_handlers.get(handler_name)
    if registered is None:
        return 400, "unknown upload handler"
    state_cls = registered.states[0]
    principal = guard.principal_for(session_token)
    denied = guard.decide_for(state_cls, handler_name.rpartition(".")[2], lambda: principal)
    if denied is None:
        return 0, ""
    if principal is None:
        return 401, "sign in first"
    return 403, f"your role ({principal.role}) cannot upload here"


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
