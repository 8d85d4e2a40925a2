"""Concurrent-call limits: per deployment (`VOXIE_MAX_CONCURRENT_CALLS`) and per agent
(its spec's `max_concurrent_calls`).

"Active" is a voice call (web or phone, inbound or outbound; not a text chat) whose row
is `active`: from the row's insert at call start to its end. Every path that opens a
call checks here in the transaction that inserts its row: `calls.start_call` and
`start_builder_call` (429), `outbound_calls.place_call` (429), the campaign scheduler
(claims no more than the free slots: the campaign waits), and an inbound phone call
(`phone_calls.open_inbound_call`: the caller hears busy).

Race safety: `lock` serialises the count-and-insert of every call start while any limit
applies. On PostgreSQL a transaction-level advisory lock (held to commit), so two
starts in any processes cannot both take the last slot; on SQLite the database write
lock (`BEGIN IMMEDIATE`, also across processes), as long as the lock is taken before
the transaction's first write (each caller here takes it first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app.db import dialect_name, take_write_lock
from voxie_app.models import Agent, CallSession
from voxie_app.services.call_kinds import kind_condition
from voxie_app.services.errors import RateLimited
from voxie_app.settings import Settings

LOCK_NAME = "voxie:call-limit"
# What a refused start tells the client to wait (Retry-After): calls last minutes, and a
# slot frees when any ends; a short wait keeps a retrying client responsive.
RETRY_AFTER_S = 10.0
BUSY = "busy: concurrent call limit reached"  # an inbound call's end reason when full


class CallLimitReached(RateLimited):
    """A concurrent-call limit is full (HTTP 429); `message` names the limit."""


@dataclass(frozen=True)
class Usage:
    """Active calls against the limits (None: no limit)."""

    active: int
    limit: int | None
    agent_active: int = 0
    agent_limit: int | None = None

    def free(self) -> int | None:
        """Calls that may start now under both limits (None: no limit at all)."""
        room = [
            max(0, limit - used)
            for limit, used in ((self.limit, self.active), (self.agent_limit, self.agent_active))
            if limit is not None
        ]
        return min(room) if room else None


def deployment_limit(settings: Settings) -> int | None:
    return settings.max_concurrent_calls or None


def agent_limit(spec: dict[str, Any] | None) -> int | None:
    """The agent's own limit from its stored spec (absent or null: none)."""
    value = (spec or {}).get("max_concurrent_calls")
    return value if isinstance(value, int) and value >= 1 else None


def active_calls(*, session: Session, agent_id: uuid.UUID | None = None) -> int:
    query = select(sa.func.count()).where(
        col(CallSession.call_status) == "active", kind_condition("voice")
    )
    if agent_id is not None:
        query = query.where(col(CallSession.agent_id) == agent_id)
    return session.exec(query).one()


def lock(session: Session) -> None:
    """Serialise call starts until this transaction ends (see the module docstring)."""
    if dialect_name(session) == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": LOCK_NAME})
    else:
        take_write_lock(session)


def usage(
    *,
    session: Session,
    settings: Settings,
    agent_id: uuid.UUID | None = None,
    spec: dict[str, Any] | None = None,
) -> Usage:
    """Active calls against the deployment's limit and, for `agent_id`, the agent's."""
    own = agent_limit(spec) if agent_id is not None else None
    return Usage(
        active=active_calls(session=session),
        limit=deployment_limit(settings),
        agent_active=active_calls(session=session, agent_id=agent_id) if own else 0,
        agent_limit=own,
    )


def claim(
    *,
    session: Session,
    settings: Settings,
    agent_id: uuid.UUID | None = None,
    spec: dict[str, Any] | None = None,
    label: str = "",
) -> None:
    """Before a call row is inserted in this transaction: lock, count, and raise
    `CallLimitReached` naming the full limit. Nothing is locked without a limit."""
    if deployment_limit(settings) is None and agent_limit(spec) is None:
        return
    lock(session)
    now = usage(session=session, settings=settings, agent_id=agent_id, spec=spec)
    if now.limit is not None and now.active >= now.limit:
        raise CallLimitReached(
            f"Too many calls in progress: this deployment takes {now.limit} at once "
            f"(VOXIE_MAX_CONCURRENT_CALLS); try again when one ends.",
            retry_after=RETRY_AFTER_S,
        )
    if now.agent_limit is not None and now.agent_active >= now.agent_limit:
        raise CallLimitReached(
            f"Too many calls in progress: agent '{label or agent_id}' takes "
            f"{now.agent_limit} at once (its max_concurrent_calls); try again when one ends.",
            retry_after=RETRY_AFTER_S,
        )


def claim_for(*, session: Session, settings: Settings, agent: Agent) -> None:
    """`claim` for a call with a stored agent (its own limit from its spec)."""
    claim(
        session=session,
        settings=settings,
        agent_id=agent.id,
        spec=agent.processed_spec,
        label=agent.name,
    )
