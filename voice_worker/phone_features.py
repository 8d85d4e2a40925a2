"""Where the worker's entry point turns on the phone-only features (kept here so the
entry point changes by a line or two): the `PhoneLine` the transfer tool uses, and
answering-machine screening on outbound calls."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from voice_worker import voicemail
from voice_worker.human_transfer import PhoneLine
from voxie_app.db import session_scope
from voxie_app.services import phone_outcomes
from voxie_app.settings import Settings

if TYPE_CHECKING:
    from livekit import rtc
    from livekit.agents import AgentSession

    from voice_worker.calldata import CallData

_background: set[asyncio.Task] = set()


def prepare_line(call_session_id: uuid.UUID, settings: Settings) -> PhoneLine | None:
    """The call's phone line, or None for a web call or chat (blocking: one read)."""
    with session_scope() as session:
        context = phone_outcomes.load_phone_context(
            session=session, call_session_id=call_session_id
        )
    return PhoneLine(context=context, settings=settings) if context is not None else None


def session_started(
    room: rtc.Room,
    session: AgentSession,
    data: CallData,
    *,
    detector: voicemail.Detector | None = None,
) -> asyncio.Task | None:
    """Bind the line to the room; on an outbound call, screen the answer for a machine
    (`detector` defaults to livekit's AMD on the callee's SIP participant)."""
    line = data.phone
    if line is None:
        return None
    line.bind(room)
    if not line.context.outbound:
        return None
    detect = detector or voicemail.livekit_detector(participant_identity=line.caller_identity())
    task = asyncio.create_task(voicemail.screen_answer(session, data, detector=detect))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task
