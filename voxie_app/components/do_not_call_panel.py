"""The do-not-call panel: the list (search, pages) for everyone; add and remove for admins.

Mounted on `/phone` and on `/do-not-call`; the panel is self-contained (it loads itself) so
it can sit on another page (the Phone page) as it is.
"""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.state.do_not_call import DoNotCallState as S


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(r["display"], font_family="var(--code-font-family)", size="2"),
            white_space="nowrap",
            data_testid="dnc-number",
        ),
        rx.table.cell(rx.text(r["reason"], size="2"), data_testid="dnc-reason"),
        rx.table.cell(rx.text(r["added"], size="1"), white_space="nowrap"),
        rx.table.cell(
            ui.editors_only(
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=S.ask_remove(r["number"]),
                    aria_label="Remove from the list",
                    data_testid="dnc-remove",
                )
            ),
            white_space="nowrap",
        ),
        data_testid="dnc-row",
    )


def _table() -> rx.Component:
    head = rx.table.header(
        rx.table.row(
            rx.table.column_header_cell("Number"),
            rx.table.column_header_cell("Reason"),
            rx.table.column_header_cell("Added"),
            rx.table.column_header_cell(""),
        )
    )
    return rx.cond(
        S.rows.length() > 0,
        rx.vstack(
            ui.responsive_table(
                head, rx.table.body(rx.foreach(S.rows, _row)), size="1", variant="surface"
            ),
            ui.pager(S.range_text, S.page, S.pages, S.prev_page, S.next_page, testid="dnc-range"),
            width="100%",
            spacing="3",
        ),
        ui.muted(
            rx.cond(S.search != "", "No listed number matches.", "No numbers on the list."),
            data_testid="dnc-empty",
        ),
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                name="number",
                placeholder="+14155550123",
                max_length=64,
                auto_complete="off",
                aria_label="Number",
                data_testid="dnc-add-number",
                min_width="12rem",
            ),
            rx.input(
                name="reason",
                placeholder="reason (optional)",
                max_length=200,
                aria_label="Reason",
                data_testid="dnc-add-reason",
                flex="1",
                min_width="12rem",
            ),
            rx.button(rx.icon("ban", size=14), "Add", type="submit", data_testid="dnc-add"),
            wrap="wrap",
            spacing="2",
            width="100%",
        ),
        on_submit=S.add,
        reset_on_submit=True,
        width="100%",
    )


def _bulk_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text_area(
                name="numbers",
                placeholder="+14155550123, asked not to be called\n+442071838750",
                rows="4",
                aria_label="Numbers, one per line",
                data_testid="dnc-bulk-numbers",
                width="100%",
            ),
            rx.button(
                "Add all", type="submit", variant="soft", size="2", data_testid="dnc-bulk-add"
            ),
            spacing="2",
            width="100%",
            align="start",
        ),
        on_submit=S.add_many,
        reset_on_submit=True,
        width="100%",
    )


def do_not_call_panel() -> rx.Component:
    return rx.fragment(
        ui.section(
            "Do-not-call list",
            ui.muted(
                "Numbers Voxie never calls: an outbound call or a campaign row to one of them "
                "is refused. Numbers are kept in E.164 form (+ and the country code)."
            ),
            rx.input(
                value=S.search,
                on_change=S.set_search.debounce(300),
                placeholder="Search numbers or reasons",
                max_length=80,
                aria_label="Search the do-not-call list",
                data_testid="dnc-search",
                width="100%",
            ),
            rx.cond(S.loaded, _table(), ui.loading_block("6rem")),
            ui.editors_only(
                _add_form(),
                rx.accordion.root(
                    rx.accordion.item(
                        header="Add several (one per line, optionally ', reason')",
                        content=_bulk_form(),
                        value="bulk",
                    ),
                    collapsible=True,
                    type="single",
                    variant="ghost",
                    width="100%",
                ),
            ),
            data_testid="dnc-panel",
        ),
        ui.confirm_delete_dialog(
            title="Remove from the do-not-call list?",
            name=S.remove_number,
            consequence="Voxie may call this number again.",
            open=S.remove_open,
            on_open_change=S.set_remove_open,
            on_confirm=S.confirm_remove,
            confirm_testid="dnc-confirm-remove",
        ),
        rx.box(display="none", on_mount=S.load),
    )
