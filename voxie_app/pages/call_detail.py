"""`/calls/[id]`: transcript bubbles, summary, outcome, cost by provider, latency chart."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import charts, ui
from voxie_app.components.layout import layout
from voxie_app.state.call_detail import PART_SERIES
from voxie_app.state.call_detail import CallDetailState as S

PART_COLORS = ["gray", "cyan", "amber", "violet", "grass", "crimson"]


def _bubble(turn: rx.Var) -> rx.Component:
    user = turn["is_user"].to(bool)
    return rx.flex(
        rx.vstack(
            rx.hstack(
                rx.text(turn["speaker"], size="1", weight="bold"),
                rx.text(turn["time"], size="1", color=rx.color("gray", 10)),
                spacing="2",
                align="center",
            ),
            rx.box(
                rx.text(turn["text"], size="2", white_space="pre-wrap"),
                padding="0.6rem 0.85rem",
                border_radius=rx.cond(user, "14px 14px 4px 14px", "14px 14px 14px 4px"),
                background_color=rx.cond(user, rx.color("accent", 9), rx.color("gray", 3)),
                color=rx.cond(user, "white", rx.color("gray", 12)),
            ),
            rx.cond(
                turn["tool"] != "",
                rx.badge(
                    rx.icon("wrench", size=12),
                    turn["tool"],
                    variant="outline",
                    color_scheme="amber",
                    radius="full",
                    size="1",
                    data_testid="tool-chip",
                ),
            ),
            align=rx.cond(user, "end", "start"),
            spacing="1",
            max_width="80%",
        ),
        justify=rx.cond(user, "end", "start"),
        width="100%",
        data_testid="turn",
    )


def _invocation_fact(label: str, value: rx.Var, testid: str) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label),
        rx.data_list.value(rx.text(value, data_testid=testid)),
    )


def _invocation(item: rx.Var) -> rx.Component:
    """A custom tool's invocation: a chip coloured by status; a click unfolds the details."""
    return rx.el.details(
        rx.el.summary(
            rx.badge(
                rx.icon("wrench", size=12),
                item["label"],
                rx.icon("chevron-down", size=12, class_name="voxie-chip-caret"),
                color_scheme=item["color"],
                variant="soft",
                radius="full",
                size="2",
                max_width="100%",
                white_space="normal",
            ),
            rx.text(item["time"], as_="span", size="1", color=rx.color("gray", 10)),
            display="flex",
            align_items="center",
            gap="0.5rem",
            cursor="pointer",
            list_style="none",
            width="fit-content",
            max_width="100%",
            data_testid="tool-invocation-chip",
        ),
        rx.box(
            rx.data_list.root(
                _invocation_fact("Status", item["status"], "tool-invocation-status"),
                _invocation_fact("HTTP status", item["http_status"], "tool-invocation-http"),
                _invocation_fact("Latency", item["latency"], "tool-invocation-latency"),
                _invocation_fact("Result", item["result"], "tool-invocation-result"),
                size="1",
            ),
            rx.cond(
                item["error"] != "",
                rx.text(
                    item["error"],
                    size="1",
                    color=rx.color("red", 11),
                    data_testid="tool-invocation-error",
                ),
            ),
            rx.text("Arguments", size="1", weight="bold"),
            rx.el.pre(
                item["arguments"],
                margin="0",
                padding="0.5rem",
                font_size="12px",
                font_family="var(--code-font-family)",
                white_space="pre-wrap",
                word_break="break-word",
                background_color=rx.color("gray", 3),
                border_radius="6px",
                data_testid="tool-invocation-arguments",
            ),
            margin_top="0.5rem",
            padding="0.75rem",
            border=f"1px solid {rx.color('gray', 5)}",
            border_radius="10px",
            display="flex",
            flex_direction="column",
            gap="0.5rem",
            max_width="100%",
            data_testid="tool-invocation-details",
        ),
        width="100%",
        padding_left="0.5rem",
        # Hide the native disclosure marker; the caret turns when open.
        style={
            "& > summary::-webkit-details-marker": {"display": "none"},
            "&[open] .voxie-chip-caret": {"transform": "rotate(180deg)"},
        },
        data_testid="tool-invocation",
    )


