"""`/calls`: call history, filtered and paged."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.calls_table import calls_table
from voxie_app.components.layout import layout
from voxie_app.state.calls import ALL
from voxie_app.state.calls import CallsState as S


def _select(key: str, label: str, options: rx.Var, all_label: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="medium", color=rx.color("gray", 11)),
        rx.select.root(
            rx.select.trigger(width="100%", data_testid=f"filter-{key}"),
            rx.select.content(
                rx.select.item(all_label, value=ALL),
                rx.foreach(options, lambda o: rx.select.item(o["label"], value=o["value"])),
            ),
            value=S.filters[key],
            on_change=lambda v: S.set_filter(key, v),
            size="2",
        ),
        spacing="1",
        width="100%",
        min_width="0",
    )


def _date(key: str, label: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="medium", color=rx.color("gray", 11)),
        rx.input(
            type="date",
            value=S.filters[key],
            on_change=lambda v: S.set_filter(key, v),
            width="100%",
            size="2",
            data_testid=f"filter-{key}",
        ),
        spacing="1",
        width="100%",
        min_width="0",
    )


def _number() -> rx.Component:
    """The phone number filter: applied when the field is left (`set_filter` checks it
    is a number), not on every keystroke, so a half-typed number raises no error."""
    return rx.vstack(
        rx.text("Phone number", size="1", weight="medium", color=rx.color("gray", 11)),
        rx.input(
            default_value=S.filters["number"],
            key=S.filters["number"],
            placeholder="+14155550123",
            on_blur=lambda v: S.set_filter("number", v),
            width="100%",
            size="2",
            data_testid="filter-number",
        ),
        spacing="1",
        width="100%",
        min_width="0",
    )


def _filters() -> rx.Component:
    return ui.card(
        rx.grid(
            _select("agent", "Agent", S.agent_options, "All agents"),
            _date("start", "From"),
            _date("end", "To"),
            _select("status", "Status", S.status_options, "Any status"),
            _select("sentiment", "Sentiment", S.sentiment_options, "Any sentiment"),
            _select("outcome", "Outcome", S.outcome_options, "Any outcome"),
            _select("kind", "Kind", S.kind_options, "Calls and chats"),
            _select("direction", "Direction", S.direction_options, "Both directions"),
            _number(),
            columns=rx.breakpoints(initial="2", sm="3", lg="9"),
            spacing="3",
            width="100%",
        ),
        padding="1rem",
    )


def _pager() -> rx.Component:
    return ui.pager(
        S.range_text,
        S.page,
        S.pages,
        S.prev_page,
        S.next_page,
        testid="calls-range",
    )


def _content() -> rx.Component:
    return rx.cond(
        S.loaded,
        ui.card(
            rx.vstack(
                rx.cond(
                    S.rows.length() > 0,
                    calls_table(S.rows),
                    ui.empty_state(
                        "phone-off",
                        rx.cond(S.filtered, "No call matches these filters", "No calls yet"),
                        rx.cond(
                            S.filtered,
                            "Try a wider date range or clear the filters.",
                            "Calls appear here once someone talks to one of your agents.",
                        ),
                    ),
                ),
                _pager(),
                spacing="3",
                width="100%",
            ),
            padding="0.75rem 1rem",
        ),
        ui.loading_block("24rem"),
    )


@rx.page(route=routes.CALLS, title="Calls · Voxie", on_load=S.load)
def calls() -> rx.Component:
    return layout(
        _filters(),
        _content(),
        title="Calls",
        subtitle="Every call, transcribed, costed and summarised.",
        actions=rx.cond(
            S.filtered,
            rx.button(
                rx.icon("x", size=14),
                "Clear filters",
                variant="soft",
                color_scheme="gray",
                on_click=S.clear_filters,
                data_testid="clear-filters",
            ),
        ),
    )
