"""`/phone`: phone numbers bound to agents, and the outbound trunks calls go out through.

One state (`state.phone.PhoneState`); the pieces are in `components/`. The
do-not-call list (its own panel) sits between the numbers and the trunks.
"""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.do_not_call_panel import do_not_call_panel
from voxie_app.components.layout import layout
from voxie_app.components.phone_numbers_panel import (
    add_number_dialog,
    delete_number_dialog,
    numbers_panel,
)
from voxie_app.components.sip_trunks_panel import delete_trunk_dialog, trunk_dialog, trunks_panel
from voxie_app.state.phone import PhoneState as S


@rx.page(route=routes.PHONE, title="Phone · Voxie", on_load=S.load)
def phone() -> rx.Component:
    return layout(
        numbers_panel(),
        do_not_call_panel(),
        trunks_panel(),
        add_number_dialog(),
        delete_number_dialog(),
        trunk_dialog(),
        delete_trunk_dialog(),
        title="Phone",
        subtitle=rx.cond(
            ui.is_viewer(),
            "The numbers callers dial, the agents that answer them, and the trunks calls use.",
            "Add numbers, bind each to an agent, and configure the trunks calls go out through.",
        ),
    )
