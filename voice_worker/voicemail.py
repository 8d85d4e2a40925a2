"""Voicemail on outbound calls: livekit-agents' answering-machine detection (AMD).

When the callee answers, `screen_answer` asks the detector who picked up. livekit's
`AMD` listens to the greeting and classifies its transcript with an LLM (the
agent's own); while it listens the agent's first words are held back (AMD pauses
speech authorisation), and on a machine it interrupts them.

- human, or uncertain: the agent carries on as on any call;
- an IVR menu (`machine-ivr`): not a voicemail; the agent carries on (navigating
  menus is the DTMF tool's job);
- a voicemail (`machine-vm`): the spec's `voicemail_policy`: `hang_up`, or
  `leave_message` (the spec's `voicemail_message`, `{{variables}}` rendered with the
  call's values, spoken without interruption) and then hang up;
- a mailbox that cannot take a message (`machine-unavailable`): hang up.

A machine makes the call's outcome `voicemail` (`CallSession.dial_status`, which
campaigns read to count the contact done or retry) with a readable end reason.

`Detector` is the seam: the real one needs the callee's audio, so tests pass a
function returning a stubbed `AMDPredictionEvent`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from livekit.agents import AgentSession
from livekit.agents.voice.amd import AMD, AMDCategory, AMDPredictionEvent
from sqlmodel import Session

from voice_worker import realtime
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec
from voxie_app.services import phone_outcomes
from voxie_app.services import variables as variables_svc

if TYPE_CHECKING:
    from voice_worker.calldata import CallData

log = logging.getLogger(__name__)

Detector = Callable[[AgentSession], Awaitable[AMDPredictionEvent]]


def livekit_detector(*, participant_identity: str | None = None) -> Detector:
    """livekit's `AMD` on the session, classifying with the current agent's LLM
    (the session has none of its own in Voxie) and the session's STT transcripts."""

    async def detect(session: AgentSession) -> AMDPredictionEvent:
        agent_llm = getattr(session.current_agent, "llm", None)
        kwargs: dict = {"llm": agent_llm, "stt": None, "ivr_detection": False}
        if participant_identity:
            kwargs["participant_identity"] = participant_identity
        async with AMD(session, **kwargs) as detector:
            return await detector.execute()

    return detect


def action_for(spec: AgentSpec, verdict: AMDPredictionEvent) -> str | None:
    """What to do about who answered: None (carry on), or a key of
    `phone_outcomes.VOICEMAIL_ACTIONS`."""
    if verdict.category == AMDCategory.MACHINE_VM:
        return spec.voicemail_policy
    if verdict.category == AMDCategory.MACHINE_UNAVAILABLE:
        return "unavailable"
    return None  # human, uncertain, or an IVR menu


def message_for(spec: AgentSpec, variables: dict[str, str]) -> str:
    """The voicemail message with the call's `{{variables}}` rendered."""
    return variables_svc.render(spec.voicemail_message, variables).strip()


async def screen_answer(session: AgentSession, data: CallData, *, detector: Detector) -> str | None:
    """Run the detector once the callee answered and follow the spec's policy.

    Returns the action taken (None: a person, the call goes on). A detector that
    fails is logged and treated as a person: better to talk to a machine than hang
    up on a customer.
    """
    try:
        verdict = await detector(session)
    except Exception:
        log.exception("answering-machine detection failed; carrying on as with a person")
        return None
    agent = session.current_agent
    spec: AgentSpec = getattr(agent, "spec", data.spec)
    action = action_for(spec, verdict)
    log.info("AMD: %s (%s) -> %s", verdict.category.value, verdict.reason, action or "continue")
    if action is None:
        return None
    if action == "leave_message":
        message = message_for(spec, getattr(agent, "variables", {}) or {})
        if message:
            await realtime.speak(session, message, allow_interruptions=False)
    await _record(data, category=verdict.category.value, action=action, agent_name=spec.name)
    data.end_reason = phone_outcomes.voicemail_end_reason(action)
    session.shutdown()
    return action


async def _record(data: CallData, *, category: str, action: str, agent_name: str) -> None:
    if data.call_session_id is None:
        return
    call_id = data.call_session_id

    def write_in(session: Session) -> None:
        phone_outcomes.record_voicemail(
            session=session,
            call_session_id=call_id,
            category=category,
            action=action,
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
    except Exception:
        log.exception("could not record voicemail on call %s", call_id)
