"""Outbound phone calls: the agent speaks only once the callee has answered.

Voxie dispatches the worker into the room before it dials (`services.outbound_calls`),
so the job starts while the phone is still ringing. LiveKit's SIP service puts the
callee into the room as a SIP participant at once and sets its `sip.callStatus`
attribute to `active` when the call is answered. Until then nothing may be said: the
greeting would play to a ringing line. So the job waits here, between connecting to
the room and starting the session (whose agent says the greeting on entering).

The wait reads only what `rtc.Room` offers (`remote_participants`, the
`participant_connected`, `participant_attributes_changed`, `participant_disconnected`
and `disconnected` events), so tests drive it with a fake room at that seam.

When the callee does not answer, the job ends without recording anything: the dial's
outcome (busy, no answer, with the SIP status) is Voxie's dialler's to record, which
knows it from LiveKit's answer to `CreateSIPParticipant`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

SIP_CALL_STATUS = "sip.callStatus"
ANSWERED = "active"
# The job waits this much longer than the phone may ring (the participant joins the
# room a moment after the dial starts; LiveKit's own timeout ends the ringing first).
WAIT_MARGIN_S = 15.0


@dataclass(frozen=True)
class OutboundJob:
    """What the dispatch metadata says about an outbound call (None for other calls)."""

    participant_identity: str
    ringing_timeout_s: float

    @property
    def wait_s(self) -> float:
        return self.ringing_timeout_s + WAIT_MARGIN_S


def parse_outbound(data: Any) -> OutboundJob | None:
    """`metadata["outbound"]` (`{participant_identity, ringing_timeout_s}`), or None.

    Raises `ValueError` for an `outbound` entry that is there but unusable, so a job
    with garbled metadata is refused rather than greeting a line nobody answered.
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("outbound")
    identity = str(data.get("participant_identity") or "")
    if not identity or len(identity) > 128:
        raise ValueError("outbound.participant_identity")
    timeout = float(data.get("ringing_timeout_s", 30))
    if not 0 < timeout <= 600:
        raise ValueError("outbound.ringing_timeout_s")
    return OutboundJob(participant_identity=identity, ringing_timeout_s=timeout)


async def wait_for_answer(room: Any, *, identity: str, within_s: float) -> str | None:
    """Wait until the participant `identity` has `sip.callStatus` == `active`.

    Returns None once answered, else why not: the callee left (hung up, busy, the
    dial failed), the room closed, or `within_s` seconds passed. Works whether the
    participant is already in the room or joins later.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str | None] = loop.create_future()

    def settle(value: str | None) -> None:
        if not done.done():
            done.set_result(value)

    def check(participant: Any) -> None:
        if getattr(participant, "identity", None) != identity:
            return
        attributes = getattr(participant, "attributes", None) or {}
        if attributes.get(SIP_CALL_STATUS) == ANSWERED:
            settle(None)

    def on_connected(participant: Any) -> None:
        check(participant)

    def on_attributes(_changed: Any, participant: Any) -> None:
        check(participant)

    def on_disconnected(participant: Any) -> None:
        if getattr(participant, "identity", None) == identity:
            status = (getattr(participant, "attributes", None) or {}).get(SIP_CALL_STATUS, "")
            settle(f"the callee left before answering (call status {status or 'unknown'})")

    def on_room_closed(*_args: Any) -> None:
        settle("the room closed before the callee answered")

    handlers = {
        "participant_connected": on_connected,
        "participant_attributes_changed": on_attributes,
        "participant_disconnected": on_disconnected,
        "disconnected": on_room_closed,
    }
    for event, handler in handlers.items():
        room.on(event, handler)
    try:
        existing = room.remote_participants.get(identity)
        if existing is not None:
            check(existing)
        try:
            return await asyncio.wait_for(asyncio.shield(done), within_s)
        except TimeoutError:
            return f"the callee did not answer within {within_s:g} s"
    finally:
        for event, handler in handlers.items():
            with contextlib.suppress(Exception):
                room.off(event, handler)
