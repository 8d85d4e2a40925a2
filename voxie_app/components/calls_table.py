"""The calls table used by `/calls` and `/agents/[id]` (rows from `call_rows`)."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui


def _cell(*children, **props) -> rx.Component:
    return rx.table.cell(*children, white_space="nowrap", vertical_align="middle", **props)


def _row(call: rx.Var, show_agent: bool) -> rx.Component:
    return rx.table.row(
        _cell(
            rx.link(call["when"], href=call["href"], weight="medium", data_testid="call-link"),
        ),
        _cell(call["agent"]) if show_agent else rx.fragment(),
        _cell(
            rx.vstack(
                rx.text(call["customer"], max_width="14rem", truncate=True),
                rx.cond(
                    call["line"] != "",
                    rx.text(
                        call["line"], size="1", color=rx.color("gray", 10), data_testid="call-line"
                    ),
                ),
                spacing="0",
            )
        ),
        _cell(call["type"], data_testid="call-type"),
        _cell(call["duration"]),
        _cell(ui.pill(call["status"], call["status_color"])),
        _cell(
            rx.cond(
                call["sentiment"] != "—",
                ui.pill(call["sentiment"], call["sentiment_color"]),
                rx.text("—", color=rx.color("gray", 9)),
            )
        ),
        _cell(call["outcome"]),
        _cell(call["rating"]),
        _cell(call["cost"], text_align="right"),
        # The whole row opens the call (the date stays a real link for keyboards).
        on_click=rx.redirect(call["href"]),
        cursor="pointer",
        data_testid="call-row",
        _hover={"background_color": rx.color("gray", 3)},
    )


def calls_table(rows: rx.Var, *, show_agent: bool = True) -> rx.Component:
    headers = ["Started", "Agent", "Caller", "Type", "Duration", "Status", "Sentiment", "Outcome"]
    headers += ["Rating", "Cost"]
    if not show_agent:
        headers.remove("Agent")
    return ui.responsive_table(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(
                        h,
                        white_space="nowrap",
                        text_align="right" if h == "Cost" else "left",
                        color=rx.color("gray", 11),
                        font_weight="500",
                    )
                    for h in headers
                ]
            )
        ),
        rx.table.body(rx.foreach(rows, lambda c: _row(c, show_agent))),
    )
