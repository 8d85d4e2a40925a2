"""Outbound phone calls: an agent calls a number, from one of our numbers.

`start_outbound_call` is what `POST /api/call/outbound` and the "Call a number"
dialog run; `place_call` is the same without the per-user rate limit (for callers
that pace themselves, such as a campaign scheduler).

In order, so nothing is written for a call that may not be placed and no row is left
half made:

1. check everything that needs no LiveKit: the variables, `to` as E.164, the
   do-not-call list, the from-number and its outbound trunk (synced to LiveKit),
   the agent (ready); each refusal is a 422 naming the field (409/404 for the agent);
   then the concurrent-call limits (`call_limits.claim`, 429) in the row's transaction;
2. insert the call row (kind `phone`, direction `outbound`, `dial_status` `ringing`);
3. create the room and dispatch the worker, with metadata saying this is an outbound
   call and which participant to wait for (`voice_worker.answer`);
4. dial with `CreateSIPParticipant` (`services.sip_dialer`), waiting for the answer.

The row then says how it went (`dial_status`, the SIP status code and reason). A
call not answered (busy, no answer, a failed dial) is ended `failed` with that as its
reason and its room is deleted; a LiveKit failure after step 2 ends it `failed` with
LiveKit's message and is raised (`ProviderFailed`, HTTP 502).

On the row, `customer_phone` and `called_number` are both the callee's number (the
number dialled, as on an inbound call `called_number` is ours); our number is the
`phone_number_id` row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession, PhoneNumber, SipOutboundTrunk
from voxie_app.services import agents as agents_svc
from voxie_app.services import call_limits, do_not_call, e164, events
from voxie_app.services import calls as calls_svc
from voxie_app.services import variables as variables_svc
from voxie_app.services.auth import Principal
from voxie_app.services.errors import Conflict, InvalidInput, ProviderFailed
from voxie_app.services.livekit_gateway import LiveKitGateway, require_livekit
from voxie_app.services.sip_dialer import DialOutcome, SipDialer
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

# The SIP participant's identity in the room is this plus the call's id.
IDENTITY_PREFIX = "phone-"
# Set on the SIP participant so the worker (and anyone reading the room) can tell
# Voxie's outbound call apart from an inbound caller.
CALL_ATTRIBUTE = "voxie.call_session_id"


@dataclass(frozen=True)
class OutboundCall:
    """What became of one outbound call (the row holds the same)."""

    call_session_id: uuid.UUID
    room_name: str
    to: str
    from_number: str
    dial_status: str
    sip_status_code: int | None
    sip_status_reason: str
    sip_call_id: str | None


@dataclass(frozen=True)
class CampaignAttempt:
    """Which campaign contact a call is for, and which attempt (1 = the first call)."""

    campaign_id: uuid.UUID
    contact_id: uuid.UUID
    attempt: int


class AlreadyPlaced(Conflict):
    """This campaign attempt has a call already (another scheduler placed it)."""


@dataclass(frozen=True)
class _Route:
    number: PhoneNumber
    trunk_id: str  # LiveKit's id of the outbound trunk


def caller_numbers(*, session: Session) -> list[tuple[PhoneNumber, SipOutboundTrunk]]:
    """Our numbers that can place calls now: an outbound trunk that LiveKit has."""
    rows = session.exec(
        select(PhoneNumber, SipOutboundTrunk)
        .join(SipOutboundTrunk, col(SipOutboundTrunk.id) == col(PhoneNumber.outbound_trunk_id))
        .where(col(SipOutboundTrunk.livekit_trunk_id).is_not(None))
        .order_by(col(PhoneNumber.number))
    ).all()
    return [(number, trunk) for number, trunk in rows]


def check_destination(*, session: Session, to: str, field: str = "to") -> str:
    """`to` in E.164 when it may be called, else `InvalidInput` naming `field`: not a
    number, or on the do-not-call list."""
    number = e164.parse(to, field=field)
    if do_not_call.is_listed(session=session, number=number):
        raise InvalidInput(
            f"{number} is on the do-not-call list; Voxie will not call it "
            "(take it off the list first if the person asked to be called)",
            field=field,
        )
    return number


def _route(session: Session, from_number_id: uuid.UUID | None) -> _Route:
    field = "from_number_id"
    if from_number_id is None:
        raise InvalidInput("choose the number to call from", field=field)
    number = session.get(PhoneNumber, from_number_id)
    if number is None:
        raise InvalidInput(f"there is no phone number {from_number_id}", field=field)
    trunk = (
        session.get(SipOutboundTrunk, number.outbound_trunk_id)
        if number.outbound_trunk_id
        else None
    )
    if trunk is None:
        raise InvalidInput(
            f"{number.number} has no outbound trunk: add one on the Phone page first",
            field=field,
        )
    if not trunk.livekit_trunk_id:
        why = f" ({trunk.sync_error})" if trunk.sync_error else ""
        raise InvalidInput(
            f"the outbound trunk {trunk.name!r} of {number.number} is not set up in LiveKit "
            f"yet{why}: sync it on the Phone page",
            field=field,
        )
    return _Route(number=number, trunk_id=trunk.livekit_trunk_id)


async def start_outbound_call(
    *,
    agent_id: uuid.UUID,
    to: str,
    from_number_id: uuid.UUID | None,
    settings: Settings,
    caller: Principal,
    variables: dict[str, str] | None = None,
) -> OutboundCall:
    """Place a call for `caller`, counted against the call-start rate limit (the same
    one browser calls use: one limit however calls are started)."""
    custom = variables_svc.validate(variables)
    e164.parse(to, field="to")  # a typo is a 422 before it costs a rate-limit slot
    calls_svc.check_start_rate(caller=caller, settings=settings)
    return await place_call(
        agent_id=agent_id,
        to=to,
        from_number_id=from_number_id,
        settings=settings,
        variables=custom,
    )


async def place_call(
    *,
    agent_id: uuid.UUID,
    to: str,
    from_number_id: uuid.UUID | None,
    settings: Settings,
    variables: dict[str, str] | None = None,
    dialer: SipDialer | None = None,
    campaign: CampaignAttempt | None = None,
) -> OutboundCall:
    """Check, write the row, create room and dispatch, dial; see the module docstring.

    A `campaign` attempt is written on the row; the database keeps one call per
    (contact, attempt), so a second placement of the same attempt is `AlreadyPlaced`
    before anything is dialled."""
    custom = variables_svc.validate(variables)
    require_livekit(settings)
    # The database work runs on a thread: this is awaited on the web app's event loop,
    # and a campaign has many calls under way at once.
    call_id, room_name, callee, route = await asyncio.to_thread(
        _write_row, agent_id, to, from_number_id, custom, campaign, settings
    )
    from_number = route.number.number
    identity = f"{IDENTITY_PREFIX}{call_id.hex[:12]}"
    dialer = dialer or SipDialer(settings)
    request = dialer.request(
        trunk_id=route.trunk_id,
        to=callee,
        from_number=from_number,
        room_name=room_name,
        identity=identity,
        display_name=e164.display(callee),
        attributes={CALL_ATTRIBUTE: str(call_id)},
    )
    gateway = LiveKitGateway(settings)
    try:
        await gateway.create_room_and_dispatch(
            room_name=room_name,
            metadata={
                "call_session_id": str(call_id),
                "agent_id": str(agent_id),
                "outbound": {
                    "participant_identity": identity,
                    "ringing_timeout_s": dialer.ringing_timeout_s,
                },
            },
        )
    except ProviderFailed as exc:
        await _record_async(
            call_id, DialOutcome(status="failed", sip_status_reason=exc.message[:200])
        )
        raise
    try:
        outcome = await dialer.dial(request)
    except ProviderFailed as exc:
        await _record_async(
            call_id, DialOutcome(status="failed", sip_status_reason=exc.message[:200])
        )
        await _drop_room(gateway, room_name)
        raise
    await _record_async(call_id, outcome)
    if not outcome.answered:
        await _drop_room(gateway, room_name)
    return OutboundCall(
        call_session_id=call_id,
        room_name=room_name,
        to=callee,
        from_number=from_number,
        dial_status=outcome.status,
        sip_status_code=outcome.sip_status_code,
        sip_status_reason=outcome.sip_status_reason,
        sip_call_id=outcome.sip_call_id,
    )


def _write_row(
    agent_id: uuid.UUID,
    to: str,
    from_number_id: uuid.UUID | None,
    variables: dict[str, str],
    campaign: CampaignAttempt | None,
    settings: Settings,
) -> tuple[uuid.UUID, str, str, _Route]:
    """Steps 1-2 in one transaction, with the live log's "Calling ..." line: (call id,
    room, callee in E.164, route)."""
    with session_scope() as session:
        callee = check_destination(session=session, to=to)
        route = _route(session, from_number_id)
        agent = agents_svc.lock_agent(session=session, agent_id=agent_id, shared=True)
        if agent.status != "ready":
            raise Conflict(f"agent '{agent.name or agent.id}' is {agent.status}, not ready")
        call_limits.claim_for(session=session, settings=settings, agent=agent)
        call = _insert_call(
            session,
            agent_id=agent_id,
            label=agent.name,
            to=callee,
            route=route,
            variables=variables,
            campaign=campaign,
        )
        label = agent.name or str(agent_id)
        events.publish(
            calls_svc.CALLS_STREAM,
            "call_started",
            f"Calling {e164.display(callee)} with {label}",
            {"call_session_id": str(call.id), "direction": "outbound"},
            session=session,
        )
        return call.id, call.room_name, callee, route


def _insert_call(
    session: Session,
    *,
    agent_id: uuid.UUID,
    label: str,
    to: str,
    route: _Route,
    variables: dict[str, str],
    campaign: CampaignAttempt | None = None,
) -> CallSession:
    call_id = uuid.uuid4()
    call = CallSession(
        id=call_id,
        session_id=uuid.uuid4().hex,
        agent_id=agent_id,
        room_name=f"voxie-{call_id.hex[:12]}-{secrets.token_hex(3)}",
        primary_agent_type=label,
        last_activity_at=utcnow(),
        variables=variables,
        kind="phone",
        direction="outbound",
        customer_phone=to,
        called_number=to,
        phone_number_id=route.number.id,
        dial_status="ringing",
    )
    if campaign is not None:
        call.campaign_id = campaign.campaign_id
        call.campaign_contact_id = campaign.contact_id
        call.campaign_attempt = campaign.attempt
    session.add(call)
    try:
        session.flush()
    except IntegrityError:  # the unique (contact, attempt); the transaction rolls back
        if campaign is None:
            raise
        raise AlreadyPlaced(
            f"attempt {campaign.attempt} of contact {campaign.contact_id} is already placed"
        ) from None
    return call


def _record(call_id: uuid.UUID, outcome: DialOutcome) -> None:
    """Write the dial outcome; a call not answered is ended `failed` with it as reason."""
    with session_scope() as session:
        call = calls_svc.get_call(session=session, call_session_id=call_id)
        call.dial_status = outcome.status
        call.sip_status_code = outcome.sip_status_code
        call.sip_status_reason = outcome.sip_status_reason[:200] or None
        call.sip_call_id = outcome.sip_call_id
        call.last_activity_at = utcnow()
        session.add(call)
        session.flush()
        if not outcome.answered:
            calls_svc.end_call_record(
                session=session,
                call_session_id=call_id,
                status="failed",
                reason=f"dial: {outcome.describe()}",
            )


async def _record_async(call_id: uuid.UUID, outcome: DialOutcome) -> None:
    await asyncio.to_thread(_record, call_id, outcome)


async def _drop_room(gateway: LiveKitGateway, room_name: str) -> None:
    """Delete the room of a call that did not connect, so its worker job ends too."""
    with contextlib.suppress(ProviderFailed):
        await gateway.delete_room(room_name)
