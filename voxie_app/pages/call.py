"""`/call` (pick an agent) and `/call/[id]` (call it from the browser over LiveKit)."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.layout import layout
from voxie_app.components.livekit_call import livekit_call
from voxie_app.state.call import CallState as S

SUBTITLE = "Talk to your agent from the browser, the way your callers will."


def _icon_tile(icon: str, color: str = "accent", size: str = "3rem") -> rx.Component:
    return rx.center(
        rx.icon(icon, size=22),
        width=size,
        height=size,
        border_radius="var(--radius-4)",
        background_color=rx.color(color, 3),
        color=rx.color(color, 11),
        flex_shrink="0",
    )


def _settings_list() -> rx.Component:
    return rx.hstack(
        rx.foreach(
            S.livekit_missing,
            lambda name: rx.code(name, variant="soft", size="2", data_testid="missing-setting"),
        ),
        spacing="2",
        wrap="wrap",
    )


# ---------------------------------------------------------------- /call/[id]


def _start_card() -> rx.Component:
    busy = (S.phase == "checking") | (S.phase == "starting")
    return ui.card(
        rx.vstack(
            rx.hstack(
                _icon_tile("bot"),
                rx.vstack(
                    rx.heading(S.agent_name, size="5", weight="bold", as_="h2"),
                    rx.cond(
                        S.agent_description != "",
                        rx.text(S.agent_description, size="2", color=rx.color("gray", 11)),
                    ),
                    spacing="1",
                    min_width="0",
                ),
                spacing="3",
                align="center",
                width="100%",
            ),
            rx.cond(
                S.agent_greeting != "",
                rx.box(
                    rx.text("It answers with", size="1", color=rx.color("gray", 10)),
                    rx.text("“", S.agent_greeting, "”", size="3", style={"font_style": "italic"}),
                    padding="0.75rem 1rem",
                    border_left=f"3px solid {rx.color('accent', 8)}",
                    background_color=rx.color("gray", 2),
                    border_radius="var(--radius-2)",
                    width="100%",
                ),
            ),
            rx.flex(
                rx.button(
                    rx.icon("phone-call", size=18),
                    rx.match(
                        S.phase,
                        ("checking", "Checking the microphone…"),
                        ("starting", "Setting up the call…"),
                        rx.cond(S.phase == "ended", "Call again", "Start call"),
                    ),
                    size="3",
                    on_click=S.start,
                    loading=busy,
                    disabled=busy,
                    data_testid="call-start",
                ),
                rx.hstack(
                    rx.icon("mic", size=14, flex_shrink="0"),
                    rx.text(
                        "Your browser asks to use the microphone. "
                        "The call is recorded and transcribed under Calls.",
                        size="1",
                    ),
                    spacing="2",
                    align="center",
                    color=rx.color("gray", 10),
                ),
                direction=rx.breakpoints(initial="column", sm="row"),
                align=rx.breakpoints(initial="start", sm="center"),
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        data_testid="call-ready",
    )


_TIPS = (
    ("headphones", "Use headphones, so the agent does not hear itself."),
    ("messages-square", "Speak naturally; you can interrupt the agent while it talks."),
    ("phone-off", "The agent may end the call itself when the conversation is done."),
    ("file-text", "Every call is saved with its transcript, summary and cost."),
)


def _tips_card() -> rx.Component:
    return ui.section(
        "Good to know",
        rx.vstack(
            *[
                rx.hstack(
                    rx.icon(icon, size=16, color=rx.color("accent", 10), flex_shrink="0"),
                    rx.text(text, size="2", color=rx.color("gray", 11)),
                    spacing="3",
                    align="start",
                )
                for icon, text in _TIPS
            ],
            spacing="3",
        ),
    )


def _ready() -> rx.Component:
    return rx.grid(
        _start_card(),
        _tips_card(),
        columns=rx.breakpoints(initial="1", lg="3fr 2fr"),
        spacing="4",
        width="100%",
        align_items="start",
    )


def _ended_card() -> rx.Component:
    return ui.card(
        rx.vstack(
            rx.hstack(
                _icon_tile("phone-off", "grass"),
                rx.vstack(
                    rx.heading("Call ended", size="5", weight="bold", as_="h2"),
                    rx.text(S.summary, size="2", color=rx.color("gray", 11)),
                    spacing="1",
                ),
                spacing="3",
                align="center",
            ),
            rx.text(
                "The transcript, summary and cost appear on the call's page once "
                "the agent has finished its notes.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("file-text", size=16), "View the call", size="3"),
                    href=S.call_href,
                    data_testid="call-details-link",
                ),
                rx.button(
                    rx.icon("phone-call", size=16),
                    "Call again",
                    size="3",
                    variant="soft",
                    on_click=S.start,
                    data_testid="call-again",
                ),
                rx.link(
                    rx.button(
                        rx.icon("message-square", size=16),
                        "Chat instead",
                        size="3",
                        variant="soft",
                        color_scheme="gray",
                    ),
                    href=S.chat_href,
                ),
                spacing="3",
                wrap="wrap",
            ),
            spacing="4",
            width="100%",
        ),
        max_width="46rem",
        data_testid="call-ended",
    )


_PROBLEM_ICONS = (
    ("microphone", "mic-off"),
    ("unreachable", "wifi-off"),
    ("not_configured", "plug-zap"),
    ("not_found", "search-x"),
    ("not_ready", "hourglass"),
)


def _chat_instead() -> rx.Component:
    return rx.link(
        rx.button(
            rx.icon("message-square", size=16),
            "Chat with ",
            S.agent_name,
            " instead",
            size="3",
        ),
        href=S.chat_href,
        data_testid="call-chat-link",
    )


def _problem_actions() -> rx.Component:
    try_again = rx.button(
        rx.icon("rotate-ccw", size=16),
        "Try again",
        size="3",
        variant="soft",
        on_click=S.start,
        data_testid="call-retry",
    )
    return rx.match(
        S.problem,
        ("not_found", rx.link(rx.button("Pick an agent", size="3"), href=routes.CALL)),
        (
            "not_ready",
            rx.link(rx.button("Open the agent", size="3", variant="soft"), href=S.agent_href),
        ),
        (
            "not_configured",
            rx.hstack(
                _chat_instead(),
                rx.link(
                    rx.button(
                        rx.icon("settings", size=16),
                        "Settings",
                        size="3",
                        variant="soft",
                        color_scheme="gray",
                    ),
                    href=routes.SETTINGS,
                ),
                spacing="3",
                wrap="wrap",
            ),
        ),
        rx.hstack(_chat_instead(), try_again, spacing="3", wrap="wrap"),
    )


def _problem_card() -> rx.Component:
    color = rx.match(
        S.problem, ("not_found", "gray"), ("not_ready", "amber"), ("not_configured", "amber"), "red"
    )
    return ui.card(
        rx.vstack(
            rx.hstack(
                rx.center(
                    rx.match(
                        S.problem,
                        *[(key, rx.icon(icon, size=22)) for key, icon in _PROBLEM_ICONS],
                        rx.icon("triangle-alert", size=22),
                    ),
                    width="3rem",
                    height="3rem",
                    border_radius="var(--radius-4)",
                    background_color=rx.color(color, 3),
                    color=rx.color(color, 11),
                    flex_shrink="0",
                ),
                rx.heading(
                    S.problem_title,
                    size="5",
                    weight="bold",
                    as_="h2",
                    data_testid="call-problem-title",
                ),
                spacing="3",
                align="center",
            ),
            rx.text(
                S.problem_text,
                size="3",
                color=rx.color("gray", 11),
                data_testid="call-problem-text",
            ),
            rx.cond(S.problem == "not_configured", _settings_list()),
            rx.cond(
                S.problem_detail != "",
                rx.box(
                    rx.text("Details", size="1", weight="medium", color=rx.color("gray", 10)),
                    rx.text(
                        S.problem_detail,
                        size="1",
                        font_family="var(--code-font-family)",
                        word_break="break-word",
                        data_testid="call-problem-detail",
                    ),
                    padding="0.6rem 0.8rem",
                    background_color=rx.color("gray", 2),
                    border=f"1px solid {rx.color('gray', 4)}",
                    border_radius="var(--radius-2)",
                    width="100%",
                ),
            ),
            rx.cond(
                (S.problem != "not_found") & (S.problem != "not_ready"),
                rx.text(
                    "You can still test the agent by text: the same instructions and tools "
                    "as a call.",
                    size="2",
                    color=rx.color("gray", 10),
                ),
            ),
            _problem_actions(),
            spacing="4",
            width="100%",
        ),
        max_width="46rem",
        border=f"1px solid {rx.color(color, 6)}",
        data_testid="call-problem",
        data_problem=S.problem,
    )


def _in_call() -> rx.Component:
    return livekit_call(
        key=S.call_id,
        server_url=S.server_url,
        token=S.token,
        agent_name=S.agent_name,
        on_connected=S.on_connected,
        on_disconnected=S.on_disconnected,
        on_error=S.on_error,
        on_media_device_failure=S.on_media_device_failure,
        data_testid="call-room",
    )


def _actions() -> rx.Component:
    return rx.cond(
        (S.agent_name != "") & (S.phase != "loading") & (S.problem != "not_ready"),
        rx.hstack(
            ui.editors_only(
                rx.link(
                    rx.button(rx.icon("message-square", size=16), "Chat instead", variant="soft"),
                    href=S.chat_href,
                )
            ),
            rx.link(
                rx.button(rx.icon("bot", size=16), "Agent", variant="soft", color_scheme="gray"),
                href=S.agent_href,
            ),
        ),
    )


@rx.page(route=routes.CALL_AGENT, title="Call | Voxie", on_load=S.on_load)
def call_agent() -> rx.Component:
    return layout(
        rx.match(
            S.phase,
            ("loading", ui.loading_block("14rem")),
            ("error", _problem_card()),
            ("ended", _ended_card()),
            # One branch for both, so the room stays mounted when it connects.
            ("connecting", "connected", _in_call()),
            ui.for_editors(_ready(), "start calls"),
        ),
        title=rx.cond(S.agent_name != "", "Call " + S.agent_name, "Call"),
        subtitle=SUBTITLE,
        actions=_actions(),
    )


# --------------------------------------------------------------------- /call


def _choice(agent: rx.Var) -> rx.Component:
    return ui.card(
        rx.vstack(
            rx.hstack(
                _icon_tile("bot", size="2.25rem"),
                rx.text(agent["name"], size="3", weight="bold", data_testid="call-choice-name"),
                spacing="3",
                align="center",
                width="100%",
            ),
            ui.agent_description(agent),
            rx.hstack(
                rx.icon("phone", size=14),
                rx.text(agent["calls"], " · last ", agent["last_call"], size="2"),
                spacing="1",
                align="center",
                color=rx.color("gray", 10),
            ),
            ui.editors_only(
                rx.separator(size="4"),
                rx.hstack(
                    rx.link(
                        rx.button(rx.icon("phone-call", size=14), "Call", size="2"),
                        href=agent["href"],
                        data_testid="call-choice",
                    ),
                    rx.link(
                        rx.button(
                            rx.icon("message-square", size=14), "Chat", size="2", variant="soft"
                        ),
                        href=agent["chat_href"],
                    ),
                    spacing="2",
                ),
            ),
            spacing="3",
            width="100%",
        ),
    )


@rx.page(route=routes.CALL, title="Call an agent | Voxie", on_load=S.load_choices)
def call_picker() -> rx.Component:
    return layout(
        rx.cond(
            S.livekit_missing.length() > 0,
            rx.callout(
                rx.text(
                    "Browser calls need LiveKit: set ",
                    rx.foreach(
                        S.livekit_missing,
                        lambda name, i: rx.fragment(
                            rx.cond(i > 0, ", ", ""), rx.code(name, variant="ghost")
                        ),
                    ),
                    " in .env.local. You can still chat with any agent.",
                ),
                icon="plug-zap",
                color_scheme="amber",
                width="100%",
                data_testid="call-livekit-missing",
            ),
        ),
        rx.cond(
            S.choices_loaded,
            rx.cond(
                S.choices.length() > 0,
                rx.grid(
                    rx.foreach(S.choices, _choice),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                ui.card(
                    ui.empty_state(
                        "bot",
                        "No agent is ready to take a call",
                        "Create one with the form or let Voxie build it with you.",
                        rx.hstack(
                            rx.link(rx.button("New agent"), href=routes.AGENTS_NEW),
                            rx.link(rx.button("Builder", variant="soft"), href=routes.BUILDER),
                        ),
                    )
                ),
            ),
            ui.loading_block(),
        ),
        rx.cond(ui.is_viewer(), ui.viewer_notice("start calls")),
        title="Call an agent",
        subtitle="Pick a ready agent and talk to it from your browser.",
    )
