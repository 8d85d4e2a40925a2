"""`/agents/[id]`: the agent's spec (readable), status, stats and recent calls."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import charts, ui
from voxie_app.components.calls_table import calls_table
from voxie_app.components.knowledge_panel import knowledge_panel
from voxie_app.components.layout import layout
from voxie_app.components.outbound_call_dialog import call_number_button, outbound_call_dialog
from voxie_app.state.agent_detail import AgentDetailState as S


def _fact(label: str, value: rx.Var) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label, min_width="9rem"),
        rx.data_list.value(value),
    )


def _spec() -> rx.Component:
    a = S.agent
    return ui.section(
        "Configuration",
        rx.vstack(
            rx.text("Greeting", size="2", weight="medium", color=rx.color("gray", 11)),
            rx.blockquote(
                rx.cond(a["greeting"] != "", a["greeting"], "No greeting set."), size="2"
            ),
            rx.text("Instructions", size="2", weight="medium", color=rx.color("gray", 11)),
            rx.box(
                rx.text(a["instructions"], size="2", white_space="pre-wrap"),
                padding="0.85rem 1rem",
                border_radius="var(--radius-3)",
                background_color=rx.color("gray", 2),
                border=f"1px solid {rx.color('gray', 4)}",
                width="100%",
                max_height="22rem",
                overflow_y="auto",
                data_testid="agent-instructions",
            ),
            spacing="2",
            width="100%",
        ),
        rx.data_list.root(
            _fact("Language", a["language"]),
            _fact("Voice", a["voice"]),
            _fact("LLM model", a["llm_model"]),
            _fact("Providers", a["providers"]),
            _fact("Temperature", a["temperature"]),
            _fact("Endpointing delay", a["endpointing"]),
            _fact("Created", a["created"]),
            _fact("Updated", a["updated"]),
            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
            size="2",
        ),
    )


def _tools() -> rx.Component:
    return ui.section(
        "Tools and transfers",
        rx.vstack(
            rx.text("Tools", size="2", weight="medium", color=rx.color("gray", 11)),
            rx.cond(
                S.tools.length() > 0,
                rx.vstack(
                    rx.foreach(
                        S.tools,
                        lambda t: rx.hstack(
                            rx.icon("wrench", size=14, color=rx.color("accent", 10)),
                            rx.text(t, size="2"),
                            align="center",
                        ),
                    ),
                    spacing="1",
                ),
                ui.muted("No tools."),
            ),
            rx.cond(
                S.targets.length() > 0,
                rx.vstack(
                    rx.text("Transfers", size="2", weight="medium", color=rx.color("gray", 11)),
                    rx.foreach(
                        S.targets,
                        lambda t: rx.hstack(
                            rx.icon("arrow-right-left", size=14, color=rx.color("accent", 10)),
                            rx.link(t["name"], href=t["href"], size="2"),
                            rx.text("— ", t["when"], size="2", color=rx.color("gray", 11)),
                            align="center",
                            wrap="wrap",
                        ),
                    ),
                    spacing="1",
                ),
            ),
            spacing="2",
            width="100%",
        ),
    )


def _stats() -> rx.Component:
    return ui.stat_grid(
        ui.stat("Calls", S.stats["calls"], "phone", testid="agent-stat-calls"),
        ui.stat("Minutes", S.stats["minutes"], "clock"),
        ui.stat("Cost", S.stats["cost"], "circle-dollar-sign"),
        ui.stat("Average rating", S.stats["rating"], "star"),
        ui.stat("Resolution rate", S.stats["resolution"], "circle-check"),
    )


def _recent() -> rx.Component:
    return ui.section(
        "Recent calls",
        rx.cond(
            S.recent.length() > 0,
            calls_table(S.recent, show_agent=False),
            ui.empty_state("phone-off", "No calls yet", "Call this agent to see it here."),
        ),
        action=rx.link("All calls", href=S.agent["calls_href"], size="2"),
    )


def _activity() -> rx.Component:
    return ui.section(
        "Calls, last 30 days",
        rx.cond(
            S.series_total > 0,
            charts.bar_chart(S.series, "day", [("calls", "Calls", "violet")], height=200),
            ui.empty_state("chart-column", "No calls in the last 30 days"),
        ),
    )


def _actions() -> rx.Component:
    return rx.cond(
        S.found & ~ui.is_viewer(),
        rx.hstack(
            rx.link(
                rx.button(rx.icon("message-square", size=16), "Chat", variant="soft"),
                href=S.agent["chat_href"],
            ),
            rx.link(rx.button(rx.icon("phone-call", size=16), "Call"), href=S.agent["call_href"]),
            call_number_button(S.agent["id"]),
            rx.link(
                rx.button(rx.icon("pencil", size=16), "Edit", variant="outline"),
                href=S.agent["edit_href"],
                data_testid="detail-edit",
            ),
            spacing="2",
            wrap="wrap",
        ),
    )


def _content() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.found,
            rx.vstack(
                rx.hstack(
                    ui.pill(S.agent["status"], S.agent["status_color"], size="2"),
                    rx.cond(
                        S.agent["description"] != "",
                        rx.text(S.agent["description"], size="3", color=rx.color("gray", 11)),
                    ),
                    align="center",
                    spacing="3",
                    wrap="wrap",
                ),
                rx.cond(
                    S.agent["error"] != "",
                    rx.callout(S.agent["error"], icon="triangle-alert", color_scheme="red"),
                ),
                _stats(),
                rx.grid(
                    _spec(),
                    rx.vstack(_activity(), _tools(), spacing="4", width="100%"),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                knowledge_panel(),
                _recent(),
                spacing="4",
                width="100%",
            ),
            ui.card(
                ui.empty_state(
                    "bot-off",
                    "Agent not found",
                    "It may have been deleted.",
                    rx.link(rx.button("Back to agents", variant="soft"), href=routes.AGENTS),
                )
            ),
        ),
        rx.vstack(ui.loading_block("6rem"), ui.loading_block("20rem"), width="100%"),
    )


@rx.page(route=routes.AGENT_DETAIL, title="Agent · Voxie", on_load=S.load)
def agent_detail() -> rx.Component:
    return layout(
        _content(),
        outbound_call_dialog(),
        title=rx.cond(S.found, S.agent["name"], "Agent"),
        actions=_actions(),
    )
