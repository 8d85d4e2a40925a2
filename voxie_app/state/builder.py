"""`/builder`: chat with Voxie, watch its live log, see the agents it made."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import ClassVar

import reflex as rx
import sqlalchemy as sa
from sqlmodel import col, select

from voice_worker.text_chat import ChatReply, TextChat
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import agent_creation, calls
from voxie_app.services.errors import ServiceError
from voxie_app.settings import get_settings
from voxie_app.state import guard
from voxie_app.state.base import AppState
from voxie_app.state.chat import ChatState
from voxie_app.state.live import claim, client_connected, follow

log = logging.getLogger(__name__)

MAX_LOG_LINES = 300


def _clock(ts: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return ts.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")


class BuilderState(ChatState, AppState):
    session_id: str = ""
    log_lines: list[dict[str, str]] = []
    last_event_id: int = 0
    agents: list[dict[str, str]] = []
    livekit_missing: str = ""
    call_url: str = ""
    call_token: str = ""
    call_id: str = ""

    kind: ClassVar[str] = "builder"

    def _target(self) -> str:
        return self.session_id

    async def _open(self) -> TextChat:
        return await TextChat.open_builder(settings=get_settings(), session_id=self.session_id)

    def _on_reply(self, reply: ChatReply) -> None:
        if {"create_agent", "update_agent"} & set(reply.tool_calls):
            self._load_agents()

    def _load_agents(self) -> None:
        try:
            with session_scope() as session:
                rows = session.exec(
                    select(Agent)
                    .where(Agent.session_id == self.session_id)
                    .order_by(col(Agent.created_at))
                ).all()
                self.agents = [
                    {
                        "id": str(a.id),
                        "name": a.name or "New agent",
                        "status": a.status,
                        "description": str(a.processed_spec.get("description", "")),
                        "greeting": str(a.processed_spec.get("greeting", "")),
                        "error": a.error or "",
                    }
                    for a in rows
                ]
        except sa.exc.SQLAlchemyError as exc:
            log.warning("loading builder agents failed: %s", exc)

    @rx.event
    @guard.viewer
    def on_load(self):
        """Viewer-safe: a viewer gets the page's notice; no conversation opens."""
        if not self._is_editor():
            return None
        if not self.session_id:
            self.session_id = uuid.uuid4().hex
        missing = get_settings().missing_livekit_settings()
        self.livekit_missing = (
            f"Voice needs LiveKit: set {', '.join(missing)} in .env.local." if missing else ""
        )
        self._load_agents()
        return [BuilderState.open_chat, BuilderState.watch_log]

    @rx.event(background=True)
    async def watch_log(self):
        """Follow this conversation's event stream; resumes from the last line shown.

        Stops when the tab is gone or a new conversation starts.
        """
        async with self:
            session_id = self.session_id
            stream = agent_creation.stream_name(session_id)
            after = self.last_event_id
            tz = self._tz()
            token = self.router.session.client_token

        async def still_wanted() -> bool:
            if not client_connected(token):
                return False
            async with self:
                return self.session_id == session_id

        with claim(f"{token}:{stream}") as mine:
            if not mine or not session_id:
                return
            try:
                async for event in follow(stream, after, still_wanted=still_wanted):
                    async with self:
                        if self.session_id != session_id:
                            return
                        if event.id <= self.last_event_id:
                            continue
                        self.last_event_id = event.id
                        self.log_lines.append(
                            {
                                "id": str(event.id),
                                "time": _clock(event.created_at, tz),
                                "kind": event.kind.replace("_", " "),
                                "level": event.level,
                                "message": event.message,
                            }
                        )
                        self.log_lines = self.log_lines[-MAX_LOG_LINES:]
                        if event.kind in {"agent_saved", "agent_updated", "failed"}:
                            self._load_agents()
            except Exception:
                log.exception("builder log watcher stopped")

    @rx.event
    async def talk_to_voxie(self):
        """Start a voice call with Voxie (LiveKit), or say clearly why not."""
        if self.livekit_missing:
            return self._toast_error(self.livekit_missing)
        principal = guard.current()
        if principal is None:
            return self._toast_error("Sign in again to talk to Voxie.")
        try:
            started = await calls.start_builder_call(
                session_id=self.session_id, settings=get_settings(), caller=principal
            )
        except ServiceError as exc:
            return self._toast_error(exc.message)
        self.call_url = started.server_url
        self.call_token = started.participant_token
        self.call_id = str(started.call_session_id)
        return None

    @rx.event
    def hang_up(self) -> None:
        self.call_url = self.call_token = self.call_id = ""

    @rx.event
    async def new_conversation(self):
        """Start over with a fresh builder session (agents made so far stay saved)."""
        from voxie_app.chat_registry import registry

        await registry.close(self._key())
        self.session_id = uuid.uuid4().hex
        self.messages, self.log_lines, self.agents = [], [], []
        self.last_event_id = 0
        self.ended = self.sending = False
        return [BuilderState.open_chat, BuilderState.watch_log]
