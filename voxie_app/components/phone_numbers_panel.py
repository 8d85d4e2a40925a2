"""The numbers on `/phone`: the table (rebind with a select), "Add number", delete, sync."""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.state.phone import PhoneState as S

MONO = "var(--code-font-family)"
WIDE_ONLY = rx.breakpoints(initial="none", md="table-cell")


def _err(errors: rx.Var, key: str) -> rx.Var:
    return rx.cond(errors.contains(key), errors[key], "")


def field(label: str, control: rx.Component, error: rx.Var, hint: str = "") -> rx.Component:
    """A labelled form control with its error under it (shared with the trunks dialog)."""
    return rx.vstack(
        rx.hstack(
            rx.text(label, size="2", weight="medium"),
            rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10))),
            spacing="2",
            align="baseline",
            wrap="wrap",
        ),
        control,
        ui.field_error(error),
        spacing="1",
        width="100%",
        min_width="0",
    )


def _agent_cell(row: rx.Var) -> rx.Component:
    """Admins rebind with a select; viewers read the name."""
    return rx.cond(
        ui.is_viewer(),
        rx.text(row["agent_name"], size="2"),
        rx.select.root(
            rx.select.trigger(
                placeholder="Choose an agent",
                aria_label="Agent",
                width="100%",
                max_width="14rem",
                data_testid="number-agent",
            ),
            rx.select.content(
                rx.foreach(S.agent_options, lambda a: rx.select.item(a["name"], value=a["id"]))
            ),
            value=row["agent_id"],
            on_change=lambda v: S.rebind(row["id"], v),
            disabled=S.busy,
        ),
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(
                    row["display"], weight="medium", white_space="nowrap", data_testid="number"
                ),
                rx.cond(
                    row["label"] != "",
                    rx.text(row["label"], size="1", color=rx.color("gray", 10)),
                ),
                spacing="0",
            )
        ),
        rx.table.cell(_agent_cell(row), data_testid="number-agent-cell"),
        rx.table.cell(
            rx.vstack(
                rx.code(row["trunk"], size="1", variant="ghost"),
                rx.text(row["trunk_kind"], size="1", color=rx.color("gray", 10)),
                spacing="0",
            ),
            display=WIDE_ONLY,
        ),
        rx.table.cell(rx.text(row["outbound"], size="2"), display=WIDE_ONLY),
        rx.table.cell(
            rx.vstack(
                ui.pill(row["status_label"], row["status_color"], data_testid="number-status"),
                rx.cond(
                    row["sync_error"] != "",
                    rx.text(
                        row["sync_error"],
                        size="1",
                        color=rx.color("red", 11),
                        max_width="18rem",
                        data_testid="number-sync-error",
                    ),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            ui.editors_only(
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=S.ask_delete(row["id"], row["display"]),
                    aria_label="Delete number",
                    data_testid="number-delete",
                )
            )
        ),
        align="center",
        data_testid="number-row",
    )


def _table() -> rx.Component:
    def head(name: str, **props) -> rx.Component:
        return rx.table.column_header_cell(name, white_space="nowrap", **props)

    return ui.responsive_table(
        rx.table.header(
            rx.table.row(
                head("Number"),
                head("Agent"),
                head("Inbound trunk", display=WIDE_ONLY),
                head("Outbound", display=WIDE_ONLY),
                head("Status"),
                head(""),
            )
        ),
        rx.table.body(rx.foreach(S.numbers, _row)),
    )


def _livekit_notice() -> rx.Component:
    return rx.cond(
        S.livekit_missing != "",
        rx.callout(
            rx.text(
                "LiveKit is not configured, so numbers cannot be added or synced: set ",
                rx.code(S.livekit_missing),
                ".",
            ),
            icon="triangle-alert",
            color_scheme="amber",
            width="100%",
            data_testid="livekit-missing",
        ),
    )


