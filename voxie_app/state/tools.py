"""`/tools`: the HTTP tools list, the editor (parameter table or raw JSON), Test, delete.

Thin: the table <-> schema conversion and the form body are `services.tool_params`,
the rules `services.tools`, a test run `voice_worker.http_tools.try_stored`. Viewers
load the list (never the headers: only an admin's editor reads them); every other
handler is admin-only twice: the middleware refuses a viewer's event, and each
handler checks the role again before it touches anything.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voice_worker import http_tools
from voxie_app.db import session_scope
from voxie_app.services import tool_params as tp
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import InvalidInput, NotFound, ServiceError
from voxie_app.state import guard
from voxie_app.state.base import AppState

REFUSED = "Your role cannot change or run tools; ask an admin."
FORM_TOAST = "tool-form-errors"
MAX_ROWS = tp.MAX_PARAMS
TEXT_FIELDS = ("name", "description", "method", "url", "timeout_s", "wait_message", "result_path")
STATUS = {"ready": ("ready", "grass"), "needs_setup": ("needs setup", "amber")}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def tool_row(view: tools_svc.ToolView, agents: list[str]) -> dict[str, str]:
    """A tool as the list shows it (no headers, for every reader)."""
    label, color = STATUS.get(view.status, (view.status, "gray"))
    shown = ", ".join(sorted(agents)[:3]) + (f" +{len(agents) - 3}" if len(agents) > 3 else "")
    return {
        "id": str(view.id),
        "name": view.name,
        "description": view.description,
        "method": view.method,
        "url": view.url or "no URL yet",
        "status": view.status,
        "status_label": label,
        "status_color": color,
        "agents": f"Used by {shown}" if shown else "Not used by any agent yet",
    }


def _param_dict(row: tp.ParamRow) -> dict[str, str]:
    return {
        "name": row.name,
        "type": row.type,
        "description": row.description,
        "required": "true" if row.required else "",
        "enum": row.enum,
    }


def _param_row(row: dict[str, str]) -> tp.ParamRow:
    return tp.ParamRow(
        name=row.get("name", ""),
        type=row.get("type", "string"),
        description=row.get("description", ""),
        required=bool(row.get("required")),
        enum=row.get("enum", ""),
    )


def _message(exc: InvalidInput) -> str:
    text = exc.message.removeprefix("Value error, ")
    return f"{tp.field_label(exc.field)}: {text}"


class ToolsState(AppState):
    rows: list[dict[str, str]] = []
    loaded: bool = False

    editor_open: bool = False
    editing_id: str = ""
    form: dict[str, str] = {}
    params: list[dict[str, str]] = []
    headers: list[dict[str, str]] = []
    raw_mode: bool = False
    raw_schema: str = ""
    raw_note: str = ""  # why the table cannot show the schema ("" when it can)
    errors: dict[str, str] = {}  # top-level field -> message
    saving: bool = False

    delete_open: bool = False
    delete_id: str = ""
    delete_name: str = ""

    test_open: bool = False
    test_id: str = ""
    test_name: str = ""
    test_args: str = ""
    test_running: bool = False
    test_result: dict[str, str] = {}

    # ---------------------------------------------------------------- helpers

    def _refused(self) -> rx.event.EventSpec | None:
        """The role check every admin handler starts with (the middleware's twin)."""
        return None if self._is_editor() else self._toast_error(REFUSED)

    def _reload(self) -> rx.event.EventSpec | None:
        try:
            with session_scope() as session:
                usage = tools_svc.agents_by_tool(session=session)
                self.rows = [
                    tool_row(tools_svc.view(t, with_headers=False), usage.get(str(t.id), []))
                    for t in tools_svc.list_tools(session=session)
                    if t.kind == "http"
                ]
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        finally:
            self.loaded = True
        return None

    def _open_editor(self, view: tools_svc.ToolView | None) -> None:
        self.errors, self.saving, self.raw_note = {}, False, ""
        if view is None:
            self.editing_id = ""
            self.form = {
                "name": "",
                "description": "",
                "method": "GET",
                "url": "",
                "timeout_s": f"{tools_svc.DEFAULT_TIMEOUT_S:g}",
                "wait_message": "",
                "result_path": "",
                "status": "",
            }
            self.params, self.headers = [], [{"name": "", "value": ""}]
            self.raw_mode, self.raw_schema = False, ""
        else:
            self.editing_id = str(view.id)
            self.form = {
                "name": view.name,
                "description": view.description,
                "method": view.method,
                "url": view.url,
                "timeout_s": f"{view.timeout_s:g}",
                "wait_message": view.wait_message,
                "result_path": view.result_path,
                "status": view.status,
            }
            self.headers = [{"name": k, "value": v} for k, v in (view.headers or {}).items()]
            self.headers = self.headers or [{"name": "", "value": ""}]
            self.raw_schema = json.dumps(view.parameters, indent=2, ensure_ascii=False)
            try:
                self.params = [_param_dict(r) for r in tp.rows_from_schema(view.parameters)]
                self.raw_mode = False
            except tp.NotFlat as exc:
                self.params, self.raw_mode = [], True
                self.raw_note = f"Shown as JSON: {exc}."
        self.editor_open = True

    def _parameters(self) -> dict[str, Any]:
        if self.raw_mode:
            return tp.parse_schema_text(self.raw_schema)
        return tp.schema_from_rows([_param_row(r) for r in self.params])

    def _invalid(self, exc: InvalidInput) -> list[rx.event.EventSpec]:
        """One field's problem: shown under it and in one toast naming it."""
        self.saving = False
        message = _message(exc)
        self.errors = {exc.field.split(".")[0]: message}
        return [rx.toast.error(message, id=FORM_TOAST, close_button=True, duration=8000)]

    def _clear_error(self, field: str) -> None:
        if field in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != field}

    # ----------------------------------------------------------------- list

    @rx.event
    @guard.viewer
    def load(self):
        """Everyone signed in sees the list; the dialogs start closed."""
        self.editor_open = self.delete_open = self.test_open = False
        self.test_result = {}
        return self._reload()

    # --------------------------------------------------------------- editor

    @rx.event
    def open_create(self):
        if refused := self._refused():
            return refused
        self._open_editor(None)
        return None

    @rx.event
    def open_edit(self, tool_id: str):
        if refused := self._refused():
            return refused
        try:
            with session_scope() as session:
                tool = tools_svc.get_tool(session=session, tool_id=_uuid(tool_id) or uuid.uuid4())
                view = tools_svc.view(tool, with_headers=True)
        except NotFound:
            self._reload()
            return self._toast_error("That tool no longer exists.")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self._open_editor(view)
        return None

    @rx.event
    def set_editor_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.editor_open = bool(value)
        if not value:
            self.errors, self.headers = {}, []  # header values leave the page state
        return None

    @rx.event
    def set_field(self, key: str, value: str):
        if refused := self._refused():
            return refused
        if key in TEXT_FIELDS:
            self.form = {**self.form, key: str(value)[:2000]}
            self._clear_error(key)
        return None

    @rx.event
    def add_param(self):
        if refused := self._refused():
            return refused
        if len(self.params) < MAX_ROWS:
            self.params = [*self.params, _param_dict(tp.ParamRow(name=""))]
        return None

    @rx.event
    def remove_param(self, index: int):
        if refused := self._refused():
            return refused
        self.params = [p for i, p in enumerate(self.params) if i != index]
        self._clear_error("parameters")
        return None

    @rx.event
    def set_param(self, index: int, key: str, value: Any):
        if refused := self._refused():
            return refused
        if key not in ("name", "type", "description", "required", "enum"):
            return None
        text = ("true" if value else "") if key == "required" else str(value)[:1000]
        self.params = [{**p, key: text} if i == index else p for i, p in enumerate(self.params)]
        self._clear_error("parameters")
        return None

    @rx.event
    def set_raw_mode(self, on: bool):
        """JSON on: the table's schema as text. Off: the text back into rows, when the
        table can show it; otherwise it stays JSON and says why."""
        if refused := self._refused():
            return refused
        try:
            if on:
                schema = tp.schema_from_rows([_param_row(r) for r in self.params])
                self.raw_schema = json.dumps(schema, indent=2, ensure_ascii=False)
                self.raw_mode, self.raw_note = True, ""
                return None
            rows = tp.rows_from_schema(tp.parse_schema_text(self.raw_schema))
        except InvalidInput as exc:
            return self._invalid(exc)
        except tp.NotFlat as exc:
            self.raw_note = f"Kept as JSON: {exc}."
            return self._toast_error(f"The table cannot show this schema: {exc}.")
        self.params = [_param_dict(r) for r in rows]
        self.raw_mode, self.raw_note = False, ""
        self._clear_error("parameters")
        return None

    @rx.event
    def set_raw_schema(self, value: str):
        if refused := self._refused():
            return refused
        self.raw_schema = str(value)[: tools_svc.MAX_SCHEMA_BYTES * 2]
        self._clear_error("parameters")
        return None

    @rx.event
    def add_header(self):
        if refused := self._refused():
            return refused
        if len(self.headers) < tools_svc.MAX_HEADERS:
            self.headers = [*self.headers, {"name": "", "value": ""}]
        return None

    @rx.event
    def remove_header(self, index: int):
        if refused := self._refused():
            return refused
        self.headers = [h for i, h in enumerate(self.headers) if i != index]
        self._clear_error("headers")
        return None

    @rx.event
    def set_header(self, index: int, key: str, value: str):
        if refused := self._refused():
            return refused
        if key in ("name", "value"):
            self.headers = [
                {**h, key: str(value)[: tools_svc.MAX_HEADER_VALUE + 1]} if i == index else h
                for i, h in enumerate(self.headers)
            ]
            self._clear_error("headers")
        return None

    @rx.event
    async def save(self):
        """Create or replace the tool through `services.tools` (a URL makes it ready)."""
        if refused := self._refused():
            return refused
        editing = _uuid(self.editing_id) if self.editing_id else None
        try:
            headers = tp.headers_from_rows([(h["name"], h["value"]) for h in self.headers])
            body = tools_svc.parse(tp.tool_body(self.form, self._parameters(), headers))
        except InvalidInput as exc:
            return self._invalid(exc)
        self.saving = True

        def write() -> None:  # the URL guard may resolve the host: not on the event loop
            with session_scope() as session:
                if editing is None:
                    tools_svc.create_tool(session=session, body=body)
                else:
                    tools_svc.update_tool(session=session, tool_id=editing, body=body)

        try:
            await asyncio.to_thread(write)
        except InvalidInput as exc:
            return self._invalid(exc)
        except NotFound:
            self.saving = self.editor_open = False
            self._reload()
            return self._toast_error("That tool no longer exists.")
        except ServiceError as exc:  # a taken name, too many tools
            self.saving = False
            return self._toast_error(exc.message[:1].upper() + exc.message[1:] + ".")
        except sa.exc.SQLAlchemyError as exc:
            self.saving = False
            return self._db_failed(exc)
        self.saving = self.editor_open = False
        self.errors, self.headers = {}, []
        self._reload()
        verb = "saved" if editing else "created"
        return [rx.toast.dismiss(FORM_TOAST), self._toast_ok(f"Tool '{body.name}' {verb}.")]

    # --------------------------------------------------------------- delete

    @rx.event
    def ask_delete(self, tool_id: str, name: str):
        if refused := self._refused():
            return refused
        self.delete_id, self.delete_name, self.delete_open = tool_id, name[:100], True
        return None

    @rx.event
    def set_delete_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.delete_open = bool(value)
        return None

    @rx.event
    def confirm_delete(self):
        if refused := self._refused():
            return refused
        self.delete_open = False
        try:
            with session_scope() as session:
                tools_svc.delete_tool(
                    session=session, tool_id=_uuid(self.delete_id) or uuid.uuid4()
                )
        except NotFound:
            pass
        except ServiceError as exc:  # 409: agents use it
            return self._toast_error(exc.message[:1].upper() + exc.message[1:] + ".")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self._reload()
        return self._toast_ok(f"Deleted '{self.delete_name}'.")

    # ----------------------------------------------------------------- test

    @rx.event
    def open_test(self, tool_id: str):
        """The Test dialog, its arguments pre-filled from the schema."""
        if refused := self._refused():
            return refused
        try:
            with session_scope() as session:
                tool = tools_svc.get_tool(session=session, tool_id=_uuid(tool_id) or uuid.uuid4())
                name, schema = tool.name, dict(tool.parameters)
        except NotFound:
            self._reload()
            return self._toast_error("That tool no longer exists.")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self.test_id, self.test_name = tool_id, name
        self.test_args = json.dumps(tp.sample_arguments(schema), indent=2, ensure_ascii=False)
        self.test_result, self.test_running, self.test_open = {}, False, True
        return None

    @rx.event
    def set_test_open(self, value: bool):
        if refused := self._refused():
            return refused
        self.test_open = bool(value)
        return None

    @rx.event
    def set_test_args(self, value: str):
        if refused := self._refused():
            return refused
        self.test_args = str(value)[: tp.MAX_ARGUMENTS_CHARS + 1]
        return None

    @rx.event
    async def run_test(self):
        """Run the stored tool once with the sample arguments, as a call would."""
        if refused := self._refused():
            yield refused
            return
        if self.test_running:
            return
        try:
            arguments = tp.parse_arguments(self.test_args)
        except InvalidInput as exc:
            yield self._toast_error(_message(exc))
            return
        self.test_running, self.test_result = True, {}
        yield
        try:
            tried = await http_tools.try_stored(_uuid(self.test_id) or uuid.uuid4(), arguments)
        except ServiceError as exc:  # gone, or no URL yet
            self.test_running = False
            yield self._toast_error(exc.message[:1].upper() + exc.message[1:] + ".")
            return
        except sa.exc.SQLAlchemyError as exc:
            self.test_running = False
            yield self._db_failed(exc)
            return
        self.test_running = False
        self.test_result = {
            "status": tried.status.replace("_", " "),
            "ok": "true" if tried.ok else "",
            "http_status": str(tried.http_status) if tried.http_status is not None else "none",
            "latency": f"{tried.latency_ms} ms",
            "result": tried.result,
        }
