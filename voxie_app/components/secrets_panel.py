"""The Secrets panel on /settings (admins only): names, dates, which tools use each.

A value is typed into an uncontrolled password input, sent once with the form
and never shown again: the form resets on submit and no state var holds it.
"""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.state.secrets import SecretsState as S

# The dates are left out on a phone, so the actions stay on screen without scrolling.
WIDE_ONLY = rx.breakpoints(initial="none", sm="table-cell")


def _head() -> rx.Component:
    def cell(name: str, **props) -> rx.Component:
        return rx.table.column_header_cell(name, white_space="nowrap", **props)

    return rx.table.header(
        rx.table.row(
            cell("Name"),
            cell("Used by"),
            cell("Created", display=WIDE_ONLY),
            cell("Updated", display=WIDE_ONLY),
            cell(""),
        )
    )


def _row(s: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(s["name"], variant="ghost"), white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                s["used_by"] != "",
                rx.text(s["used_by"], size="1"),
                rx.text("no tool yet", size="1", color=rx.color("gray", 10)),
            ),
            data_testid="secret-used-by",
        ),
        rx.table.cell(rx.text(s["created"], size="1"), white_space="nowrap", display=WIDE_ONLY),
        rx.table.cell(rx.text(s["updated"], size="1"), white_space="nowrap", display=WIDE_ONLY),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Replace",
                    size="1",
                    variant="soft",
                    type="button",
                    on_click=S.replace(s["name"]),
                    data_testid="secret-replace",
                ),
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=S.ask_delete(s["name"]),
                    aria_label="Delete secret",
                    data_testid="secret-delete",
                ),
                spacing="2",
                align="center",
            ),
            white_space="nowrap",
        ),
        data_testid="secret-row",
    )


def _backup_note() -> rx.Component:
    return rx.callout(
        rx.text(
            rx.text.strong("Back up the secret key. "),
            "Values are encrypted with the key in ",
            rx.code("VOXIE_SECRET_KEY"),
            " or, when that is unset, the file ",
            rx.code("data/secret.key"),
            ". Without it no stored value can be read again.",
        ),
        icon="key-round",
        color_scheme="amber",
        size="1",
        data_testid="secret-key-note",
    )


def _form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                name="name",
                value=S.draft_name,
                on_change=S.set_draft_name,
                placeholder="NAME, e.g. CLINIC_API_KEY",
                max_length=64,
                auto_complete="off",
                aria_label="Secret name",
                data_testid="secret-name",
                min_width="14rem",
                flex=rx.breakpoints(initial="1", sm="0"),
            ),
            rx.input(
                name="value",
                type="password",
                placeholder="value (never shown again)",
                auto_complete="new-password",
                aria_label="Secret value",
                id="secret-value",
                data_testid="secret-value",
                min_width="14rem",
                flex="1",
            ),
            rx.button(
                rx.icon("lock", size=14),
                "Save secret",
                type="submit",
                data_testid="secret-save",
            ),
            wrap="wrap",
            spacing="2",
            width="100%",
        ),
        on_submit=S.save,
        reset_on_submit=True,
        width="100%",
    )


def _panel() -> rx.Component:
    return ui.section(
        "Secrets",
        ui.muted(
            "API keys and tokens your tools send. Refer to one in a tool's URL or headers as ",
            rx.code("{{secret:NAME}}"),
            ". A value is stored encrypted and never shown again; saving a name that "
            "exists replaces its value.",
        ),
        _backup_note(),
        rx.cond(
            S.secrets.length() > 0,
            ui.responsive_table(
                _head(),
                rx.table.body(rx.foreach(S.secrets, _row)),
                size="1",
                variant="surface",
            ),
            ui.muted("No secrets yet.", data_testid="secrets-empty"),
        ),
        _form(),
        data_testid="secrets-panel",
    )


def secrets_panel() -> rx.Component:
    return rx.fragment(
        rx.cond(S.is_admin, _panel()),
        ui.confirm_delete_dialog(
            title="Delete secret?",
            name=S.delete_name,
            consequence="Tools that refer to it fail until a secret of that name is added again.",
            open=S.delete_open,
            on_open_change=S.set_delete_open,
            on_confirm=S.confirm_delete,
            confirm_testid="secret-confirm-delete",
        ),
        rx.box(display="none", on_mount=S.load),
    )
