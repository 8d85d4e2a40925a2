"""Who may run which Reflex event: checked on the server for every event.

`AuthMiddleware` runs before any event handler of our states. It reads the
session cookie, resolves it to a user (cached for a few seconds), and lets the
event through only if the handler's access level allows it:

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
from reflex.middleware import Middleware
from reflex_base.event import Event

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.services.auth import Principal

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "_voxie_access"
CACHE_SECONDS = 10.0
OUR_STATES = "voxie_app.state"


def public(fn: F) -> F:
    setattr(fn, ACCESS_ATTR, "public")
    return fn


def viewer(fn: F) -> F:
    setattr(fn, ACCESS_ATTR, "viewer")
    return fn


def access_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, ACCESS_ATTR, "admin")


# token -> (principal or None, expires at); short-lived so a logout or a role
# change elsewhere takes effect within seconds.
_cache: dict[str, tuple[Principal | None, float]] = {}
_setup_needed: list[float] = []  # time the database last said "no users yet"


def forget(token: str) -> None:
    _cache.pop(token, None)


def principal_for(token: str) -> Principal | None:
    now = time.monotonic()
    hit = _cache.get(token)
    if hit is not None and hit[1] > now:
        return hit[0]
    try:
        with session_scope() as session:
            principal = auth.session_principal(session=session, token=token)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("session lookup failed: %s", exc)
        return None
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[token] = (principal, now + CACHE_SECONDS)
    return principal


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


async def current(state: Any) -> Principal | None:
    """The signed-in principal of the tab running `state` (inside a handler)."""
    from voxie_app.state.session import SessionState

    return principal_for((await state.get_state(SessionState)).token)


def reset_caches() -> None:
    _cache.clear()
    _setup_needed.clear()


def decide(state_cls: type, handler_name: str, token: str, path: str = "") -> list | None:
    """None to let the event run, else the events to send instead (redirect or toast)."""
    if not state_cls.__module__.startswith(OUR_STATES):
        return None  # Reflex's own events (hydrate, client storage, ...)
    handler = state_cls.event_handlers.get(handler_name)
    level = access_of(handler.fn) if handler is not None else "admin"
    if level == "public":
        return None
    if setup_needed():
        return [rx.redirect(routes.SETUP)]
    principal = principal_for(token)
    if principal is None:
        safe = path.startswith("/") and not path.startswith("//")
        return [rx.redirect(routes.LOGIN + (f"?next={path}" if safe else ""))]
    if not principal.can(level):
        message = f"Your role ({principal.role}) cannot do that; ask an admin."
        return [rx.toast.error(message, close_button=True)]
    return None


class AuthMiddleware(Middleware):
    async def preprocess(self, app: Any, state: Any, event: Event) -> Any:
        from reflex.state import StateUpdate

        from voxie_app.state.session import SessionState

        try:
            state_cls = event.state_cls
        except (KeyError, LookupError):
            return None
        if not state_cls.__module__.startswith(OUR_STATES):
            return None
        token = (await state.get_state(SessionState)).token
        path = str((event.router_data or {}).get("pathname", "") or "")
        denied = decide(state_cls, event.name.rpartition(".")[2], token, path)
        if denied is None:
            return None
        return StateUpdate(events=Event.from_event_type(denied))
