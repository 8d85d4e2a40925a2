"""The telephone side of a call in the worker: the SIP caller, key presses, hang-up.

LiveKit SIP brings a phone call into a room as a participant of kind SIP, with the
call's facts in `sip.*` attributes. Three seams here are where the worker touches
that participant, so tests fake it (a fake room and participant with attributes)
and run everything else for real:

- `wait_for_sip_caller(ctx)`: the SIP participant of the job's room;
- `PhoneLine`: listens on the room for the caller's key presses
  (`sip_dtmf_received`), which reach the model as text ("The caller pressed 3."),
  and for the caller leaving (`participant_disconnected`), which ends the call
  with reason `caller_hung_up`;
- `say_not_in_service`: what a caller to a number bound to no agent hears;
  `say_busy`: what a caller hears when a concurrent-call limit is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, room_io

from voice_worker import prompts
from voice_worker.calldata import CallData
from voice_worker.providers import ProviderMissing, build_tts
from voice_worker.spec_agent import DTMF_KEYS
from voxie_app.models import AgentSpec
from voxie_app.settings import Settings

log = logging.getLogger("voxie.worker.phone")

SIP_KIND = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
# How long the worker waits for the SIP participant after it is dispatched. LiveKit
# SIP puts the caller in the room before the dispatch rule dispatches the agent, so
# this only runs out when the caller hung up in the meantime.
SIP_JOIN_TIMEOUT_SECONDS = 30.0
# Key presses closer together than this are one entry ("4 5 2 1"), told to the model
# at once; # ends an entry at once.
DTMF_ENTRY_GAP_SECONDS = 1.5
HUNG_UP = "caller_hung_up"
NOT_IN_SERVICE_PLAYOUT_SECONDS = 20.0


async def wait_for_sip_caller(ctx: JobContext) -> rtc.RemoteParticipant | None:
    """The room's SIP participant (connecting to the room first), or None when none
    joins within `SIP_JOIN_TIMEOUT_SECONDS`."""
    try:
        return await asyncio.wait_for(
            ctx.wait_for_participant(kind=SIP_KIND), SIP_JOIN_TIMEOUT_SECONDS
        )
    except (TimeoutError, RuntimeError) as exc:
        log.warning("no SIP participant joined room %s: %s", ctx.room.name, exc)
        return None


class PhoneLine:
    """The caller's key presses and hang-up, wired from the room to the session.

    `room` is anything with livekit's `on`/`off` (an `rtc.Room`, or a test's fake);
    only events from `caller_identity` count, so an agent's own DTMF or another
    participant's departure changes nothing.
    """

    def __init__(
        self,
        *,
        room: Any,
        session: AgentSession,
        caller_identity: str,
        data: CallData,
        entry_gap: float | None = None,
    ) -> None:
        self.room = room
        self.session = session
        self.caller_identity = caller_identity
        self.data = data
        self.entry_gap = DTMF_ENTRY_GAP_SECONDS if entry_gap is None else entry_gap
        self.keys: list[str] = []
        self.told: list[str] = []  # what the model was told, in order (for logs and tests)
        self._timer: asyncio.TimerHandle | None = None

    def attach(self) -> PhoneLine:
        self.room.on("sip_dtmf_received", self._on_dtmf)
        self.room.on("participant_disconnected", self._on_disconnected)
        return self

    def detach(self) -> None:
        self.room.off("sip_dtmf_received", self._on_dtmf)
        self.room.off("participant_disconnected", self._on_disconnected)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _from_caller(self, participant: Any) -> bool:
        return participant is not None and participant.identity == self.caller_identity

    def _on_dtmf(self, ev: rtc.SipDTMF) -> None:
        key = ev.digit or ""
        if len(key) != 1 or key not in DTMF_KEYS or not self._from_caller(ev.participant):
            return
        self.keys.append(key)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if key == "#":
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.entry_gap, self.flush)

    def flush(self) -> None:
        """Tell the model the keys pressed since the last time, as the caller's turn."""
        self._timer = None
        keys, self.keys = self.keys, []
        if not keys:
            return
        text = prompts.DTMF_PRESSED.format(keys=" ".join(keys))
        self.told.append(text)
        # The caller chose while the agent was speaking: stop it. Not running yet, or a
        # speech that may not be interrupted: the reply queues behind it.
        with contextlib.suppress(RuntimeError):
            self.session.interrupt()
        try:
            self.session.generate_reply(user_input=text)
        except RuntimeError as exc:
            log.warning("key press not delivered: %s", exc)

    def _on_disconnected(self, participant: Any) -> None:
        if not self._from_caller(participant):
            return
        if self.data.end_reason is None:
            self.data.end_reason = HUNG_UP
        self.detach()
        self.session.shutdown(drain=False)


async def say_not_in_service(ctx: JobContext, settings: Settings) -> None:
    """Tell a caller the number is not in service, then return so the job hangs up."""
    await _say_then_hang_up(ctx, settings, prompts.NOT_IN_SERVICE, "not-in-service")


async def say_busy(ctx: JobContext, settings: Settings) -> None:
    """Tell a caller every line is busy (a concurrent-call limit is full), then return
    so the job hangs up."""
    await _say_then_hang_up(ctx, settings, prompts.BUSY, "busy")


async def _say_then_hang_up(ctx: JobContext, settings: Settings, text: str, what: str) -> None:
    """Say `text` to the caller in a short TTS-only session. Without a TTS configured
    the caller hears nothing."""
    try:
        tts = build_tts(AgentSpec(name="Voxie", instructions=text), settings)
    except ProviderMissing as exc:
        log.warning("cannot play the %s message: %s", what, exc.message)
        return
    session: AgentSession = AgentSession(tts=tts)
    try:
        await session.start(
            agent=Agent(instructions=""),
            room=ctx.room,
            room_options=room_io.RoomOptions(audio_input=False, text_input=False),
        )
        handle = session.say(text, allow_interruptions=False, add_to_chat_ctx=False)
        await asyncio.wait_for(handle.wait_for_playout(), NOT_IN_SERVICE_PLAYOUT_SECONDS)
    except Exception:  # the caller is hung up on either way
        log.exception("could not play the %s message", what)
    finally:
        await session.aclose()
