"""`transfer_to_human`: hand a phone call to a person listed in the agent's spec.

Only on phone calls and only when the spec has `transfer_numbers`. The model names
a label; code looks the number up in the spec, so no number the model or the caller
says is ever dialled (as for agent transfers, which go by listed id only).

- `cold`: LiveKit's `TransferSIPParticipant` moves the caller's SIP leg to the number
  (`voxie_app.services.sip_transfer`); the agent is done once it succeeds.
- `warm`: livekit-agents' `WarmTransferTask` puts the caller on hold, dials the person
  into a side room through the call's outbound trunk, briefs them with a summary of
  the conversation, and moves them into the caller's room when they agree.

Either way a success ends the call with status `transferred`; a failure is written
to the transcript, the model is told to say so, and the agent carries on.

`PhoneLine` (on `CallData.phone`) is the seam: it knows the room, the caller's SIP
identity, and how to do each kind of transfer; tests give it fakes or point it at
the LiveKit Twirp double.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from livekit.agents import AgentTask, RunContext, function_tool, llm
from livekit.agents.llm import ToolError
from pydantic import Field
from sqlmodel import Session

from voice_worker.calldata import CallData
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, TransferNumber
from voxie_app.services import phone_outcomes, sip_transfer
from voxie_app.services.phone_outcomes import PhoneContext
from voxie_app.services.sip_transfer import TransferOutcome
from voxie_app.settings import Settings

if TYPE_CHECKING:
    from livekit import rtc

log = logging.getLogger(__name__)

GUIDE = (
    "When the caller needs a person listed below (or asks for a human and one fits), "
    "tell them you are transferring them, then call transfer_to_human with that "
    "person's label. Only these labels exist; never offer or dial any other number, "
    "whatever the caller says."
)
WARM_RINGING_TIMEOUT_S = 30.0

ColdTransfer = Callable[[str], Awaitable[TransferOutcome]]
WarmTaskFactory = Callable[[TransferNumber, llm.ChatContext], AgentTask[Any]]


def offered(spec: AgentSpec, *, phone: bool) -> bool:
    """The tool is offered on phone calls whose spec lists people to transfer to."""
    return phone and bool(spec.transfer_numbers)


def instructions_for(spec: AgentSpec) -> str:
    """What the model is told: labels and when to use them, never the numbers."""
    lines = [
        f"- {t.label}: {t.when or 'when the caller needs a person'}" for t in spec.transfer_numbers
    ]
    return GUIDE + "\nPeople you can transfer to:\n" + "\n".join(lines)


def find(spec: AgentSpec, label: str) -> TransferNumber | None:
    """The spec's entry for `label` (case and surrounding spaces ignored), else None."""
    wanted = label.strip().casefold()
    return next((t for t in spec.transfer_numbers if t.label.casefold() == wanted), None)


def sip_identity(room: rtc.Room) -> str | None:
    """The identity of the caller's SIP participant in `room` (the one to transfer)."""
    from livekit import rtc

    for participant in room.remote_participants.values():
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
            return participant.identity
    return None


@dataclass
class PhoneLine:
    """A phone call's means of transfer. `cold` / `warm_task` default to LiveKit's
    (`TransferSIPParticipant` and `WarmTransferTask`); tests replace them."""

    context: PhoneContext
    settings: Settings
    room_name: str = ""
    caller_identity: Callable[[], str | None] = lambda: None
    cold: ColdTransfer | None = None
    warm_task: WarmTaskFactory | None = None
    attempts: list[tuple[str, str, bool]] = field(default_factory=list)  # label, mode, ok

    def bind(self, room: rtc.Room) -> None:
        """Once connected: the call's room, and its SIP participant when asked for."""
        self.room_name = room.name
        self.caller_identity = lambda: sip_identity(room)

    async def cold_transfer(self, number: str) -> TransferOutcome:
        if self.cold is not None:
            return await self.cold(number)
        identity = self.caller_identity()
        if not identity or not self.room_name:
            return TransferOutcome(False, "the caller's phone line was not found in the room")
        return await sip_transfer.transfer_sip_participant(
            self.settings,
            room_name=self.room_name,
            participant_identity=identity,
            number=number,
        )

    def make_warm_task(self, entry: TransferNumber, chat_ctx: llm.ChatContext) -> AgentTask[Any]:
        """The warm transfer task for `entry`; ValueError when the call has no outbound
        trunk to dial the person through."""
        if self.warm_task is not None:
            return self.warm_task(entry, chat_ctx)
        return warm_transfer_task(
            entry,
            chat_ctx,
            trunk_id=self.context.outbound_trunk_id,
            from_number=self.context.our_number,
        )


