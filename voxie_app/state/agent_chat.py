"""`/agents/[id]/chat`: test an agent by text before calling it."""

from __future__ import annotations

import asyncio
import uuid
from typing import ClassVar

import reflex as rx
import sqlalchemy as sa

from voice_worker.runtime import CannotStart
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import calls as calls_svc
from voxie_app.services import variables as variables_svc
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import get_settings
from voxie_app.state import guard
from voxie_app.state.base import AppState
from voxie_app.state.chat import ChatState


def _fail_chat(call_id: uuid.UUID, reason: str) -> None:
    with session_scope() as session:
        calls_svc.end_call_record(
            session=session, call_session_id=call_id, status="failed", reason=reason
        )


class AgentChatState(ChatState, AppState):
    agent_id: str = ""
    agent_name: str = ""
    not_found: bool = False

    kind: ClassVar[str] = "agent"

    def _target(self) -> str:
        return self.agent_id

    async def _open(self) -> TextChat:
        """Open the chat, kept as a call of kind `chat` (recorded turn by turn), with the
        per-call variables of the page's query string (`?var.order_prefix=VX`)."""
        agent_id = uuid.UUID(self.agent_id)
        try:
            variables = variables_svc.from_query(dict(self.router.url.query_parameters))
        except InvalidInput as exc:  # shown in place of the chat
            raise CannotStart(f"{exc.field}: {exc.message}") from None
        call_id = await asyncio.to_thread(
            calls_svc.open_chat_record, agent_id=agent_id, variables=variables
        )
        try:
            return await TextChat.open(
                agent_id=agent_id, settings=get_settings(), call_session_id=call_id
            )
        except Exception as exc:  # the kept chat says why it never started
            await asyncio.to_thread(_fail_chat, call_id, str(exc) or type(exc).__name__)
            raise

    @rx.event
    @guard.viewer
    def on_load(self):
        """Viewer-safe: a viewer sees the agent's name and a notice; no chat opens."""
        raw = self._path_part(1)
        if raw != self.agent_id:  # another agent: a fresh conversation on screen
            self.messages, self.ended, self.sending = [], False, False
        self.agent_id, self.not_found, self.unavailable = raw, False, ""
        try:
            agent_id = uuid.UUID(raw)
            with session_scope() as session:
                agent = session.get(Agent, agent_id)
        except ValueError:
            agent = None
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        if agent is None:
            self.not_found, self.agent_name = True, ""
            return None
        self.agent_name = agent.name
        if not self._is_editor():
            return None
        if agent.status != "ready":
            self.unavailable = f"This agent is {agent.status}; it can chat once it is ready."
            return None
        return AgentChatState.open_chat
