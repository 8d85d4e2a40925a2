"""A chat panel: speaker bubbles, a typing indicator, and the message box.

Text is rendered as plain text (never markdown/HTML): it comes from users and models.
"""

from __future__ import annotations

import reflex as rx

from voxie_app.state.chat import ChatState


def _bubble(m: rx.Var) -> rx.Component:
    role = m["role"].to(str)
    is_user = role == "user"
    return rx.cond(
        (role == "tool") | (role == "system"),
        rx.center(
            rx.badge(
                rx.cond(role == "tool", rx.icon("wrench", size=12), rx.icon("info", size=12)),
                m["text"],
                variant="soft",
                color_scheme=rx.cond(role == "tool", "violet", "gray"),
                radius="full",
                data_testid="chat-event",
            ),
            width="100%",
        ),
        rx.flex(
            rx.box(
                rx.cond(
                    ~is_user & (m["who"].to(str) != ""),
                    rx.text(m["who"], size="1", weight="bold", color=rx.color("accent", 11)),
                ),
                rx.text(m["text"], size="3", white_space="pre-wrap", word_break="break-word"),
                padding_x="0.9rem",
                padding_y="0.6rem",
                border_radius="1rem",
                max_width="80%",
                background_color=rx.cond(is_user, rx.color("accent", 9), rx.color("gray", 3)),
                color=rx.cond(is_user, "white", rx.color("gray", 12)),
                data_testid=rx.cond(is_user, "msg-user", "msg-agent"),
            ),
            justify=rx.cond(is_user, "end", "start"),
            width="100%",
        ),
    )


def _typing() -> rx.Component:
    return rx.hstack(
        rx.spinner(size="2"),
        rx.text("thinking…", size="2", color=rx.color("gray", 10)),
        data_testid="chat-typing",
    )


def chat_panel(state: type[ChatState], placeholder: str = "Type a message…") -> rx.Component:
    """The conversation and the message box for a `ChatState` subclass."""
    return rx.vstack(
        rx.cond(
            state.unavailable != "",
            rx.callout(
                state.unavailable,
                icon="triangle-alert",
                color_scheme="amber",
                width="100%",
                data_testid="chat-unavailable",
            ),
        ),
        rx.scroll_area(
            rx.vstack(
                rx.foreach(state.messages, _bubble),
                rx.cond(state.sending | state.opening, _typing()),
                spacing="3",
                width="100%",
                padding="0.25rem",
            ),
            type="auto",
            scrollbars="vertical",
            height=["55vh", "55vh", "60vh"],
            data_testid="chat-messages",
            custom_attrs={"data-autoscroll": "true"},
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    value=state.draft,
                    on_change=state.set_draft,
                    placeholder=placeholder,
                    size="3",
                    width="100%",
                    max_length=2000,
                    disabled=state.ended | (state.unavailable != ""),
                    data_testid="chat-input",
                ),
                rx.button(
                    rx.icon("send", size=16),
                    "Send",
                    type="submit",
                    size="3",
                    loading=state.sending,
                    disabled=state.ended | (state.unavailable != ""),
                    data_testid="chat-send",
                ),
                width="100%",
            ),
            on_submit=lambda _form: state.send(),
            reset_on_submit=False,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )
