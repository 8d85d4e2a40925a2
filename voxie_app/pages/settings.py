"""`/settings`: configured providers (never their values), LiveKit and provider checks,
pricing in use."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.account_panel import account_panel
from voxie_app.components.admin_panels import admin_panels
from voxie_app.components.layout import layout
from voxie_app.components.secrets_panel import secrets_panel
from voxie_app.state.settings import SettingsState as S


def _provider(p: rx.Var) -> rx.Component:
    ok = p["ok"].to(bool)
    return rx.hstack(
        rx.center(
            rx.icon(rx.cond(ok, "circle-check", "circle-dashed"), size=18),
            color=rx.cond(ok, rx.color("grass", 10), rx.color("gray", 9)),
            flex_shrink="0",
        ),
        rx.vstack(
            rx.text(p["name"], size="2", weight="bold"),
            rx.text(p["purpose"], size="1", color=rx.color("gray", 10)),
            rx.code(p["settings"], size="1", variant="ghost", color_scheme="gray"),
            spacing="1",
            min_width="0",
        ),
        rx.spacer(),
        rx.cond(
            ok,
            ui.pill("configured", "grass", data_testid="provider-configured"),
            ui.pill("not set", "gray", data_testid="provider-missing"),
        ),
        width="100%",
        align="center",
        padding_y="0.7rem",
        border_bottom=f"1px solid {rx.color('gray', 3)}",
        data_testid="provider-" + p["key"].to(str),
    )


def _providers() -> rx.Component:
    return ui.section(
        "Providers",
        ui.muted(
            "Set these in .env.local or the environment and restart. "
            "Values are never shown here, only whether they are set."
        ),
        rx.vstack(rx.foreach(S.providers, _provider), spacing="0", width="100%"),
        rx.hstack(
            rx.badge("Database: ", S.database, variant="surface", color_scheme="gray"),
            rx.badge("Time zone: ", S.timezone, variant="surface", color_scheme="gray"),
            rx.cond(
                S.custom_llm_url,
                rx.badge("Custom LLM base URL", variant="surface", color_scheme="violet"),
            ),
            spacing="2",
            wrap="wrap",
        ),
    )


def _provider_check_row(r: rx.Var) -> rx.Component:
    ok = r["ok"].to(bool)
    return rx.hstack(
        rx.icon(
            rx.cond(ok, "circle-check", "circle-x"),
            size=16,
            color=rx.cond(ok, rx.color("grass", 10), rx.color("red", 10)),
            flex_shrink="0",
        ),
        rx.vstack(
            rx.hstack(
                rx.text(r["kind"], size="2", weight="bold"),
                rx.text(r["label"], size="2"),
                rx.cond(r["server"] != "", rx.code(r["server"], size="1", variant="ghost")),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(
                r["message"],
                size="1",
                color=rx.cond(ok, rx.color("grass", 11), rx.color("red", 11)),
                data_testid="provider-check-message",
            ),
            spacing="0",
            min_width="0",
        ),
        width="100%",
        align="start",
        spacing="2",
        data_testid="provider-check-" + r["key"].to(str),
    )


def _provider_checks() -> rx.Component:
    return ui.section(
        "Check providers",
        ui.muted(
            "One small request per configured provider (its model list; Deepgram's projects, "
            "one Cartesia voice), all at once, 10 s at most. Keys are never shown."
        ),
        rx.button(
            rx.icon("activity", size=16),
            "Check providers",
            on_click=S.check_providers,
            loading=S.checking_providers,
            data_testid="check-providers",
        ),
        rx.cond(
            S.provider_checks.length() > 0,
            rx.vstack(
                rx.foreach(S.provider_checks, _provider_check_row),
                spacing="2",
                width="100%",
                data_testid="provider-checks",
            ),
        ),
    )


def _livekit() -> rx.Component:
    return ui.section(
        "LiveKit connection",
        ui.muted("Lists rooms on the LiveKit server with the configured keys (5 s timeout)."),
        rx.cond(
            S.missing_livekit.length() > 0,
            rx.callout(
                rx.text(
                    "LiveKit is not configured. Missing: ",
                    rx.text.strong(S.missing_livekit.join(", ")),
                    ". Browser calls need it; chat works without it.",
                ),
                icon="info",
                color_scheme="amber",
                data_testid="livekit-missing",
            ),
        ),
        rx.hstack(
            rx.button(
                rx.icon("plug-zap", size=16),
                "Check LiveKit",
                on_click=S.check,
                loading=S.checking,
                data_testid="check-livekit",
            ),
            rx.cond(
                S.check_status == "ok",
                rx.text(
                    S.check_message,
                    size="2",
                    color=rx.color("grass", 11),
                    data_testid="livekit-result",
                ),
                rx.cond(
                    S.check_status == "error",
                    rx.text(
                        S.check_message,
                        size="2",
                        color=rx.color("red", 11),
                        data_testid="livekit-result",
                    ),
                ),
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
    )


def _pricing() -> rx.Component:
    """Reference data, folded: most visits to /settings are for the admin tasks above it."""
    return ui.card(
        rx.el.details(
            rx.el.summary(
                rx.text("Pricing in use", size="4", weight="bold", as_="span"),
                rx.text(
                    " (",
                    S.pricing.length(),
                    " prices; click to show)",
                    size="2",
                    color=rx.color("gray", 10),
                    as_="span",
                ),
                cursor="pointer",
                data_testid="pricing-summary",
            ),
            rx.vstack(
                ui.muted(
                    "Costs on calls are computed with these list prices (override with "
                    "VOXIE_PRICING)."
                ),
                rx.cond(
                    S.pricing.length() > 0,
                    ui.responsive_table(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(
                                        h, white_space="nowrap", color=rx.color("gray", 11)
                                    )
                                    for h in ("Model", "Kind", "Input", "Output", "Unit")
                                ]
                            )
                        ),
                        rx.table.body(
                            rx.foreach(
                                S.pricing,
                                lambda r: rx.table.row(
                                    rx.table.row_header_cell(rx.code(r["model"], variant="ghost")),
                                    rx.table.cell(ui.pill(r["kind"].upper(), "violet")),
                                    rx.table.cell(r["input"]),
                                    rx.table.cell(rx.cond(r["output"] != "", r["output"], "—")),
                                    rx.table.cell(
                                        r["unit"], white_space="nowrap", color=rx.color("gray", 11)
                                    ),
                                    data_testid="price-row",
                                ),
                            )
                        ),
                    ),
                    rx.callout(
                        rx.cond(S.pricing_note != "", S.pricing_note, "No prices configured."),
                        icon="info",
                        data_testid="pricing-note",
                    ),
                ),
                spacing="3",
                width="100%",
                padding_top="0.75rem",
            ),
            data_testid="pricing",
        ),
    )


@rx.page(route=routes.SETTINGS, title="Settings · Voxie", on_load=S.load)
def settings() -> rx.Component:
    # Admin tasks first (users, keys, webhooks, secrets), then your account, then what Voxie
    # is connected to, and the pricing reference last, folded.
    return layout(
        admin_panels(),
        secrets_panel(),
        account_panel(),
        rx.grid(
            _providers(),
            rx.vstack(_livekit(), _provider_checks(), spacing="4", width="100%"),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        _pricing(),
        rx.link("REST API documentation →", href=routes.API_DOCS, size="2", is_external=True),
        title="Settings",
        subtitle="What this Voxie is connected to.",
    )
