"""Voicemail on outbound calls: who answered decides what the agent does.

The agent runs in an `AgentSession` (text mode, the OpenAI double as its LLM) built
the worker's way for an outbound phone call; the answering-machine detector is
stubbed at its seam (`voicemail.Detector`) with the `AMDPredictionEvent` livekit's
`AMD` would produce. The real detector cannot run here: it classifies the callee's
greeting from live audio in a LiveKit room, and no LiveKit/SIP server runs on this
machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.amd import AMDCategory, AMDPredictionEvent
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voice_worker import phone_features, voicemail
from voice_worker.runtime import agent_builder, call_data, load_call_context, load_spec
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, CallSession, ConversationTurn, Event
from voxie_app.services import agent_creation
from voxie_app.settings import Settings

MESSAGE = "Hi {{first_name|there}}, this is {{agent_name}} from Acme. Please call us back."
BASE = {
    "name": "Renewals",
    "instructions": "You call customers about their renewal.",
    "greeting": "Hello {{first_name}}, this is Acme.",
}


@pytest.fixture
def llm_settings(
    db: str, openai_double: OpenAIServerDouble, configure: Callable[..., Settings]
) -> Settings:
    return configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="1",
        VOXIE_PROVIDER_RETRY_INTERVAL="0.01",
    )


def make_agent(**spec: object) -> uuid.UUID:
    return agent_creation.submit(user_requirements={}, processed_spec={**BASE, **spec}).id


def make_call(agent_id: uuid.UUID, *, direction: str = "outbound") -> uuid.UUID:
    with session_scope() as s:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=agent_id,
            room_name="out-room",
            kind="phone",
            direction=direction,
            customer_phone="+14155550199",
            variables={"first_name": "Ann"},
            dial_status="answered",
        )
        s.add(call)
    return call.id


async def open_call(agent_id: uuid.UUID, call_id: uuid.UUID, settings: Settings) -> TextChat:
    """The worker's path for a phone call (`prepare_line`, `agent_builder(phone_call=...)`)."""
    line = phone_features.prepare_line(call_id, settings)
    assert line is not None
    spec = load_spec(agent_id)
    build = agent_builder(
        settings, voice=False, context=load_call_context(call_id, settings), phone_call=True
    )
    data = call_data(
        settings=settings, spec=spec, agent_id=agent_id, call_session_id=call_id, build=build
    )
    data.phone = line
    return await TextChat.start(build(spec, agent_id, None, False), data, settings)


def verdict(category: AMDCategory, transcript: str = "") -> voicemail.Detector:
    async def detect(_session: AgentSession) -> AMDPredictionEvent:
        return AMDPredictionEvent(
            speech_duration=2.0, category=category, reason="stub", transcript=transcript, delay=0.1
        )

    return detect


def said(chat: TextChat) -> list[str]:
    return [
        m.text_content or ""
        for m in chat.session.history.items
        if isinstance(m, ChatMessage) and m.role == "assistant"
    ]


def row(call_id: uuid.UUID) -> CallSession:
    with session_scope() as s:
        return s.get(CallSession, call_id)


def system_turns(call_id: uuid.UUID) -> list[str]:
    with session_scope() as s:
        rows = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        return [r.transcript for r in rows if r.speaker == "system"]


async def test_machine_with_leave_message_leaves_the_rendered_message_and_hangs_up(
    llm_settings: Settings,
) -> None:
    agent_id = make_agent(voicemail_policy="leave_message", voicemail_message=MESSAGE)
    call_id = make_call(agent_id)
    chat = await open_call(agent_id, call_id, llm_settings)
    action = await voicemail.screen_answer(
        chat.session,
        chat.data,
        detector=verdict(AMDCategory.MACHINE_VM, "You've reached Ann, leave a message."),
    )
    assert action == "leave_message"
    assert said(chat)[-1] == "Hi Ann, this is Renewals from Acme. Please call us back."
    assert chat.closed or chat.data.end_reason is not None
    await chat.aclose()

    call = row(call_id)
    assert call.dial_status == "voicemail"
    assert call.call_status == "completed"
    assert call.end_reason == "voicemail: left a voicemail message"
    assert system_turns(call_id) == [
        "Answering machine detected (machine-vm): left a voicemail message"
    ]
    with session_scope() as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.stream == "calls")).all()]
    assert "call_voicemail" in kinds


