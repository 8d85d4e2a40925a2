"""`/login` and `/setup` (first run): standalone pages, no navigation."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.state.session import SessionState as S


def _shell(title: str, subtitle: str, form: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.center(
                        rx.icon("audio-lines", size=20, color="white"),
                        width="2.25rem",
                        height="2.25rem",
                        border_radius="var(--radius-3)",
                        background=rx.color("accent", 9),
                    ),
                    rx.text("Voxie", size="6", weight="bold"),
                    align="center",
                ),
                rx.heading(title, size="5", data_testid="page-title"),
                rx.text(subtitle, size="2", color=rx.color("gray", 11)),
                rx.cond(
                    S.error != "",
                    rx.callout(
                        S.error,
                        icon="circle-alert",
                        color_scheme="red",
                        size="1",
                        width="100%",
                        data_testid="auth-error",
                    ),
                ),
                form,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="26rem",
        ),
        min_height="100vh",
        padding="1rem",
        background_color=rx.color("gray", 2),
    )


def _field(label: str, name: str, kind: str = "text", **props) -> rx.Component:
    props.setdefault("required", True)
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.input(name=name, type=kind, size="3", width="100%", max_length=254, **props),
        spacing="1",
        width="100%",
    )


@rx.page(route=routes.LOGIN, title="Sign in | Voxie", on_load=S.load_login)
def login() -> rx.Component:
    return _shell(
        "Sign in",
        "Use the account an admin made for you.",
        rx.form(
            rx.vstack(
                _field("Email", "email", "email", auto_complete="username", data_testid="email"),
                _field(
                    "Password",
                    "password",
                    "password",
                    auto_complete="current-password",
                    data_testid="password",
                ),
                rx.button("Sign in", type="submit", size="3", width="100%", data_testid="sign-in"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.login,
            width="100%",
        ),
    )


@rx.page(route=routes.SETUP, title="Set up | Voxie", on_load=S.load_setup)
def setup() -> rx.Component:
    return _shell(
        "Create the first admin",
        "Voxie has no accounts yet. The first one is an admin: keep its password safe.",
        rx.form(
            rx.vstack(
                _field("Your name", "name", data_testid="name", required=False),
                _field("Email", "email", "email", auto_complete="username", data_testid="email"),
                _field(
                    "Password (10+ characters)",
                    "password",
                    "password",
                    auto_complete="new-password",
                    min_length=10,
                    data_testid="password",
                ),
                _field(
                    "Repeat the password",
                    "confirm",
                    "password",
                    auto_complete="new-password",
                    data_testid="confirm",
                ),
                rx.button(
                    "Create admin and sign in",
                    type="submit",
                    size="3",
                    width="100%",
                    data_testid="create-admin",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=S.setup,
            width="100%",
        ),
    )
