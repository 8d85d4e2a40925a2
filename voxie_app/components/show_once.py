"""A secret shown once (API key, webhook signing secret, reset password), with Copy.

A modal dialog the admin cannot miss or close by accident: Escape and clicks
outside do nothing, only the confirm button clears the secret from the page
state. The secret lives in one state var, set when it is made and emptied on
confirm (and on the next page load), so it is never sent to the browser again.
"""

from __future__ import annotations

import reflex as rx


def show_once_dialog(
    *,
    secret: rx.Var,
    title: rx.Var | str,
    hint: rx.Var | str,
    on_confirm: rx.EventHandler,
    confirm_label: str = "I have copied it",
) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(hint, size="2", color=rx.color("gray", 11)),
            rx.hstack(
                rx.code(
                    secret,
                    size="3",
                    word_break="break-all",
                    flex="1",
                    padding="0.5rem",
                    data_testid="new-secret",
                ),
                rx.button(
                    rx.icon("copy", size=14),
                    "Copy",
                    variant="soft",
                    on_click=[rx.set_clipboard(secret), rx.toast.success("Copied.", duration=2000)],
                    data_testid="copy-secret",
                ),
                align="center",
                width="100%",
                margin_y="1rem",
            ),
            rx.flex(
                rx.button(confirm_label, on_click=on_confirm, data_testid="confirm-secret"),
                justify="end",
            ),
            max_width="34rem",
            data_testid="show-once",
        ),
        open=secret != "",
    )
