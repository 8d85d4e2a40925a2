"""A stored agent in a text-only `AgentSession` (no room, no audio).

The web app's "test before you call" chat and the agent tests use this: the
same `SpecAgent`, tools and rules as a phone call, with text in and text out.
With a `call_session_id` the conversation is recorded like a call.

A realtime agent (`pipeline: realtime`) chats on its spec's text LLM (`llm_model`),
not on its Realtime model in text mode: the chat is a test of what the agent says and
does (instructions, tools, transfers), which the text LLM runs the same; it costs the
text model's price (gpt-4o-mini's $0.15/$0.60 per 1M tokens against gpt-realtime's
$4/$16 for text), needs no websocket per chat, and works on any OpenAI-compatible
server (Ollama) where no Realtime API exists. The voice itself is heard only on a call.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field, replace

from livekit.agents import Agent, AgentSession, llm
from livekit.agents.llm import ChatMessage

from voice_worker.builder_agent import VOXIE_SPEC, VoxieBuilder, builder_llm_spec
from voice_worker.calldata import CallData
from voice_worker.providers import ProviderMissing, build_llm, session_conn_options
from voice_worker.recorder import CallRecorder, close_outcome
from voice_worker.runtime import (
    CannotStart,
    agent_builder,
    call_data,
    load_call_context,
    load_spec,
)
from voxie_app.services import variables as variables_svc
from voxie_app.settings import Settings


@dataclass
class ChatReply:
    """What the agent did for one user message."""

    messages: list[str] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    agent_name: str = ""
    ended: bool = False


class TextChat:
    """One running text conversation with a stored agent."""

    def __init__(
        self, session: AgentSession, data: CallData, recorder: CallRecorder | None
    ) -> None:
        self.session = session
        self.data = data
        self.recorder = recorder
        self.greeting: list[str] = []
        self._closed = asyncio.Event()
        session.on("close", lambda _ev: self._closed.set())

    @classmethod
    async def open(
        cls,
        *,
        agent_id: uuid.UUID,
        settings: Settings,
        call_session_id: uuid.UUID | None = None,
        llm_override: llm.LLM | None = None,
        variables: dict[str, str] | None = None,
    ) -> TextChat:
        """Start a stored agent and wait for its greeting. Raises `CannotStart` with a reason.

        `{{variables}}` render from the call row's (`call_session_id`, see
        `calls.open_chat_record`), or from `variables` for a chat kept nowhere."""
        spec = await asyncio.to_thread(load_spec, agent_id)
        context = await asyncio.to_thread(load_call_context, call_session_id, settings)
        if variables is not None:
            context = replace(context, custom=variables_svc.validate(variables))
        build = agent_builder(settings, voice=False, llm_override=llm_override, context=context)
        agent = await asyncio.to_thread(build, spec, agent_id, None, False)
        data = call_data(
            settings=settings,
            spec=spec,
            agent_id=agent_id,
            call_session_id=call_session_id,
            build=build,
        )
        return await cls.start(agent, data, settings)

    @classmethod
    async def open_builder(
        cls,
        *,
        settings: Settings,
        session_id: str,
        llm_override: llm.LLM | None = None,
        agent_llm_override: llm.LLM | None = None,
    ) -> TextChat:
        """Start Voxie, the builder; agents it creates are built with `agent_llm_override`
        (tests) or from settings. Raises `CannotStart` when no LLM is configured."""
        try:
            model = llm_override or build_llm(builder_llm_spec(settings), settings)
        except ProviderMissing as exc:
            raise CannotStart(exc.message) from exc
        build = agent_builder(settings, voice=False, llm_override=agent_llm_override)
        data = call_data(
            settings=settings, spec=VOXIE_SPEC, agent_id=None, call_session_id=None, build=build
        )
        data.extra["session_id"] = session_id
        return await cls.start(VoxieBuilder(llm=model), data, settings)

    @classmethod
    async def start(
        cls,
        agent: Agent,
        data: CallData,
        settings: Settings,
    ) -> TextChat:
        session: AgentSession = AgentSession(
            userdata=data, conn_options=session_conn_options(settings)
        )
        recorder = None
        if data.call_session_id is not None:
            recorder = CallRecorder(call_session_id=data.call_session_id, settings=settings)
            recorder.attach(session)
        chat = cls(session, data, recorder)
        await session.start(agent)
        await session.wait_for_idle()
        chat.greeting = [
            m.text_content or ""
            for m in session.history.items
            if isinstance(m, ChatMessage) and m.role == "assistant"
        ]
        return chat

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def agent_name(self) -> str:
        agent = self.session.current_agent
        spec = getattr(agent, "spec", None)
        return spec.name if spec is not None else self.data.spec.name

    async def send(self, text: str) -> ChatReply:
        """Send one user message; returns the agent's replies and tool calls."""
        if self.closed:
            return ChatReply(agent_name=self.agent_name, ended=True)
        result = await self.session.run(user_input=text)
        reply = ChatReply()
        for event in result.events:
            if event.type == "message" and event.item.role == "assistant":
                reply.messages.append(event.item.text_content or "")
            elif event.type == "function_call":
                reply.tool_calls.append(event.item.name)
        if self.data.end_reason is not None:
            await asyncio.wait_for(self._closed.wait(), 10)
        reply.agent_name = self.agent_name
        reply.ended = self.closed
        return reply

    async def aclose(self) -> None:
        """Close the session and, for a recorded chat, mark the call ended."""
        if not self.closed:
            await self.session.aclose()
        if self.recorder is not None:
            status, reason = close_outcome(
                self.recorder.close_event, self.data.end_reason, self.data.end_status
            )
            await self.recorder.finish(status=status, reason=reason)
            self.recorder = None
