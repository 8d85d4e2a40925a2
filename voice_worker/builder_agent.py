"""Voxie, the builder: interviews a business owner and creates their voice agent.

The same class serves the "Talk to Voxie" voice call and the builder page's
text chat. The model gathers requirements; code decides what it may not: which
tools the new agent gets, which existing agents it may transfer to, caps on
every field, and what the spec guard removes from the drafted text.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from livekit.agents import Agent, RunContext, function_tool, llm
from pydantic import Field
from sqlmodel import select

from voice_worker import prompts
from voice_worker.calldata import CallData
from voice_worker.providers import OPENAI_VOICES
from voice_worker.spec_agent import BoundedContextAgent, end_call
from voxie_app import prompts as shared_prompts
from voxie_app.db import session_scope
from voxie_app.models import Agent as AgentRow
from voxie_app.models import AgentSpec
from voxie_app.services import agent_creation, events
from voxie_app.services.spec_guard import Guard
from voxie_app.settings import Settings

VOXIE_SPEC = AgentSpec(
    name="Voxie",
    description="The builder: creates and changes voice agents.",
    instructions=shared_prompts.BUILDER_INSTRUCTIONS,
    greeting=(
        "Hi, I'm Voxie. I'll set up a voice agent for your business in a few questions. "
        "What's the name of your business, and what does it do?"
    ),
    tools=["end_call"],
)


def builder_llm_spec(settings: Settings) -> AgentSpec:
    """Voxie's own model settings: the configured model, a little creative."""
    return VOXIE_SPEC.model_copy(update={"llm_model": settings.openai_model, "temperature": 0.5})


Short = Annotated[str, Field(max_length=300)]
Long = Annotated[str, Field(max_length=1500)]


def _builder(context: RunContext[CallData]) -> dict:
    return context.userdata.extra.setdefault("builder", {"created": {}})


def _find_agents(names: list[str]) -> tuple[list[tuple[uuid.UUID, str]], list[str]]:
    """Existing ready agents with these names (case-insensitive); and the names not found."""
    wanted = {n.strip().lower(): n for n in names if n.strip()}
    if not wanted:
        return [], []
    with session_scope() as session:
        rows = session.exec(
            select(AgentRow.id, AgentRow.name).where(AgentRow.status == "ready")
        ).all()
    found = {name.lower(): (agent_id, name) for agent_id, name in rows}
    hits = [found[key] for key in wanted if key in found]
    return hits, [orig for key, orig in wanted.items() if key not in found]


