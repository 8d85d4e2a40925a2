"""Run Reflex event handlers of our states as one browser tab would, for state tests.

Each event carries the session cookie `token` in its router data (as a socket
event does), so `guard.current()` inside a handler sees that user. The states'
`router` holds the tab's `path` (handlers read ids from the URL). `dump`
collects every var of every state after each event, backend-only ones too, for
tests that look for something that must never be in a state.
"""

from __future__ import annotations

import json
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
                if hasattr(result, "__await__"):
                    result = await result
                self.results.append(str(result))
                self.dumps.append(json.dumps(root.dict(), default=str) + repr(vars(state)))
                return result, state
