"""The live log console: one line per event, newest last, errors in red."""

from __future__ import annotations

import reflex as rx


def _line(line: rx.Var) -> rx.Component:
    level = line["level"].to(str)
    color = rx.match(
        level,
        ("error", rx.color("red", 11)),
        ("warning", rx.color("amber", 11)),
        rx.color("gray", 12),
    )
    # The message wraps onto its own line when the row is narrow (a phone) and breaks
    # only between words; a single overlong token may still break where it must.
    return rx.flex(
        rx.text(
            line["time"],
            size="1",
            color=rx.color("gray", 10),
            font_family="monospace",
            flex_shrink="0",
        ),
        rx.badge(
            line["kind"],
            size="1",
            variant="soft",
            color_scheme=rx.match(level, ("error", "red"), ("warning", "amber"), "gray"),
            flex_shrink="0",
        ),
        rx.text(
            line["message"],
            size="2",
            color=color,
            word_break="normal",
            overflow_wrap="break-word",
            flex="1 1 14rem",
            min_width="0",
        ),
        spacing="2",
        align="start",
        wrap="wrap",
        width="100%",
        data_testid=rx.cond(level == "error", "log-error", "log-line"),
    )


def log_console(
    lines: rx.Var, empty: str = "Nothing yet: steps appear here as they happen."
) -> rx.Component:
    return rx.scroll_area(
        rx.cond(
            lines.length() > 0,
            rx.vstack(rx.foreach(lines, _line), spacing="2", width="100%"),
            rx.text(empty, size="2", color=rx.color("gray", 10)),
        ),
        type="auto",
        scrollbars="vertical",
        max_height="22rem",
        padding="0.75rem",
        border_radius="var(--radius-3)",
        background_color=rx.color("gray", 2),
        border=f"1px solid {rx.color('gray', 4)}",
        data_testid="log-console",
        custom_attrs={"data-autoscroll": "true"},
    )
