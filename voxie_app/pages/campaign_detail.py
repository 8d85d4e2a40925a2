"""`/campaigns/[id]`: a campaign's settings, progress (live), controls and contacts.

One state (`state.campaign_detail.CampaignDetailState`), which re-reads the campaign
every two seconds while the page is open.
"""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.layout import layout
from voxie_app.models import CONTACT_STATUSES
from voxie_app.state.campaign_detail import ALL
from voxie_app.state.campaign_detail import CampaignDetailState as S


def _control(label: str, icon: str, on_click, testid: str, **props) -> rx.Component:
    return rx.button(rx.icon(icon, size=14), label, on_click=on_click, data_testid=testid, **props)


def _controls() -> rx.Component:
    return ui.editors_only(
        rx.hstack(
            rx.cond(S.status == "draft", _control("Start", "play", S.start, "campaign-start")),
            rx.cond(
                S.status == "running",
                _control("Pause", "pause", S.pause, "campaign-pause", variant="soft"),
            ),
            rx.cond(S.status == "paused", _control("Resume", "play", S.resume, "campaign-resume")),
            rx.cond(
                (S.status == "draft") | (S.status == "running") | (S.status == "paused"),
                _control(
                    "Cancel",
                    "circle-x",
                    S.ask_cancel,
                    "campaign-cancel",
                    variant="soft",
                    color_scheme="red",
                ),
            ),
            spacing="2",
            wrap="wrap",
            data_testid="campaign-controls",
        )
    )


def _actions() -> rx.Component:
    return rx.hstack(
        rx.cond(S.loaded & ~S.missing, _controls()),
        rx.link(
            rx.button(
                rx.icon("arrow-left", size=16), "All campaigns", variant="soft", color_scheme="gray"
            ),
            href=routes.CAMPAIGNS,
        ),
        spacing="2",
        wrap="wrap",
    )


def _count(c: rx.Var) -> rx.Component:
    return ui.card(
        rx.vstack(
            rx.hstack(
                rx.box(
                    width="0.5rem",
                    height="0.5rem",
                    border_radius="50%",
                    background_color=rx.color(c["color"].to(str), 9),
                ),
                rx.text(c["status"], size="2", color=rx.color("gray", 11), weight="medium"),
                align="center",
                spacing="2",
            ),
            rx.text(c["count"], size="6", weight="bold", data_testid="campaign-count-value"),
            spacing="1",
        ),
        padding="0.75rem 1rem",
        data_testid="campaign-count-" + c["status"].to(str),
    )


def _progress() -> rx.Component:
    return ui.card(
        rx.vstack(
            rx.hstack(
                ui.pill(S.status, S.status_color, size="2", data_testid="campaign-status"),
                rx.text(S.progress, size="3", weight="bold", data_testid="campaign-progress"),
                rx.spacer(),
                rx.text(
                    S.calls_placed,
                    " calls placed",
                    size="2",
                    color=rx.color("gray", 11),
                    data_testid="campaign-calls-placed",
                ),
                align="center",
                spacing="3",
                wrap="wrap",
                width="100%",
            ),
            rx.progress(value=S.percent, max=100, width="100%", data_testid="campaign-bar"),
            rx.grid(
                rx.foreach(S.counts, _count),
                columns=rx.breakpoints(initial="2", sm="3", lg="6"),
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.icon(
                    rx.cond(S.window_open, "clock", "moon"),
                    size=14,
                    color=rx.color("gray", 10),
                ),
                rx.text(S.window_note, size="2", data_testid="campaign-window-note"),
                rx.spacer(),
                rx.text("Updated ", S.updated, size="1", color=rx.color("gray", 10)),
                align="center",
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
    )


def _settings() -> rx.Component:
    return ui.section(
        "Settings",
        rx.data_list.root(
            rx.foreach(
                S.settings,
                lambda s: rx.data_list.item(
                    rx.data_list.label(s["label"], min_width="8rem"),
                    rx.data_list.value(s["value"]),
                ),
            ),
            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
            size="2",
        ),
    )


def _call_link(call: rx.Var) -> rx.Component:
    return rx.link(
        rx.badge(call["label"], variant="surface", radius="full", size="1"),
        href=call["href"],
        data_testid="contact-call",
    )


def _contact(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r["row"], size="1", color=rx.color("gray", 10))),
        rx.table.cell(
            rx.text(r["phone"], size="2", font_family="var(--code-font-family)"),
            white_space="nowrap",
            data_testid="contact-phone",
        ),
        rx.table.cell(ui.pill(r["status"], r["status_color"], data_testid="contact-status")),
        rx.table.cell(rx.text(r["attempts"], size="2")),
        rx.table.cell(rx.text(r["outcome"], size="2"), white_space="nowrap"),
        rx.table.cell(rx.text(r["next"], size="1"), white_space="nowrap"),
        rx.table.cell(
            rx.flex(
                rx.foreach(r["calls"].to(list[dict[str, str]]), _call_link), wrap="wrap", gap="1"
            )
        ),
        rx.table.cell(rx.text(r["variables"], size="1", class_name="voxie-clamp-2")),
        align="center",
        data_testid="contact-row",
    )


