"""Small reusable pieces: cards, stats, badges, empty and loading states."""

from __future__ import annotations

import math
from typing import Any

import reflex as rx


def card(*children: rx.Component, **props: Any) -> rx.Component:
    style = {
        "padding": "1.25rem",
        "width": "100%",
        "border_radius": "var(--radius-4)",
        "border": f"1px solid {rx.color('gray', 4)}",
        "background_color": rx.color("gray", 1),
        "box_shadow": "0 1px 2px rgba(0,0,0,0.04)",
    }
    style.update(props)
    return rx.box(*children, **style)


def section(
    title: str | rx.Var,
    *children: rx.Component,
    action: rx.Component | None = None,
    **props: Any,
) -> rx.Component:
    """A titled card."""
    return card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="4", weight="bold", as_="h2"),
                rx.spacer(),
                action if action is not None else rx.fragment(),
                width="100%",
                align="center",
            ),
            *children,
            spacing="4",
            width="100%",
        ),
        **props,
    )


def stat(
    label: str,
    value: rx.Var | str,
    icon: str,
    hint: rx.Var | str = "",
    testid: str = "",
) -> rx.Component:
    return card(
        rx.hstack(
            rx.vstack(
                rx.text(label, size="2", color=rx.color("gray", 11), weight="medium"),
                rx.text(  # a figure, not a heading: only the page title is an h1
                    value,
                    size=rx.breakpoints(initial="5", sm="7"),
                    weight="bold",
                    line_height="1.2",
                    data_testid=testid or None,
                ),
                rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10))),
                spacing="1",
                min_width="0",
            ),
            rx.spacer(),
            rx.center(
                rx.icon(icon, size=18),
                width="2.25rem",
                height="2.25rem",
                border_radius="var(--radius-3)",
                background_color=rx.color("accent", 3),
                color=rx.color("accent", 11),
                flex_shrink="0",
                display=rx.breakpoints(initial="none", sm="flex"),
            ),
            align="start",
            width="100%",
        ),
        padding="1rem 1.1rem",
    )


def stat_grid(*stats: rx.Component) -> rx.Component:
    # Up to 5 in a row on wide screens; more fill even rows (6: two rows of 3), so no
    # tile is left alone on a row.
    rows = math.ceil(len(stats) / 5)
    return rx.grid(
        *stats,
        columns=rx.breakpoints(initial="2", sm="3", lg=str(math.ceil(len(stats) / rows))),
        spacing="3",
        width="100%",
    )


def empty_state(
    icon: str, title: str, text: str | rx.Var = "", action: rx.Component | None = None
) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon(icon, size=22),
                width="3rem",
                height="3rem",
                border_radius="50%",
                background_color=rx.color("gray", 3),
                color=rx.color("gray", 10),
            ),
            rx.text(title, size="3", weight="medium"),
            rx.cond(
                text != "",
                rx.text(text, size="2", color=rx.color("gray", 10), text_align="center"),
            ),
            action if action is not None else rx.fragment(),
            align="center",
            spacing="2",
            max_width="28rem",
        ),
        padding_y="2.5rem",
        width="100%",
        data_testid="empty-state",
    )


def loading_block(height: str = "12rem") -> rx.Component:
    return rx.skeleton(rx.box(height=height, width="100%"), loading=True, width="100%")


def pill(text: rx.Var | str, color: rx.Var | str, **props: Any) -> rx.Component:
    return rx.badge(text, color_scheme=color, variant="soft", radius="full", **props)


def chart_box(chart: rx.Component, height: str = "16rem") -> rx.Component:
    return rx.box(chart, width="100%", height=height, min_width="0")


def muted(*text: rx.Var | str | rx.Component, **props: Any) -> rx.Component:
    return rx.text(*text, size="2", color=rx.color("gray", 10), **props)


def field_error(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(message, size="1", color=rx.color("red", 11), data_testid="field-error"),
    )


