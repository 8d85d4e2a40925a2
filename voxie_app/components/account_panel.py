"""The "Your account" card on /settings (every signed-in user)."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.state.account import AccountState as A


def _password(name: str, placeholder: str, **props) -> rx.Component:
    return rx.input(
        name=name,
        type="password",
        placeholder=placeholder,
        required=True,
        data_testid=f"account-{name}",
        **props,
    )


def account_panel() -> rx.Component:
    return ui.section(
        "Your account",
        rx.form(
            rx.vstack(
                rx.text("Change password", weight="bold", size="2"),
                rx.flex(
                    _password("current", "current password", auto_complete="current-password"),
                    _password(
                        "password",
                        "new password (10+)",
                        min_length=10,
                        auto_complete="new-password",
                    ),
                    _password("confirm", "new password again", auto_complete="new-password"),
                    rx.button("Change password", type="submit", data_testid="change-password"),
                    wrap="wrap",
                    spacing="2",
                ),
                rx.cond(
                    A.error != "",
                    rx.text(
                        A.error, size="1", color=rx.color("red", 11), data_testid="account-error"
                    ),
                ),
                ui.muted("Your other sessions are signed out when the password changes."),
                spacing="2",
                width="100%",
            ),
            id="password-form",
            on_submit=A.change_password,
        ),
        rx.hstack(
            rx.button(
                rx.icon("log-out", size=14),
                "Sign out other sessions",
                variant="soft",
                on_click=A.sign_out_others,
                data_testid="sign-out-others",
            ),
            ui.muted("Every other browser signed in as you must sign in again."),
            align="center",
            wrap="wrap",
        ),
    )
