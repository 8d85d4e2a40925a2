"""`/do-not-call`: the do-not-call list alone (it also sits on `/phone`, between the
numbers and the trunks); a page of its own is a short link to share with whoever keeps
the list."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components.do_not_call_panel import do_not_call_panel
from voxie_app.components.layout import layout


@rx.page(route=routes.DO_NOT_CALL, title="Do-not-call list · Voxie")
def do_not_call() -> rx.Component:
    return layout(
        do_not_call_panel(),
        title="Do-not-call list",
        subtitle="Numbers your agents must never call. The list is also on the Phone page.",
    )
