"""`/campaigns`: every outbound calling campaign, and "New campaign" for admins.

One state (`state.campaigns.CampaignsState`); the dialog is
`components.campaign_dialog`. Each row links to the campaign's progress page.
"""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.campaign_dialog import new_campaign_button, new_campaign_dialog
from voxie_app.components.layout import layout
from voxie_app.state.campaigns import CampaignsState as S


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(r["name"], href=r["href"], weight="medium", data_testid="campaign-link"),
        ),
        rx.table.cell(rx.text(r["agent"], size="2")),
        rx.table.cell(
            rx.text(r["from_number"], size="2", font_family="var(--code-font-family)"),
            white_space="nowrap",
        ),
        rx.table.cell(
            ui.pill(r["status"], r["status_color"], data_testid="campaign-status"),
        ),
        rx.table.cell(
            rx.text(r["progress"], size="2", data_testid="campaign-progress"), white_space="nowrap"
        ),
        rx.table.cell(rx.text(r["window"], size="1", color=rx.color("gray", 11))),
        align="center",
        data_testid="campaign-row",
    )


def _card(r: rx.Var) -> rx.Component:
    """A campaign on a phone: the table's columns would not fit side by side."""
    return rx.link(
        ui.card(
            rx.vstack(
                rx.hstack(
                    rx.text(r["name"], weight="medium", class_name="voxie-clamp-1"),
                    rx.spacer(),
                    ui.pill(r["status"], r["status_color"]),
                    width="100%",
                    align="center",
                ),
                rx.text(
                    r["progress"], size="2", weight="bold", data_testid="campaign-card-progress"
                ),
                rx.text(r["agent"], " · ", r["from_number"], size="2", color=rx.color("gray", 11)),
                rx.text(r["window"], size="1", color=rx.color("gray", 10)),
                spacing="1",
                width="100%",
            ),
            padding="0.9rem 1rem",
        ),
        href=r["href"],
        underline="none",
        color="inherit",
        width="100%",
        data_testid="campaign-card",
    )


def _table() -> rx.Component:
    head = rx.table.header(
        rx.table.row(
            *[
                rx.table.column_header_cell(label)
                for label in ("Name", "Agent", "Calls from", "Status", "Progress", "Window")
            ]
        )
    )
    return rx.cond(
        S.rows.length() > 0,
        rx.fragment(
            ui.card(
                ui.responsive_table(head, rx.table.body(rx.foreach(S.rows, _row)), size="2"),
                padding="0.5rem",
                display=rx.breakpoints(initial="none", sm="block"),
            ),
            rx.vstack(
                rx.foreach(S.rows, _card),
                spacing="2",
                width="100%",
                display=rx.breakpoints(initial="flex", sm="none"),
            ),
        ),
        ui.card(
            ui.empty_state(
                "megaphone",
                "No campaigns yet",
                rx.cond(
                    ui.is_viewer(),
                    "An admin creates a campaign from a CSV of contacts; it shows here.",
                    "A campaign has an agent call every contact of a CSV, inside a calling "
                    "window, a few calls at a time.",
                ),
                ui.editors_only(new_campaign_button()),
            )
        ),
    )


@rx.page(route=routes.CAMPAIGNS, title="Campaigns · Voxie", on_load=S.load)
def campaigns() -> rx.Component:
    return layout(
        rx.cond(S.loaded, _table(), ui.loading_block("12rem")),
        new_campaign_dialog(),
        title="Campaigns",
        subtitle="Outbound calling: an agent calls a list of contacts inside a weekly window.",
        actions=new_campaign_button(),
    )
