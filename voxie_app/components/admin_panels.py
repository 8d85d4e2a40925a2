"""Admin panels for /settings: users, API keys, webhooks. Rendered only for admins."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.components.show_once import show_once_dialog
from voxie_app.state.admin import AdminState as S


def _row(*cells: rx.Component, **props) -> rx.Component:
    return rx.table.row(*[rx.table.cell(c, white_space="nowrap") for c in cells], **props)


def _table(*children: rx.Component) -> rx.Component:
    """A table that scrolls sideways on a phone instead of hiding its last columns."""
    return ui.responsive_table(*children, size="1", variant="surface")


def _head(*names: str) -> rx.Component:
    return rx.table.header(
        rx.table.row(*[rx.table.column_header_cell(n, white_space="nowrap") for n in names])
    )


def _user_actions(u: rx.Var) -> rx.Component:
    return rx.fragment(
        rx.hstack(
            rx.cond(u["disabled"] != "", rx.badge("disabled", color_scheme="gray")),
            rx.cond(
                u["id"] != S.me,
                rx.hstack(
                    rx.button(
                        "Reset password",
                        size="1",
                        variant="soft",
                        on_click=S.reset_password(u["id"]),
                        data_testid="reset-password",
                    ),
                    rx.cond(
                        u["disabled"] != "",
                        rx.button(
                            "Enable",
                            size="1",
                            variant="soft",
                            on_click=S.set_disabled(u["id"], False),
                        ),
                        rx.button(
                            "Disable",
                            size="1",
                            variant="soft",
                            color_scheme="orange",
                            on_click=S.set_disabled(u["id"], True),
                            data_testid="disable-user",
                        ),
                    ),
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=S.delete_user(u["id"]),
                        aria_label="Delete user",
                    ),
                    spacing="2",
                    align="center",
                ),
            ),
            spacing="2",
            align="center",
        ),
    )


def _users() -> rx.Component:
    return ui.section(
        "Users",
        _table(
            _head("Email", "Name", "Role", "Last sign-in", "Account"),
            rx.table.body(
                rx.foreach(
                    S.users,
                    lambda u: _row(
                        rx.text(u["email"]),
                        rx.text(u["name"]),
                        rx.select(
                            ["admin", "viewer"],
                            value=u["role"],
                            on_change=lambda role: S.set_role(u["id"], role),
                            size="1",
                        ),
                        rx.text(u["last_login"], size="1"),
                        _user_actions(u),
                        data_testid="user-row",
                    ),
                )
            ),
        ),
        rx.form(
            rx.flex(
                rx.input(name="email", type="email", placeholder="email", required=True),
                rx.input(name="name", placeholder="name (optional)"),
                rx.input(
                    name="password",
                    type="password",
                    placeholder="password (10+)",
                    required=True,
                    min_length=10,
                ),
                rx.select(["viewer", "admin"], name="role", default_value="viewer"),
                rx.button(rx.icon("user-plus", size=14), "Add user", type="submit"),
                wrap="wrap",
                spacing="2",
            ),
            on_submit=S.add_user,
            reset_on_submit=True,
        ),
    )


def _keys() -> rx.Component:
    return ui.section(
        "API keys",
        ui.muted(
            "For the REST API under /api: send the header ",
            rx.code("Authorization: Bearer <key>"),
            ". Viewer keys can only read.",
        ),
        _table(
            _head("Name", "Key", "Role", "Last used", "Revoked", ""),
            rx.table.body(
                rx.foreach(
                    S.keys,
                    lambda k: _row(
                        rx.text(k["name"]),
                        rx.code(k["prefix"]),
                        rx.text(k["role"]),
                        rx.text(k["last_used"], size="1"),
                        rx.text(k["revoked"], size="1", data_testid="key-revoked"),
                        rx.cond(
                            k["revoked"] == "",
                            rx.button(
                                "Revoke",
                                size="1",
                                variant="soft",
                                color_scheme="red",
                                on_click=S.revoke_key(k["id"]),
                            ),
                        ),
                        data_testid="key-row",
                    ),
                )
            ),
        ),
        rx.form(
            rx.flex(
                rx.input(
                    name="name", placeholder="what the key is for", required=True, max_length=100
                ),
                rx.select(["viewer", "admin"], name="role", default_value="viewer"),
                rx.button(
                    rx.icon("key-round", size=14),
                    "Create key",
                    type="submit",
                    data_testid="create-key",
                ),
                wrap="wrap",
                spacing="2",
            ),
            on_submit=S.create_key,
            reset_on_submit=True,
        ),
    )


def _webhooks() -> rx.Component:
    return ui.section(
        "Webhooks",
        ui.muted(
            "Voxie POSTs call.ended and agent.created events, signed with "
            "X-Voxie-Signature (HMAC-SHA256), retried with backoff."
        ),
        _table(
            _head("URL", "Events", "Created", ""),
            rx.table.body(
                rx.foreach(
                    S.hooks,
                    lambda h: _row(
                        rx.text(h["url"], word_break="break-all"),
                        rx.text(h["events"]),
                        rx.text(h["created"], size="1"),
                        rx.icon_button(
                            rx.icon("trash-2", size=14),
                            size="1",
                            variant="ghost",
                            color_scheme="red",
                            on_click=S.delete_webhook(h["id"]),
                            aria_label="Delete webhook",
                        ),
                    ),
                )
            ),
        ),
        rx.form(
            rx.flex(
                rx.input(
                    name="url",
                    type="url",
                    placeholder="https://example.com/hooks/voxie",
                    required=True,
                    min_width="18rem",
                ),
                rx.checkbox("call.ended", name="call.ended", default_checked=True),
                rx.checkbox("agent.created", name="agent.created"),
                rx.button(rx.icon("webhook", size=14), "Add webhook", type="submit"),
                wrap="wrap",
                spacing="3",
                align="center",
            ),
            on_submit=S.add_webhook,
            reset_on_submit=True,
        ),
    )


def admin_panels() -> rx.Component:
    return rx.fragment(
        rx.cond(
            S.is_admin,
            rx.vstack(_users(), _keys(), _webhooks(), spacing="4", width="100%"),
        ),
        show_once_dialog(
            secret=S.shown_secret,
            title=S.shown_title,
            hint=S.shown_hint,
            on_confirm=S.confirm_secret,
        ),
        rx.box(display="none", on_mount=S.load),
    )
