"""The worker's wait for an outbound callee to answer (`voice_worker.answer`).

The room is faked at the seam the wait reads (`remote_participants` and the room's
events, as `livekit.rtc.Room` emits them), since no LiveKit server or SIP service
runs here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from voice_worker.answer import WAIT_MARGIN_S, parse_outbound, wait_for_answer
from voice_worker.runtime import CannotStart, parse_metadata

ID = "phone-abc123"


@dataclass
class FakeParticipant:
    identity: str
    attributes: dict[str, str] = field(default_factory=dict)


class FakeRoom:
    """What `wait_for_answer` uses of `rtc.Room`: participants, `on`/`off`, events."""

    def __init__(self) -> None:
        self.remote_participants: dict[str, FakeParticipant] = {}
        self.handlers: dict[str, list[Callable[..., Any]]] = {}

    def on(self, event: str, fn: Callable[..., Any]) -> None:
        self.handlers.setdefault(event, []).append(fn)

    def off(self, event: str, fn: Callable[..., Any]) -> None:
        self.handlers[event].remove(fn)

    def emit(self, event: str, *args: Any) -> None:
        for fn in list(self.handlers.get(event, [])):
            fn(*args)

    def join(self, p: FakeParticipant) -> None:
        self.remote_participants[p.identity] = p
        self.emit("participant_connected", p)

    def set_status(self, p: FakeParticipant, status: str) -> None:
        p.attributes["sip.callStatus"] = status
        self.emit("participant_attributes_changed", {"sip.callStatus": status}, p)

    def leave(self, p: FakeParticipant) -> None:
        self.remote_participants.pop(p.identity, None)
        self.emit("participant_disconnected", p)

    def listening(self) -> int:
        return sum(len(v) for v in self.handlers.values())


async def _later(*steps: Callable[[], None]) -> None:
    for step in steps:
        await asyncio.sleep(0.01)
        step()


def run(room: FakeRoom, *steps: Callable[[], None], within_s: float = 2.0) -> str | None:
    async def main() -> str | None:
        waiter = asyncio.create_task(wait_for_answer(room, identity=ID, within_s=within_s))
        await _later(*steps)
        return await waiter

    return asyncio.run(main())


def test_already_answered_returns_at_once() -> None:
    room = FakeRoom()
    room.remote_participants[ID] = FakeParticipant(ID, {"sip.callStatus": "active"})
    assert run(room) is None
    assert room.listening() == 0  # every handler removed


def test_joins_rings_then_answers() -> None:
    room = FakeRoom()
    callee = FakeParticipant(ID, {"sip.callStatus": "dialing"})
    other = FakeParticipant("someone-else")
    result = run(
        room,
        lambda: room.join(callee),
        lambda: room.set_status(callee, "ringing"),
        lambda: room.set_status(other, "active"),  # not our callee: no effect
        lambda: room.set_status(callee, "active"),
    )
    assert result is None
    assert room.listening() == 0


def test_still_ringing_is_not_answered() -> None:
    room = FakeRoom()
    callee = FakeParticipant(ID)

    async def main() -> bool:
        waiter = asyncio.create_task(wait_for_answer(room, identity=ID, within_s=5))
        await _later(lambda: room.join(callee), lambda: room.set_status(callee, "ringing"))
        await asyncio.sleep(0.05)
        pending = not waiter.done()
        room.set_status(callee, "active")
        assert await waiter is None
        return pending

    assert asyncio.run(main()) is True


def test_callee_leaving_before_answer_is_a_reason() -> None:
    room = FakeRoom()
    callee = FakeParticipant(ID, {"sip.callStatus": "ringing"})
    result = run(room, lambda: room.join(callee), lambda: room.leave(callee))
    assert result == "the callee left before answering (call status ringing)"
    assert room.listening() == 0


def test_room_closing_is_a_reason() -> None:
    room = FakeRoom()
    result = run(room, lambda: room.emit("disconnected", "ROOM_DELETED"))
    assert result == "the room closed before the callee answered"


def test_nobody_answers_in_time() -> None:
    room = FakeRoom()
    room.remote_participants[ID] = FakeParticipant(ID, {"sip.callStatus": "ringing"})
    assert run(room, within_s=0.05) == "the callee did not answer within 0.05 s"
    assert room.listening() == 0


# ---- the job's metadata ---------------------------------------------------------------


def test_metadata_of_an_outbound_call() -> None:
    call_id, agent_id = uuid.uuid4(), uuid.uuid4()
    meta = parse_metadata(
        json.dumps(
            {
                "call_session_id": str(call_id),
                "agent_id": str(agent_id),
                "outbound": {"participant_identity": ID, "ringing_timeout_s": 20},
            }
        )
    )
    assert (meta.call_session_id, meta.agent_id) == (call_id, agent_id)
    assert meta.outbound is not None
    assert meta.outbound.participant_identity == ID
    assert meta.outbound.wait_s == 20 + WAIT_MARGIN_S
    plain = parse_metadata(json.dumps({"call_session_id": str(call_id), "agent_id": str(agent_id)}))
    assert plain.outbound is None


@pytest.mark.parametrize(
    "outbound",
    ["yes", {"participant_identity": ""}, {"participant_identity": ID, "ringing_timeout_s": -1}],
)
def test_garbled_outbound_metadata_is_refused(outbound: object) -> None:
    raw = {"call_session_id": str(uuid.uuid4()), "agent_id": str(uuid.uuid4())}
    with pytest.raises(CannotStart):
        parse_metadata(json.dumps({**raw, "outbound": outbound}))
    with pytest.raises(ValueError):
        parse_outbound(outbound)