def _timeline_item(item: rx.Var) -> rx.Component:
    return rx.cond(item["kind"] == "tool", _invocation(item), _bubble(item))


def _transcript() -> rx.Component:
    return ui.section(
        "Transcript",
        rx.cond(
            S.timeline.length() > 0,
            rx.vstack(rx.foreach(S.timeline, _timeline_item), spacing="3", width="100%"),
            ui.empty_state("message-square-off", "No transcript recorded for this call"),
        ),
    )


def _list(items: rx.Var, icon: str, empty: str | rx.Var) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.vstack(
            rx.foreach(
                items,
                lambda item: rx.hstack(
                    rx.icon(
                        icon,
                        size=14,
                        color=rx.color("accent", 10),
                        flex_shrink="0",
                        margin_top="3px",
                    ),
                    rx.text(item, size="2"),
                    align="start",
                    spacing="2",
                ),
            ),
            spacing="1",
            width="100%",
        ),
        ui.muted(empty),
    )


def _fact(label: str, value: rx.Component | rx.Var) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def _ended() -> rx.Component:
    """How the call ended in words; a raw error (from the browser) folded under it."""
    return rx.vstack(
        rx.text(S.call["end_reason"], data_testid="end-reason"),
        rx.cond(
            S.call["end_detail"] != "",
            rx.el.details(
                rx.el.summary("Technical details", cursor="pointer", color=rx.color("gray", 10)),
                rx.code(
                    S.call["end_detail"],
                    size="1",
                    word_break="break-all",
                    white_space="pre-wrap",
                    data_testid="end-detail",
                ),
                data_testid="end-details",
            ),
        ),
        spacing="1",
        min_width="0",
    )


def _summary() -> rx.Component:
    return ui.section(
        "Summary",
        rx.cond(
            S.summary["text"] != "",
            rx.text(S.summary["text"], size="2", data_testid="call-summary"),
            ui.muted(S.call["no_summary"], data_testid="summary-empty"),
        ),
        rx.data_list.root(
            _fact("Outcome", S.summary["outcome"]),
            _fact("Category", S.summary["category"]),
            _fact("Resolved", S.call["resolved"]),
            _fact("Sales value", S.summary["sales"]),
            _fact("Ended", _ended()),
            size="2",
        ),
        rx.vstack(
            rx.text("Key points", size="2", weight="bold"),
            _list(S.key_points, "circle-dot", "None recorded."),
            spacing="2",
            width="100%",
        ),
        rx.vstack(
            rx.text("Action items", size="2", weight="bold"),
            _list(S.action_items, "square-check", S.call["no_actions"]),
            spacing="2",
            width="100%",
        ),
    )


def _variables() -> rx.Component:
    """The per-call variables the call was started with (none: no card)."""
    return rx.cond(
        S.variables.length() > 0,
        ui.section(
            "Variables",
            rx.data_list.root(
                rx.foreach(
                    S.variables,
                    lambda v: rx.data_list.item(
                        rx.data_list.label(rx.code(v["key"], size="1")),
                        rx.data_list.value(
                            rx.text(v["value"], size="2", white_space="pre-wrap"),
                            data_testid="variable-value",
                        ),
                        data_testid="variable-row",
                    ),
                ),
                orientation="vertical",
                size="2",
            ),
            data_testid="call-variables",
        ),
    )


def _cost_row(part: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(part["kind"], size="2", weight="medium"),
            rx.cond(
                part["source"] != "",
                rx.text(
                    part["source"],
                    size="1",
                    color=rx.color("gray", 11),
                    data_testid="cost-source",
                ),
            ),
            rx.spacer(),
            rx.text(part["cost"], size="2", weight="medium"),
            width="100%",
        ),
        rx.box(
            rx.box(
                width=part["width"],
                height="100%",
                background_color=rx.color("accent", 9),
                border_radius="999px",
            ),
            width="100%",
            height="6px",
            background_color=rx.color("gray", 4),
            border_radius="999px",
        ),
        rx.text(part["detail"], size="1", color=rx.color("gray", 10)),
        spacing="1",
        width="100%",
        data_testid="cost-row",
    )


