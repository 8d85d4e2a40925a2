"""`/builder`: describe your business to Voxie and watch your agent being made."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.chat import chat_panel
from voxie_app.components.layout import layout
from voxie_app.components.livekit_call import livekit_call
from voxie_app.components.log_console import log_console
from voxie_app.state.builder import BuilderState as S
from voxie_app.state.call import EmbeddedCallState


def _agent_card(a: rx.Var) -> rx.Component:
    ready = a["status"].to(str) == "ready"
    return ui.card(
        rx.vstack(
            rx.hstack(
                rx.icon("bot", size=18, color=rx.color("accent", 10)),
                rx.text(a["name"], weight="bold", size="3"),
                rx.spacer(),
                rx.badge(
                    a["status"],
                    color_scheme=rx.match(
                        a["status"].to(str), ("ready", "grass"), ("failed", "red"), "amber"
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(a["description"] != "", rx.text(a["description"], size="2")),
            rx.cond(
                a["greeting"] != "",
                rx.text("“", a["greeting"], "”", size="2", color=rx.color("gray", 11)),
            ),
            rx.cond(a["error"] != "", rx.text(a["error"], size="2", color=rx.color("red", 11))),
            rx.cond(
                ready,
                rx.hstack(
                    rx.link(rx.button("Edit", size="2", variant="soft"), href="/agents/" + a["id"]),
                    rx.link(
                        rx.button(rx.icon("message-circle", size=14), "Chat", size="2"),
                        href="/agents/" + a["id"] + "/chat",
                    ),
                    rx.link(
                        rx.button(rx.icon("phone", size=14), "Call", size="2"),
                        href="/call/" + a["id"],
                    ),
                    wrap="wrap",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        data_testid="builder-agent-card",
    )


def _voice() -> rx.Component:
    return ui.section(
        "Talk to Voxie",
        rx.cond(
            S.livekit_missing != "",
            rx.callout(
                S.livekit_missing,
                icon="info",
                color_scheme="gray",
                size="1",
                data_testid="voice-unavailable",
            ),
            rx.cond(
                S.call_token != "",
                rx.vstack(
                    rx.text("Speak to Voxie; the live log follows along.", size="2"),
                    # The call component; its "Hang up" ends the call and records it.
                    livekit_call(
                        key=S.call_id,
                        server_url=S.call_url,
                        token=S.call_token,
                        agent_name="Voxie",
                        compact=True,
                        end_label="Hang up",
                        on_disconnected=lambda reason: [
                            EmbeddedCallState.finish(S.call_id, reason),
                            S.hang_up(),
                        ],
                        on_error=lambda kind, detail: [
                            EmbeddedCallState.fail(S.call_id, kind, detail),
                            S.hang_up(),
                        ],
                        on_media_device_failure=lambda failure, detail: [
                            EmbeddedCallState.mic_failed(S.call_id, failure, detail),
                            S.hang_up(),
                        ],
                        data_testid="builder-call",
                    ),
                    spacing="3",
                    width="100%",
                ),
                rx.text("Prefer talking? Voxie can interview you by voice.", size="2"),
            ),
        ),
        action=rx.button(
            rx.icon("mic", size=16),
            "Talk to Voxie",
            on_click=S.talk_to_voxie,
            disabled=(S.livekit_missing != "") | (S.call_token != ""),
            data_testid="talk-to-voxie",
        ),
    )


def _no_llm_help() -> rx.Component:
    return rx.cond(
        S.unavailable != "",
        rx.callout(
            rx.text(
                "You can still create an agent with the form: ",
                rx.link("Agents → New agent", href=routes.AGENTS_NEW),
                ".",
            ),
            icon="file-pen-line",
            color_scheme="gray",
            width="100%",
        ),
    )


@rx.page(route=routes.BUILDER, title="Builder | Voxie", on_load=S.on_load)
def builder() -> rx.Component:
    return layout(
        ui.for_editors(_body(), "create or change agents"),
        title="Builder",
        subtitle="Describe your business to Voxie; it asks a few questions and creates your agent.",
        actions=ui.editors_only(
            rx.button(
                rx.icon("plus", size=16),
                "New conversation",
                variant="soft",
                on_click=S.new_conversation,
                data_testid="builder-new",
            )
        ),
    )


def _body() -> rx.Component:
    return rx.fragment(
        _no_llm_help(),
        rx.grid(
            ui.card(chat_panel(S, placeholder="Tell Voxie about your business…")),
            rx.vstack(
                ui.section(
                    "Live log",
                    log_console(S.log_lines),
                    action=rx.badge(
                        rx.text(
                            S.log_lines.length(),
                            rx.cond(S.log_lines.length() == 1, " step", " steps"),
                        ),
                        variant="soft",
                    ),
                ),
                rx.cond(
                    S.agents.length() > 0,
                    ui.section(
                        "Your new agents",
                        rx.vstack(rx.foreach(S.agents, _agent_card), width="100%"),
                    ),
                ),
                _voice(),
                spacing="4",
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
    )
