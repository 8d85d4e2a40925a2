"""The one agent class built from a stored `AgentSpec`.

The same class runs a voice call in the worker and a text chat in the web app
(an `AgentSession` with no room). Which tools it has is decided per spec, and
the rules that matter (transfer targets, what is saved) are enforced in code.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Annotated

from livekit.agents import Agent, ModelSettings, RunContext, ToolResult, function_tool, llm
from livekit.agents.voice.io import TimedString
from pydantic import Field

from voice_worker import http_tools, human_transfer, mcp_tools, prompts, realtime
from voice_worker.backchannel import BackchannelAware
from voice_worker.calldata import CallData, TargetInfo
from voxie_app.models import PHONE_ONLY_TOOLS, AgentSpec
from voxie_app.services import knowledge as knowledge_svc
from voxie_app.services import variables as variables_svc

if TYPE_CHECKING:
    from voice_worker.filler import TurnFiller

log = logging.getLogger(__name__)


def tool_names(spec: AgentSpec, *, knowledge: bool = False, phone_call: bool = False) -> list[str]:
    """The tools an agent gets: its spec's, with `search_knowledge_base` exactly when
    it has searchable documents (`knowledge`), whether or not the spec lists it, and
    the phone-only ones (`send_dtmf`) only on a phone call (`phone_call`)."""
    names = [
        t
        for t in spec.tools
        if t != "search_knowledge_base" and (phone_call or t not in PHONE_ONLY_TOOLS)
    ]
    return [*names, "search_knowledge_base"] if knowledge else names


def build_instructions(
    spec: AgentSpec,
    targets: list[TargetInfo],
    *,
    knowledge: bool = False,
    variables: dict[str, str] | None = None,
    phone_call: bool = False,
) -> str:
    """The system prompt: the spec's instructions (with the call's `{{variables}}`
    rendered) plus how to use the enabled tools (on a phone call, the people it
    may transfer to)."""
    instructions = variables_svc.render(spec.instructions, variables or {})
    parts = [instructions.strip(), prompts.VOICE_STYLE]
    if spec.language != "en":
        parts.append(f"Speak in the language with code '{spec.language}'.")
    parts.extend(
        prompts.TOOLS_GUIDE[t]
        for t in tool_names(spec, knowledge=knowledge, phone_call=phone_call)
        if t in prompts.TOOLS_GUIDE
    )
    if targets and "transfer_to_agent" in spec.tools:
        lines = [f"- {t.name} (id {t.agent_id}): {t.when or 'when relevant'}" for t in targets]
        parts.append("Colleagues you can transfer to:\n" + "\n".join(lines))
    if human_transfer.offered(spec, phone=phone_call):
        parts.append(human_transfer.instructions_for(spec))
    return "\n\n".join(parts)


@function_tool
async def end_call(
    context: RunContext[CallData],
    reason: Annotated[str, Field(description="Why the call ends, in a few words")] = "",
) -> str:
    """End the call when the caller is done or says goodbye. Say goodbye after calling it."""
    data = context.userdata
    data.end_reason = f"agent_ended: {reason}"[:200] if reason else "agent_ended"
    context.speech_handle.add_done_callback(lambda _: context.session.shutdown())
    return prompts.GOODBYE


@function_tool
async def record_caller_details(
    context: RunContext[CallData],
    name: Annotated[str, Field(description="The caller's name", max_length=200)] = "",
    phone: Annotated[str, Field(description="The caller's phone number", max_length=50)] = "",
    email: Annotated[str, Field(description="The caller's email address", max_length=254)] = "",
    notes: Annotated[str, Field(description="Anything else worth keeping", max_length=2000)] = "",
) -> str:
    """Save the caller's name, phone number, email or notes on this call."""
    if not any((name, phone, email, notes)):
        return "Nothing to save: ask the caller for the details first."
    await context.userdata.save_caller_details(name=name, phone=phone, email=email, notes=notes)
    return "Saved."


