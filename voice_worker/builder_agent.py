"""Voxie, the builder: interviews a business owner and creates their voice agent.

The same class serves the "Talk to Voxie" voice call and the builder page's
text chat. The model gathers requirements; code decides what it may not: which
tools the new agent gets, which existing agents it may transfer to, caps on
every field, and what the spec guard removes from the drafted text.

It may draft HTTP tools (`draft_tool`: a name, what the tool does, its
parameters) and attach them to the agent it creates. A draft has no URL or
headers, and `draft_tool` has no parameter for them: a draft needs setup by an
admin on /tools before any agent is offered it (see `services.tool_drafts`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from typing import Annotated, Literal

from livekit.agents import Agent, RunContext, function_tool, llm
from pydantic import BaseModel, Field

from voice_worker import prompts
from voice_worker.calldata import CallData
from voice_worker.providers import OPENAI_VOICES
from voice_worker.spec_agent import BoundedContextAgent, end_call
from voxie_app import prompts as shared_prompts
from voxie_app.db import session_scope
from voxie_app.models import MAX_TRANSFER_NUMBERS, AgentSpec, TransferNumber
from voxie_app.models import Agent as AgentRow
from voxie_app.realtime_catalog import REALTIME_SETTING, REALTIME_VOICES
from voxie_app.services import agent_creation, e164, events, tool_drafts
from voxie_app.services import agents as agents_svc
from voxie_app.services.errors import InvalidInput, ServiceError
from voxie_app.services.spec_guard import Guard
from voxie_app.settings import Settings, providers

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


log = logging.getLogger(__name__)

Short = Annotated[str, Field(max_length=300)]
Long = Annotated[str, Field(max_length=1500)]
# Tools one builder conversation may draft (each is a row an admin must complete).
MAX_DRAFTS = 5


def _builder(context: RunContext[CallData]) -> dict:
    state = context.userdata.extra.setdefault("builder", {"created": {}})
    state.setdefault("drafts", {})  # drafted tool name -> tool id, in this conversation
    return state


def _resolve(ref: str, among: set[uuid.UUID] | None = None) -> agents_svc.Resolution:
    with session_scope() as session:
        return agents_svc.resolve_agent(session=session, ref=ref, among=among)


def _ambiguous(ref: str, found: agents_svc.Resolution, tool: str) -> str:
    """The question the model must ask when a name fits several agents."""
    choices = "\n".join(
        prompts.AGENT_CHOICE.format(
            id=c.id,
            description=c.description or "no description",
            created=c.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            calls=c.calls,
        )
        for c in found.candidates
    )
    count = f"More than {len(found.candidates)}" if found.more else str(len(found.candidates))
    return prompts.AGENT_AMBIGUOUS.format(count=count, name=ref, tool=tool, choices=choices)


def _find_agents(
    refs: list[str],
) -> tuple[list[agents_svc.AgentChoice], list[str], list[tuple[str, agents_svc.Resolution]]]:
    """Ready agents named by id or unique name; the references matching nothing; and
    those matching several agents (with their candidates)."""
    hits: list[agents_svc.AgentChoice] = []
    unknown: list[str] = []
    ambiguous: list[tuple[str, agents_svc.Resolution]] = []
    for ref in dict.fromkeys(r.strip() for r in refs if r.strip()):
        found = _resolve(ref)
        if found.agent is not None:
            hits.append(found.agent)
        elif found.candidates:
            ambiguous.append((ref, found))
        else:
            unknown.append(ref)
    return hits, unknown, ambiguous


class PersonTransfer(BaseModel):
    """A person the new agent may hand a phone call to, as the user described them."""

    label: Annotated[str, Field(max_length=40, description="short name, e.g. billing")]
    number: Annotated[
        str, Field(max_length=32, description="with the country code, e.g. +14155550123")
    ]
    when: Short = ""
    mode: Literal["cold", "warm"] = "cold"


Transfers = Annotated[
    list[PersonTransfer],
    Field(
        max_length=MAX_TRANSFER_NUMBERS,
        description="people (phone numbers) phone calls may be transferred to; warm = brief "
        "them first, cold = hand over at once. Only numbers the user gave you.",
    ),
]
VoicemailPolicy = Annotated[
    Literal["", "hang_up", "leave_message"],
    Field(description="outbound calls answered by a machine; empty = not discussed"),
]


PipelineChoice = Annotated[
    Literal["", "cascade", "realtime"],
    Field(
        description="realtime: one OpenAI speech-to-speech model (lower latency, natural "
        "voice, higher per-minute cost); cascade: the standard pipeline; empty = not discussed"
    ),
]


def _pipeline_fields(pipeline: str, voice: str, settings: Settings) -> tuple[dict, list[str]]:
    """The spec fields for the pipeline the user chose, and what could not be set: a
    realtime agent needs the OpenAI key (it would be refused at save), and its voice is
    one of the Realtime API's (an unknown one keeps the default)."""
    if pipeline == "cascade":
        return {"pipeline": "cascade"}, []
    if pipeline != "realtime":
        return {}, []
    if not providers(settings).openai:
        return {}, [f"the realtime pipeline (it needs {REALTIME_SETTING}; kept the cascade)"]
    fields: dict = {"pipeline": "realtime"}
    if voice.strip().lower() in REALTIME_VOICES:
        fields["realtime_voice"] = voice.strip().lower()
    return fields, []


