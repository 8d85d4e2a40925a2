"""Run Reflex event handlers of our states as one browser tab would, for state tests.

Each event carries the session cookie `token` in its router data (as a socket
event does), so `guard.current()` inside a handler sees that user. The states'
`router` holds the tab's `path` (handlers read ids from the URL). `dump`
collects every var of every state after each event, backend-only ones too, for
tests that look for something that must never be in a state.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any


class Tab:
    """One browser tab's state, its events carrying `token`'s session cookie."""

    def __init__(self, name: str, token: str, path: str = "/") -> None:
        from reflex.istate.manager.memory import StateManagerMemory
        from reflex_base.event.context import EventContext

        async def nothing(*_a: object, **_k: object) -> None:
            return None

        router_data = {
            "pathname": path,
            "asPath": path,
            "headers": {"host": "voxie.test", "cookie": f"voxie_session={token}"},
        }
        self.ctx = EventContext(
            token=name,
            state_manager=StateManagerMemory(),
            enqueue_impl=nothing,
            router_data=router_data,
        )
        self.results: list[str] = []
        self.dumps: list[str] = []

    @property
    def dump(self) -> str:
        """Every var of every state of the tab after each event (backend-only ones too)."""
        return "\n".join(self.dumps)

    async def run(self, state_cls: type, name: str, *args: Any) -> tuple[Any, Any]:
        """Run `state_cls.<name>(*args)` on this tab's state; returns (its result, the state)."""
        from reflex.istate.data import RouterData
        from reflex.istate.manager.token import BaseStateToken
        from reflex.state import State

        with self.ctx:
            async with self.ctx.state_manager.modify_state(
                BaseStateToken(ident=self.ctx.token, cls=State)
            ) as root:
                state = await root.get_state(state_cls)
                if not str(state.router.url.path):  # the page's URL, as a browser tab sends it
                    state.router = RouterData.from_router_data(self.ctx.router_data)
                result = state_cls.event_handlers[name].fn(state, *args)
                if hasattr(result, "__aiter__"):  # a handler that yields: all it yields
                    result = [event async for event in result]
                elif hasattr(result, "__await__"):
                    result = await result
                self.results.append(str(result))
                self.dumps.append(json.dumps(root.dict(), default=str) + repr(vars(state)))
                return result, state


@contextlib.contextmanager
def role_tokens(roles: tuple[str, ...] = ("admin", "viewer")) -> Iterator[dict[str, str]]:
    """A signed-in user per role ({role: session token}) in the configured database,
    with the guard's caches cleared before and after (state tests' `tokens` fixture)."""
    from voxie_app.db import session_scope
    from voxie_app.services import auth
    from voxie_app.state import guard

    guard.reset_caches()
    out = {}
    for role in roles:
        with session_scope() as s:
            auth.create_user(session=s, email=f"{role}@example.com", password="p" * 12, role=role)
            out[role], _ = auth.login(
                session=s, email=f"{role}@example.com", password="p" * 12, hours=1
            )
    try:
        yield out
    finally:
        guard.reset_caches()