def _costs() -> rx.Component:
    return ui.section(
        "Cost",
        rx.vstack(rx.foreach(S.costs, _cost_row), spacing="3", width="100%"),
        rx.separator(size="4"),
        rx.hstack(
            rx.text("Total", size="2", weight="bold"),
            rx.spacer(),
            rx.text(S.call["cost"], size="2", weight="bold", data_testid="call-cost"),
            width="100%",
        ),
    )


def _latency() -> rx.Component:
    return ui.section(
        "Latency per turn",
        rx.cond(
            S.latency.length() > 0,
            rx.vstack(
                charts.bar_chart(
                    S.latency,
                    "turn",
                    [
                        (key, name, color)
                        for (key, name), color in zip(PART_SERIES, PART_COLORS, strict=True)
                    ],
                    stacked=True,
                    lines=[("e2e_latency", "End to end", "gray")],
                    unknown=True,
                    unit="ms",
                    height=300,
                    testid="latency-chart",
                ),
                rx.text(
                    "Each bar is one reply's wait, from the caller's last word to the "
                    "agent's first sound, split where the time went; a part that was not "
                    "measured shows as unknown.",
                    size="1",
                    color=rx.color("gray", 10),
                ),
                spacing="2",
                width="100%",
            ),
            ui.empty_state("timer-off", "No latency metrics for this call"),
        ),
        action=rx.text(
            "avg end to end ", S.call["avg_latency"], size="2", color=rx.color("gray", 10)
        ),
    )


def _header_facts() -> rx.Component:
    return ui.stat_grid(
        ui.stat("Duration", S.call["duration"], "clock"),
        ui.stat("Sentiment", S.call["sentiment"], "smile"),
        ui.stat("Rating", S.call["rating"], "star"),
        ui.stat("Cost", S.call["cost"], "circle-dollar-sign"),
        ui.stat("Turns", S.turns.length().to_string(), "messages-square"),
    )


def _content() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.found,
            rx.vstack(
                rx.hstack(
                    ui.pill(S.call["status"], S.call["status_color"], size="2"),
                    rx.text("with", size="2", color=rx.color("gray", 11)),
                    rx.cond(
                        S.call["agent_href"] != "",
                        rx.link(
                            S.call["agent"], href=S.call["agent_href"], size="2", weight="medium"
                        ),
                        rx.text(S.call["agent"], size="2"),
                    ),
                    rx.text("· ", S.call["started"], size="2", color=rx.color("gray", 11)),
                    ui.pill(S.call["type"], "gray", data_testid="call-type"),
                    rx.cond(
                        S.call["line"] != "",
                        rx.text(S.call["line"], size="2", weight="medium", data_testid="call-line"),
                    ),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                _header_facts(),
                rx.grid(
                    rx.box(
                        _transcript(), grid_column=rx.breakpoints(initial="span 1", lg="span 3")
                    ),
                    rx.vstack(
                        _summary(),
                        _variables(),
                        _costs(),
                        spacing="4",
                        width="100%",
                        grid_column=rx.breakpoints(initial="span 1", lg="span 2"),
                    ),
                    columns=rx.breakpoints(initial="1", lg="5"),
                    spacing="4",
                    width="100%",
                ),
                _latency(),
                spacing="4",
                width="100%",
            ),
            ui.card(
                ui.empty_state(
                    "phone-off",
                    "Call not found",
                    "It may have been deleted, or the link is wrong.",
                    rx.link(rx.button("Back to calls", variant="soft"), href=routes.CALLS),
                )
            ),
        ),
        rx.vstack(ui.loading_block("6rem"), ui.loading_block("24rem"), width="100%"),
    )


@rx.page(route=routes.CALL_DETAIL, title="Call · Voxie", on_load=S.load)
def call_detail() -> rx.Component:
    return layout(
        _content(),
        title=rx.cond(S.found, "Call with " + S.call["customer"], "Call"),
        actions=rx.link(
            rx.button(
                rx.icon("arrow-left", size=16), "All calls", variant="soft", color_scheme="gray"
            ),
            href=routes.CALLS,
        ),
    )
