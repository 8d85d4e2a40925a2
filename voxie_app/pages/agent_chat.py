"""`/agents/[id]/chat`: talk to an agent by text, the same agent a call runs."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components import ui
from voxie_app.components.chat import chat_panel
from voxie_app.components.layout import layout
from voxie_app.state.agent_chat import AgentChatState as S


def _actions() -> rx.Component:
    """Restart and Call are for editors; everyone may go to the agent's page."""
    return rx.hstack(
        ui.editors_only(
            rx.button(
                rx.icon("rotate-ccw", size=16),
                "Restart",
                variant="soft",
                color_scheme="gray",
                on_click=S.restart,
                data_testid="chat-restart",
            ),
            rx.link(
                rx.button(rx.icon("phone", size=16), "Call instead"),
                href="/call/" + S.agent_id,
                data_testid="chat-call",
            ),
        ),
        rx.link(
            rx.button(rx.icon("bot", size=16), "Agent", variant="soft"),
            href="/agents/" + S.agent_id,
        ),
    )


@rx.page(route=routes.AGENT_CHAT, title="Chat with agent | Voxie", on_load=S.on_load)
def agent_chat() -> rx.Component:
    return layout(
        rx.cond(
            S.not_found,
            ui.empty_state(
                "search-x",
                "No such agent",
                "It may have been deleted.",
                rx.link(rx.button("All agents"), href=routes.AGENTS),
            ),
            ui.for_editors(
                ui.card(
                    chat_panel(S, placeholder="Say something a caller would say…"),
                    max_width="52rem",
                ),
                "test agents in a chat",
            ),
        ),
        title=rx.cond(S.agent_name != "", "Chat with " + S.agent_name, "Chat"),
        subtitle="Test before you call: the same agent, tools and rules as a phone call.",
        actions=_actions(),
    )
