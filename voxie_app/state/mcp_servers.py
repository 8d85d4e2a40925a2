"""The MCP servers panel on /tools: list, add and edit servers, Refresh their tools,
tick the tools agents may use.

Viewers see the list (no headers: they are never loaded into a viewer's state). Every
handler but `load` is admin-only: the guard (`state.guard`) refuses a viewer's event
before it runs, whatever the page shows. Rules live in `services.mcp_servers`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.services import mcp_servers as mcp_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import InvalidInput, ServiceError
from voxie_app.state import guard
from voxie_app.state.base import AppState

MAX_HEADER_ROWS = tools_svc.MAX_HEADERS


def _row(tool: Any) -> dict[str, str]:
    listed = len(tool.discovered_tools or [])
    allowed = list(tool.allowed_tools or [])
    return {
        "id": str(tool.id),
        "name": tool.name,
        "url": tool.url,
        "transport": "SSE" if tool.transport == "sse" else "Streamable HTTP",
        "timeout": f"{tool.timeout_s:g} s",
        "allowed": ", ".join(allowed) if allowed else "none yet",
        "listed": f"{listed} listed" if listed else "not refreshed",
    }


class McpServersState(AppState):
    is_admin: bool = False
    servers: list[dict[str, str]] = []
    # The add/edit form (admins only). `editing_id` is "" for a new server.
    form_open: bool = False
    editing_id: str = ""
    name: str = ""
    url: str = ""
    transport: str = "streamable_http"
    timeout: str = "10"
    header_rows: list[dict[str, str]] = []
    # What the server listed at its last Refresh, each with whether agents may use it.
    listed: list[dict[str, Any]] = []
    refreshing: bool = False
    error_field: str = ""
    # The server a "Delete" asks to confirm ("" when no dialog is open).
    deleting_id: str = ""
    deleting_name: str = ""

    def _reload(self) -> None:
        with session_scope() as session:
            self.servers = [
                _row(t) for t in tools_svc.list_tools(session=session) if t.kind == "mcp"
            ]

    @rx.event
    @guard.viewer
    def load(self):
        """The list for everyone signed in; the form's data only ever for admins."""
        self.is_admin = self._is_editor()
        if not self.is_admin:
            self._close()
        try:
            self._reload()
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        return None

    # ------------------------------------------------------------ the form

    def _close(self) -> None:
        self.form_open, self.editing_id, self.error_field = False, "", ""
        self.name = self.url = ""
        self.transport, self.timeout = "streamable_http", "10"
        self.header_rows, self.listed = [], []

    def _fill(self, tool: Any) -> None:
        self.form_open, self.editing_id, self.error_field = True, str(tool.id), ""
        self.name, self.url = tool.name, tool.url
        self.transport = tool.transport or "streamable_http"
        self.timeout = f"{tool.timeout_s:g}"
        self.header_rows = [{"key": k, "value": v} for k, v in (tool.headers or {}).items()]
        allowed = set(tool.allowed_tools or [])
        self.listed = [
            {
                "name": t["name"],
                "description": t.get("description", ""),
                "allowed": t["name"] in allowed,
                "usable": bool(mcp_svc.TOOL_NAME_RE.match(t["name"])),
            }
            for t in tool.discovered_tools or []
        ]

    @rx.event
    def new_server(self) -> None:
        self._close()
        self.form_open = True

    @rx.event
    def edit(self, tool_id: str):
        try:
            with session_scope() as session:
                self._fill(mcp_svc.get_server(session=session, tool_id=uuid.UUID(tool_id)))
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except ValueError:
            return self._toast_error("That server does not exist.")
        return None

    @rx.event
    def cancel(self) -> None:
        self._close()

    @rx.event
    def set_name(self, value: str) -> None:
        self.name = str(value)[:64]

    @rx.event
    def set_url(self, value: str) -> None:
        self.url = str(value)[:2000]

    @rx.event
    def set_transport(self, value: str) -> None:
        self.transport = "sse" if value == "sse" else "streamable_http"

    @rx.event
    def set_timeout(self, value: str) -> None:
        self.timeout = str(value)[:10]

    @rx.event
    def add_header(self):
        if len(self.header_rows) >= MAX_HEADER_ROWS:
            return self._toast_error(f"At most {MAX_HEADER_ROWS} headers.")
        self.header_rows = [*self.header_rows, {"key": "", "value": ""}]
        return None

    @rx.event
    def remove_header(self, index: int) -> None:
        self.header_rows = [r for i, r in enumerate(self.header_rows) if i != int(index)]

    @rx.event
    def set_header_key(self, index: int, value: str) -> None:
        self._set_header(int(index), "key", str(value)[:100])

    @rx.event
    def set_header_value(self, index: int, value: str) -> None:
        self._set_header(int(index), "value", str(value)[: tools_svc.MAX_HEADER_VALUE])

    def _set_header(self, index: int, part: str, value: str) -> None:
        rows = [dict(r) for r in self.header_rows]
        if 0 <= index < len(rows):
            rows[index][part] = value
            self.header_rows = rows

    @rx.event
    def toggle_tool(self, name: str, allowed: bool) -> None:
        self.listed = [
            {**t, "allowed": bool(allowed) if t["name"] == name else t["allowed"]}
            for t in self.listed
        ]

    def _body(self) -> dict[str, Any]:
        try:
            timeout = float(self.timeout)
        except ValueError:
            raise InvalidInput("give the timeout in seconds, 1 to 30", field="timeout_s") from None
        return {
            "name": self.name.strip(),
            "url": self.url.strip(),
            "transport": self.transport,
            "headers": {r["key"].strip(): r["value"] for r in self.header_rows if r["key"].strip()},
            "timeout_s": timeout,
            "allowed_tools": [t["name"] for t in self.listed if t["allowed"]],
        }

    @rx.event
    async def save(self):
        """Create or replace the server; a new one stays open for its first Refresh."""
        editing = self.editing_id

        def write() -> Any:
            body = mcp_svc.parse(self._body())
            with session_scope() as session:
                if editing:
                    tool = mcp_svc.update_server(
                        session=session, tool_id=uuid.UUID(editing), body=body
                    )
                else:
                    tool = mcp_svc.create_server(session=session, body=body)
                session.flush()
                session.expunge(tool)
                return tool

        try:
            tool = await asyncio.to_thread(write)  # the URL guard may resolve the host
            self._reload()
        except InvalidInput as exc:
            self.error_field = exc.field
            return self._toast_error(f"{exc.field}: {exc.message}")
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        if editing:
            self._close()
            return self._toast_ok("MCP server saved.")
        self._fill(tool)
        return self._toast_ok("MCP server added: press Refresh to list its tools.")

    @rx.event
    async def refresh(self, tool_id: str):
        """List the server's tools now (its saved URL and headers)."""
        if self.refreshing:
            return
        self.refreshing = True
        yield
        try:
            tool = await mcp_svc.refresh(uuid.UUID(tool_id))
            self._reload()
        except ServiceError as exc:
            self.refreshing = False
            yield self._toast_error(exc.message)
            return
        except ValueError:
            self.refreshing = False
            yield self._toast_error("That server does not exist.")
            return
        self.refreshing = False
        self._fill(tool)  # the form opens on it, with a checkbox per listed tool
        count = len(tool.discovered_tools)
        yield self._toast_ok(f"The server lists {count} tool{'s' if count != 1 else ''}.")

    @rx.event
    def ask_delete(self, tool_id: str, name: str) -> None:
        self.deleting_id, self.deleting_name = str(tool_id), str(name)[:64]

    @rx.event
    def set_delete_open(self, open_: bool) -> None:
        if not open_:
            self.deleting_id = self.deleting_name = ""

    @rx.event
    def delete(self):
        tool_id, self.deleting_id, self.deleting_name = self.deleting_id, "", ""
        try:
            with session_scope() as session:
                tools_svc.delete_tool(session=session, tool_id=uuid.UUID(tool_id))
            self._reload()
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except ValueError:
            return self._toast_error("That server does not exist.")
        if self.editing_id == tool_id:
            self._close()
        return self._toast_ok("MCP server deleted.")
