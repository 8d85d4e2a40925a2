"""The MCP servers part of `/tools` (its own state; the HTTP tools list is beside it)."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.state.mcp_servers import McpServersState as S


def _head(*names: str) -> rx.Component:
    return rx.table.header(
        rx.table.row(*[rx.table.column_header_cell(n, white_space="nowrap") for n in names])
    )


def _actions(server: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("refresh-cw", size=14),
            "Refresh",
            size="1",
            variant="soft",
            loading=S.refreshing,
            on_click=S.refresh(server["id"]),
            data_testid="mcp-refresh",
        ),
        rx.button(
            "Edit", size="1", variant="soft", on_click=S.edit(server["id"]), data_testid="mcp-edit"
        ),
        rx.icon_button(
            rx.icon("trash-2", size=14),
            size="1",
            variant="ghost",
            color_scheme="red",
            on_click=S.ask_delete(server["id"], server["name"]),
            aria_label="Delete MCP server",
        ),
        spacing="2",
        align="center",
    )


def _server_row(server: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(server["name"], weight="medium"), white_space="nowrap"),
        rx.table.cell(rx.code(server["url"], size="1", variant="ghost"), max_width="22rem"),
        rx.table.cell(server["transport"], white_space="nowrap"),
        rx.table.cell(server["timeout"], white_space="nowrap"),
        rx.table.cell(
            rx.vstack(
                rx.text(server["allowed"], size="2"),
                rx.text(server["listed"], size="1", color=rx.color("gray", 10)),
                spacing="0",
            )
        ),
        rx.cond(S.is_admin, rx.table.cell(_actions(server), white_space="nowrap")),
        data_testid="mcp-server-row",
    )


def _list() -> rx.Component:
    return rx.cond(
        S.servers.length() > 0,
        ui.responsive_table(
            rx.cond(
                S.is_admin,
                _head("Name", "URL", "Transport", "Timeout", "Agents may use", ""),
                _head("Name", "URL", "Transport", "Timeout", "Agents may use"),
            ),
            rx.table.body(rx.foreach(S.servers, _server_row)),
            size="1",
            variant="surface",
        ),
        ui.empty_state(
            "plug",
            "No MCP servers yet",
            "An MCP server offers tools (look up an order, book a slot) that agents can call.",
        ),
    )


def _header_row(row: rx.Var, index: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.input(
            value=row["key"],
            placeholder="Header",
            on_change=lambda v: S.set_header_key(index, v),
            width="12rem",
            aria_label="Header name",
        ),
        rx.input(
            value=row["value"],
            placeholder="Bearer {{secret:MCP_API_KEY}}",
            on_change=lambda v: S.set_header_value(index, v),
            flex="1",
            aria_label="Header value",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=S.remove_header(index),
            aria_label="Remove header",
        ),
        width="100%",
        align="center",
    )


def _labelled(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%")


def _listed_tool(tool: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.checkbox(
            checked=tool["allowed"].to(bool),
            on_change=lambda checked: S.toggle_tool(tool["name"], checked),
            disabled=~tool["usable"].to(bool),
            data_testid="mcp-tool-checkbox",
        ),
        rx.vstack(
            rx.code(tool["name"], size="2"),
            rx.text(tool["description"], size="1", color=rx.color("gray", 10)),
            spacing="0",
        ),
        align="start",
        spacing="3",
        data_testid="mcp-listed-tool",
    )


def _tools_part() -> rx.Component:
    return rx.cond(
        S.editing_id == "",
        ui.muted("Save the server, then press Refresh to list its tools."),
        rx.vstack(
            rx.hstack(
                rx.text("Tools agents may use", size="2", weight="medium"),
                rx.spacer(),
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Refresh",
                    size="1",
                    variant="soft",
                    loading=S.refreshing,
                    on_click=S.refresh(S.editing_id),
                    data_testid="mcp-form-refresh",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.listed.length() > 0,
                rx.vstack(rx.foreach(S.listed, _listed_tool), spacing="2", width="100%"),
                ui.muted("Nothing listed yet: Refresh connects with the saved URL and headers."),
            ),
            spacing="2",
            width="100%",
        ),
    )


def _form() -> rx.Component:
    return ui.card(
        rx.vstack(
            rx.heading(
                rx.cond(S.editing_id == "", "Add an MCP server", "Edit " + S.name),
                size="3",
                as_="h3",
            ),
            rx.grid(
                _labelled(
                    "Name",
                    rx.input(
                        value=S.name,
                        placeholder="clinic_mcp",
                        on_change=S.set_name,
                        width="100%",
                        data_testid="mcp-name",
                    ),
                ),
                _labelled(
                    "Transport",
                    rx.select.root(
                        rx.select.trigger(width="100%", data_testid="mcp-transport"),
                        rx.select.content(
                            rx.select.item("Streamable HTTP", value="streamable_http"),
                            rx.select.item("SSE (legacy)", value="sse"),
                        ),
                        value=S.transport,
                        on_change=S.set_transport,
                    ),
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            _labelled(
                "URL",
                rx.input(
                    value=S.url,
                    placeholder="https://mcp.example.com/mcp",
                    on_change=S.set_url,
                    width="100%",
                    data_testid="mcp-url",
                ),
            ),
            _labelled(
                "Timeout (seconds, 1 to 30)",
                rx.input(
                    value=S.timeout,
                    type="number",
                    min=1,
                    max=30,
                    on_change=S.set_timeout,
                    width="8rem",
                    data_testid="mcp-timeout",
                ),
            ),
            rx.vstack(
                rx.hstack(
                    rx.text("Headers", size="2", weight="medium"),
                    rx.spacer(),
                    rx.button(
                        rx.icon("plus", size=14),
                        "Header",
                        size="1",
                        variant="ghost",
                        on_click=S.add_header,
                    ),
                    width="100%",
                    align="center",
                ),
                rx.foreach(S.header_rows, _header_row),
                ui.muted("Keep API keys as secrets (/settings) and write {{secret:NAME}}."),
                spacing="2",
                width="100%",
            ),
            _tools_part(),
            rx.hstack(
                rx.button("Cancel", variant="soft", color_scheme="gray", on_click=S.cancel),
                rx.button("Save", on_click=S.save, data_testid="mcp-save"),
                justify="end",
                spacing="3",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        data_testid="mcp-form",
    )


def mcp_panel() -> rx.Component:
    """MCP servers: add, refresh the listed tools, tick those agents may use."""
    return rx.box(
        ui.section(
            "MCP servers",
            ui.muted(
                "Agents can use the tools of a Model Context Protocol server. Refresh lists "
                "them; only the ones ticked are offered to agents."
            ),
            _list(),
            rx.cond(S.is_admin & S.form_open, _form()),
            action=rx.cond(
                S.is_admin & ~S.form_open,
                rx.button(
                    rx.icon("plus", size=14),
                    "Add MCP server",
                    size="2",
                    on_click=S.new_server,
                    data_testid="mcp-add",
                ),
            ),
        ),
        ui.confirm_delete_dialog(
            title="Delete MCP server",
            name=S.deleting_name,
            consequence="Agents lose its tools.",
            open=S.deleting_id != "",
            on_open_change=S.set_delete_open,
            on_confirm=S.delete,
            confirm_testid="mcp-delete-confirm",
        ),
        on_mount=S.load,
        width="100%",
        data_testid="mcp-panel",
    )
