"""The "New campaign" dialog: settings, the calling window, retries and the contacts' CSV.

Admins only (the button is left out for viewers, and the server refuses their
events anyway). A bad CSV's rows are listed inside the dialog, which stays open
with everything typed so far, so the admin fixes the file and drops it again.
"""

from __future__ import annotations

import reflex as rx

from voxie_app.components import ui
from voxie_app.components.outbound_call_dialog import no_caller_numbers
from voxie_app.services import campaign_csv
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.state.campaigns import DAY_LABELS, OUTCOMES, UPLOAD_ID
from voxie_app.state.campaigns import CampaignsState as S


def new_campaign_button() -> rx.Component:
    return ui.editors_only(
        rx.button(
            rx.icon("plus", size=16),
            "New campaign",
            on_click=S.open_new,
            data_testid="new-campaign",
        )
    )


def _field(label: str, key: str, *child: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        *child,
        rx.cond(S.errors[key] == "", rx.text(hint, size="1", color=rx.color("gray", 10)))
        if hint
        else rx.fragment(),
        ui.field_error(S.errors[key]),
        spacing="1",
        width="100%",
        min_width="0",
        data_testid=f"campaign-field-{key}",
    )


def _select(options: rx.Var, value: rx.Var, on_change, label: str, testid: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder=label, width="100%", aria_label=label, data_testid=testid),
        rx.select.content(rx.foreach(options, lambda o: rx.select.item(o["label"], value=o["id"]))),
        value=value,
        on_change=on_change,
    )


def _number(name: str, default: int, low: int, high: int, label: str) -> rx.Component:
    return rx.input(
        name=name,
        type="number",
        default_value=str(default),
        min=low,
        max=high,
        width="100%",
        aria_label=label,
        data_testid=f"campaign-{name}",
    )


def _checks(items: tuple[tuple[str, str], ...], chosen: rx.Var, on_change, testid: str):
    return rx.flex(
        *[
            rx.text(
                rx.flex(
                    rx.checkbox(
                        checked=chosen.contains(value),
                        on_change=lambda on, v=value: on_change(v, on),
                        data_testid=f"{testid}-{value}",
                    ),
                    label,
                    spacing="1",
                    align="center",
                ),
                as_="label",
                size="2",
            )
            for value, label in items
        ],
        wrap="wrap",
        spacing="3",
    )


def _dropzone() -> rx.Component:
    return rx.upload.root(
        rx.vstack(
            rx.icon("file-spreadsheet", size=22, color=rx.color("accent", 10)),
            rx.cond(
                S.csv_name != "",
                rx.text(S.csv_name, size="2", weight="medium", data_testid="campaign-csv-name"),
                rx.text(
                    "Drop the contacts' CSV here or click to choose", size="2", weight="medium"
                ),
            ),
            rx.text(
                "A phone column (",
                ", ".join(campaign_csv.PHONE_COLUMNS),
                ") in E.164, plus one column per variable, e.g. phone,first_name,appointment. "
                "UTF-8.",
                size="1",
                color=rx.color("gray", 10),
                text_align="center",
            ),
            align="center",
            spacing="1",
        ),
        id=UPLOAD_ID,
        accept={"text/csv": [".csv"]},
        max_files=1,
        multiple=False,
        on_drop=S.upload_csv(rx.upload_files(upload_id=UPLOAD_ID)),
        on_drop_rejected=S.csv_rejected,
        border=f"1px dashed {rx.color('gray', 7)}",
        border_radius="var(--radius-3)",
        padding="1rem",
        width="100%",
        cursor="pointer",
        data_testid="campaign-csv-drop",
    )


def _csv_result() -> rx.Component:
    return rx.fragment(
        rx.cond(
            S.csv_summary != "",
            rx.callout(
                S.csv_summary,
                icon="circle-check",
                color_scheme="grass",
                size="1",
                width="100%",
                data_testid="campaign-csv-summary",
            ),
        ),
        rx.cond(
            S.csv_problems.length() > 0,
            rx.box(
                rx.text(
                    "Nothing was imported. Fix these rows and drop the file again:",
                    size="2",
                    weight="medium",
                    color=rx.color("red", 11),
                ),
                rx.el.ul(
                    rx.foreach(
                        S.csv_problems,
                        lambda p: rx.el.li(
                            rx.text(p, size="1"), data_testid="campaign-csv-problem"
                        ),
                    ),
                    style={"paddingLeft": "1.25rem", "margin": "0.25rem 0 0"},
                ),
                max_height="12rem",
                overflow_y="auto",
                width="100%",
                padding="0.6rem 0.75rem",
                border_radius="var(--radius-3)",
                background_color=rx.color("red", 2),
                border=f"1px solid {rx.color('red', 6)}",
                data_testid="campaign-csv-problems",
            ),
        ),
    )