def numbers_panel() -> rx.Component:
    return ui.section(
        "Numbers",
        ui.muted(
            "Each number is answered by its agent: LiveKit's SIP service sends every call to a "
            "room of its own and dispatches the agent there."
        ),
        _livekit_notice(),
        rx.cond(
            S.loaded,
            rx.cond(
                S.numbers.length() > 0,
                _table(),
                ui.empty_state(
                    "phone",
                    "No phone numbers yet",
                    "Add a number from your SIP carrier and pick the agent that answers it.",
                ),
            ),
            ui.loading_block("8rem"),
        ),
        action=ui.editors_only(
            rx.hstack(
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Sync with LiveKit",
                    size="2",
                    variant="soft",
                    on_click=S.sync,
                    loading=S.busy,
                    data_testid="sync-livekit",
                ),
                rx.button(
                    rx.icon("plus", size=16),
                    "Add number",
                    size="2",
                    on_click=S.open_add,
                    data_testid="add-number",
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
        data_testid="phone-numbers",
    )


def _add_input(key: str, label: str, hint: str = "", **props) -> rx.Component:
    return field(
        label,
        rx.input(
            value=S.add_form[key],
            on_change=lambda v: S.set_add_field(key, v),
            width="100%",
            color_scheme=rx.cond(S.add_errors.contains(key), "red", "gray"),
            aria_label=label,
            data_testid=f"number-field-{key}",
            **props,
        ),
        _err(S.add_errors, key),
        hint,
    )


def add_number_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Add a phone number"),
            rx.dialog.description(
                "Voxie creates the LiveKit inbound trunk and dispatch rule; point your "
                "carrier's origination at your LiveKit SIP address.",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="0.75rem",
            ),
            rx.vstack(
                _add_input("number", "Number", "E.164", placeholder="+14155550123"),
                _add_input("label", "Label", "optional", placeholder="Front desk"),
                field(
                    "Agent",
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Choose an agent",
                            width="100%",
                            aria_label="Agent",
                            data_testid="number-field-agent_id",
                        ),
                        rx.select.content(
                            rx.foreach(
                                S.agent_options, lambda a: rx.select.item(a["name"], value=a["id"])
                            )
                        ),
                        value=S.add_form["agent_id"],
                        on_change=lambda v: S.set_add_field("agent_id", v),
                    ),
                    _err(S.add_errors, "agent_id"),
                ),
                _add_input(
                    "inbound_trunk_id",
                    "Existing inbound trunk id",
                    "optional: empty and Voxie makes one",
                    placeholder="ST_abc123",
                ),
                field(
                    "Outbound trunk",
                    rx.select.root(
                        rx.select.trigger(
                            width="100%",
                            aria_label="Outbound trunk",
                            data_testid="number-field-outbound_trunk_id",
                        ),
                        rx.select.content(
                            rx.foreach(
                                S.trunk_options, lambda t: rx.select.item(t["name"], value=t["id"])
                            )
                        ),
                        value=S.add_form["outbound_trunk_id"],
                        on_change=lambda v: S.set_add_field("outbound_trunk_id", v),
                    ),
                    _err(S.add_errors, "outbound_trunk_id"),
                    "optional: for calls from this number",
                ),
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    "Add number", on_click=S.save_number, loading=S.busy, data_testid="save-number"
                ),
                justify="end",
                spacing="3",
                margin_top="1.25rem",
                width="100%",
            ),
            max_width="32rem",
            width="calc(100vw - 1.5rem)",
            data_testid="number-dialog",
        ),
        open=S.add_open,
        on_open_change=S.set_add_open,
    )


def delete_number_dialog() -> rx.Component:
    return ui.confirm_delete_dialog(
        title="Delete number?",
        name=S.delete_name,
        consequence=(
            "Its LiveKit dispatch rule is deleted, and its inbound trunk if Voxie made it; "
            "calls to it stop reaching an agent. Past calls keep their records."
        ),
        open=S.delete_open,
        on_open_change=S.set_delete_open,
        on_confirm=S.confirm_delete,
        confirm_testid="confirm-delete-number",
    )