def _contacts() -> rx.Component:
    head = rx.table.header(
        rx.table.row(
            *[
                rx.table.column_header_cell(label)
                for label in (
                    "Row",
                    "Phone",
                    "Status",
                    "Attempts",
                    "Last outcome",
                    "Next attempt",
                    "Calls",
                    "Variables",
                )
            ]
        )
    )
    status_filter = rx.select.root(
        rx.select.trigger(aria_label="Contact status", data_testid="contact-filter"),
        rx.select.content(
            rx.select.item("All statuses", value=ALL),
            *[rx.select.item(s.capitalize(), value=s) for s in CONTACT_STATUSES],
        ),
        value=S.status_filter,
        on_change=S.set_status_filter,
        size="2",
    )
    return ui.section(
        "Contacts",
        rx.cond(
            S.contacts.length() > 0,
            rx.vstack(
                ui.responsive_table(
                    head, rx.table.body(rx.foreach(S.contacts, _contact)), size="1"
                ),
                ui.pager(
                    S.range_text, S.page, S.pages, S.prev_page, S.next_page, testid="contact-range"
                ),
                width="100%",
                spacing="3",
            ),
            ui.muted("No contact has this status.", data_testid="contacts-empty"),
        ),
        action=status_filter,
    )


def _content() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.missing,
            ui.card(
                ui.empty_state(
                    "megaphone",
                    "Campaign not found",
                    "It may have been deleted, or the link is wrong.",
                    rx.link(rx.button("Back to campaigns", variant="soft"), href=routes.CAMPAIGNS),
                )
            ),
            rx.vstack(
                rx.cond(
                    S.last_error != "",
                    rx.callout(
                        S.last_error,
                        icon="triangle-alert",
                        color_scheme="amber",
                        width="100%",
                        data_testid="campaign-last-error",
                    ),
                ),
                _progress(),
                _settings(),
                _contacts(),
                spacing="4",
                width="100%",
            ),
        ),
        rx.vstack(ui.loading_block("10rem"), ui.loading_block("20rem"), width="100%"),
    )


@rx.page(route=routes.CAMPAIGN_DETAIL, title="Campaign · Voxie", on_load=S.load)
def campaign_detail() -> rx.Component:
    return layout(
        _content(),
        ui.confirm_delete_dialog(
            title="Cancel the campaign?",
            name=S.name,
            consequence="Contacts still queued are not called; calls under way finish. "
            "A cancelled campaign cannot be started again.",
            open=S.confirm_open,
            on_open_change=S.set_confirm_open,
            on_confirm=S.confirm_cancel,
            confirm_testid="campaign-confirm-cancel",
            verb="Cancel",
            dismiss="Keep it",
        ),
        rx.box(display="none", on_unmount=S.leave),
        title=rx.cond(S.loaded & ~S.missing, S.name, "Campaign"),
        actions=_actions(),
    )