@function_tool
async def transfer_to_agent(
    context: RunContext[CallData],
    agent_id: Annotated[str, Field(description="The id of the colleague to transfer to")],
    reason: Annotated[str, Field(description="Why the caller needs them")] = "",
) -> Agent | str:
    """Hand the live call over to a colleague listed in your instructions.

    Returns the next agent alone (no tool output), so the current agent says
    nothing more and the colleague greets the caller on entering.
    """
    data = context.userdata
    current = context.session.current_agent
    allowed = {t.agent_id: t for t in getattr(current, "targets", [])}
    try:
        wanted = uuid.UUID(agent_id.strip())
    except ValueError:
        wanted = None
    if wanted is None or wanted not in allowed:
        log.warning("refused transfer to %r (not a listed target)", agent_id)
        return "That colleague is not available. Keep helping the caller yourself."
    if data.agent_factory is None:
        return "Transfers are not available right now. Keep helping the caller yourself."
    next_agent = data.agent_factory(wanted, current.chat_ctx.copy(exclude_instructions=True))
    data.transfers.append(str(wanted))
    return next_agent


@function_tool
async def search_knowledge_base(
    context: RunContext[CallData],
    query: Annotated[str, Field(description="What to look up, in a few words")],
) -> str:
    """Search the business's own documents (prices, opening hours, policies, products,
    services) for what the caller asked. Use it before answering such questions."""
    data = context.userdata
    agent_id = getattr(context.session.current_agent, "agent_id", None) or data.agent_id
    if agent_id is None or not query.strip():
        return prompts.KNOWLEDGE_EMPTY
    if data.knowledge is None:
        data.knowledge = knowledge_svc.KnowledgeRetriever(data.settings)
    try:
        passages = await data.knowledge.search(agent_id, query[: knowledge_svc.MAX_QUERY_CHARS])
    except Exception:
        log.exception("knowledge base search failed for agent %s", agent_id)
        return prompts.KNOWLEDGE_UNAVAILABLE
    return knowledge_svc.format_for_model(
        passages, note=prompts.KNOWLEDGE_NOTE, empty=prompts.KNOWLEDGE_EMPTY
    )


# Seconds between two keys `send_dtmf` presses (livekit's own DTMF tool waits 0.3 s):
# phone menus miss keys sent back to back.
DTMF_KEY_GAP_SECONDS = 0.3
DTMF_KEYS = "0123456789*#"


def dtmf_code(key: str) -> int:
    """The DTMF event code of a keypad key (RFC 4733: 0-9, * is 10, # is 11)."""
    if key.isdigit():
        return int(key)
    return {"*": 10, "#": 11}[key]


@function_tool
async def send_dtmf(
    context: RunContext[CallData],
    keys: Annotated[
        str,
        Field(
            description="The keys to press, in order: digits 0-9, * and #, e.g. '1' or '4521#'",
            pattern=r"^[0-9*#]{1,32}$",
        ),
    ],
) -> ToolResult | str:
    """Press keys on the phone keypad (DTMF), to choose an option in an automated
    phone menu or key in a number it asks for."""
    room = context.userdata.room
    if room is None:
        return prompts.DTMF_NO_LINE
    pressed = [k for k in keys if k in DTMF_KEYS]
    try:
        for i, key in enumerate(pressed):
            if i:
                await asyncio.sleep(DTMF_KEY_GAP_SECONDS)
            await room.local_participant.publish_dtmf(code=dtmf_code(key), digit=key)
    except Exception as exc:  # noqa: BLE001 - the line's failure is the model's to handle
        log.warning("send_dtmf failed: %s", exc)
        return prompts.DTMF_FAILED.format(error=type(exc).__name__)
    # No reply: the menu speaks next, and the agent talking over it would be missed.
    return ToolResult(prompts.DTMF_SENT.format(keys=" ".join(pressed)), reply_required=False)


TOOLS = {
    "send_dtmf": send_dtmf,
    "end_call": end_call,
    "record_caller_details": record_caller_details,
    "transfer_to_agent": transfer_to_agent,
    "search_knowledge_base": search_knowledge_base,
}


class BoundedContextAgent(BackchannelAware):
    """Sends the LLM only the latest `max_context_items` items (plus the instructions).

    (It is `BackchannelAware`, like every Voxie agent: "mhm" does not stop it.)

    The whole conversation stays in the session (and the transcript); only the
    request is bounded, so a long call or chat keeps a steady per-turn cost
    instead of re-sending, and re-serialising, an ever longer history. On a voice
    call its nodes also carry the turn's filler (`voice_worker/filler.py`).
    """

    max_context_items: int = 40

    def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ):  # the framework's hook; same return type as Agent.default.llm_node
        bounded = chat_ctx.copy().truncate(max_items=self.max_context_items)
        stream = Agent.default.llm_node(self, bounded, tools, model_settings)
        filler = self._filler()  # on a voice call the filler may go first (filler.py)
        return stream if filler is None else filler.wrap_llm(stream)

    def transcription_node(
        self, text: AsyncIterable[str | TimedString], model_settings: ModelSettings
    ):  # the framework's hook; the filler's own words are not transcribed
        filler = self._filler()
        if filler is None:
            return Agent.default.transcription_node(self, text, model_settings)
        return filler.transcribe(text)

    def _filler(self) -> TurnFiller | None:
        """The voice call's filler rule (None in a text chat)."""
        try:
            return getattr(self.session.userdata, "filler", None)
        except (RuntimeError, ValueError):
            return None


