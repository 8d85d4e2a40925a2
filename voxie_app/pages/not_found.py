"""The page for unknown routes: the app's layout, a plain message and a way back."""

from __future__ import annotations

import reflex as rx
from reflex_base.constants.route import Page404

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.layout import layout


@rx.page(route=Page404.SLUG, title="Page not found · Voxie")
def not_found() -> rx.Component:
    return layout(
        ui.card(
            ui.empty_state(
                "map-pin-off",
                "There is no page at this address",
                "The link may be old or mistyped.",
                rx.hstack(
                    rx.link(rx.button("Go to the dashboard"), href=routes.HOME),
                    rx.link(rx.button("All agents", variant="soft"), href=routes.AGENTS),
                    wrap="wrap",
                    justify="center",
                ),
            ),
            data_testid="not-found",
        ),
        title="Page not found",
    )
