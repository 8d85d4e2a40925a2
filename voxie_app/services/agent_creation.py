"""The agent-creation pipeline shared by `POST /api/agents/create` and the builder.

Requirements are stored first (nothing is lost if generation fails), every
step is published to the stream `agent-create:<session_id>`, and the agent
ends `ready` with a validated spec or `failed` with the reason.

One stream, one creation: without a `session_id` the server makes a new one
(uuid4) per creation. A client may choose its own (`POST /api/agents/create`,
the seed's API), but only once: `exclusive_session=True` refuses an id that
another creation, live or deleted, already wrote to (`Conflict`, 409), so a
stream never replays someone else's events or ends at their `agent_saved`.
The builder passes its conversation's id (server-made) without
`exclusive_session`: its console stream is the log of one conversation, which
may create several agents.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel import Session, select

from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import agents as agents_svc
from voxie_app.services import events, webhooks
from voxie_app.services.errors import Conflict, InvalidInput, ServiceError
from voxie_app.services.spec_builder import REVISED_FIELDS, generate_spec, revise_spec
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

TERMINAL_KINDS = frozenset({"agent_saved", "failed"})


def stream_name(session_id: str) -> str:
    return f"agent-create:{session_id}"


def submit(
    *,
    user_requirements: dict[str, Any],
    processed_spec: dict[str, Any] | None,
    session_id: str | None = None,
    exclusive_session: bool = False,
) -> Agent:
    """Store the requirements; store the spec too when it is complete and valid.

    A spec that is invalid (not merely incomplete) is rejected before anything
    is written: `SpecInvalid` or `InvalidInput`. With `exclusive_session`, a
    `session_id` already used by another creation is refused (`Conflict`) before
    anything is written. Returns the agent, `ready` or `processing` (the caller
    then runs `process`).
    """
    claim = session_id if exclusive_session else None
    spec = None
    if processed_spec:
        try:
            spec = agents_svc.parse_spec(processed_spec)
        except agents_svc.SpecInvalid as exc:
            if not agents_svc.is_only_missing(exc.errors):
                raise
    with session_scope() as session:
        if claim is not None:
            events.lock_stream(session, stream_name(claim))
        if spec is None and processed_spec:
            # A partial spec's own fields (transfer targets) are checked now, not
            # after generation: the required text fields are filled with stand-ins.
            probe = agents_svc.parse_spec({"name": "-", "instructions": "-", **processed_spec})
            agents_svc.check_references(session=session, spec=probe, agent_id=None)
        agent = agents_svc.create_agent(
            session=session,
            user_requirements=user_requirements,
            spec=spec,
            partial_spec=None if spec else processed_spec,
            session_id=session_id,
        )
        if claim is not None:
            _refuse_reused_session(session=session, session_id=claim, agent_id=agent.id)
        stream = stream_name(agent.session_id or "")
        events.publish(
            stream,
            "requirements_captured",
            "Requirements captured",
            {"agent_id": str(agent.id), "fields": sorted(user_requirements)[:50]},
            session=session,
        )
        if spec is not None:
            events.publish(
                stream,
                "agent_saved",
                f"Agent '{spec.name}' saved (spec given, no LLM needed)",
                {"agent_id": str(agent.id)},
                session=session,
            )
            webhooks.enqueue_agent_created(session=session, agent=agent)
    return agent


def _refuse_reused_session(*, session: Session, session_id: str, agent_id: uuid.UUID) -> None:
    """Conflict if another creation already has `session_id` or wrote to its stream.

    Checked after this creation's row is written: on SQLite the write lock is then
    held (no other writer can commit in between), on PostgreSQL the stream's
    advisory lock taken before it; so of two concurrent claims one wins.
    """
    other = session.exec(
        select(Agent.id).where(Agent.session_id == session_id, Agent.id != agent_id).limit(1)
    ).first()
    if other is not None or events.has_events(session=session, stream=stream_name(session_id)):
        raise Conflict(
            f"session_id {session_id!r} already belongs to another agent creation; "
            "choose a new one or leave it out to get one"
        )


async def process(*, agent_id: uuid.UUID, settings: Settings) -> Agent | None:
    """Generate, validate and save the spec of a `processing` agent; never raises.

    Returns None when the agent was deleted before generation started.
    """
    with session_scope() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            log.warning("agent %s was deleted before its spec was generated", agent_id)
            return None
        requirements = dict(agent.user_requirements)
        partial = dict(agent.processed_spec or {}) or None
        stream = stream_name(agent.session_id or "")
    events.publish(stream, "spec_generation_started", "Generating the agent spec with the LLM")
    try:
        spec, tokens, removed = await generate_spec(
            requirements=requirements, partial_spec=partial, settings=settings
        )
        if removed:
            events.publish(
                stream,
                "spec_guarded",
                f"Removed {len(removed)} unsafe sentence(s) from the draft",
                {"reasons": removed[:20]},
                level="warning",
            )
        events.publish(
            stream,
            "spec_validated",
            f"Spec for '{spec.name}' is valid",
            {"tokens_used": tokens, "tools": list(spec.tools)},
        )
        with session_scope() as session:
            agent = agents_svc.lock_agent(session=session, agent_id=agent_id)
            agents_svc.set_spec(session=session, agent=agent, spec=spec)
            events.publish(
                stream,
                "agent_saved",
                f"Agent '{spec.name}' saved",
                {"agent_id": str(agent_id)},
                session=session,
            )
            webhooks.enqueue_agent_created(session=session, agent=agent)
        return agent
    except (ServiceError, agents_svc.SpecInvalid, InvalidInput) as exc:
        reason = exc.message if isinstance(exc, ServiceError) else str(exc)
    except Exception as exc:
        log.exception("agent spec generation failed")
        reason = f"unexpected error: {exc.__class__.__name__}"
    with session_scope() as session:
        # The agent may have been deleted meanwhile; still end the stream.
        agent = session.get(Agent, agent_id)
        if agent is not None:
            agents_svc.mark_failed(session=session, agent=agent, reason=reason)
        events.publish(
            stream, "failed", reason, {"agent_id": str(agent_id)}, level="error", session=session
        )
    return agent


async def revise(
    *, agent_id: uuid.UUID, change: str, session_id: str, settings: Settings
) -> tuple[Agent | None, str | None]:
    """Change an agent's text by a plain-language request; publishes each step.

    Returns the updated agent, or None and the reason it could not be changed
    (the stored spec is left as it was).
    """
    stream = stream_name(session_id)
    with session_scope() as session:
        agent = session.get(Agent, agent_id)
        if agent is None or agent.status != "ready":
            return None, f"agent {agent_id} is not a ready agent"
        current = agents_svc.parse_spec(agent.processed_spec)
    events.publish(
        stream, "update_started", f"Updating '{current.name}'", {"agent_id": str(agent_id)}
    )
    try:
        spec, tokens, removed = await revise_spec(current=current, change=change, settings=settings)
        if removed:
            events.publish(
                stream,
                "spec_guarded",
                f"Removed {len(removed)} unsafe sentence(s) from the draft",
                {"reasons": removed[:20]},
                level="warning",
            )
        with session_scope() as session:
            agent = agents_svc.lock_agent(session=session, agent_id=agent_id)
            # Only the revised text goes onto the spec as it is now: a change saved
            # while the LLM was drafting (another field) is kept.
            latest = agents_svc.parse_spec(agent.processed_spec)
            revised = {f: getattr(spec, f) for f in REVISED_FIELDS}
            spec = agents_svc.parse_spec({**latest.model_dump(mode="json"), **revised})
            agents_svc.set_spec(session=session, agent=agent, spec=spec)
            events.publish(
                stream,
                "agent_updated",
                f"Agent '{spec.name}' updated",
                {"agent_id": str(agent_id), "tokens_used": tokens},
                session=session,
            )
        return agent, None
    except (ServiceError, agents_svc.SpecInvalid) as exc:
        reason = exc.message if isinstance(exc, ServiceError) else str(exc)
    events.publish(stream, "failed", reason, {"agent_id": str(agent_id)}, level="error")
    return None, reason