class SpecAgent(BoundedContextAgent):
    """A voice agent defined by a stored spec: instructions, greeting, voice, tools."""

    def __init__(
        self,
        spec: AgentSpec,
        *,
        agent_id: uuid.UUID | None = None,
        targets: list[TargetInfo] | None = None,
        llm: llm.LLM | None = None,
        tts: object | None = None,
        chat_ctx: llm.ChatContext | None = None,
        handed_over: bool = False,
        knowledge: bool = False,
        max_context_items: int | None = None,
        custom_tools: list[http_tools.HttpTool] | None = None,
        mcp_servers: list[mcp_tools.McpServerConfig] | None = None,
        variables: dict[str, str] | None = None,
        phone_call: bool = False,
    ) -> None:
        """`custom_tools` / `mcp_servers`: the spec's ready HTTP tools and MCP servers,
        loaded by the caller (the runtime's builder); None loads them here (a database
        read each). An MCP server connects when the agent starts (`VoxieMcpToolset`).
        `variables`: the call's values for `{{name}}` in instructions, greeting and
        HTTP tool URLs. `phone_call`: the call is on the telephone (phone-only tools:
        `send_dtmf`, and `transfer_to_human` when the spec lists people to transfer to)."""
        self.spec = spec
        self.variables = variables or {}
        self.agent_id = agent_id
        if max_context_items is not None:
            self.max_context_items = max_context_items
        self.targets = targets or []
        self.handed_over = handed_over
        self.knowledge = knowledge
        self.phone_call = phone_call
        tools = [
            TOOLS[name]
            for name in tool_names(spec, knowledge=knowledge, phone_call=phone_call)
            if name in TOOLS
        ]
        if "transfer_to_agent" in spec.tools and not self.targets:
            tools = [t for t in tools if t is not transfer_to_agent]
        if human_transfer.offered(spec, phone=phone_call):
            tools.append(human_transfer.transfer_to_human)
        if custom_tools is None:
            custom_tools = http_tools.load(spec.custom_tools)
        self.custom_tools = custom_tools
        tools = [*tools, *(http_tools.function_tool_for(t) for t in custom_tools)]
        if mcp_servers is None:
            mcp_servers = mcp_tools.load(spec.custom_tools)
        taken = {t.info.name for t in tools}
        self.mcp_toolsets = [
            mcp_tools.VoxieMcpToolset(c, taken=taken, call_session_id=self._call_session_id)
            for c in mcp_servers
        ]
        kwargs: dict = {}
        if llm is not None:
            kwargs["llm"] = llm
        if tts is not None:
            kwargs["tts"] = tts
        if chat_ctx is not None:
            kwargs["chat_ctx"] = chat_ctx
        endpointing = {
            k: v
            for k, v in (
                ("min_delay", spec.min_endpointing_delay),
                ("max_delay", spec.max_endpointing_delay),
            )
            if v is not None
        }
        if endpointing:
            kwargs["turn_handling"] = {"endpointing": endpointing}
        super().__init__(
            instructions=build_instructions(
                spec,
                self.targets,
                knowledge=knowledge,
                variables=self.variables,
                phone_call=phone_call,
            ),
            tools=[*tools, *self.mcp_toolsets],
            id=f"agent_{agent_id.hex[:8]}" if agent_id else None,
            **kwargs,
        )

    def _call_session_id(self) -> uuid.UUID | None:
        """The running call's id (for events about this agent's MCP servers)."""
        try:
            data = self.session.userdata
        except (RuntimeError, ValueError):
            return None
        return getattr(data, "call_session_id", None)

    async def on_enter(self) -> None:
        if self.handed_over:
            self.session.generate_reply(
                instructions=prompts.HANDOFF_INTRO.format(name=self.spec.name)
            )
        elif greeting := variables_svc.render(self.spec.greeting, self.variables).strip():
            realtime.speak(self.session, greeting)  # a realtime model is asked to say it
        else:
            self.session.generate_reply()