async def test_machine_with_hang_up_says_nothing_more(llm_settings: Settings) -> None:
    agent_id = make_agent(voicemail_policy="hang_up", voicemail_message=MESSAGE)
    call_id = make_call(agent_id)
    chat = await open_call(agent_id, call_id, llm_settings)
    before = said(chat)
    action = await voicemail.screen_answer(
        chat.session, chat.data, detector=verdict(AMDCategory.MACHINE_VM)
    )
    assert action == "hang_up"
    assert said(chat) == before  # no message left
    await chat.aclose()
    call = row(call_id)
    assert (call.dial_status, call.end_reason) == (
        "voicemail",
        "voicemail: hung up on an answering machine",
    )


async def test_full_mailbox_is_hung_up_on_even_with_leave_message(llm_settings: Settings) -> None:
    agent_id = make_agent(voicemail_policy="leave_message", voicemail_message=MESSAGE)
    call_id = make_call(agent_id)
    chat = await open_call(agent_id, call_id, llm_settings)
    before = said(chat)
    action = await voicemail.screen_answer(
        chat.session, chat.data, detector=verdict(AMDCategory.MACHINE_UNAVAILABLE)
    )
    assert action == "unavailable"
    assert said(chat) == before
    await chat.aclose()
    call = row(call_id)
    assert call.dial_status == "voicemail"
    assert call.end_reason == "voicemail: hung up: the mailbox could not take a message"


@pytest.mark.parametrize(
    "category", [AMDCategory.HUMAN, AMDCategory.UNCERTAIN, AMDCategory.MACHINE_IVR]
)
async def test_a_person_or_a_menu_gets_the_agent(
    category: AMDCategory, llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent(voicemail_policy="leave_message", voicemail_message=MESSAGE)
    call_id = make_call(agent_id)
    chat = await open_call(agent_id, call_id, llm_settings)
    assert said(chat) == ["Hello Ann, this is Acme."]
    action = await voicemail.screen_answer(chat.session, chat.data, detector=verdict(category))
    assert action is None
    assert not chat.closed and chat.data.end_reason is None
    openai_double.script(Reply(content="Your renewal is due next week."))
    reply = await chat.send("Hi, what's this about?")
    assert reply.messages == ["Your renewal is due next week."]
    await chat.aclose()
    call = row(call_id)
    assert call.dial_status == "answered"
    assert system_turns(call_id) == []


async def test_a_failing_detector_means_carry_on(llm_settings: Settings) -> None:
    async def broken(_session: AgentSession) -> AMDPredictionEvent:
        raise RuntimeError("amd closed before a result was available")

    agent_id = make_agent(voicemail_policy="hang_up")
    call_id = make_call(agent_id)
    chat = await open_call(agent_id, call_id, llm_settings)
    assert await voicemail.screen_answer(chat.session, chat.data, detector=broken) is None
    assert not chat.closed
    await chat.aclose()
    assert row(call_id).dial_status == "answered"


async def test_screening_runs_on_outbound_calls_only(llm_settings: Settings) -> None:
    agent_id = make_agent(voicemail_policy="hang_up")
    seen: list[str] = []

    async def detect(_session: AgentSession) -> AMDPredictionEvent:
        seen.append("asked")
        return await verdict(AMDCategory.MACHINE_VM)(_session)

    room = SimpleNamespace(name="out-room", remote_participants={})
    inbound = await open_call(agent_id, make_call(agent_id, direction="inbound"), llm_settings)
    assert (
        phone_features.session_started(room, inbound.session, inbound.data, detector=detect) is None
    )
    await inbound.aclose()

    call_id = make_call(agent_id)
    outbound = await open_call(agent_id, call_id, llm_settings)
    task = phone_features.session_started(room, outbound.session, outbound.data, detector=detect)
    assert task is not None
    assert await task == "hang_up"
    assert outbound.data.phone is not None and outbound.data.phone.room_name == "out-room"
    await outbound.aclose()
    assert seen == ["asked"]
    assert row(call_id).dial_status == "voicemail"


def test_message_renders_variables_and_defaults() -> None:
    spec = AgentSpec.model_validate(
        {**BASE, "voicemail_policy": "leave_message", "voicemail_message": MESSAGE}
    )
    assert voicemail.message_for(spec, {"agent_name": "Renewals"}) == (
        "Hi there, this is Renewals from Acme. Please call us back."
    )
    assert voicemail.message_for(spec, {"first_name": "Bo", "agent_name": "R"}).startswith("Hi Bo,")