def responsive_table(
    *children: rx.Component, size: str = "2", variant: str = "ghost", **props: Any
) -> rx.Component:
    """A table in a box that scrolls sideways when the screen is narrower than the table."""
    return rx.box(
        rx.table.root(*children, variant=variant, size=size, width="100%", **props),
        width="100%",
        max_width="100%",
        overflow_x="auto",
        data_testid="table-scroll",
    )


def is_viewer() -> rx.Var:
    """True once the signed-in user is known to be a viewer."""
    from voxie_app.state.session import SessionState

    return SessionState.user_role == "viewer"


def editors_only(*children: rx.Component) -> rx.Component:
    """Controls a viewer may not use, left out of their pages.

    The server refuses a viewer's events anyway (`state.guard`); hiding the
    controls saves them a click that could only fail. Until the role is known
    the controls show (an admin never sees them flicker in).
    """
    return rx.cond(is_viewer(), rx.fragment(), rx.fragment(*children))


def viewer_notice(what: str) -> rx.Component:
    return rx.callout(
        f"Your account can see agents, calls and analytics; ask an admin to {what}.",
        icon="eye",
        color_scheme="gray",
        width="100%",
        data_testid="viewer-notice",
    )


def for_editors(content: rx.Component, what: str) -> rx.Component:
    """A whole page body a viewer cannot use: a short notice instead."""
    return rx.cond(is_viewer(), viewer_notice(what), content)


def agent_description(agent: rx.Var) -> rx.Component:
    """An agent's description on its card: two lines, the same height when empty."""
    return rx.text(
        rx.cond(agent["description"] != "", agent["description"], "No description."),
        size="2",
        color=rx.color("gray", 11),
        class_name="voxie-clamp-2",
        min_height="2.6em",
    )


def _page_button(label: str, icon: str, *, before: bool, **props: Any) -> rx.Component:
    """Icon-only on a phone, so the pager stays on one line."""
    text = rx.text(label, display=["none", "inline"])
    parts = [rx.icon(icon, size=16), text] if before else [text, rx.icon(icon, size=16)]
    return rx.button(
        *parts, variant="soft", color_scheme="gray", size="2", aria_label=label, **props
    )


def pager(
    range_text: rx.Var,
    page: rx.Var,
    pages: rx.Var,
    on_prev: Any,
    on_next: Any,
    *,
    testid: str = "page-range",
) -> rx.Component:
    """'1 to 20 of 57 calls', Previous, 'page / pages', Next: one line at every width."""
    return rx.hstack(
        rx.text(range_text, size="2", color=rx.color("gray", 11), data_testid=testid),
        rx.spacer(),
        _page_button(
            "Previous",
            "chevron-left",
            before=True,
            disabled=page == 0,
            on_click=on_prev,
            data_testid="prev-page",
        ),
        rx.text(page + 1, " / ", pages, size="2", white_space="nowrap"),
        _page_button(
            "Next",
            "chevron-right",
            before=False,
            disabled=(page + 1) >= pages,
            on_click=on_next,
            data_testid="next-page",
        ),
        width="100%",
        align="center",
        spacing="2",
        data_testid="pager",
    )


def confirm_delete_dialog(
    *,
    title: str,
    name: rx.Var,
    consequence: str,
    open: rx.Var,
    on_open_change: Any,
    on_confirm: Any,
    confirm_testid: str,
    verb: str = "Delete",
    dismiss: str = "Cancel",
) -> rx.Component:
    """ "Delete <name>? <consequence>": one confirmation for everything that deletes
    (`verb` for other actions that cannot be undone, such as cancelling a campaign)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(
                rx.text(f"{verb} ", rx.text.strong(name), "? ", consequence),
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(dismiss, variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        verb,
                        color_scheme="red",
                        on_click=on_confirm,
                        data_testid=confirm_testid,
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1rem",
            ),
            max_width="28rem",
        ),
        open=open,
        on_open_change=on_open_change,
    )
