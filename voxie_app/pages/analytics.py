"""`/analytics`: date range, daily charts, sentiment and outcomes, latency, per agent, CSV."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import charts, ui
from voxie_app.components.layout import layout
from voxie_app.state.analytics import PRESETS
from voxie_app.state.analytics import AnalyticsState as S
from voxie_app.state.call_detail import PART_SERIES


def _day_field(label: str, value, on_change, error, testid: str) -> rx.Component:
    """A date input with its refusal message right under it."""
    return rx.vstack(
        rx.input(
            type="date",
            value=value,
            on_change=on_change,
            max=S.today,
            size="2",
            aria_label=label,
            aria_invalid=rx.cond(error != "", "true", "false"),
            color_scheme=rx.cond(error != "", "red", "gray"),
            data_testid=testid,
        ),
        rx.cond(
            error != "",
            rx.text(
                error,
                size="1",
                color=rx.color("red", 11),
                max_width="16rem",
                role="alert",
                data_testid=f"{testid}-error",
            ),
        ),
        spacing="1",
    )


def _range_notes() -> rx.Component:
    """What the page changed in the asked range, said next to the fields."""
    return rx.cond(
        S.range_notes.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("info", size=16)),
            rx.vstack(
                rx.foreach(S.range_notes, lambda n: rx.callout.text(n, size="2")),
                spacing="1",
            ),
            color_scheme="blue",
            variant="surface",
            size="1",
            width="100%",
            data_testid="range-note",
        ),
    )


def _range_picker() -> rx.Component:
    return rx.flex(
        rx.segmented_control.root(
            *[rx.segmented_control.item(f"{d} days", value=str(d)) for d in PRESETS],
            value=S.preset,
            on_change=S.set_preset,
            size="2",
            data_testid="range-presets",
        ),
        rx.hstack(
            _day_field("From", S.start, S.set_start, S.start_error, "range-start"),
            rx.text("to", size="2", color=rx.color("gray", 10), padding_top="0.4rem"),
            _day_field("To", S.end, S.set_end, S.end_error, "range-end"),
            align="start",
            spacing="2",
        ),
        rx.spacer(),
        rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            variant="soft",
            on_click=S.export_csv,
            data_testid="export-csv",
        ),
        _range_notes(),
        spacing="3",
        wrap="wrap",
        align="start",
        width="100%",
    )


def _stats() -> rx.Component:
    return ui.stat_grid(
        ui.stat("Calls", S.stats["calls"], "phone", testid="an-calls"),
        ui.stat("Minutes", S.stats["minutes"], "clock"),
        ui.stat("Cost", S.stats["cost"], "circle-dollar-sign"),
        ui.stat("Average rating", S.stats["rating"], "star"),
        ui.stat("Resolution rate", S.stats["resolution"], "circle-check", testid="an-resolution"),
    )


def _daily() -> rx.Component:
    return rx.grid(
        ui.section(
            "Calls per day",
            charts.bar_chart(S.series, "day", [("calls", "Calls", "violet")], testid="chart-calls"),
        ),
        ui.section(
            "Minutes per day",
            charts.area_chart(
                S.series, "day", [("minutes", "Minutes", "cyan")], testid="chart-minutes"
            ),
        ),
        ui.section(
            "Cost per day (USD)",
            charts.area_chart(
                S.series, "day", [("cost", "Cost", "amber")], decimals=2, testid="chart-cost"
            ),
        ),
        columns=rx.breakpoints(initial="1", lg="3"),
        spacing="4",
        width="100%",
    )


def _mix() -> rx.Component:
    return rx.grid(
        ui.section(
            "Sentiment",
            rx.cond(
                S.sentiment.length() > 0,
                charts.donut(S.sentiment, testid="chart-sentiment"),
                ui.empty_state("smile", "No sentiment recorded"),
            ),
        ),
        ui.section(
            "Outcomes",
            rx.cond(
                S.outcomes.length() > 0,
                charts.bar_chart(
                    S.outcomes,
                    "name",
                    [("calls", "Calls", "grass")],
                    layout="vertical",
                    height=240,
                    testid="chart-outcomes",
                ),
                ui.empty_state("target", "No outcomes recorded"),
            ),
        ),
        ui.section(
            "Latency per agent (end to end)",
            rx.cond(
                S.latency.length() > 0,
                charts.bar_chart(
                    S.latency,
                    "agent",
                    [("p50", "p50", "violet"), ("p95", "p95", "crimson")],
                    unit="ms",
                    height=240,
                    testid="chart-latency",
                ),
                ui.empty_state("timer", "No latency metrics"),
            ),
        ),
        columns=rx.breakpoints(initial="1", md="2", lg="3"),
        spacing="4",
        width="100%",
    )


def _per_agent(
    title: str, rows: rx.Var, columns: list[tuple[str, str]], row_testid: str, note: str = ""
) -> rx.Component:
    """A table with one row per agent: its name, then `columns` ((header, key)), right
    aligned; an optional note under it."""
    headers = ["Agent", *[h for h, _ in columns]]
    return ui.section(
        title,
        rx.cond(
            rows.length() > 0,
            rx.vstack(
                ui.responsive_table(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(
                                    h,
                                    white_space="nowrap",
                                    color=rx.color("gray", 11),
                                    font_weight="500",
                                    text_align="left" if h == "Agent" else "right",
                                )
                                for h in headers
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            rows,
                            lambda r: rx.table.row(
                                rx.table.row_header_cell(r["agent"], white_space="nowrap"),
                                *[
                                    rx.table.cell(r[k], text_align="right", white_space="nowrap")
                                    for _, k in columns
                                ],
                                data_testid=row_testid,
                            ),
                        )
                    ),
                ),
                *([rx.text(note, size="1", color=rx.color("gray", 10))] if note else []),
                spacing="2",
                width="100%",
            ),
            ui.empty_state("users", "No calls in this range"),
        ),
    )


def _agent_table() -> rx.Component:
    return _per_agent(
        "Per agent",
        S.agents,
        [
            ("Calls", "calls"),
            ("Minutes", "minutes"),
            ("Cost", "cost"),
            ("Rating", "rating"),
            ("Resolution", "resolution"),
            ("p50", "p50"),
            ("p95", "p95"),
        ],
        "agent-stats-row",
    )


def _turn_parts_table() -> rx.Component:
    return rx.cond(
        S.turn_parts.length() > 0,
        _per_agent(
            "Where the time goes (ms, p50 / p95 per reply)",
            S.turn_parts,
            [("Replies", "turns"), *[(name, key) for key, name in PART_SERIES]],
            "turn-parts-row",
            note=(
                "The wait from the caller's last word to the agent's first sound, in the "
                "parts it is made of; a dash: not measured for this agent's calls."
            ),
        ),
    )


def _content() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.vstack(
            _stats(),
            rx.cond(
                S.total_calls > 0,
                rx.vstack(
                    _daily(),
                    _mix(),
                    _agent_table(),
                    _turn_parts_table(),
                    spacing="4",
                    width="100%",
                ),
                ui.card(
                    ui.empty_state(
                        "chart-column",
                        "No calls in this date range",
                        "Pick a wider range, or make a call to see it here.",
                        rx.link(rx.button("See all calls", variant="soft"), href=routes.CALLS),
                    )
                ),
            ),
            spacing="4",
            width="100%",
        ),
        rx.vstack(ui.loading_block("6rem"), ui.loading_block("18rem"), width="100%"),
    )


@rx.page(route=routes.ANALYTICS, title="Analytics · Voxie", on_load=S.load)
def analytics() -> rx.Component:
    return layout(
        _range_picker(),
        _content(),
        title="Analytics",
        subtitle="How your agents perform over time.",
    )
