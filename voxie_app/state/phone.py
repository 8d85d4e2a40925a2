"""`/phone`: phone numbers bound to agents, and the outbound trunks calls go out through.

Thin: the rules and every LiveKit request are in `services.phone_numbers` and
`services.sip_trunks`. Viewers load the lists (never a trunk's username or the name of
the secret holding its password, never the secret names: only an admin's load reads
them). Every other handler is admin-only twice: the middleware refuses a viewer's
event, and each handler checks the role again before it touches anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.services import agents as agents_svc
from voxie_app.services import phone_numbers as numbers_svc
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import sip_trunks as trunks_svc
from voxie_app.services.errors import InvalidInput, NotFound, ServiceError
from voxie_app.services.phone_numbers import PhoneNumberIn, PhoneNumberUpdate
from voxie_app.settings import get_settings
from voxie_app.state import guard
from voxie_app.state.base import AppState

REFUSED = "Your role cannot change phone numbers or trunks; ask an admin."
NONE = "__none__"  # a select's "no outbound trunk" (Radix items cannot have "" as value)
NUMBER_FORM = ("number", "label", "agent_id", "inbound_trunk_id", "outbound_trunk_id")
TRUNK_FORM = ("name", "address", "transport", "numbers", "auth_username", "auth_password_secret")
STATUS = {
    "ready": ("ready", "grass"),
    "pending": ("pending", "amber"),
    "no_agent": ("no agent", "amber"),
    "error": ("out of sync", "red"),
}
LABELS = {
    "number": "Number",
    "label": "Label",
    "agent_id": "Agent",
    "inbound_trunk_id": "Existing trunk id",
    "outbound_trunk_id": "Outbound trunk",
    "name": "Name",
    "address": "SIP address",
    "transport": "Transport",
    "numbers": "Numbers",
    "auth_username": "Username",
    "auth_password_secret": "Password secret",
}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."


def _field_message(exc: InvalidInput) -> str:
    head = exc.field.split(".")[0]
    return f"{LABELS.get(head, head)}: {exc.message.removeprefix('Value error, ')}"


def number_row(v: numbers_svc.PhoneNumberView) -> dict[str, str]:
    label, color = STATUS.get(v.status, (v.status, "gray"))
    return {
        "id": str(v.id),
        "number": v.number,
        "display": v.display,
        "label": v.label,
        "agent_id": str(v.agent_id) if v.agent_id else "",
        "agent_name": v.agent_name or "no agent",
        "trunk": v.inbound_trunk_id or "not created yet",
        "trunk_kind": "made by Voxie" if v.trunk_managed else "existing trunk",
        "outbound": v.outbound_trunk_name or "none",
        "status_label": label,
        "status_color": color,
        "sync_error": v.sync_error or "",
    }


def trunk_row(v: trunks_svc.SipTrunkView) -> dict[str, str]:
    label, color = STATUS.get(v.status, (v.status, "gray"))
    return {
        "id": str(v.id),
        "name": v.name,
        "address": v.address,
        "transport": v.transport.upper(),
        "numbers": ", ".join(v.numbers) or "any",
        "auth_username": v.auth_username or "",
        "auth_password_secret": v.auth_password_secret or "",
        "livekit_id": v.livekit_trunk_id or "not created yet",
        "status_label": label,
        "status_color": color,
        "sync_error": v.sync_error or "",
    }


class PhoneState(AppState):
    numbers: list[dict[str, str]] = []
    trunks: list[dict[str, str]] = []
    agent_options: list[dict[str, str]] = []  # {id, name}
    trunk_options: list[dict[str, str]] = []  # {id, name}, first "none"
    secret_names: list[str] = []  # admins only
    loaded: bool = False
    busy: bool = False  # a LiveKit request is running
    livekit_missing: str = ""  # the settings to set, when LiveKit is not configured

    add_open: bool = False
    add_form: dict[str, str] = {}
    add_errors: dict[str, str] = {}

    delete_open: bool = False
    delete_id: str = ""
    delete_name: str = ""

    trunk_open: bool = False
    trunk_editing_id: str = ""
    trunk_form: dict[str, str] = {}
    trunk_errors: dict[str, str] = {}

    trunk_delete_open: bool = False
    trunk_delete_id: str = ""
    trunk_delete_name: str = ""

    # ---------------------------------------------------------------- helpers

    def _refused(self) -> rx.event.EventSpec | None:
        """The role check every admin handler starts with (the middleware's twin)."""
        return None if self._is_editor() else self._toast_error(REFUSED)

    def _reload(self) -> rx.event.EventSpec | None:
        admin = self._is_editor()
        try:
            with session_scope() as session:
                self.numbers = [number_row(v) for v in numbers_svc.views(session=session)]
                trunks = trunks_svc.list_trunks(session=session)
                self.trunks = [trunk_row(trunks_svc.view(t, admin=admin)) for t in trunks]
                self.trunk_options = [{"id": NONE, "name": "None"}] + [
                    {"id": str(t.id), "name": t.name} for t in trunks
                ]
                agents = agents_svc.list_agents(session=session, limit=500)
                self.agent_options = [
                    {"id": str(a.id), "name": a.name or str(a.id)}
                    for a in sorted(agents, key=lambda a: (a.name or "").lower())
                ]
                self.secret_names = (
                    [s.name for s in secrets_svc.list_all(session=session)] if admin else []
                )
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        finally:
            self.loaded = True
        missing = get_settings().missing_livekit_settings()
        self.livekit_missing = ", ".join(missing)
        return None

    def _failed(self, exc: ServiceError) -> rx.event.EventSpec:
        self.busy = False
        return self._toast_error(_sentence(exc.message))

    async def _delete(
        self, delete: Callable[[uuid.UUID], Awaitable[object]], target_id: str, done: str
    ) -> rx.event.EventSpec | None:
        """Delete a number or a trunk (here and in LiveKit); one already gone is fine."""
        target = _uuid(target_id)
        if target is None or self.busy:
            return None
        self.busy = True
        try:
            await delete(target)
        except NotFound:
            pass
        except ServiceError as exc:
            self._reload()
            return self._failed(exc)
        except sa.exc.SQLAlchemyError as exc:
            self.busy = False
            return self._db_failed(exc)
        self.busy = False
        self._reload()
        return self._toast_ok(done)

    # ----------------------------------------------------------------- list

    @rx.event
    @guard.viewer
    def load(self):
        """Everyone signed in sees the lists; the dialogs start closed."""
        self.add_open = self.delete_open = self.trunk_open = self.trunk_delete_open = False
        self.busy = False
        return self._reload()

    # ------------------------------------------------------------- numbers

    @rx.event
    def open_add(self):
        if refused := self._refused():
            return refused
        first = self.agent_options[0]["id"] if self.agent_options else ""
        self.add_form = {
            "number": "",
            "label": "",
            "agent_id": first,
            "inbound_trunk_id": "",
            "outbound_trunk_id": NONE,
        }
        self.add_errors, self.add_open = {}, True
        return None

    @rx.event
    def set_add_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.add_open = bool(value)
        return None

    @rx.event
    def set_add_field(self, key: str, value: str):
        if refused := self._refused():
            return refused
        if key in NUMBER_FORM:
            self.add_form = {**self.add_form, key: str(value)[:200]}
            self.add_errors = {k: v for k, v in self.add_errors.items() if k != key}
        return None

    @rx.event
    async def save_number(self):
        """Add the number: the row, then LiveKit's trunk and rule (`services.phone_numbers`)."""
        if refused := self._refused():
            return refused
        if self.busy:
            return None
        form = self.add_form
        if not _uuid(form.get("agent_id", "")):
            self.add_errors = {"agent_id": "Agent: choose the agent that answers this number"}
            return self._toast_error("Agent: choose the agent that answers this number.")
        try:
            body = PhoneNumberIn(
                number=form.get("number", "")[:40] or " ",
                label=form.get("label", "")[:80],
                agent_id=uuid.UUID(form["agent_id"]),
                inbound_trunk_id=form.get("inbound_trunk_id", "").strip()[:64] or None,
                outbound_trunk_id=_uuid(form.get("outbound_trunk_id", "")),
            )
        except ValueError:  # pydantic: a field over its length
            return self._toast_error("Check the form: a field is too long.")
        self.busy = True
        try:
            row = await numbers_svc.create_number(body=body, settings=get_settings())
        except InvalidInput as exc:
            self.busy = False
            message = _field_message(exc)
            self.add_errors = {exc.field.split(".")[0]: message}
            return self._toast_error(_sentence(message))
        except ServiceError as exc:  # taken (409), LiveKit (502/503): the row may be saved
            self.add_open = bool(self.add_open and "saved" not in exc.message)
            self._reload()
            return self._failed(exc)
        except sa.exc.SQLAlchemyError as exc:
            self.busy = False
            return self._db_failed(exc)
        self.busy = self.add_open = False
        self._reload()
        return self._toast_ok(f"{row.number} now answers with its agent.")

    @rx.event
    async def rebind(self, number_id: str, agent_id: str):
        """Bind a number to another agent: the row, then LiveKit's dispatch rule."""
        if refused := self._refused():
            return refused
        target, agent = _uuid(number_id), _uuid(agent_id)
        if target is None or agent is None or self.busy:
            return None
        self.busy = True
        try:
            await numbers_svc.update_number(
                number_id=target, body=PhoneNumberUpdate(agent_id=agent), settings=get_settings()
            )
        except NotFound:
            self.busy = False
            self._reload()
            return self._toast_error("That number no longer exists.")
        except InvalidInput as exc:
            self.busy = False
            return self._toast_error(_sentence(_field_message(exc)))
        except ServiceError as exc:
            self._reload()
            return self._failed(exc)
        except sa.exc.SQLAlchemyError as exc:
            self.busy = False
            return self._db_failed(exc)
        self.busy = False
        self._reload()
        name = next((a["name"] for a in self.agent_options if a["id"] == agent_id), "the agent")
        return self._toast_ok(f"Calls now reach {name}.")

    @rx.event
    def ask_delete(self, number_id: str, name: str):
        if refused := self._refused():
            return refused
        self.delete_id, self.delete_name, self.delete_open = number_id, name[:100], True
        return None

    @rx.event
    def set_delete_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.delete_open = bool(value)
        return None

    @rx.event
    async def confirm_delete(self):
        if refused := self._refused():
            return refused
        self.delete_open = False
        return await self._delete(
            lambda target: numbers_svc.delete_number(number_id=target, settings=get_settings()),
            self.delete_id,
            f"Deleted {self.delete_name}.",
        )

    @rx.event
    async def sync(self):
        """Make LiveKit agree with what is here (trunks first, then numbers)."""
        if refused := self._refused():
            return refused
        if self.busy:
            return None
        self.busy = True
        settings = get_settings()
        try:
            report = (await trunks_svc.sync(settings=settings)).merge(
                await numbers_svc.sync(settings=settings)
            )
        except ServiceError as exc:
            return self._failed(exc)
        except sa.exc.SQLAlchemyError as exc:
            self.busy = False
            return self._db_failed(exc)
        self.busy = False
        self._reload()
        if not report.ok:
            first = next(iter(report.errors.items()))
            more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
            return self._toast_error(f"LiveKit still disagrees on {first[0]}: {first[1]}{more}")
        changes = len(report.created) + len(report.updated) + len(report.deleted)
        changes += len(report.adopted)
        if not changes:
            return self._toast_ok("LiveKit already agrees: nothing to repair.")
        return self._toast_ok(f"LiveKit is in step again ({changes} change(s)).")

    # ------------------------------------------------------------- trunks

    def _open_trunk(self, view: trunks_svc.SipTrunkView | None) -> None:
        self.trunk_errors = {}
        if view is None:
            self.trunk_editing_id = ""
            self.trunk_form = {
                "name": "",
                "address": "",
                "transport": "udp",
                "numbers": "",
                "auth_username": "",
                "auth_password_secret": NONE,
            }
        else:
            self.trunk_editing_id = str(view.id)
            self.trunk_form = {
                "name": view.name,
                "address": view.address,
                "transport": view.transport,
                "numbers": ", ".join(view.numbers),
                "auth_username": view.auth_username or "",
                "auth_password_secret": view.auth_password_secret or NONE,
            }
        self.trunk_open = True

    @rx.event
    def open_trunk_create(self):
        if refused := self._refused():
            return refused
        self._open_trunk(None)
        return None

    @rx.event
    def open_trunk_edit(self, trunk_id: str):
        if refused := self._refused():
            return refused
        try:
            with session_scope() as session:
                row = trunks_svc.get_trunk(
                    session=session, trunk_id=_uuid(trunk_id) or uuid.uuid4()
                )
                view = trunks_svc.view(row, admin=True)
        except NotFound:
            self._reload()
            return self._toast_error("That trunk no longer exists.")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self._open_trunk(view)
        return None

    @rx.event
    def set_trunk_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.trunk_open = bool(value)
        return None

    @rx.event
    def set_trunk_field(self, key: str, value: str):
        if refused := self._refused():
            return refused
        if key in TRUNK_FORM:
            self.trunk_form = {**self.trunk_form, key: str(value)[:2000]}
            self.trunk_errors = {k: v for k, v in self.trunk_errors.items() if k != key}
        return None

    @rx.event
    async def save_trunk(self):
        if refused := self._refused():
            return refused
        if self.busy:
            return None
        form = self.trunk_form
        secret = form.get("auth_password_secret", "")
        data = {
            "name": form.get("name", ""),
            "address": form.get("address", ""),
            "transport": form.get("transport", "udp"),
            "numbers": [n.strip() for n in form.get("numbers", "").split(",") if n.strip()],
            "auth_username": form.get("auth_username", ""),
            "auth_password_secret": "" if secret == NONE else secret,
        }
        editing = _uuid(self.trunk_editing_id) if self.trunk_editing_id else None
        self.busy = True
        try:
            body = trunks_svc.parse(data)
            if editing is None:
                await trunks_svc.create_trunk(body=body, settings=get_settings())
            else:
                await trunks_svc.update_trunk(trunk_id=editing, body=body, settings=get_settings())
        except InvalidInput as exc:
            self.busy = False
            message = _field_message(exc)
            self.trunk_errors = {exc.field.split(".")[0]: message}
            return self._toast_error(_sentence(message))
        except NotFound:
            self.busy = self.trunk_open = False
            self._reload()
            return self._toast_error("That trunk no longer exists.")
        except ServiceError as exc:
            self.trunk_open = bool(self.trunk_open and "saved" not in exc.message)
            self._reload()
            return self._failed(exc)
        except sa.exc.SQLAlchemyError as exc:
            self.busy = False
            return self._db_failed(exc)
        self.busy = self.trunk_open = False
        self._reload()
        verb = "saved" if editing else "created"
        return self._toast_ok(f"Outbound trunk '{body.name}' {verb}.")

    @rx.event
    def ask_delete_trunk(self, trunk_id: str, name: str):
        if refused := self._refused():
            return refused
        self.trunk_delete_id, self.trunk_delete_name = trunk_id, name[:100]
        self.trunk_delete_open = True
        return None

    @rx.event
    def set_trunk_delete_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.trunk_delete_open = bool(value)
        return None

    @rx.event
    async def confirm_delete_trunk(self):
        if refused := self._refused():
            return refused
        self.trunk_delete_open = False
        return await self._delete(
            lambda target: trunks_svc.delete_trunk(trunk_id=target, settings=get_settings()),
            self.trunk_delete_id,
            f"Deleted '{self.trunk_delete_name}'.",
        )
