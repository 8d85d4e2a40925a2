"""Agent CRUD: the one place that decides what a stored agent may contain."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, select

from voxie_app import provider_catalog as catalog
from voxie_app.db import take_write_lock
from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, AgentSpec, BoundedJSONObject, CallSession, Tool
from voxie_app.realtime_catalog import REALTIME_SETTING
from voxie_app.services.errors import InvalidInput, NotFound
from voxie_app.settings import Settings, get_settings, providers

log = logging.getLogger(__name__)


class SpecInvalid(Exception):
    """A spec failed validation; `errors` are pydantic's, `loc` relative to the spec."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{_loc(e)}: {e['msg']}" for e in errors))
        self.errors = errors


def _loc(error: dict[str, Any]) -> str:
    return ".".join(str(p) for p in error.get("loc", ())) or "processed_spec"


def parse_spec(data: dict[str, Any]) -> AgentSpec:
    """Validate a spec dict, raising `SpecInvalid` with field-level errors."""
    try:
        return AgentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecInvalid(
            [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
        ) from None


def is_only_missing(errors: list[dict[str, Any]]) -> bool:
    """True when a spec fails only because required fields are absent (a partial spec)."""
    return all(e["type"] == "missing" for e in errors)


def check_references(*, session: Session, spec: AgentSpec, agent_id: uuid.UUID | None) -> None:
    """Transfer targets must be other agents that exist, custom tools stored tools:
    decided by code, not by a prompt."""
    problems = reference_problems(session=session, spec=spec, agent_id=agent_id)
    if problems:
        raise problems[0]


def reference_problems(
    *, session: Session, spec: AgentSpec, agent_id: uuid.UUID | None
) -> list[InvalidInput]:
    """Every reference rule `spec` breaks, not just the first (a form shows them all)."""
    problems: list[InvalidInput] = []
    for i, target in enumerate(spec.transfer_targets):
        field = f"processed_spec.transfer_targets.{i}.agent_id"
        if agent_id is not None and target.agent_id == agent_id:
            problems.append(InvalidInput("an agent cannot transfer to itself", field=field))
        elif session.get(Agent, target.agent_id) is None:
            problems.append(InvalidInput(f"no agent with id {target.agent_id}", field=field))
    for i, tool_id in enumerate(spec.custom_tools):
        if session.get(Tool, tool_id) is None:
            problems.append(
                InvalidInput(f"no tool with id {tool_id}", field=f"processed_spec.custom_tools.{i}")
            )
    problems += provider_problems(spec, get_settings(), prefix="processed_spec.")
    if spec.transfer_targets and "transfer_to_agent" not in spec.tools:
        problems.append(
            InvalidInput(
                "transfer targets need the 'transfer_to_agent' tool enabled",
                field="processed_spec.tools",
            )
        )
    return problems


def provider_problems(
    spec: AgentSpec, settings: Settings, *, prefix: str = ""
) -> list[InvalidInput]:
    """A provider the spec names for a kind must be configured: checked when the agent is
    saved and again when a call starts (a key may have been removed since). A realtime
    pipeline needs the OpenAI key, whatever its per-kind choices say."""
    problems = [
        InvalidInput(message, field=prefix + field)
        for field, message in catalog.choice_problems(spec, settings)
    ]
    if spec.pipeline == "realtime" and not providers(settings).openai:
        problems.append(
            InvalidInput(
                f"a realtime pipeline needs {REALTIME_SETTING} (the OpenAI Realtime API)",
                field=prefix + "pipeline",
            )
        )
    return problems


def require_providers(agent: Agent, settings: Settings) -> None:
    """At call start: the first provider problem of the agent's stored spec, as a 422
    (a spec that no longer parses is left to the worker, which ends the call saying why)."""
    try:
        spec = stored_spec(agent.processed_spec or {})
    except ValidationError:
        return
    problems = provider_problems(spec, settings)
    if problems:
        raise problems[0]


def get_agent(*, session: Session, agent_id: uuid.UUID) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


def lock_agent(*, session: Session, agent_id: uuid.UUID, shared: bool = False) -> Agent:
    """The agent, freshly read and locked until the transaction ends; NotFound if gone.

    Every read-modify-write of an agent starts here, so concurrent writers queue
    instead of overwriting each other, and a delete cannot slip between the read
    and the write. PostgreSQL: `FOR UPDATE` (`FOR SHARE` when `shared`: the row
    must only stay, e.g. while a call referencing it is inserted). SQLite: the
    database write lock, its only lock.
    """
    take_write_lock(session)
    query = (
        select(Agent)
        .where(Agent.id == agent_id)
        .with_for_update(read=shared)
        .execution_options(populate_existing=True)
    )
    agent = session.exec(query).first()
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


_REQUIREMENTS = TypeAdapter(BoundedJSONObject)


def check_requirements(value: dict[str, Any]) -> dict[str, Any]:
    """`user_requirements` within the free-form JSON bounds (the API checks them too)."""
    try:
        return _REQUIREMENTS.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"], field="user_requirements") from None


def get_spec(*, session: Session, agent_id: uuid.UUID) -> AgentSpec:
    """The validated spec of a ready agent (what the worker runs)."""
    agent = get_agent(session=session, agent_id=agent_id)
    if agent.status != "ready":
        raise InvalidInput(f"agent is {agent.status}, not ready", field="agent_id")
    return stored_spec(agent.processed_spec)


# Checked only since issue 12: a spec stored before may have any text there.
_CHECKED_LATER = frozenset({"voice", "llm_model"})


def stored_spec(data: dict[str, Any]) -> AgentSpec:
    """A stored spec; a `voice` or `llm_model` stored before they were checked falls
    back to the default (logged) rather than stopping every call with the agent."""
    try:
        return AgentSpec.model_validate(data)
    except ValidationError as exc:
        bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
        if not bad or not bad <= _CHECKED_LATER:
            raise
    log.warning("stored spec has an unknown %s; using the default", " and ".join(sorted(bad)))
    return AgentSpec.model_validate({k: v for k, v in data.items() if k not in bad})


@dataclass(frozen=True)
class AgentChoice:
    """What tells agents of the same name apart, for a person to pick one."""

    id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    calls: int


@dataclass(frozen=True)
class Resolution:
    """The agent a reference names (`agent`), or the ones it could mean (`candidates`:
    several agents share the name; none: nothing matched)."""

    agent: AgentChoice | None = None
    candidates: list[AgentChoice] = field(default_factory=list)
    more: bool = False  # more agents share the name than `candidates` lists


MAX_CANDIDATES = 10


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def resolve_agent(*, session: Session, ref: str, among: set[uuid.UUID] | None = None) -> Resolution:
    """Find a ready agent by id, or by name (case-insensitive) only when one agent has it.

    Names are not unique, so a name shared by several agents resolves to none of
    them: the caller gets the candidates (newest first, at most MAX_CANDIDATES)
    and must ask which one. `among` limits the search to those agents.
    """
    query = select(Agent).where(Agent.status == "ready")
    if among is not None:
        query = query.where(col(Agent.id).in_(among))
    agent_id = _as_uuid(ref)
    if agent_id is not None:
        query = query.where(Agent.id == agent_id)
    else:
        query = query.where(sa.func.lower(Agent.name) == ref.strip().lower())
    rows = session.exec(
        query.order_by(col(Agent.created_at).desc()).limit(MAX_CANDIDATES + 1)
    ).all()
    choices = _choices(session, list(rows))
    if len(choices) == 1:
        return Resolution(agent=choices[0])
    return Resolution(candidates=choices[:MAX_CANDIDATES], more=len(choices) > MAX_CANDIDATES)


def _choices(session: Session, rows: list[Agent]) -> list[AgentChoice]:
    if not rows:
        return []
    counts = dict(
        session.exec(
            select(CallSession.agent_id, sa.func.count())
            .where(col(CallSession.agent_id).in_([a.id for a in rows]))
            .group_by(CallSession.agent_id)
        ).all()
    )
    return [
        AgentChoice(
            id=a.id,
            name=a.name,
            description=str((a.processed_spec or {}).get("description") or ""),
            created_at=a.created_at,
            calls=int(counts.get(a.id, 0)),
        )
        for a in rows
    ]


def _search(query: Any, search: str | None) -> Any:
    if search:
        # `%` and `_` are wildcards in LIKE: escaped, so a search matches them literally.
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
        query = query.where(col(Agent.name).ilike(pattern, escape="\\"))
    return query


def count_agents(*, session: Session, search: str | None = None) -> int:
    """How many agents `list_agents` pages through (its `X-Total-Count`)."""
    return int(session.exec(_search(select(sa.func.count()).select_from(Agent), search)).one())


def list_agents(
    *, session: Session, search: str | None = None, limit: int = 100, offset: int = 0
) -> list[Agent]:
    query = _search(select(Agent), search)
    query = query.order_by(Agent.created_at.desc()).offset(offset).limit(limit)  # type: ignore[attr-defined]
    return list(session.exec(query).all())


def create_agent(
    *,
    session: Session,
    user_requirements: dict[str, Any],
    spec: AgentSpec | None,
    partial_spec: dict[str, Any] | None = None,
    session_id: str | None = None,
) -> Agent:
    """Store an agent: `ready` with a validated spec, or `processing` awaiting one.

    A `partial_spec` (fields the caller fixed) is kept on a processing agent as
    hints for generation.
    """
    agent = Agent(
        user_requirements=check_requirements(user_requirements),
        processed_spec=partial_spec or {},
        session_id=session_id or uuid.uuid4().hex,
        status="processing" if spec is None else "ready",
    )
    if spec is not None:
        check_references(session=session, spec=spec, agent_id=agent.id)
        agent.processed_spec = spec.model_dump(mode="json")
        agent.name = spec.name
    session.add(agent)
    session.flush()
    return agent


def set_spec(*, session: Session, agent: Agent, spec: AgentSpec) -> Agent:
    """Store a validated spec on an agent and mark it ready."""
    check_references(session=session, spec=spec, agent_id=agent.id)
    agent.processed_spec = spec.model_dump(mode="json")
    agent.name = spec.name
    agent.status = "ready"
    agent.error = None
    agent.updated_at = utcnow()
    session.add(agent)
    session.flush()
    return agent


def mark_failed(*, session: Session, agent: Agent, reason: str) -> Agent:
    agent.status = "failed"
    agent.error = reason[:2000]
    agent.updated_at = utcnow()
    session.add(agent)
    session.flush()
    return agent


def update_agent(
    *,
    session: Session,
    agent_id: uuid.UUID,
    user_requirements: dict[str, Any] | None = None,
    spec_changes: dict[str, Any] | None = None,
    room_id: str | None = None,
) -> Agent:
    """Partial update: the fields given are merged into the stored agent, read under its
    lock (`lock_agent`), so concurrent updates of different fields all survive.
    `spec_changes` is merged into the current spec and re-validated."""
    if user_requirements is not None:
        user_requirements = check_requirements(user_requirements)
    agent = lock_agent(session=session, agent_id=agent_id)
    if user_requirements is not None:
        agent.user_requirements = user_requirements
    if room_id is not None:
        agent.room_id = room_id
    if spec_changes:
        merged = {**(agent.processed_spec or {}), **spec_changes}
        set_spec(session=session, agent=agent, spec=parse_spec(merged))
    agent.updated_at = utcnow()
    session.add(agent)
    session.flush()
    return agent


def delete_agent(*, session: Session, agent_id: uuid.UUID) -> None:
    """Delete an agent. Its calls stay (their `agent_id` becomes NULL) for history."""
    agent = lock_agent(session=session, agent_id=agent_id)
    session.delete(agent)
    session.flush()
