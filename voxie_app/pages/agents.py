"""`/agents` (and `/agents/new`, with the create form open): list, search, manage."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.agent_form import agent_dialog, delete_dialog
from voxie_app.components.layout import layout
from voxie_app.state.agents import AgentsState as S


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


def _agent_card(agent: rx.Var) -> rx.Component:
    return ui.card(
        rx.vstack(
            rx.hstack(
                rx.center(
                    rx.icon("bot", size=18),
                    width="2.25rem",
                    height="2.25rem",
                    border_radius="var(--radius-3)",
                    background_color=rx.color("accent", 3),
                    color=rx.color("accent", 11),
                    flex_shrink="0",
                ),
                rx.vstack(
                    rx.link(
                        agent["name"],
                        href=agent["href"],
                        size="3",
                        weight="bold",
                        color=rx.color("gray", 12),
                        data_testid="agent-name",
                    ),
                    ui.pill(agent["status"], agent["status_color"], size="1"),
                    spacing="1",
                    min_width="0",
                ),
                spacing="3",
                align="start",
                width="100%",
            ),
            ui.agent_description(agent),
            rx.cond(
                agent["error"] != "",
                rx.text(
                    agent["error"], size="1", color=rx.color("red", 11), class_name="voxie-clamp-2"
                ),
            ),
            rx.hstack(
                rx.hstack(
                    rx.icon("phone", size=14),
                    rx.text(agent["calls_text"], size="2", data_testid="agent-calls"),
                    spacing="1",
                    align="center",
                ),
                rx.hstack(
                    rx.icon("clock", size=14),
                    rx.text("Last call ", agent["last_call"], size="2"),
                    spacing="1",
                    align="center",
                ),
                spacing="4",
                color=rx.color("gray", 10),
                wrap="wrap",
            ),
            ui.editors_only(rx.separator(size="4")),
            ui.editors_only(
                rx.hstack(
                    rx.link(
                        rx.button(
                            rx.icon("message-square", size=14), "Chat", size="1", variant="soft"
                        ),
                        href=agent["chat_href"],
                        data_testid="agent-chat",
                    ),
                    rx.link(
                        rx.button(rx.icon("phone-call", size=14), "Call", size="1"),
                        href=agent["call_href"],
                        data_testid="agent-call",
                    ),
                    rx.spacer(),
                    _action(
                        "pencil",
                        "Edit",
                        on_click=S.open_edit(agent["id"]),
                        disabled=~agent["ready"].to(bool),
                        data_testid="agent-edit",
                    ),
                    _action(
                        "copy",
                        "Duplicate",
                        on_click=S.duplicate(agent["id"]),
                        disabled=~agent["ready"].to(bool),
                        data_testid="agent-duplicate",
                    ),
                    _action(
                        "trash-2",
                        "Delete",
                        color_scheme="red",
                        on_click=S.ask_delete(agent["id"], agent["name"]),
                        data_testid="agent-delete",
                    ),
                    width="100%",
                    align="center",
                    spacing="2",
                ),
            ),
            spacing="3",
            width="100%",
            height="100%",
        ),
        data_testid="agent-card",
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Search agents by name",
            value=S.search,
            on_change=S.set_search.debounce(250),
            width="100%",
            max_width="24rem",
            size="2",
            data_testid="agent-search",
        ),
        width="100%",
    )


def _list() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.rows.length() > 0,
            rx.vstack(
                rx.grid(
                    rx.foreach(S.rows, _agent_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(
                    S.pages > 1,
                    ui.pager(
                        S.range_text,
                        S.page,
                        S.pages,
                        S.prev_page,
                        S.next_page,
                        testid="agents-range",
                    ),
                ),
                spacing="4",
                width="100%",
            ),
            rx.cond(
                S.search != "",
                ui.empty_state("search-x", "No agent matches your search"),
                ui.card(
                    ui.empty_state(
                        "bot",
                        "No agents yet",
                        "Create your first voice agent with the form, or let the builder "
                        "draft one from a conversation.",
                        ui.editors_only(
                            rx.hstack(
                                rx.button(
                                    rx.icon("plus", size=16),
                                    "Create an agent",
                                    on_click=S.open_create,
                                ),
                                rx.link(
                                    rx.button("Open the builder", variant="soft"),
                                    href=routes.BUILDER,
                                ),
                                spacing="2",
                            )
                        ),
                    )
                ),
            ),
        ),
        rx.grid(
            ui.loading_block("14rem"),
            ui.loading_block("14rem"),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
        ),
    )


def _agents() -> rx.Component:
    return layout(
        _toolbar(),
        _list(),
        agent_dialog(),
        delete_dialog(),
        title="Agents",
        subtitle=rx.cond(
            ui.is_viewer(),
            "Your voice agents, their calls and their knowledge.",
            "Your voice agents: test them in a chat, call them, change them.",
        ),
        actions=ui.editors_only(
            rx.button(
                rx.icon("plus", size=16),
                "New agent",
                on_click=S.open_create,
                data_testid="new-agent",
            )
        ),
    )


@rx.page(route=routes.AGENTS, title="Agents · Voxie", on_load=S.load)
def agents() -> rx.Component:
    return _agents()


@rx.page(route=routes.AGENTS_NEW, title="New agent · Voxie", on_load=S.load_new)
def agents_new() -> rx.Component:
    return _agents()
