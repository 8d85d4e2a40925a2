"""The middleware that checks every event: the principal, the tab's state, then `guard`.

It lives apart from `guard` because it needs `SessionState` (whose handlers are
decorated by `guard`): here both are imported once, with no import loop.
"""

from __future__ import annotations

from typing import Any

from reflex.middleware import Middleware
from reflex.state import StateUpdate
from reflex_base.event import Event
from reflex_base.event.context import EventContext

from voxie_app.state.guard import OUR_STATES, decide_for, principal_for, request_token
from voxie_app.state.session import SessionState


async def bind_state_to(root: Any, owner: str) -> None:
    """Wipe what this tab's state holds for anyone but `owner` (a user id, "" if none).

    A tab's state lives on the server under its client token, so whoever
    reconnects with that token would otherwise be sent what was loaded for its
    previous user (the user list, calls) by Reflex's own hydrate. Each of our
    states remembers whom it was filled for; a different principal gets defaults.
    """
    session_state = await root.get_state(SessionState)
    owners = dict(session_state._owners)

    def mark(state: Any) -> None:
        owners[state.get_full_name()] = owner
        for sub in state.substates.values():
            mark(sub)

    def visit(state: Any) -> None:
        for sub in list(state.substates.values()):
            ours = type(sub).__module__.startswith(OUR_STATES)
            if ours and owners.get(sub.get_full_name(), "") != owner:
                if sub is session_state:  # keep its cookie var: that is the browser's
                    sub.user_name = sub.user_role = sub.error = ""
                    owners[sub.get_full_name()] = owner
                else:
                    sub.reset()  # this state and its substates
                    mark(sub)
                    continue
            visit(sub)

    before = dict(owners)
    visit(root)
    if owners != before:
        session_state._owners = owners


class AuthMiddleware(Middleware):
    async def preprocess(self, app: Any, state: Any, event: Event) -> Any:
        try:
            router_data = EventContext.get().router_data
        except LookupError:
            router_data = {}
        token = request_token()
        principal = principal_for(token)
        await bind_state_to(state, principal.id if principal else "")
        try:
            state_cls = event.state_cls
        except (KeyError, LookupError):
            return None
        path = str((router_data or {}).get("pathname", "") or "")
        denied = decide_for(state_cls, event.name.rpartition(".")[2], lambda: principal, path)
        if denied is None:
            return None
        return StateUpdate(events=Event.from_event_type(denied))