def _grid(*children: rx.Component) -> rx.Component:
    return rx.grid(
        *children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"
    )


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _field(
                "Name",
                "name",
                rx.input(
                    name="name",
                    placeholder="Appointment reminders, March",
                    max_length=80,
                    required=True,
                    auto_complete="off",
                    width="100%",
                    aria_label="Name",
                    data_testid="campaign-name",
                ),
            ),
            _grid(
                _field(
                    "Agent",
                    "agent_id",
                    _select(S.agents, S.agent_id, S.set_agent, "Agent", "campaign-agent"),
                ),
                _field(
                    "Call from",
                    "from_number_id",
                    _select(
                        S.numbers, S.from_number_id, S.set_from_number, "Call from", "campaign-from"
                    ),
                ),
            ),
            _field(
                "Days",
                "window_days",
                _checks(DAY_LABELS, S.days, S.toggle_day, "campaign-day"),
            ),
            _grid(
                _field(
                    "From",
                    "window_start",
                    rx.input(
                        name="window_start",
                        type="time",
                        default_value="09:00",
                        width="100%",
                        aria_label="Window start",
                        data_testid="campaign-window-start",
                    ),
                ),
                _field(
                    "Until (00:00 = midnight)",
                    "window_end",
                    rx.input(
                        name="window_end",
                        type="time",
                        default_value="17:00",
                        width="100%",
                        aria_label="Window end",
                        data_testid="campaign-window-end",
                    ),
                ),
            ),
            _field(
                "Time zone",
                "timezone",
                rx.input(
                    name="timezone",
                    default_value=S.default_timezone,
                    placeholder="Europe/Paris",
                    max_length=64,
                    auto_complete="off",
                    width="100%",
                    aria_label="Time zone",
                    data_testid="campaign-timezone",
                ),
                hint="The window's days and hours are in this zone (IANA name).",
            ),
            _grid(
                _field(
                    "Calls at once",
                    "max_concurrent",
                    _number("max_concurrent", 5, 1, campaigns_svc.MAX_CONCURRENT, "Calls at once"),
                ),
                _field(
                    "Attempts per contact",
                    "max_attempts",
                    _number("max_attempts", 1, 1, campaigns_svc.MAX_ATTEMPTS, "Attempts"),
                    hint="1 = no retries.",
                ),
            ),
            _grid(
                _field(
                    "Retry after (minutes)",
                    "retry_delay_minutes",
                    _number(
                        "retry_delay_minutes",
                        60,
                        1,
                        campaigns_svc.MAX_RETRY_DELAY_MINUTES,
                        "Retry after (minutes)",
                    ),
                ),
                _field(
                    "Retry when the call was",
                    "retry_on",
                    _checks(OUTCOMES, S.retry_on, S.toggle_retry, "campaign-retry"),
                ),
            ),
            _field("Contacts", "csv", _dropzone(), _csv_result()),
            rx.flex(
                rx.dialog.close(
                    rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                ),
                rx.button(
                    "Create draft",
                    type="submit",
                    variant="soft",
                    disabled=S.saving,
                    on_click=S.set_start_after(False),
                    data_testid="campaign-create",
                ),
                rx.button(
                    rx.icon("play", size=14),
                    "Create and start",
                    type="submit",
                    disabled=S.saving,
                    on_click=S.set_start_after(True),
                    data_testid="campaign-create-start",
                ),
                justify="end",
                wrap="wrap",
                spacing="3",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.create,
        width="100%",
    )


def new_campaign_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New campaign"),
            rx.dialog.description(
                "An agent calls every contact of a CSV from one of your numbers, inside the "
                "calling window. Numbers on the do-not-call list are refused.",
                size="2",
                margin_bottom="0.75rem",
            ),
            rx.cond(S.numbers.length() > 0, _form(), no_caller_numbers("campaign-no-numbers")),
            max_width="36rem",
            data_testid="campaign-dialog",
        ),
        open=S.open,
        on_open_change=S.set_open,
    )
