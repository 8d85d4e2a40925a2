"""The "Call a number" dialog (admins only): an agent calls a phone number.

Thin: every check and the dial itself are `services.outbound_calls` (the same path
as `POST /api/call/outbound`, with the same call-start rate limit). Every handler
checks the admin role itself, on top of the middleware (`guard`).

Placing a call waits for the answer (up to the ringing timeout), so the handler
first shows "Calling…" and then either opens the call's page (answered, or not
answered: the row says how it went) or shows a toast for what was refused.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.models import PhoneNumber, SipOutboundTrunk
from voxie_app.services import agents as agents_svc
from voxie_app.services import e164
from voxie_app.services import outbound_calls as outbound_svc
from voxie_app.services.errors import InvalidInput, ServiceError
from voxie_app.settings import get_settings
from voxie_app.state import guard
from voxie_app.state.base import AppState

log = logging.getLogger(__name__)

REFUSED = "Only an admin can place phone calls."
FIELD_LABELS = {
    "to": "Number to call",
    "from_number_id": "Call from",
    "agent_id": "Agent",
    "variables": "Variables",
}
MAX_VARIABLE_LINES = 50


def parse_variables(text: str) -> dict[str, str]:
    """`name=value` per line (blank lines skipped); `InvalidInput` naming the line.

    The names and values are then checked by the same rules as the API's
    (`services.variables.validate`, inside the service).
    """
    found: dict[str, str] = {}
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    if len(lines) > MAX_VARIABLE_LINES:
        raise InvalidInput(f"at most {MAX_VARIABLE_LINES} variables", field="variables")
    for i, line in enumerate(lines, start=1):
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"line {i} should look like name=value", field="variables")
        found[name.strip()] = value.strip()
    return found


def field_message(exc: InvalidInput) -> str:
    head = exc.field.split(".", 1)[0]
    return f"{FIELD_LABELS.get(head, head or 'Call')}: {exc.message}"


def caller_choices(callers: list[tuple[PhoneNumber, SipOutboundTrunk]]) -> list[dict[str, str]]:
    """Our numbers that can place calls, as a select's {id, label} items."""
    return [
        {"id": str(n.id), "label": e164.display(n.number) + (f" ({n.label})" if n.label else "")}
        for n, _trunk in callers
    ]


class OutboundCallState(AppState):
    open: bool = False
    dialing: bool = False
    agent_id: str = ""
    from_number_id: str = ""
    # {id, name} of ready agents; {id, label} of our numbers that can place calls.
    agents: list[dict[str, str]] = []
    numbers: list[dict[str, str]] = []

    def _refuse(self) -> rx.event.EventSpec:
        self.open, self.dialing, self.agents, self.numbers = False, False, [], []
        return self._toast_error(REFUSED)

    def _load_choices(self) -> None:
        with session_scope() as session:
            ready = [
                a for a in agents_svc.list_agents(session=session, limit=500) if a.status == "ready"
            ]
            callers = outbound_svc.caller_numbers(session=session)
        self.agents = [{"id": str(a.id), "name": a.name or str(a.id)} for a in ready]
        self.numbers = caller_choices(callers)
        if self.numbers and self.from_number_id not in {n["id"] for n in self.numbers}:
            self.from_number_id = self.numbers[0]["id"]

    @rx.event
    def open_for(self, agent_id: str):
        """Open the dialog with `agent_id` chosen (any ready agent may be picked)."""
        if not self._is_editor():
            return self._refuse()
        try:
            self._load_choices()
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self.agent_id = str(agent_id)[:64]
        self.dialing, self.open = False, True
        return None

    @rx.event
    def set_open(self, value: bool):
        if not self._is_editor():
            return self._refuse()
        if not self.dialing:  # the dial in flight decides when it closes
            self.open = bool(value)
        return None

    @rx.event
    def set_agent(self, value: str):
        if not self._is_editor():
            return self._refuse()
        self.agent_id = str(value)[:64]
        return None

    @rx.event
    def set_from_number(self, value: str):
        if not self._is_editor():
            return self._refuse()
        self.from_number_id = str(value)[:64]
        return None

    @rx.event
    async def place(self, form: dict[str, Any]):
        """Dial: "Calling…" first, then the call's page, or a toast naming the field."""
        principal = guard.current()
        if principal is None or not principal.can("admin"):
            yield self._refuse()
            return
        if self.dialing:
            return
        try:
            variables = parse_variables(str(form.get("variables", ""))[:20_000])
            agent_id = uuid.UUID(self.agent_id)
        except InvalidInput as exc:
            yield self._toast_error(field_message(exc))
            return
        except ValueError:
            yield self._toast_error("Agent: choose the agent that makes the call")
            return
        try:
            from_number_id = uuid.UUID(self.from_number_id) if self.from_number_id else None
        except ValueError:
            from_number_id = None
        self.dialing = True
        yield
        try:
            placed = await outbound_svc.start_outbound_call(
                agent_id=agent_id,
                to=str(form.get("to", ""))[:64],
                from_number_id=from_number_id,
                settings=get_settings(),
                caller=principal,
                variables=variables,
            )
        except InvalidInput as exc:
            self.dialing = False
            yield self._toast_error(field_message(exc))
            return
        except ServiceError as exc:  # not ready, rate limited, LiveKit missing or failed
            self.dialing = False
            yield self._toast_error(exc.message)
            return
        except sa.exc.SQLAlchemyError as exc:
            self.dialing = False
            yield self._db_failed(exc)
            return
        self.dialing, self.open = False, False
        who = e164.display(placed.to)
        if placed.dial_status == "answered":
            note = rx.toast.success(f"{who} answered: the agent is talking.", duration=4000)
        else:
            code = f" ({placed.sip_status_code} {placed.sip_status_reason})".rstrip()
            if placed.sip_status_code is None:
                code = f" ({placed.sip_status_reason})" if placed.sip_status_reason else ""
            label = placed.dial_status.replace("_", " ")
            note = rx.toast.warning(f"{who}: {label}{code}.", close_button=True, duration=6000)
        yield [note, rx.redirect(routes.call(str(placed.call_session_id)))]
