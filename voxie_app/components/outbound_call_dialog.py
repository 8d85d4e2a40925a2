"""The "Call a number" dialog: agent, number to call, number to call from, variables.

`call_number_button(agent_id)` opens it for an agent; `outbound_call_dialog()` is
mounted once on the page. Admins only (the button is left out for viewers, and
the server refuses their events anyway).
"""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.state.outbound_call import OutboundCallState as S


def call_number_button(agent_id: rx.Var | str) -> rx.Component:
    return ui.editors_only(
        rx.button(
            rx.icon("phone-outgoing", size=16),
            "Call a number",
            variant="soft",
            on_click=S.open_for(agent_id),
            data_testid="call-number",
        )
    )


def _label(text: str, *child: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(text, size="2", weight="medium"), *child, spacing="1", width="100%")


def no_caller_numbers(testid: str = "call-number-none") -> rx.Component:
    """Said where a call would be placed but none of our numbers can place one."""
    return rx.callout(
        "No number can place calls yet: add a phone number with an outbound trunk "
        "(synced to LiveKit) on the Phone page first.",
        icon="phone-off",
        color_scheme="amber",
        size="1",
        data_testid=testid,
    )


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _label(
                "Agent",
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Pick an agent", width="100%", aria_label="Agent"
                    ),
                    rx.select.content(
                        rx.foreach(S.agents, lambda a: rx.select.item(a["name"], value=a["id"]))
                    ),
                    value=S.agent_id,
                    on_change=S.set_agent,
                ),
            ),
            _label(
                "Number to call",
                rx.input(
                    name="to",
                    placeholder="+14155550123",
                    max_length=64,
                    auto_complete="off",
                    required=True,
                    width="100%",
                    aria_label="Number to call",
                    data_testid="call-number-to",
                ),
            ),
            _label(
                "Call from",
                rx.select.root(
                    rx.select.trigger(
                        placeholder="One of your numbers",
                        width="100%",
                        aria_label="Call from",
                        data_testid="call-number-from",
                    ),
                    rx.select.content(
                        rx.foreach(S.numbers, lambda n: rx.select.item(n["label"], value=n["id"]))
                    ),
                    value=S.from_number_id,
                    on_change=S.set_from_number,
                ),
            ),
            _label(
                "Variables (optional, one name=value per line)",
                rx.text_area(
                    name="variables",
                    placeholder="patient_name=Ann\nappointment=Tuesday 10:00",
                    rows="3",
                    width="100%",
                    aria_label="Variables",
                    data_testid="call-number-variables",
                ),
            ),
            rx.hstack(
                rx.dialog.close(
                    rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    rx.cond(S.dialing, rx.spinner(size="1"), rx.icon("phone-outgoing", size=14)),
                    rx.cond(S.dialing, "Calling…", "Call"),
                    type="submit",
                    disabled=S.dialing,
                    data_testid="call-number-submit",
                ),
                justify="end",
                spacing="3",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.place,
        width="100%",
    )


def outbound_call_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Call a number"),
            rx.dialog.description(
                "The agent calls the number and starts talking once someone answers. "
                "Numbers on the do-not-call list are refused.",
                size="2",
                margin_bottom="0.75rem",
            ),
            rx.cond(S.numbers.length() > 0, _form(), no_caller_numbers()),
            max_width="30rem",
            data_testid="call-number-dialog",
        ),
        open=S.open,
        on_open_change=S.set_open,
    )
