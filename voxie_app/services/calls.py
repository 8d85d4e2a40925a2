"""Call session bookkeeping: start (room, dispatch, token) and end."""

from __future__ import annotations

import logging
import math
import secrets
import uuid
from dataclasses import dataclass

from sqlmodel import Session

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession
from voxie_app.services import agents as agents_svc
from voxie_app.services import events, ratelimit, telephony, webhooks
from voxie_app.services import variables as variables_svc
from voxie_app.services.auth import Principal
from voxie_app.services.call_kinds import BUILDER_NAME
from voxie_app.services.errors import Conflict, NotFound, ProviderFailed, RateLimited
from voxie_app.services.livekit_gateway import (
    LiveKitGateway,
    browser_url,
    participant_token,
    require_livekit,
)
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

CALLS_STREAM = "calls"


@dataclass(frozen=True)
class StartedCall:
    server_url: str
    room_name: str
    participant_token: str
    call_session_id: uuid.UUID


def get_call(*, session: Session, call_session_id: uuid.UUID) -> CallSession:
    call = session.get(CallSession, call_session_id)
    if call is None:
        raise NotFound(f"call session {call_session_id} not found")
    return call


def check_start_rate(*, caller: Principal, settings: Settings) -> None:
    """Count one call start for `caller`; `RateLimited` past VOXIE_CALL_START_RATE_LIMIT.

    Every call start (API or UI, an agent or the builder) passes here, so one
    limit holds whichever way a call is started. Keyed per API key or per user.
    """
    key = f"{caller.kind}:{caller.id}"
    wait = ratelimit.limiter("call_start", settings.call_start_rate_limit).hit(key)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(f"Too many calls started; try again in {seconds} s.", retry_after=wait)


async def start_call(
    *,
    agent_id: uuid.UUID,
    settings: Settings,
    caller: Principal,
    variables: dict[str, str] | None = None,
) -> StartedCall:
    """Open a call with a stored agent: row, room, dispatch, browser token.

    `variables` (per-call values for the agent's `{{name}}` placeholders) are checked
    first (`InvalidInput` naming `variables.<key>`) and stored on the call row, where
    the worker reads them. The caller's call-start rate limit is checked next, then the LiveKit
    settings, before anything is written. The agent is read under a lock and
    the call row inserted in the same transaction, so an agent deleted
    meanwhile is a 404 (`NotFound`), never a foreign-key error. If LiveKit
    fails after the row exists, the row is kept and marked `failed`.
    """
    custom = variables_svc.validate(variables)
    check_start_rate(caller=caller, settings=settings)
    require_livekit(settings)
    with session_scope() as session:
        agent = agents_svc.lock_agent(session=session, agent_id=agent_id, shared=True)
        if agent.status != "ready":
            raise Conflict(f"agent '{agent.name or agent.id}' is {agent.status}, not ready")
        agents_svc.require_providers(agent, settings)
        call = _insert_call(session, agent_id=agent_id, label=agent.name, variables=custom)
    return await _dispatch(
        settings=settings,
        call=call,
        label=call.primary_agent_type or "",
        metadata={"agent_id": str(agent_id)},
    )


async def start_builder_call(
    *, session_id: str, settings: Settings, caller: Principal
) -> StartedCall:
    """Open a voice call with Voxie, the builder; its log goes to `agent-create:<session_id>`."""
    check_start_rate(caller=caller, settings=settings)
    require_livekit(settings)
    with session_scope() as session:
        call = _insert_call(session, agent_id=None, label=BUILDER_NAME)
    return await _dispatch(
        settings=settings,
        call=call,
        label=BUILDER_NAME,
        metadata={"agent_id": None, "builder": True, "session_id": session_id},
    )


def _insert_call(
    session: Session,
    *,
    agent_id: uuid.UUID | None,
    label: str,
    variables: dict[str, str] | None = None,
) -> CallSession:
    call_id = uuid.uuid4()
    call = CallSession(
        id=call_id,
        session_id=uuid.uuid4().hex,
        agent_id=agent_id,
        room_name=f"voxie-{call_id.hex[:12]}-{secrets.token_hex(3)}",
        primary_agent_type=label,
        last_activity_at=utcnow(),
        variables=variables or {},
    )
    session.add(call)
    session.flush()
    return call


