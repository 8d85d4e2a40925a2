"""Build a running agent from stored data: used by the worker and the web app's chat.

`load_call_plan` reads the agent (and checks it can run) and `make_agent`
builds a `SpecAgent` with its own LLM (model and temperature are per spec, so a
transfer switches them too) and, in voice mode, its own TTS voice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from livekit.agents import Agent, llm

from voice_worker import http_tools, mcp_tools, realtime
from voice_worker.answer import OutboundJob, parse_outbound
from voice_worker.calldata import CallData, load_targets
from voice_worker.providers import ProviderMissing, build_llm, build_tts
from voice_worker.spec_agent import SpecAgent
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import AgentSpec, CallSession
from voxie_app.services import agents as agents_svc
from voxie_app.services import knowledge
from voxie_app.services import variables as variables_svc
from voxie_app.services.errors import ServiceError
from voxie_app.settings import Settings


class CannotStart(Exception):
    """The call cannot start; `reason` is stored on the call row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class JobMetadata:
    # None only for an inbound phone call until the worker has written its row.
    call_session_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    builder_session_id: str | None = None  # set for a call with Voxie, the builder
    outbound: OutboundJob | None = None  # set for an outbound phone call (wait for answer)
    # Set for an inbound phone call: LiveKit SIP's dispatch rule for that number
    # dispatched the job (no `call/start` ran, so there is no call row yet).
    phone_number_id: uuid.UUID | None = None


def _optional_uuid(value: object) -> uuid.UUID | None:
    return None if value in (None, "") else uuid.UUID(str(value))


def parse_metadata(raw: str | None) -> JobMetadata:
    """The dispatch metadata `{call_session_id, agent_id}` (or a builder call's
    `{call_session_id, builder: true, session_id}`; an outbound phone call's adds
    `outbound: {participant_identity, ringing_timeout_s}`, or an inbound phone call's
    `{phone_number_id, agent_id}` from a SIP dispatch rule); anything else is refused."""
    try:
        data = json.loads(raw or "")
        if "call_session_id" not in data and "phone_number_id" in data:
            return JobMetadata(
                call_session_id=None,
                agent_id=_optional_uuid(data.get("agent_id")),
                phone_number_id=uuid.UUID(str(data["phone_number_id"])),
            )
        call_id = uuid.UUID(str(data["call_session_id"]))
        if data.get("builder") is True:
            session_id = str(data["session_id"])
            if not session_id or len(session_id) > 100:
                raise ValueError("session_id")
            return JobMetadata(call_id, None, session_id)
        return JobMetadata(
            call_id, uuid.UUID(str(data["agent_id"])), outbound=parse_outbound(data.get("outbound"))
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CannotStart(f"bad job metadata: {exc.__class__.__name__}") from exc


def load_spec(agent_id: uuid.UUID) -> AgentSpec:
    try:
        with session_scope() as session:
            return agents_svc.get_spec(session=session, agent_id=agent_id)
    except ServiceError as exc:
        raise CannotStart(f"agent {agent_id}: {exc.message}") from exc
    except ValueError as exc:  # a stored spec that no longer validates
        raise CannotStart(f"agent {agent_id} has an invalid spec: {exc}") from exc


def call_kind(call_session_id: uuid.UUID | None) -> str | None:
    """The call row's kind ("web", "phone", "chat"), None without a row (one read)."""
    if call_session_id is None:
        return None
    with session_scope() as session:
        call = session.get(CallSession, call_session_id)
        return call.kind if call is not None else None


def load_call_context(
    call_session_id: uuid.UUID | None, settings: Settings
) -> variables_svc.CallContext:
    """What the call's row says for rendering `{{variables}}`: the custom values passed at
    its start and the caller's name and number when known (blocking: one read). The
    time zone is the app's (`VOXIE_TIMEZONE`): an agent's spec has none of its own."""
    if call_session_id is None:
        return variables_svc.CallContext(tz=settings.timezone)
    with session_scope() as session:
        call = session.get(CallSession, call_session_id)
        if call is None:
            return variables_svc.CallContext(tz=settings.timezone)
        return variables_svc.CallContext(
            custom=dict(call.variables or {}),
            caller_name=call.customer_name or "",
            caller_number=call.customer_phone or "",
            tz=settings.timezone,
        )


AgentBuilder = Callable[[AgentSpec, uuid.UUID | None, llm.ChatContext | None, bool], Agent]


def agent_builder(
    settings: Settings,
    *,
    voice: bool,
    llm_override: llm.LLM | None = None,
    context: variables_svc.CallContext | None = None,
    phone_call: bool = False,
) -> AgentBuilder:
    """A function that builds `SpecAgent`s with providers from settings (or an LLM given),
    rendering each agent's `{{variables}}` from the call's `context` (built-ins only when
    None) at the moment it is built. `phone_call`: the call is on the telephone, so the
    spec's phone-only tools (`send_dtmf`, `transfer_to_human`) are offered."""
    context = context or variables_svc.CallContext(tz=settings.timezone)

    def build(
        spec: AgentSpec,
        agent_id: uuid.UUID | None,
        chat_ctx: llm.ChatContext | None,
        handed_over: bool,
    ) -> Agent:
        try:
            if voice and spec.pipeline == "realtime" and llm_override is None:
                # speech-to-speech: the Realtime model hears and speaks (no STT/TTS)
                model: llm.LLM | llm.RealtimeModel = realtime.build_realtime(spec, settings)
                tts = None
            else:  # a cascade call, or a text chat (always the spec's text LLM)
                model = llm_override or build_llm(spec, settings)
                tts = build_tts(spec, settings) if voice else None
        except ProviderMissing as exc:
            raise CannotStart(exc.message) from exc
        return SpecAgent(
            spec,
            agent_id=agent_id,
            targets=load_targets(spec),
            llm=model,
            tts=tts,
            chat_ctx=chat_ctx,
            handed_over=handed_over,
            max_context_items=settings.max_context_items,
            # the knowledge-base tool is on while the agent has a ready document
            knowledge=knowledge.has_ready_documents(agent_id),
            custom_tools=http_tools.load(spec.custom_tools),
            variables=context.values(agent_name=spec.name, now=utcnow()),
            mcp_servers=mcp_tools.load(spec.custom_tools),
            phone_call=phone_call,
        )

    return build


def call_data(
    *,
    settings: Settings,
    spec: AgentSpec,
    agent_id: uuid.UUID | None,
    call_session_id: uuid.UUID | None,
    build: AgentBuilder,
) -> CallData:
    """Userdata for a session, with transfers building the next agent from the database."""
    data = CallData(
        settings=settings, spec=spec, agent_id=agent_id, call_session_id=call_session_id
    )

    def factory(
        target_id: uuid.UUID, chat_ctx: llm.ChatContext | None, handed_over: bool = True
    ) -> Agent:
        target_spec = load_spec(target_id)
        data.spec, data.agent_id = target_spec, target_id
        return build(target_spec, target_id, chat_ctx, handed_over)

    data.agent_factory = factory
    return data