@function_tool
async def create_agent(
    context: RunContext[CallData],
    business_name: Short,
    business_description: Long,
    agent_job: Long,
    callers: Long = "",
    tone: Short = "",
    greeting: Short = "",
    language: Annotated[str, Field(max_length=16, description="language code, e.g. en")] = "en",
    voice: Annotated[str, Field(max_length=20, description="alloy, coral, echo, ...")] = "",
    details_to_collect: Long = "",
    transfer_to_agents: Annotated[
        list[str], Field(max_length=5, description="names of existing agents to transfer to")
    ] = [],  # noqa: B006 - the schema needs a literal default
    when_to_transfer: Long = "",
    when_to_end: Long = "",
    never_do: Long = "",
) -> str:
    """Create the voice agent the user described, after they confirmed your summary."""
    data = context.userdata
    session_id = data.extra["session_id"]
    targets, unknown = await asyncio.to_thread(_find_agents, list(transfer_to_agents))
    requirements = {
        "business_name": business_name,
        "business_description": business_description,
        "agent_job": agent_job,
        "callers": callers,
        "tone": tone,
        "greeting": greeting,
        "details_to_collect": details_to_collect,
        "when_to_transfer": when_to_transfer,
        "when_to_end": when_to_end,
        "never_do": never_do,
    }
    tools = ["end_call"]
    if details_to_collect.strip():
        tools.append("record_caller_details")
    fixed: dict = {"tools": tools}
    if targets:
        # Conversation text goes straight into the spec here, so it passes the guard too.
        when, _ = Guard(data.settings).clean(when_to_transfer)
        tools.append("transfer_to_agent")
        fixed["transfer_targets"] = [
            {"agent_id": str(agent_id), "when": when[:300]} for agent_id, _ in targets
        ]
    code = language.strip().lower()
    if code and AgentSpec.model_fields["language"].default != code:
        try:
            AgentSpec.model_validate({"name": "x", "instructions": "x", "language": code})
            fixed["language"] = code
        except ValueError:
            pass
    if voice.strip().lower() in OPENAI_VOICES:
        fixed["voice"] = voice.strip().lower()
    requirements = {k: v.strip() for k, v in requirements.items() if v and v.strip()}
    agent = await asyncio.to_thread(
        agent_creation.submit,
        user_requirements=requirements,
        processed_spec=fixed,
        session_id=session_id,
    )
    agent = await agent_creation.process(agent_id=agent.id, settings=data.settings)
    if agent is None or agent.status != "ready":
        reason = agent.error if agent is not None else "it was deleted"
        return f"Creating the agent failed: {reason}. Apologise and offer to try again."
    _builder(context)["created"][str(agent.id)] = agent.name
    note = (
        f" I could not find these agents to transfer to: {', '.join(unknown)}." if unknown else ""
    )
    return (
        f"Created the agent '{agent.name}'.{note} Tell the user it is ready and ask if they "
        "want to be put through to it now to try it."
    )


@function_tool
async def update_agent(
    context: RunContext[CallData],
    agent_name: Short,
    change: Long,
) -> str:
    """Change an existing agent as the user asked, e.g. make it friendlier or greet differently."""
    data = context.userdata
    found, _ = await asyncio.to_thread(_find_agents, [agent_name])
    if not found:
        return f"There is no agent called '{agent_name}'. Ask the user which agent they mean."
    agent_id, name = found[0]
    agent, error = await agent_creation.revise(
        agent_id=agent_id,
        change=change,
        session_id=data.extra["session_id"],
        settings=data.settings,
    )
    if agent is None:
        return f"Updating '{name}' failed: {error}. Apologise and offer to try again."
    _builder(context)["created"][str(agent_id)] = agent.name
    return f"Updated '{agent.name}'. Tell the user what changed, briefly."


@function_tool
async def connect_to_agent(
    context: RunContext[CallData],
    agent_name: Short,
) -> Agent | str:
    """Put the user through to an agent you created or changed in this conversation."""
    data = context.userdata
    created = _builder(context)["created"]
    matches = [i for i, n in created.items() if n.lower() == agent_name.strip().lower()]
    if not matches:
        names = ", ".join(created.values()) or "none yet"
        return f"You can only connect to agents from this conversation ({names})."
    if data.agent_factory is None:
        return "Connecting is not available here. Tell the user to open the agent's page."
    agent_id = uuid.UUID(matches[0])
    events.publish(
        f"agent-create:{data.extra['session_id']}",
        "handoff",
        f"Connecting you to '{created[matches[0]]}'",
        {"agent_id": matches[0]},
    )
    return data.agent_factory(agent_id, None, False)


class VoxieBuilder(BoundedContextAgent):
    """The meta-agent that builds other agents."""

    spec = VOXIE_SPEC

    def __init__(self, *, llm: llm.LLM | None = None, tts: object | None = None) -> None:
        kwargs: dict = {}
        if llm is not None:
            kwargs["llm"] = llm
        if tts is not None:
            kwargs["tts"] = tts
        super().__init__(
            instructions=f"{shared_prompts.BUILDER_INSTRUCTIONS}\n\n{prompts.VOICE_STYLE}",
            tools=[create_agent, update_agent, connect_to_agent, end_call],
            id="voxie_builder",
            **kwargs,
        )

    async def on_enter(self) -> None:
        self.session.say(VOXIE_SPEC.greeting)
