"""Text chats in the browser: the shared logic of the builder page and the agent chat page.

The conversation itself (a live `AgentSession`) lives in the server-side chat
registry, keyed by this browser tab's client token and what it talks to; the
state only holds what the page shows. Turns run as background tasks so the
user's message appears at once and the page stays responsive.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import reflex as rx

from voice_worker.runtime import CannotStart
from voice_worker.text_chat import ChatReply, TextChat
from voxie_app.chat_registry import RegistryFull, registry
from voxie_app.settings import get_settings, providers

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SHOWN_MESSAGES = 200


class ChatState(rx.State, mixin=True):
    """Messages shown, the draft, and the send/receive cycle. Subclasses say whom to talk to.

    A mixin (Reflex copies its vars and handlers into each page state, so a
    handler runs on that page's state); page states also inherit `AppState`,
    whose helpers (`_toast_error`, `_tz`) these handlers use.
    """

    messages: list[dict[str, str]] = []
    draft: str = ""
    sending: bool = False
    opening: bool = False
    ended: bool = False
    unavailable: str = ""

    kind: ClassVar[str] = "chat"

    # ----------------------------------------------------------- for subclasses
    def _target(self) -> str:
        """What this chat talks to (part of the registry key)."""
        raise NotImplementedError

    async def _open(self) -> TextChat:
        raise NotImplementedError

    def _on_reply(self, reply: ChatReply) -> None:
        """Hook after each turn (e.g. the builder refreshes its agent cards)."""

    # ----------------------------------------------------------------- helpers
    def _key(self) -> str:
        return f"{self.kind}:{self.router.session.client_token}:{self._target()}"

    def _llm_missing(self) -> str:
        if providers(get_settings()).openai:
            return ""
        return (
            "Chat needs an LLM: set OPENAI_API_KEY (and OPENAI_BASE_URL for a local "
            "OpenAI-compatible server) in .env.local, then restart."
        )

    def _add(self, role: str, text: str, who: str = "") -> None:
        self.messages.append({"role": role, "text": text, "who": who})
        if len(self.messages) > MAX_SHOWN_MESSAGES:
            self.messages = self.messages[-MAX_SHOWN_MESSAGES:]

    def _show_reply(self, reply: ChatReply) -> None:
        for name in reply.tool_calls:
            self._add("tool", name.replace("_", " "), reply.agent_name)
        for text in reply.messages:
            self._add("agent", text, reply.agent_name)
        if reply.ended:
            self.ended = True
            self._add("system", "The conversation has ended.")

    # ------------------------------------------------------------------ events
    @rx.event
    def set_draft(self, value: str) -> None:
        self.draft = value[:MAX_MESSAGE_CHARS]

    @rx.event(background=True)
    async def open_chat(self):
        """Open (or reattach to) the conversation and show the greeting."""
        async with self:
            if self.opening:
                return
            self.unavailable = self._llm_missing()
            if self.unavailable:
                return
            key = self._key()
            self.opening = True
            fresh = not self.messages
        try:
            entry = await registry.get_or_open(key, self._open)
            greeting = list(getattr(entry.chat, "greeting", []))
            name = getattr(entry.chat, "agent_name", "")
            error = ""
        except (CannotStart, RegistryFull) as exc:
            greeting, name, error = [], "", str(exc)
        except Exception:
            log.exception("opening a chat failed")
            greeting, name, error = [], "", "The chat could not start; see the server log."
        async with self:
            self.opening = False
            if error:
                self.unavailable = error
                return
            if fresh:
                for text in greeting:
                    self._add("agent", text, name)

    @rx.event
    def send(self):
        text = self.draft.strip()
        if not text or self.sending or self.ended or self.unavailable:
            return None
        self._add("user", text)
        self.draft = ""
        self.sending = True
        return type(self).run_turn(text)

    @rx.event(background=True)
    async def run_turn(self, text: str):
        async with self:
            if not self.sending:  # only a turn queued by `send` runs
                return
            key = self._key()
        text = text[:MAX_MESSAGE_CHARS]
        try:
            entry = await registry.get_or_open(key, self._open)
            async with entry.lock:
                reply = await entry.chat.send(text)  # type: ignore[attr-defined]
            error = ""
        except (CannotStart, RegistryFull) as exc:
            reply, error = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - provider failures end the turn with a message
            log.warning("chat turn failed: %s", exc)
            reply, error = None, f"The agent could not answer: {exc.__class__.__name__}."
        async with self:
            self.sending = False
            if reply is not None:
                self._show_reply(reply)
                self._on_reply(reply)
            if error:
                self._add("system", error)
                return self._toast_error(error)

    @rx.event
    async def restart(self) -> None:
        """Forget this conversation and start a new one."""
        await registry.close(self._key())
        self.messages = []
        self.ended = False
        self.sending = False
        return type(self).open_chat
