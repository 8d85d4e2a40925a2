"""Who may run which Reflex event: checked on the server for every event.

`AuthMiddleware` (state/middleware.py) runs before every event and asks
`decide_for` here. Its principal comes from what the
request itself carries, never from server-side state: the `voxie_session`
cookie of the websocket that sent the event (the handshake's `Cookie` header,
which Reflex puts into each event's router data), or, for a file upload, the
cookie of that `/_upload` request (checked at the door by `upload_guard`). The
cookie is looked up in the sessions table on every event, so signing out, a
role change, disabling or deleting a user counts from the next event on.

A Reflex client token (the tab id in the websocket URL) therefore proves
nothing: whoever reconnects with it without the cookie is anonymous, and the
state of that tab, loaded for its owner, is wiped before anyone else sees it.

Access levels:
- `@public`: anyone (sign-in, first-run setup);
- `@viewer`: any signed-in user (pages that read calls and analytics);
- anything else: admins only (the safe default: a new handler is admin-only
  until someone decides otherwise).

Before the first admin exists, every page leads to `/setup`. A forged or
missing session changes nothing: the handler never runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
import sqlalchemy as sa
from reflex_base.event.context import EventContext
from starlette.requests import cookie_parser

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.services.auth import Principal

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "_voxie_access"
OUR_STATES = "voxie_app.state"
SESSION_COOKIE = "voxie_session"


def public(fn: F) -> F:
    setattr(fn, ACCESS_ATTR, "public")
    return fn


def viewer(fn: F) -> F:
    setattr(fn, ACCESS_ATTR, "viewer")
    return fn


def access_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, ACCESS_ATTR, "admin")


_setup_needed: list[float] = []  # time the database last said "no users yet"
# Client token -> session tokens of `/_upload` requests in flight whose cookie
# `upload_guard` checked; an upload event carries no headers of its own.
_upload_grants: dict[str, list[str]] = {}


def session_cookie(cookie_header: str) -> str:
    """The `voxie_session` value in a `Cookie` header ("" if absent or malformed)."""
    return cookie_parser(cookie_header or "").get(SESSION_COOKIE, "")[:200]


def request_token() -> str:
    """The session cookie of the request behind the event being processed.

    Socket events (and the events they chain) carry the websocket handshake's
    headers in their router data; Reflex sets those on the server, an event
    payload cannot replace them. An event with no headers can only come from an
    `/_upload` request, whose cookie was checked when it arrived.
    """
    try:
        ctx = EventContext.get()
    except LookupError:
        return ""
    headers = ctx.router_data.get("headers")
    if isinstance(headers, dict):
        return session_cookie(str(headers.get("cookie", "")))
    grants = _upload_grants.get(ctx.token)
    return grants[-1] if grants else ""


class upload_grant:
    """While an `/_upload` request runs, its checked cookie stands for its events."""

    def __init__(self, client_token: str, session_token: str) -> None:
        self.client_token, self.session_token = client_token, session_token

    def __enter__(self) -> None:
        _upload_grants.setdefault(self.client_token, []).append(self.session_token)

    def __exit__(self, *_exc: object) -> None:
        grants = _upload_grants.get(self.client_token, [])
        if self.session_token in grants:
            grants.remove(self.session_token)
        if not grants:
            _upload_grants.pop(self.client_token, None)


def principal_for(token: str) -> Principal | None:
    """The user of a session token, read from the database now (no cache: a role
    change, a disabled or deleted user counts from the next event)."""
    if not token:
        return None
    try:
        with session_scope() as session:
            return auth.session_principal(session=session, token=token)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("session lookup failed: %s", exc)
        return None


def setup_needed() -> bool:
    """True while no user exists (checked at most once a second, and never again after)."""
    now = time.monotonic()
    if _setup_needed and _setup_needed[0] == -1:
        return False
    if _setup_needed and now - _setup_needed[0] < 1.0:
        return True
    with session_scope() as session:
        needed = auth.needs_setup(session=session)
    _setup_needed[:] = [now if needed else -1]
    return needed


def current() -> Principal | None:
    """The signed-in principal of the request running the current handler."""
    return principal_for(request_token())


def reset_caches() -> None:
    _setup_needed.clear()


def decide(state_cls: type, handler_name: str, token: str, path: str = "") -> list | None:
    """None to let the event run, else the events to send instead (redirect or toast)."""
    return decide_for(state_cls, handler_name, lambda: principal_for(token), path)


def decide_for(
    state_cls: type, handler_name: str, who: Callable[[], Principal | None], path: str = ""
) -> list | None:
    """`decide` with the principal looked up only when the handler is not public."""
    if not state_cls.__module__.startswith(OUR_STATES):
        return None  # Reflex's own events (hydrate, client storage, ...)
    handler = state_cls.event_handlers.get(handler_name)
    level = access_of(handler.fn) if handler is not None else "admin"
    if level == "public":
        return None
    if setup_needed():
        return [rx.redirect(routes.SETUP)]
    principal = who()
    if principal is None:
        safe = path.startswith("/") and not path.startswith("//")
        return [rx.redirect(routes.LOGIN + (f"?next={path}" if safe else ""))]
    if not principal.can(level):
        message = f"Your role ({principal.role}) cannot do that; ask an admin."
        return [rx.toast.error(message, close_button=True)]
    return None
