"""`/` and `/dashboard`: today's numbers, 14 days of calls, recent calls, quick links."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import charts, ui
from voxie_app.components.layout import layout
from voxie_app.state.dashboard import DashboardState as S


def _live_badge() -> rx.Component:
    return rx.cond(
        S.live,
        rx.hstack(
            rx.box(
                width="0.5rem",
                height="0.5rem",
                border_radius="50%",
                background_color=rx.color("grass", 9),
                class_name="voxie-pulse",
            ),
            rx.text("Live", size="2", weight="medium", color=rx.color("grass", 11)),
            rx.text("· updated ", S.updated, size="1", color=rx.color("gray", 10)),
            align="center",
            spacing="2",
            data_testid="live-indicator",
        ),
        rx.fragment(),
    )


def _quick_links() -> rx.Component:
    return ui.editors_only(_links())


def _links() -> rx.Component:
    return rx.hstack(
        rx.link(
            rx.button(rx.icon("plus", size=16), "Create an agent", size="2"),
            href=routes.AGENTS_NEW,
            data_testid="quick-create-agent",
        ),
        rx.link(
            rx.button(rx.icon("sparkles", size=16), "Open the builder", size="2", variant="soft"),
            href=routes.BUILDER,
            data_testid="quick-builder",
        ),
        spacing="2",
        wrap="wrap",
    )


def _stats() -> rx.Component:
    return ui.stat_grid(
        ui.stat(
            "Calls today",
            S.stats["calls"],
            "phone",
            S.stats["web"] + " web · " + S.stats["phone"] + " phone",
            "stat-calls",
        ),
        ui.stat(
            "Active now", S.stats["active_of"], "activity", S.stats["active_hint"], "stat-active"
        ),
        ui.stat("Minutes today", S.stats["minutes"], "clock", testid="stat-minutes"),
        ui.stat("Cost today", S.stats["cost"], "circle-dollar-sign", testid="stat-cost"),
        ui.stat("Average rating", S.stats["rating"], "star", testid="stat-rating"),
        ui.stat("Resolution rate", S.stats["resolution"], "circle-check", testid="stat-resolution"),
    )


def _recent_row(call: rx.Var) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.text(call["customer"], size="2", weight="medium", trim="both"),
                    ui.pill(call["status"], call["status_color"]),
                    spacing="2",
                    align="center",
                ),
                rx.text(
                    call["agent"],
                    " · ",
                    call["when"],
                    " · ",
                    call["duration"],
                    size="1",
                    color=rx.color("gray", 10),
                ),
                spacing="1",
                min_width="0",
            ),
            rx.spacer(),
            rx.vstack(
                rx.text(call["cost"], size="2", weight="medium"),
                rx.cond(
                    call["sentiment"] != "—",
                    ui.pill(call["sentiment"], call["sentiment_color"], size="1"),
                ),
                align="end",
                spacing="1",
            ),
            width="100%",
            align="center",
            padding_y="0.6rem",
            padding_x="0.5rem",
            border_radius="var(--radius-3)",
            _hover={"background_color": rx.color("gray", 3)},
        ),
        href=call["href"],
        underline="none",
        color="inherit",
        width="100%",
        data_testid="recent-call",
    )


def _recent() -> rx.Component:
    return ui.section(
        "Recent calls",
        rx.cond(
            S.recent.length() > 0,
            rx.vstack(rx.foreach(S.recent, _recent_row), spacing="0", width="100%"),
            ui.empty_state(
                "phone-off",
                "No calls yet",
                "Calls appear here as soon as someone talks to one of your agents.",
            ),
        ),
        action=rx.link("All calls", href=routes.CALLS, size="2"),
        grid_column=rx.breakpoints(initial="span 1", lg="span 2"),
    )


def _chart() -> rx.Component:
    return ui.section(
        "Calls, last 14 days",
        rx.cond(
            S.series_total > 0,
            charts.area_chart(
                S.series,
                "day",
                [("calls", "Calls", "violet")],
                height=300,
                integer=True,
                testid="calls-chart",
            ),
            ui.empty_state("chart-area", "No calls in the last 14 days"),
        ),
        action=rx.link("Analytics", href=routes.ANALYTICS, size="2"),
        grid_column=rx.breakpoints(initial="span 1", lg="span 3"),
    )


def _no_agents_banner() -> rx.Component:
    return rx.cond(
        S.loaded & (S.agent_count == 0),
        rx.callout(
            "You have no agents yet. Create one with the form, or describe it to the builder.",
            icon="info",
            width="100%",
        ),
    )


def _content() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.vstack(
            _no_agents_banner(),
            _stats(),
            rx.grid(
                _chart(),
                _recent(),
                columns=rx.breakpoints(initial="1", lg="5"),
                spacing="4",
                width="100%",
                class_name="voxie-dash-grid",
            ),
            spacing="4",
            width="100%",
        ),
        rx.vstack(
            ui.loading_block("6rem"),
            ui.loading_block("18rem"),
            spacing="4",
            width="100%",
        ),
    )


def _dashboard() -> rx.Component:
    return layout(
        _content(),
        title="Dashboard",
        subtitle="Today at a glance",
        actions=rx.hstack(_live_badge(), _quick_links(), spacing="4", align="center", wrap="wrap"),
    )


@rx.page(route=routes.HOME, title="Voxie", on_load=S.load)
def dashboard() -> rx.Component:
    return _dashboard()


@rx.page(route=routes.DASHBOARD, title="Dashboard · Voxie", on_load=S.load)
def dashboard_alias() -> rx.Component:
    return _dashboard()