def warm_transfer_task(
    entry: TransferNumber,
    chat_ctx: llm.ChatContext,
    *,
    trunk_id: str | None,
    from_number: str | None,
) -> AgentTask[Any]:
    """livekit-agents' `WarmTransferTask` dialling `entry.number` through the call's
    number's outbound trunk (`PhoneNumber.outbound_trunk_id` -> LiveKit trunk id),
    showing our number as caller id, briefed from `chat_ctx`."""
    from livekit.agents.beta.workflows.warm_transfer import WarmTransferTask

    if not trunk_id:
        raise ValueError("this call's phone number has no outbound trunk to dial through")
    return WarmTransferTask(
        sip_call_to=entry.number,
        sip_trunk_id=trunk_id,
        sip_number=from_number or "",
        chat_ctx=chat_ctx,
        ringing_timeout=WARM_RINGING_TIMEOUT_S,
        extra_instructions=(
            f"The caller is being transferred to {entry.label}"
            + (f" ({entry.when})" if entry.when else "")
            + "."
        ),
    )


async def _record(
    data: CallData, *, label: str, mode: str, ok: bool, detail: str, agent_name: str | None
) -> None:
    if data.call_session_id is None:
        return
    call_id = data.call_session_id

    def write_in(session: Session) -> None:
        phone_outcomes.record_transfer(
            session=session,
            call_session_id=call_id,
            label=label,
            mode=mode,
            ok=ok,
            detail=detail,
            agent_name=agent_name,
        )

    if data.recorder is not None:
        data.recorder.submit(write_in)
        return

    def write() -> None:
        with session_scope() as session:
            write_in(session)

    try:
        await asyncio.to_thread(write)
    except Exception:  # the call goes on; the log keeps what the transcript missed
        log.exception("could not record the transfer of call %s", call_id)


def failed_message(label: str) -> str:
    return (
        f"The transfer to {label} did not go through. Tell the caller you could not "
        "reach them right now, and keep helping them yourself."
    )


@function_tool
async def transfer_to_human(
    context: RunContext[CallData],
    label: Annotated[
        str, Field(description="The label of the person to transfer to, as listed", max_length=40)
    ],
    reason: Annotated[str, Field(description="Why the caller needs them", max_length=300)] = "",
) -> str | None:
    """Hand this phone call to one of the people listed in your instructions.

    Returns nothing on success (the call is no longer the agent's), else what to tell
    the caller.
    """
    data = context.userdata
    agent = context.session.current_agent
    spec: AgentSpec = getattr(agent, "spec", data.spec)
    line: PhoneLine | None = data.phone
    if line is None or not spec.transfer_numbers:
        return "Transfers to a person are not available on this call. Keep helping the caller."
    entry = find(spec, label)
    if entry is None:
        log.warning("refused transfer to %r (not a listed label)", label[:40])
        labels = ", ".join(t.label for t in spec.transfer_numbers)
        return f"There is no one called {label!r} to transfer to. The people listed: {labels}."
    agent_name = spec.name
    detail = ""
    if entry.mode == "cold":
        outcome = await line.cold_transfer(entry.number)
        ok, detail = outcome.ok, outcome.detail
    else:
        try:
            task = line.make_warm_task(entry, agent.chat_ctx.copy(exclude_instructions=True))
            await task
            ok = True
        except ToolError as exc:
            ok, detail = False, str(exc)
        except Exception as exc:  # any failure is said, and the agent goes on
            log.exception("warm transfer to %s failed", entry.label)
            ok, detail = False, f"{type(exc).__name__}: {exc}"
    line.attempts.append((entry.label, entry.mode, ok))
    await _record(
        data, label=entry.label, mode=entry.mode, ok=ok, detail=detail, agent_name=agent_name
    )
    if not ok:
        log.warning("transfer to %s (%s) failed: %s", entry.label, entry.mode, detail)
        return failed_message(entry.label)
    data.end_status = phone_outcomes.TRANSFERRED
    data.end_reason = phone_outcomes.transfer_end_reason(entry.label, entry.mode)
    # The caller is with the person now: this agent leaves (the room stays theirs).
    context.speech_handle.add_done_callback(lambda _: context.session.shutdown())
    return None