def _user_text(context: RunContext[CallData]) -> str:
    """Everything the user typed or said in this conversation (the numbers' source)."""
    return "\n".join(
        item.text_content or ""
        for item in context.session.history.items
        if item.type == "message" and item.role == "user"
    )


def _phone_fields(
    context: RunContext[CallData],
    people: list[PersonTransfer] | None,
    voicemail_policy: str,
    voicemail_message: str,
) -> tuple[dict, list[str]]:
    """The spec's phone fields from the tool's arguments, decided by code.

    A number is kept only when it is valid E.164 and the user wrote or said it
    in this conversation: a number the model made up, or read in text pasted in,
    is dropped and named in the reply. The `when` text and the voicemail message
    pass the spec guard, like every other conversation text that reaches a spec.
    `people` None leaves the list as it is, [] empties it, and a list whose every
    entry was dropped leaves it too (a typo never wipes the numbers already set).
    Returns the spec fields and one note per thing left out.
    """
    guard = Guard(context.userdata.settings)
    said = _user_text(context)
    fields: dict = {}
    notes: list[str] = []
    rows: list[dict] = []
    for person in people or []:
        try:
            number = e164.parse(person.number, field="number")
        except InvalidInput as exc:
            notes.append(f"{person.label or person.number}: {exc.message}")
            continue
        if not e164.mentioned(number, said):
            notes.append(prompts.TRANSFER_NUMBER_UNSAID.format(number=number))
            continue
        when, _ = guard.clean(person.when)
        row = {"label": person.label, "number": number, "when": when[:300], "mode": person.mode}
        try:
            TransferNumber.model_validate(row)
        except ValueError:
            notes.append(f"{person.label!r} is not a usable label (letters, digits, - _ .)")
            continue
        if all(r["label"].casefold() != row["label"].casefold() for r in rows):
            rows.append(row)
    if people is not None and (rows or not people):
        fields["transfer_numbers"] = rows
    if voicemail_policy == "hang_up":
        fields["voicemail_policy"] = "hang_up"
    elif voicemail_policy == "leave_message":
        message, _ = guard.clean(voicemail_message)
        if message.strip():
            fields["voicemail_policy"] = "leave_message"
            fields["voicemail_message"] = message.strip()[:1000]
        else:
            notes.append(prompts.VOICEMAIL_MESSAGE_MISSING)
    return fields, notes


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
        list[Short],
        Field(
            max_length=5,
            description="existing agents to transfer to: their ids, or names no other agent has",
        ),
    ] = [],  # noqa: B006 - the schema needs a literal default
    when_to_transfer: Long = "",
    when_to_end: Long = "",
    never_do: Long = "",
    custom_tools: Annotated[
        list[Short],
        Field(max_length=MAX_DRAFTS, description="names of tools you drafted with draft_tool"),
    ] = [],  # noqa: B006 - the schema needs a literal default
    transfer_to_people: Transfers = [],  # noqa: B006 - the schema needs a literal default
    voicemail_policy: VoicemailPolicy = "",
    voicemail_message: Long = "",
    pipeline: PipelineChoice = "",
) -> str:
    """Create the voice agent the user described, after they confirmed your summary."""
    data = context.userdata
    session_id = data.extra["session_id"]
    _keep_declared_arguments(context, create_agent)
    drafts = _builder(context)["drafts"]
    # Only tools drafted in this conversation: a name never picks any other stored tool.
    wanted = dict.fromkeys(tool_drafts.draft_name(n) for n in custom_tools)
    tool_ids = [drafts[n] for n in wanted if drafts.get(n)]
    unknown_tools = [n for n in wanted if not drafts.get(n)]
    targets, unknown, ambiguous = await asyncio.to_thread(_find_agents, list(transfer_to_agents))
    if ambiguous:  # nothing is created until the user said which agents they meant
        return "\n\n".join(_ambiguous(ref, found, "create_agent") for ref, found in ambiguous)
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
    phone, phone_notes = _phone_fields(
        context, list(transfer_to_people), voicemail_policy, voicemail_message
    )
    fixed.update(phone)
    chosen, pipeline_notes = _pipeline_fields(pipeline, voice, data.settings)
    fixed.update(chosen)
    phone_notes += pipeline_notes
    if tool_ids:
        fixed["custom_tools"] = tool_ids
    if targets:
        # Conversation text goes straight into the spec here, so it passes the guard too.
        when, _ = Guard(data.settings).clean(when_to_transfer)
        tools.append("transfer_to_agent")
        fixed["transfer_targets"] = [
            {"agent_id": str(target.id), "when": when[:300]} for target in targets
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
    if unknown_tools:
        names = ", ".join(unknown_tools)
        note += f" These were not drafted with draft_tool, so not attached: {names}."
    if tool_ids:
        note += " " + prompts.TOOL_SETUP_SENTENCE
    if phone_notes:
        note += " Not set: " + "; ".join(phone_notes) + "."
    return (
        f"Created the agent '{agent.name}'.{note} Tell the user it is ready and ask if they "
        "want to be put through to it now to try it."
    )


def _keep_declared_arguments(context: RunContext[CallData], tool: object) -> list[str]:
    """Drop from the recorded call the arguments `tool` does not declare (the framework
    ignores them already): an address or header a model tried to pass is then in no
    transcript either. Returns the dropped names (names only, never values)."""
    declared = set(inspect.signature(tool).parameters) - {"context"}  # type: ignore[arg-type]
    call = context.function_call
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        return []
    if not isinstance(args, dict):
        return []
    extra = sorted(k for k in args if k not in declared)
    if extra:
        call.arguments = json.dumps({k: v for k, v in args.items() if k in declared})
    return [k[:40] for k in extra[:10]]


def _save_draft(
    settings: Settings, name: str, description: str, parameters: list[tool_drafts.DraftParam]
) -> tuple[tool_drafts.Drafted, list[str]]:
    schema = tool_drafts.schema_from_params(parameters)
    text, schema, removed = tool_drafts.guard_draft(settings, description, schema)
    with session_scope() as session:
        drafted = tool_drafts.create_draft(
            session=session, name=name, description=text, parameters=schema
        )
        session.expunge(drafted.tool)
    return drafted, removed


@function_tool
async def draft_tool(
    context: RunContext[CallData],
    name: Annotated[str, Field(max_length=64, description="snake_case, e.g. check_slots")],
    description: Annotated[
        str, Field(max_length=1000, description="what it does, for the agent to read")
    ],
    parameters: Annotated[
        list[tool_drafts.DraftParam],
        Field(max_length=tool_drafts.MAX_PARAMS, description="details it needs from the caller"),
    ] = [],  # noqa: B006 - the schema needs a literal default
) -> str:
    """Draft a tool the new agent uses to look something up or do something in the
    business's systems (e.g. check free slots, look up an order). Describe only what it
    does and what it needs: an admin enters its address on the Tools page."""
    data = context.userdata
    ignored = _keep_declared_arguments(context, draft_tool)
    drafts = _builder(context)["drafts"]
    key = tool_drafts.draft_name(name)
    new = key not in drafts
    if new and len(drafts) >= MAX_DRAFTS:
        return prompts.TOOL_DRAFT_LIMIT.format(count=len(drafts))
    if new:  # reserved before the first await: parallel calls count against the cap too
        drafts[key] = None
    try:
        drafted, removed = await asyncio.to_thread(
            _save_draft, data.settings, name, description, list(parameters)
        )
    except ServiceError as exc:
        if new:
            drafts.pop(key, None)
        field = getattr(exc, "field", "")
        reason = f"{field}: {exc.message}" if field else exc.message
        return prompts.TOOL_DRAFT_FAILED.format(reason=reason)
    tool = drafted.tool
    if new and tool.name != key:
        drafts.pop(key, None)
    drafts[tool.name] = str(tool.id)
    events.publish(
        agent_creation.stream_name(data.extra["session_id"]),
        "tool_drafted",
        f"Tool '{tool.name}' drafted: it needs setup on /tools",
        {
            "tool_id": str(tool.id),
            "name": tool.name,
            "reused": drafted.reused,
            "ignored_arguments": ignored,
            "guarded": removed[:20],
        },
        level="warning" if ignored or removed else "info",
    )
    if ignored:
        log.warning("draft_tool ignored undeclared arguments: %s", ", ".join(ignored))
    return prompts.TOOL_DRAFTED.format(
        name=tool.name, reused=prompts.TOOL_DRAFT_REUSED if drafted.reused else ""
    )


@function_tool
async def update_agent(
    context: RunContext[CallData],
    agent_name: Short,
    change: Long,
    agent_id: Annotated[
        str, Field(max_length=40, description="the agent's id, when several share the name")
    ] = "",
    transfer_to_people: Annotated[
        list[PersonTransfer] | None,
        Field(
            max_length=MAX_TRANSFER_NUMBERS,
            description="the full new list of people to transfer phone calls to (replaces "
            "the old list; omit to keep it). Only numbers the user gave you.",
        ),
    ] = None,
    voicemail_policy: VoicemailPolicy = "",
    voicemail_message: Long = "",
    pipeline: PipelineChoice = "",
) -> str:
    """Change an existing agent as the user asked, e.g. make it friendlier or greet differently,
    transfer billing calls to a person, leave a voicemail message, or switch its pipeline."""
    data = context.userdata
    ref = agent_id.strip() or agent_name
    found = await asyncio.to_thread(_resolve, ref)
    if found.agent is None:
        if found.candidates:
            return _ambiguous(ref, found, "update_agent")
        return prompts.AGENT_UNKNOWN.format(name=ref)
    target, name = found.agent.id, found.agent.name
    agent, error = await agent_creation.revise(
        agent_id=target,
        change=change,
        session_id=data.extra["session_id"],
        settings=data.settings,
    )
    if agent is None:
        return f"Updating '{name}' failed: {error}. Apologise and offer to try again."
    people = None if transfer_to_people is None else list(transfer_to_people)
    phone, notes = _phone_fields(context, people, voicemail_policy, voicemail_message)
    chosen, pipeline_notes = _pipeline_fields(pipeline, "", data.settings)
    phone.update(chosen)
    notes += pipeline_notes
    if phone:
        try:
            agent = await asyncio.to_thread(_save_phone_fields, target, phone)
        except agents_svc.SpecInvalid as exc:
            notes.append(f"the phone settings were refused ({exc})")
        except ServiceError as exc:
            notes.append(exc.message)
    _builder(context)["created"][str(target)] = agent.name
    note = " Not set: " + "; ".join(notes) + "." if notes else ""
    return f"Updated '{agent.name}'.{note} Tell the user what changed, briefly."


def _save_phone_fields(agent_id: uuid.UUID, fields: dict) -> AgentRow:
    """Merge the phone fields into the stored spec (under the agent's lock)."""
    with session_scope() as session:
        agent = agents_svc.update_agent(session=session, agent_id=agent_id, spec_changes=fields)
        session.expunge(agent)
        return agent


@function_tool
async def connect_to_agent(
    context: RunContext[CallData],
    agent_name: Short,
    agent_id: Annotated[
        str, Field(max_length=40, description="the agent's id, when several share the name")
    ] = "",
) -> Agent | str:
    """Put the user through to an agent you created or changed in this conversation."""
    data = context.userdata
    created = _builder(context)["created"]
    ref = agent_id.strip() or agent_name
    found = (
        await asyncio.to_thread(_resolve, ref, {uuid.UUID(i) for i in created})
        if created
        else agents_svc.Resolution()
    )
    if found.agent is None:
        if found.candidates:
            return _ambiguous(ref, found, "connect_to_agent")
        names = ", ".join(created.values()) or "none yet"
        return f"You can only connect to agents from this conversation ({names})."
    if data.agent_factory is None:
        return "Connecting is not available here. Tell the user to open the agent's page."
    target = found.agent.id
    events.publish(
        f"agent-create:{data.extra['session_id']}",
        "handoff",
        f"Connecting you to '{found.agent.name}'",
        {"agent_id": str(target)},
    )
    return data.agent_factory(target, None, False)


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
            tools=[draft_tool, create_agent, update_agent, connect_to_agent, end_call],
            id="voxie_builder",
            **kwargs,
        )

    async def on_enter(self) -> None:
        self.session.say(VOXIE_SPEC.greeting)
