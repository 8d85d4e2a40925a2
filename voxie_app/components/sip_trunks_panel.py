"""The outbound trunks on `/phone`: the list, the editor (password as a secret), delete."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.components.phone_numbers_panel import MONO, WIDE_ONLY, field
from voxie_app.state.phone import NONE
from voxie_app.state.phone import PhoneState as S

TRANSPORTS = ("udp", "tcp", "tls", "auto")


def _err(key: str) -> rx.Var:
    return rx.cond(S.trunk_errors.contains(key), S.trunk_errors[key], "")


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["name"], weight="medium"), data_testid="trunk-name"),
        rx.table.cell(
            rx.hstack(
                rx.code(row["address"], size="1", variant="ghost"),
                rx.badge(row["transport"], size="1", variant="surface"),
                spacing="2",
                align="center",
                wrap="wrap",
            )
        ),
        rx.table.cell(rx.text(row["numbers"], size="1"), display=WIDE_ONLY),
        rx.table.cell(
            ui.editors_only(
                rx.cond(
                    row["auth_username"] != "",
                    rx.vstack(
                        rx.text(row["auth_username"], size="1"),
                        rx.code(row["auth_password_secret"], size="1", variant="ghost"),
                        spacing="0",
                    ),
                    rx.text("none", size="1", color=rx.color("gray", 10)),
                )
            ),
            display=WIDE_ONLY,
        ),
        rx.table.cell(
            rx.vstack(
                ui.pill(row["status_label"], row["status_color"], data_testid="trunk-status"),
                rx.cond(
                    row["sync_error"] != "",
                    rx.text(
                        row["sync_error"], size="1", color=rx.color("red", 11), max_width="18rem"
                    ),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            ui.editors_only(
                rx.hstack(
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        size="1",
                        variant="ghost",
                        on_click=S.open_trunk_edit(row["id"]),
                        aria_label="Edit trunk",
                        data_testid="trunk-edit",
                    ),
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=S.ask_delete_trunk(row["id"], row["name"]),
                        aria_label="Delete trunk",
                        data_testid="trunk-delete",
                    ),
                    spacing="2",
                )
            )
        ),
        align="center",
        data_testid="trunk-row",
    )


def trunks_panel() -> rx.Component:
    def head(name: str, **props) -> rx.Component:
        return rx.table.column_header_cell(name, white_space="nowrap", **props)

    return ui.section(
        "Outbound trunks",
        ui.muted(
            "How Voxie places calls: your carrier's SIP termination address and credentials. "
            "The password stays in the secrets store (Settings) and is sent only to LiveKit."
        ),
        rx.cond(
            S.trunks.length() > 0,
            ui.responsive_table(
                rx.table.header(
                    rx.table.row(
                        head("Name"),
                        head("SIP address"),
                        head("Numbers", display=WIDE_ONLY),
                        head("Auth", display=WIDE_ONLY),
                        head("Status"),
                        head(""),
                    )
                ),
                rx.table.body(rx.foreach(S.trunks, _row)),
            ),
            ui.muted("No outbound trunk yet.", data_testid="no-trunks"),
        ),
        action=ui.editors_only(
            rx.button(
                rx.icon("plus", size=16),
                "Add trunk",
                size="2",
                variant="soft",
                on_click=S.open_trunk_create,
                data_testid="add-trunk",
            )
        ),
        data_testid="sip-trunks",
    )


def _input(key: str, label: str, hint: str = "", **props) -> rx.Component:
    return field(
        label,
        rx.input(
            value=S.trunk_form[key],
            on_change=lambda v: S.set_trunk_field(key, v),
            width="100%",
            color_scheme=rx.cond(S.trunk_errors.contains(key), "red", "gray"),
            aria_label=label,
            data_testid=f"trunk-field-{key}",
            **props,
        ),
        _err(key),
        hint,
    )


def trunk_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(S.trunk_editing_id != "", "Edit outbound trunk", "Add an outbound trunk")
            ),
            rx.dialog.description(
                "From your carrier's termination settings (e.g. a Twilio Elastic SIP trunk's "
                "termination URI, or Telnyx's sip.telnyx.com with a credential connection).",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="0.75rem",
            ),
            rx.vstack(
                _input("name", "Name", placeholder="Telnyx"),
                rx.grid(
                    _input(
                        "address",
                        "SIP address",
                        placeholder="example.pstn.twilio.com",
                        font_family=MONO,
                    ),
                    field(
                        "Transport",
                        rx.select.root(
                            rx.select.trigger(
                                width="100%",
                                aria_label="Transport",
                                data_testid="trunk-field-transport",
                            ),
                            rx.select.content(
                                *[rx.select.item(t.upper(), value=t) for t in TRANSPORTS]
                            ),
                            value=S.trunk_form["transport"],
                            on_change=lambda v: S.set_trunk_field("transport", v),
                        ),
                        _err("transport"),
                    ),
                    columns=rx.breakpoints(initial="1", sm="minmax(0, 1fr) 7rem"),
                    spacing="3",
                    width="100%",
                ),
                _input(
                    "numbers",
                    "Numbers",
                    "E.164, comma-separated",
                    placeholder="+14155550123, +14155550124",
                ),
                _input("auth_username", "Username", "optional"),
                field(
                    "Password",
                    rx.select.root(
                        rx.select.trigger(
                            width="100%",
                            aria_label="Password secret",
                            data_testid="trunk-field-auth_password_secret",
                        ),
                        rx.select.content(
                            rx.select.item("No password", value=NONE),
                            rx.foreach(S.secret_names, lambda n: rx.select.item(n, value=n)),
                        ),
                        value=S.trunk_form["auth_password_secret"],
                        on_change=lambda v: S.set_trunk_field("auth_password_secret", v),
                    ),
                    _err("auth_password_secret"),
                    "a secret from Settings > Secrets",
                ),
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    "Save trunk", on_click=S.save_trunk, loading=S.busy, data_testid="save-trunk"
                ),
                justify="end",
                spacing="3",
                margin_top="1.25rem",
                width="100%",
            ),
            max_width="34rem",
            width="calc(100vw - 1.5rem)",
            data_testid="trunk-dialog",
        ),
        open=S.trunk_open,
        on_open_change=S.set_trunk_open,
    )


def delete_trunk_dialog() -> rx.Component:
    return ui.confirm_delete_dialog(
        title="Delete outbound trunk?",
        name=S.trunk_delete_name,
        consequence="It is deleted in LiveKit too; numbers that used it keep no outbound trunk.",
        open=S.trunk_delete_open,
        on_open_change=S.set_trunk_delete_open,
        on_confirm=S.confirm_delete_trunk,
        confirm_testid="confirm-delete-trunk",
    )