async def _dispatch(
    *, settings: Settings, call: CallSession, label: str, metadata: dict
) -> StartedCall:
    """Create the room and dispatch the worker for a stored call; mint the browser token."""
    gateway = LiveKitGateway(settings)
    call_id, room_name = call.id, call.room_name
    try:
        await gateway.create_room_and_dispatch(
            room_name=room_name, metadata={"call_session_id": str(call_id), **metadata}
        )
    except ProviderFailed as exc:
        with session_scope() as session:
            end_call_record(
                session=session, call_session_id=call_id, status="failed", reason=exc.message
            )
        raise
    token = participant_token(
        settings, room_name=room_name, identity=f"caller-{call_id.hex[:12]}", display_name="Caller"
    )
    events.publish(
        CALLS_STREAM,
        "call_started",
        f"Call started with {label}",
        {"call_session_id": str(call_id)},
    )
    return StartedCall(
        server_url=browser_url(settings),
        room_name=room_name,
        participant_token=token,
        call_session_id=call_id,
    )


def open_chat_record(*, agent_id: uuid.UUID, variables: dict[str, str] | None = None) -> uuid.UUID:
    """Keep a text chat with a stored agent: a call row of kind `chat`, no room.

    `variables` are checked and kept on the row like a call's (`TextChat.open` with
    this row's id renders the agent with them).

    The chat's recorder (the voice worker's `CallRecorder`) writes its turns,
    tool calls and usage to this row as they happen, and its end closes it, so a
    test chat can be read back on /calls like any call (kind filter: chat).
    """
    custom = variables_svc.validate(variables)
    with session_scope() as session:
        agent = agents_svc.get_agent(session=session, agent_id=agent_id)
        call = CallSession(
            variables=custom,
            session_id=uuid.uuid4().hex,
            agent_id=agent_id,
            room_name=f"chat-{uuid.uuid4().hex[:12]}",
            primary_agent_type=agent.name,
            kind="chat",
            last_activity_at=utcnow(),
        )
        session.add(call)
        session.flush()
        return call.id


def _finish(session: Session, call: CallSession, status: str, reason: str) -> CallSession:
    now = utcnow()
    call.ended_at = now
    call.call_status = status
    call.end_reason = reason[:500]
    call.duration_seconds = max(0.0, (now - call.started_at).total_seconds())
    call.last_activity_at = now
    session.add(call)
    session.flush()
    return call


def end_call_record(
    *, session: Session, call_session_id: uuid.UUID, status: str = "completed", reason: str
) -> CallSession:
    """Mark a call ended (idempotent: an ended call is returned unchanged); a phone
    call's telephony line is priced in the same transaction."""
    call = get_call(session=session, call_session_id=call_session_id)
    if call.ended_at is not None:
        return call
    last_seen = call.last_activity_at  # before `_finish` moves it to now
    _finish(session, call, status, reason)
    # A phone call's line (no-op for other calls), in the same transaction.
    telephony.bill_line(session=session, call=call, last_seen=last_seen)
    if call.kind != "chat":  # a test chat is kept like a call but is not one to receivers
        webhooks.enqueue_call_ended(session=session, call=call)
    # Last: publishing holds the stream's lock until this transaction commits.
    events.publish(
        CALLS_STREAM,
        "call_ended",
        f"Call ended ({reason})",
        {"call_session_id": str(call.id), "status": status},
        session=session,
    )
    return call


async def end_call(*, call_session_id: uuid.UUID, settings: Settings) -> CallSession:
    """End a call from the caller's side: record it, then close the room if we can."""
    with session_scope() as session:
        call = end_call_record(
            session=session, call_session_id=call_session_id, reason="caller_ended"
        )
    if settings.livekit_configured:
        try:
            await LiveKitGateway(settings).delete_room(call.room_name)
        except ProviderFailed as exc:  # the call is ended in our books either way
            log.warning("could not delete room %s: %s", call.room_name, exc.message)
    return call
