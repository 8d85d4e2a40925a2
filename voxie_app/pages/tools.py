"""`/tools`: the HTTP tools agents can call (list, editor, Test) and the MCP servers."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.layout import layout
from voxie_app.components.mcp_panel import mcp_panel
from voxie_app.components.tool_editor import delete_dialog, test_dialog, tool_dialog
from voxie_app.state.tools import ToolsState as S


def _action(icon: str, label: str, **props) -> rx.Component:
    return rx.tooltip(
        rx.icon_button(
            rx.icon(icon, size=16),
            variant="ghost",
            color_scheme=props.pop("color_scheme", "gray"),
            aria_label=label,
            **props,
        ),
        content=label,
    )


def _tool_row(tool: rx.Var) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.hstack(
                rx.code(tool["name"], size="2", weight="bold", data_testid="tool-name"),
                ui.pill(tool["status_label"], tool["status_color"], data_testid="tool-status"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(
                tool["description"],
                size="2",
                color=rx.color("gray", 11),
                class_name="voxie-clamp-2",
            ),
            rx.hstack(
                rx.badge(tool["method"], variant="surface", color_scheme="indigo", size="1"),
                rx.text(
                    tool["url"],
                    size="1",
                    font_family="var(--code-font-family)",
                    color=rx.color("gray", 11),
                    white_space="nowrap",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    min_width="0",
                    title=tool["url"],
                    data_testid="tool-url",
                ),
                spacing="2",
                align="center",
                width="100%",
                min_width="0",
            ),
            rx.hstack(
                rx.icon("bot", size=14),
                rx.text(tool["agents"], size="1", data_testid="tool-agents"),
                spacing="1",
                align="center",
                color=rx.color("gray", 10),
            ),
            spacing="2",
            flex="1",
            min_width="0",
        ),
        ui.editors_only(
            rx.hstack(
                rx.button(
                    rx.icon("play", size=14),
                    "Test",
                    size="1",
                    variant="soft",
                    on_click=S.open_test(tool["id"]),
                    disabled=tool["status"] != "ready",
                    data_testid="tool-test",
                ),
                _action(
                    "pencil", "Edit", on_click=S.open_edit(tool["id"]), data_testid="tool-edit"
                ),
                _action(
                    "trash-2",
                    "Delete",
                    color_scheme="red",
                    on_click=S.ask_delete(tool["id"], tool["name"]),
                    data_testid="tool-delete",
                ),
                spacing="3",
                align="center",
                flex_shrink="0",
            )
        ),
        direction=rx.breakpoints(initial="column", sm="row"),
        gap="0.75rem",
        align=rx.breakpoints(initial="stretch", sm="center"),
        width="100%",
        padding_y="0.85rem",
        data_testid="tool-row",
    )


def _http_tools() -> rx.Component:
    return ui.section(
        "HTTP tools",
        ui.muted(
            "Each one is a request an agent may make mid-conversation, e.g. check free slots "
            "or look up an order. Give it to an agent in the agent's form."
        ),
        rx.cond(
            S.loaded,
            rx.cond(
                S.rows.length() > 0,
                rx.vstack(
                    rx.foreach(S.rows, _tool_row),
                    spacing="0",
                    width="100%",
                    # a line between rows, none under the last
                    style={"& > * + *": {"border_top": f"1px solid {rx.color('gray', 4)}"}},
                ),
                ui.empty_state(
                    "wrench",
                    "No HTTP tools yet",
                    "Describe a request (URL, method, parameters) and your agents can call it.",
                    ui.editors_only(
                        rx.button(rx.icon("plus", size=16), "Add a tool", on_click=S.open_create)
                    ),
                ),
            ),
            ui.loading_block("8rem"),
        ),
        action=ui.editors_only(
            rx.button(
                rx.icon("plus", size=16),
                "New tool",
                size="2",
                on_click=S.open_create,
                data_testid="new-tool",
            )
        ),
        data_testid="http-tools",
    )


@rx.page(route=routes.TOOLS, title="Tools · Voxie", on_load=S.load)
def tools() -> rx.Component:
    return layout(
        _http_tools(),
        mcp_panel(),
        tool_dialog(),
        test_dialog(),
        delete_dialog(),
        title="Tools",
        subtitle=rx.cond(
            ui.is_viewer(),
            "What your agents can look up or do in your systems.",
            "What your agents can look up or do in your systems: add, test, change.",
        ),
    )
