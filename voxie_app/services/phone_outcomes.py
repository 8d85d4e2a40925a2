"""What a phone call needs to hand itself to a person or leave a voicemail, and how
those outcomes are written down.

The worker reads a `PhoneContext` once per call (is it a phone call, which way,
which of our numbers, and that number's LiveKit outbound trunk for a warm transfer's
second leg). Transfers and voicemail are written to the call's transcript as system
turns (so the call page shows them in order) and to the calls event stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import Session

from voxie_app.models import CallSession, PhoneNumber, SipOutboundTrunk
from voxie_app.services import events, recording

CALLS_STREAM = "calls"
TRANSFERRED = "transferred"  # the call's final status after a successful hand-off
VOICEMAIL = "voicemail"  # the call's dial status when a machine answered
MAX_DETAIL = 200


@dataclass(frozen=True)
class PhoneContext:
    """A phone call as the worker's tools see it (nothing here reaches the model)."""

    call_session_id: uuid.UUID
    direction: str  # 'inbound' | 'outbound'
    customer_phone: str | None = None
    our_number: str | None = None  # E.164 of our number (the caller id of a warm leg)
    outbound_trunk_id: str | None = None  # LiveKit's SIP outbound trunk id, when set up

    @property
    def outbound(self) -> bool:
        return self.direction == "outbound"


def load_phone_context(*, session: Session, call_session_id: uuid.UUID) -> PhoneContext | None:
    """The call's phone context, or None when it is not a phone call (web, chat, or
    no row): the phone-only tools are then not offered at all."""
    call = session.get(CallSession, call_session_id)
    if call is None or call.kind != "phone":
        return None
    our_number = trunk_id = None
    if call.phone_number_id is not None:
        number = session.get(PhoneNumber, call.phone_number_id)
        if number is not None:
            our_number = number.number
            if number.outbound_trunk_id is not None:
                trunk = session.get(SipOutboundTrunk, number.outbound_trunk_id)
                trunk_id = trunk.livekit_trunk_id if trunk is not None else None
    if our_number is None and call.direction == "inbound":
        our_number = call.called_number
    return PhoneContext(
        call_session_id=call.id,
        direction=call.direction,
        customer_phone=call.customer_phone,
        our_number=our_number,
        outbound_trunk_id=trunk_id,
    )


def record_transfer(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    label: str,
    mode: str,
    ok: bool,
    detail: str = "",
    agent_name: str | None = None,
) -> None:
    """A transfer attempt in the transcript and the event stream (success or failure).

    The number is not written into the transcript text: the label says who it was,
    and the spec says where that label pointed.
    """
    detail = detail[:MAX_DETAIL]
    if ok:
        text = f"Call transferred to {label} ({mode} transfer)"
    else:
        text = f"Transfer to {label} ({mode}) failed" + (f": {detail}" if detail else "")
    recording.add_turn(
        session=session,
        call_session_id=call_session_id,
        speaker="system",
        transcript=text,
        agent_name=agent_name,
        function_called="transfer_to_human",
    )
    events.publish(
        CALLS_STREAM,
        "call_transferred" if ok else "call_transfer_failed",
        text,
        {"call_session_id": str(call_session_id), "label": label, "mode": mode, "ok": ok},
        session=session,
    )


def transfer_end_reason(label: str, mode: str) -> str:
    """The end reason of a call handed to a person (read by people on the call page)."""
    return f"transferred: handed to {label} ({mode} transfer)"


VOICEMAIL_ACTIONS = {
    "hang_up": "hung up on an answering machine",
    "leave_message": "left a voicemail message",
    "unavailable": "hung up: the mailbox could not take a message",
}


def voicemail_end_reason(action: str) -> str:
    """`action` is a key of `VOICEMAIL_ACTIONS`."""
    return f"voicemail: {VOICEMAIL_ACTIONS[action]}"


def record_voicemail(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    category: str,
    action: str,
    agent_name: str | None = None,
) -> None:
    """A machine answered: the call's outcome is `voicemail` (campaigns read
    `dial_status`), and the transcript says what the agent did about it."""
    call = session.get(CallSession, call_session_id)
    if call is None:
        return
    call.dial_status = VOICEMAIL
    session.add(call)
    text = f"Answering machine detected ({category}): {VOICEMAIL_ACTIONS[action]}"
    recording.add_turn(
        session=session,
        call_session_id=call_session_id,
        speaker="system",
        transcript=text,
        agent_name=agent_name,
    )
    events.publish(
        CALLS_STREAM,
        "call_voicemail",
        text,
        {"call_session_id": str(call_session_id), "category": category, "action": action},
        session=session,
    )
