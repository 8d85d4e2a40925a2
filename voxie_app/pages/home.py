"""`/`: what Voxie is, today's numbers, and what is configured."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.state.home import HomeState


def _stat(label: str, value: rx.Var | str) -> rx.Component:
    return rx.card(
        rx.vstack(rx.text(label, size="2", color_scheme="gray"), rx.heading(value, size="6")),
        min_width="10em",
    )


def _provider(item: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.cond(
            item[1],
            rx.badge("configured", color_scheme="green"),
            rx.badge("not set", color_scheme="gray"),
        ),
        rx.text(item[0]),
    )


@rx.page(route=routes.HOME, title="Voxie", on_load=HomeState.load)
def home() -> rx.Component:
    return rx.container(
        rx.vstack(
            rx.heading("Voxie", size="8"),
            rx.text("Build, call and analyse voice agents.", size="4", color_scheme="gray"),
            rx.cond(HomeState.error != "", rx.callout(HomeState.error, color_scheme="red")),
            rx.hstack(
                _stat("Calls today", HomeState.total_calls.to_string()),
                _stat("Minutes today", HomeState.total_minutes.to_string()),
                _stat("Cost today", HomeState.total_cost),
                wrap="wrap",
            ),
            rx.heading("Providers", size="4"),
            rx.vstack(rx.foreach(HomeState.providers.items(), _provider)),
            rx.link("REST API documentation", href=routes.API_DOCS),
            spacing="4",
            padding_y="2em",
        )
    )
