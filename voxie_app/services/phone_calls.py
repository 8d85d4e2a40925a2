"""Inbound phone calls: the call row the worker writes when a SIP caller joins.

A browser call's row is written by `calls.start_call` before the worker is
dispatched. A phone call to one of Voxie's numbers starts the other way round:
LiveKit SIP answers, its dispatch rule creates a room and dispatches the worker
with `{"phone_number_id", "agent_id"}` as job metadata, and nothing in Voxie has
run yet. So the worker calls `open_inbound_call` once the SIP participant is in
the room, with that participant's `sip.*` attributes (LiveKit's names, below), and
this module decides everything from the database:

- the agent is the number's (`PhoneNumber.agent_id`: the binding as it is now,
  so a number rebound a second ago answers with its new agent); the metadata's
  `agent_id` is used only when the number's row is gone (deleted while its
  dispatch rule lingered);
- a number bound to no agent, to a deleted agent, or to an agent that is not
  ready is *not in service*: the row is still written (so the missed call shows
  on /calls) and ended at once as `failed` with reason `not_in_service`; the
  worker tells the caller so and hangs up;
- a call over a concurrent-call limit (`services.call_limits`, checked in this
  transaction) is written and ended `failed` with reason `busy: ...`; the worker
  tells the caller every line is busy and hangs up;
- numbers are stored as E.164 (`e164.normalize`); a caller id that is not a
  number ("anonymous", an extension) leaves `customer_phone` empty;
- a job LiveKit dispatches again for the same SIP call (the worker restarted)
  finds the row by `sip_call_id` and room and carries on with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, CallSession, PhoneNumber
from voxie_app.services import call_limits, e164, events
from voxie_app.services.calls import CALLS_STREAM, end_call_record
from voxie_app.settings import Settings, get_settings

# The attributes LiveKit SIP sets on the participant it creates for a call
# (livekit `sip.*` participant attributes).
ATTR_CALLER = "sip.phoneNumber"  # the caller's number (inbound) / the callee's (outbound)
ATTR_CALLED = "sip.trunkPhoneNumber"  # our number, the one that was dialled
ATTR_CALL_ID = "sip.callID"  # LiveKit's id of the SIP call
NOT_IN_SERVICE = "not_in_service"
MAX_SIP_CALL_ID = 128  # CallSession.sip_call_id


@dataclass(frozen=True)
class InboundCall:
    """What the worker needs to run (or refuse) the call."""

    call_session_id: uuid.UUID
    agent_id: uuid.UUID | None  # the agent that answers; None when not in service
    caller_number: str | None  # E.164, or None when the caller id is not a number
    called_number: str | None
    in_service: bool
    resumed: bool = False  # the row existed already (the job was dispatched again)
    busy: bool = False  # a concurrent-call limit is full: the caller hears busy


def _answering_agent(
    session: Session, number: PhoneNumber | None, metadata_agent_id: uuid.UUID | None
) -> tuple[Agent | None, bool]:
    """The agent bound to the number now (or the metadata's when the number is gone),
    and whether it can take the call."""
    agent_id = number.agent_id if number is not None else metadata_agent_id
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent, agent is not None and agent.status == "ready"


def _resume(session: Session, sip_call_id: str, room_name: str) -> CallSession | None:
    if not sip_call_id:
        return None
    return session.exec(
        select(CallSession).where(
            col(CallSession.sip_call_id) == sip_call_id,
            col(CallSession.room_name) == room_name,
        )
    ).first()


def open_inbound_call(
    *,
    session: Session,
    phone_number_id: uuid.UUID | None,
    metadata_agent_id: uuid.UUID | None,
    attributes: Mapping[str, str],
    room_name: str,
    settings: Settings | None = None,
) -> InboundCall:
    """Write the row of a phone call that just reached one of our numbers."""
    sip_call_id = str(attributes.get(ATTR_CALL_ID, "") or "")[:MAX_SIP_CALL_ID]
    existing = _resume(session, sip_call_id, room_name)
    if existing is not None:
        return InboundCall(
            call_session_id=existing.id,
            agent_id=existing.agent_id if existing.ended_at is None else None,
            caller_number=existing.customer_phone,
            called_number=existing.called_number,
            in_service=existing.ended_at is None and existing.agent_id is not None,
            resumed=True,
        )
    number = session.get(PhoneNumber, phone_number_id) if phone_number_id is not None else None
    agent, in_service = _answering_agent(session, number, metadata_agent_id)
    busy = False
    if in_service and agent is not None:
        try:
            call_limits.claim_for(session=session, settings=settings or get_settings(), agent=agent)
        except call_limits.CallLimitReached:
            busy = True
    caller = e164.normalize(attributes.get(ATTR_CALLER))
    called = e164.normalize(attributes.get(ATTR_CALLED)) or (number.number if number else None)
    now = utcnow()
    call = CallSession(
        session_id=uuid.uuid4().hex,
        agent_id=agent.id if agent is not None else None,
        room_name=room_name,
        primary_agent_type=agent.name if agent is not None else None,
        kind="phone",
        direction="inbound",
        customer_phone=caller,
        called_number=called,
        phone_number_id=number.id if number is not None else None,
        sip_call_id=sip_call_id or None,
        started_at=now,
        last_activity_at=now,
    )
    session.add(call)
    session.flush()
    label = agent.name if agent is not None else "no agent"
    events.publish(
        CALLS_STREAM,
        "call_started",
        f"Phone call from {caller or 'an unknown number'} to {called or 'a number'} ({label})",
        {"call_session_id": str(call.id)},
        session=session,
    )
    if not in_service or busy:
        reason = call_limits.BUSY if busy else NOT_IN_SERVICE
        end_call_record(session=session, call_session_id=call.id, status="failed", reason=reason)
    return InboundCall(
        call_session_id=call.id,
        agent_id=call.agent_id if in_service and not busy else None,
        caller_number=caller,
        called_number=called,
        in_service=in_service,
        busy=busy,
    )
