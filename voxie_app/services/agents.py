"""Agent CRUD: the one place that decides what a stored agent may contain."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, AgentSpec
from voxie_app.services.errors import InvalidInput, NotFound


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
    """Transfer targets must be other agents that exist: decided by code, not by a prompt."""
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
    if spec.transfer_targets and "transfer_to_agent" not in spec.tools:
        problems.append(
            InvalidInput(
                "transfer targets need the 'transfer_to_agent' tool enabled",
                field="processed_spec.tools",
            )
        )
    return problems


def get_agent(*, session: Session, agent_id: uuid.UUID) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    return agent


def get_spec(*, session: Session, agent_id: uuid.UUID) -> AgentSpec:
    """The validated spec of a ready agent (what the worker runs)."""
    agent = get_agent(session=session, agent_id=agent_id)
    if agent.status != "ready":
        raise InvalidInput(f"agent is {agent.status}, not ready", field="agent_id")
    return AgentSpec.model_validate(agent.processed_spec)


def _search(query: Any, search: str | None) -> Any:
    if search:
        query = query.where(Agent.name.ilike(f"%{search}%"))  # type: ignore[attr-defined]
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
        user_requirements=user_requirements,
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
    """Partial update. `spec_changes` is merged into the current spec and re-validated."""
    agent = get_agent(session=session, agent_id=agent_id)
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
    agent = get_agent(session=session, agent_id=agent_id)
    session.delete(agent)
    session.flush()
