"""`transfer_to_human` on phone calls, through `AgentSession` with the OpenAI double
making the tool call and the LiveKit Twirp double answering the SIP requests.

What runs here: the tool's choice (label -> the spec's number, refusals), the cold
path's exact `TransferSIPParticipant` request and its failures, the warm path up to
`WarmTransferTask` dialling the person (its `CreateSIPParticipant` request against the
double) and the tool's handling of the task's result. What cannot run here: the warm
task's `on_enter` (it joins a side room over LiveKit's WebRTC signalling, plays hold
music, and moves the person with `MoveParticipant`): no LiveKit server runs on this
machine, so that leg is replaced by a stub task that completes as the real one does.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from livekit import api
from livekit.agents import AgentTask
from livekit.agents.beta.workflows.warm_transfer import WarmTransferResult, WarmTransferTask
from livekit.agents.job import _JobContextVar
from livekit.agents.llm import ChatContext, ToolError
from sqlmodel import select

from tests.doubles.livekit_server import LiveKitDouble, SipOutcome
from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker import human_transfer, phone_features
from voice_worker.human_transfer import PhoneLine
from voice_worker.runtime import agent_builder, call_data, load_call_context, load_spec
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import (
    AgentSpec,
    CallSession,
    ConversationTurn,
    Event,
    PhoneNumber,
    SipOutboundTrunk,
    TransferNumber,
)
from voxie_app.services import agent_creation
from voxie_app.services.phone_outcomes import PhoneContext
from voxie_app.settings import Settings

BILLING = "+14155550123"
MANAGER = "+442079460958"
NUMBERS = [
    {"label": "Billing", "number": BILLING, "when": "billing questions", "mode": "cold"},
    {"label": "Manager", "number": MANAGER, "when": "complaints", "mode": "warm"},
]
BASE = {
    "name": "Front Desk",
    "instructions": "You answer the phone for Acme.",
    "greeting": "Acme, how can I help?",
    "transfer_numbers": NUMBERS,
}
ROOM = "phone-room-1"
CALLER = "sip_+14155550199"


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


def make_call(
    agent_id: uuid.UUID, *, kind: str = "phone", trunk: str | None = "ST_out1"
) -> uuid.UUID:
    with session_scope() as s:
        number_id = None
        if kind == "phone":
            out = SipOutboundTrunk(name=f"t-{uuid.uuid4().hex[:6]}", address="sip.example.com")
            out.livekit_trunk_id = trunk
            s.add(out)
            s.flush()
            number = PhoneNumber(number=f"+1415555{uuid.uuid4().int % 10000:04d}")
            number.outbound_trunk_id = out.id
            s.add(number)
            s.flush()
            number_id = number.id
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=agent_id,
            room_name=ROOM,
            kind=kind,
            direction="inbound",
            customer_phone="+14155550199" if kind == "phone" else None,
            phone_number_id=number_id,
        )
        s.add(call)
    return call.id


async def open_phone_chat(
    agent_id: uuid.UUID, call_id: uuid.UUID, settings: Settings, **line: object
) -> TextChat:
    """The worker's path (`phone_features.prepare_line`, `agent_builder(phone_call=...)`,
    `call_data`) in text mode, the line bound to a room as `session_started` does."""
    phone = phone_features.prepare_line(call_id, settings)
    assert phone is not None
    phone.room_name = ROOM
    phone.caller_identity = lambda: CALLER
    for key, value in line.items():
        setattr(phone, key, value)
    spec = load_spec(agent_id)
    context = load_call_context(call_id, settings)
    build = agent_builder(settings, voice=False, context=context, phone_call=True)
    agent = build(spec, agent_id, None, False)
    data = call_data(
        settings=settings, spec=spec, agent_id=agent_id, call_session_id=call_id, build=build
    )
    data.phone = phone
    return await TextChat.start(agent, data, settings)


async def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """A warm transfer awaits an `AgentTask` inside the tool, so `session.run` may
    return before the tool does: wait (bounded) for what the tool does next."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - polling what a framework task changes
            await asyncio.sleep(0.02)


def assistant_said(chat: TextChat) -> list[str]:
    return [
        m.text_content or ""
        for m in chat.session.history.items
        if getattr(m, "role", None) == "assistant"
    ]


def tool_names(request: dict) -> list[str]:
    return sorted(t["function"]["name"] for t in request.get("tools", []))


def tool_output(request: dict) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "tool")


def turns(call_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    with session_scope() as s:
        rows = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        return [(r.speaker, r.transcript, r.function_called) for r in rows]


def system_turns(call_id: uuid.UUID) -> list[str]:
    return [t for sp, t, _ in turns(call_id) if sp == "system"]


def call_row(call_id: uuid.UUID) -> CallSession:
    with session_scope() as s:
        return s.get(CallSession, call_id)


def transfer(label: str) -> Reply:
    return Reply(tool_calls=[ToolCall("transfer_to_human", {"label": label, "reason": "asked"})])


# ----------------------------------------------------------------- where it is offered


async def test_tool_offered_on_phone_calls_only_and_numbers_never_shown(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    web_call = make_call(agent_id, kind="web")
    assert phone_features.prepare_line(web_call, llm_settings) is None
    openai_double.script(Reply(content="ok"), Reply(content="ok"))
    chat = await TextChat.open(agent_id=agent_id, settings=llm_settings, call_session_id=web_call)
    await chat.send("hi")
    await chat.aclose()

    phone_call = make_call(agent_id)
    chat = await open_phone_chat(agent_id, phone_call, llm_settings)
    await chat.send("hi")
    await chat.aclose()

    web_req, phone_req = openai_double.requests
    assert "transfer_to_human" not in tool_names(web_req)
    assert "transfer_to_human" in tool_names(phone_req)
    web_system, phone_system = (r["messages"][0]["content"] for r in (web_req, phone_req))
    assert "Billing" not in web_system
    assert "- Billing: billing questions" in phone_system
    assert "- Manager: complaints" in phone_system
    assert BILLING not in phone_system and MANAGER not in phone_system


async def test_not_offered_without_transfer_numbers(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent(transfer_numbers=[])
    chat = await open_phone_chat(agent_id, make_call(agent_id), llm_settings)
    openai_double.script(Reply(content="ok"))
    await chat.send("hi")
    await chat.aclose()
    assert "transfer_to_human" not in tool_names(openai_double.requests[0])


def test_phone_context_reads_the_numbers_outbound_trunk(llm_settings: Settings) -> None:
    agent_id = make_agent()
    line = phone_features.prepare_line(make_call(agent_id, trunk="ST_abc"), llm_settings)
    assert line is not None
    assert line.context.outbound_trunk_id == "ST_abc"
    assert line.context.our_number and line.context.our_number.startswith("+1415555")
    assert not line.context.outbound


# ------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("label", [BILLING, "+15005550006", "Sales", "billing; +1 415 555 0000"])
async def test_label_not_in_the_spec_is_refused(
    label: str,
    livekit_configured: LiveKitDouble,
    llm_settings: Settings,
    openai_double: OpenAIServerDouble,
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id)
    chat = await open_phone_chat(agent_id, call_id, llm_settings)
    openai_double.script(transfer(label), Reply(content="I can connect you to Billing or Manager."))
    reply = await chat.send(f"Put me through to {label}")
    assert reply.messages == ["I can connect you to Billing or Manager."]
    assert not reply.ended
    output = tool_output(openai_double.requests[1])
    assert "no one called" in output and "Billing, Manager" in output
    assert livekit_configured.calls("TransferSIPParticipant") == []
    await chat.aclose()
    assert call_row(call_id).call_status == "completed"


# ------------------------------------------------------------------------------ cold


async def test_cold_transfer_sends_the_exact_request_and_ends_transferred(
    livekit_configured: LiveKitDouble, llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id)
    chat = await open_phone_chat(agent_id, call_id, llm_settings)
    # The label as the model might spell it: case and spaces do not matter.
    openai_double.script(
        Reply(content="Sure, transferring you to billing now."),
        transfer(" billing "),
    )
    await chat.send("I have a question about my bill")
    reply = await chat.send("Yes please")
    assert reply.tool_calls == ["transfer_to_human"]
    assert reply.messages == []  # the agent says nothing more: the call left it
    assert reply.ended and chat.closed
    await chat.aclose()

    (sent,) = livekit_configured.calls("TransferSIPParticipant")
    assert sent.service == "SIP"
    body = dict(sent.body)
    assert body.pop("ringing_timeout", None) is not None  # livekit-api pins the ring window
    assert body == {
        "participant_identity": CALLER,
        "room_name": ROOM,
        "transfer_to": f"tel:{BILLING}",
    }
    assert sent.claims["sip"]["call"] is True
    assert sent.claims["video"]["roomAdmin"] is True and sent.claims["video"]["room"] == ROOM

    call = call_row(call_id)
    assert call.call_status == "transferred"
    assert call.end_reason == "transferred: handed to Billing (cold transfer)"
    assert system_turns(call_id) == ["Call transferred to Billing (cold transfer)"]
    speakers = [(sp, fn) for sp, _, fn in turns(call_id)][-2:]
    assert speakers == [("system", "transfer_to_human"), ("tool", "transfer_to_human")]
    with session_scope() as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.stream == "calls")).all()]
    assert "call_transferred" in kinds


@pytest.mark.parametrize(
    ("outcome", "detail"),
    [
        (SipOutcome.busy(), "SIP 486 Busy Here"),
        (SipOutcome.no_answer(), "SIP 480 Temporarily Unavailable"),
        (SipOutcome(failed_reason="STR_RINGING_TIMEOUT"), "STR_RINGING_TIMEOUT"),
    ],
)
async def test_failed_cold_transfer_is_said_recorded_and_the_agent_carries_on(
    outcome: SipOutcome,
    detail: str,
    livekit_configured: LiveKitDouble,
    llm_settings: Settings,
    openai_double: OpenAIServerDouble,
) -> None:
    livekit_configured.sip_transfer_outcomes.append(outcome)
    agent_id = make_agent()
    call_id = make_call(agent_id)
    chat = await open_phone_chat(agent_id, call_id, llm_settings)
    openai_double.script(
        transfer("Billing"),
        Reply(content="Sorry, I couldn't reach billing. Can I help instead?"),
        Reply(content="Your balance is zero."),
    )
    reply = await chat.send("Billing please")
    assert reply.messages == ["Sorry, I couldn't reach billing. Can I help instead?"]
    assert not reply.ended
    assert "did not go through" in tool_output(openai_double.requests[1])
    reply = await chat.send("What's my balance?")
    assert reply.messages == ["Your balance is zero."]
    await chat.aclose()

    assert len(livekit_configured.calls("TransferSIPParticipant")) == 1
    assert system_turns(call_id) == [f"Transfer to Billing (cold) failed: {detail}"]
    call = call_row(call_id)
    assert call.call_status == "completed"
    assert detail not in (call.end_reason or "")


async def test_cold_transfer_with_livekit_down_is_a_spoken_failure(
    livekit_configured: LiveKitDouble, llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    livekit_configured.fail_next("TransferSIPParticipant", 503, "unavailable", "down")
    agent_id = make_agent()
    call_id = make_call(agent_id)
    chat = await open_phone_chat(agent_id, call_id, llm_settings)
    openai_double.script(transfer("Billing"), Reply(content="Sorry, no one is free."))
    reply = await chat.send("Billing please")
    assert reply.messages == ["Sorry, no one is free."]
    await chat.aclose()
    (text,) = system_turns(call_id)
    assert text.startswith("Transfer to Billing (cold) failed:") and "down" in text


# ------------------------------------------------------------------------------ warm


class StubWarmTask(AgentTask[WarmTransferResult]):
    """Completes as `WarmTransferTask` does once its side of the call is done: with a
    `WarmTransferResult` (the person said yes and was moved in) or a `ToolError`."""

    def __init__(self, result: WarmTransferResult | Exception) -> None:
        super().__init__(instructions="stub warm transfer")
        self._result = result

    async def on_enter(self) -> None:
        self.complete(self._result)


async def test_warm_transfer_success_ends_transferred(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    made: list[tuple[TransferNumber, ChatContext]] = []

    def factory(entry: TransferNumber, chat_ctx: ChatContext) -> AgentTask:
        made.append((entry, chat_ctx))
        return StubWarmTask(WarmTransferResult(human_agent_identity="human-agent-sip"))

    agent_id = make_agent()
    call_id = make_call(agent_id)
    chat = await open_phone_chat(agent_id, call_id, llm_settings, warm_task=factory)
    openai_double.script(Reply(content="I'm sorry. Let me get my manager."), transfer("Manager"))
    await chat.send("I want to complain about my order")
    await chat.send("Yes, get the manager")
    await wait_until(lambda: chat.closed)
    await chat.aclose()

    ((entry, ctx),) = made
    assert (entry.label, entry.number, entry.mode) == ("Manager", MANAGER, "warm")
    said = [m.text_content for m in ctx.messages()]
    assert "I want to complain about my order" in said  # the briefing's material
    call = call_row(call_id)
    assert call.call_status == "transferred"
    assert call.end_reason == "transferred: handed to Manager (warm transfer)"
    assert system_turns(call_id) == ["Call transferred to Manager (warm transfer)"]


@pytest.mark.parametrize(
    "result",
    [ToolError("human agent declined to connect: busy"), ToolError("voicemail detected")],
)
async def test_warm_transfer_declined_is_said_and_recorded(
    result: Exception, llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id)
    chat = await open_phone_chat(
        agent_id, call_id, llm_settings, warm_task=lambda _e, _c: StubWarmTask(result)
    )
    openai_double.script(transfer("Manager"), Reply(content="The manager isn't free, sorry."))
    await chat.send("Manager please")
    await wait_until(lambda: "The manager isn't free, sorry." in assistant_said(chat))
    assert not chat.closed
    await chat.aclose()
    assert system_turns(call_id) == [f"Transfer to Manager (warm) failed: {result}"]
    assert call_row(call_id).call_status == "completed"


async def test_warm_transfer_without_an_outbound_trunk_is_a_spoken_failure(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id, trunk=None)
    chat = await open_phone_chat(agent_id, call_id, llm_settings)
    openai_double.script(transfer("Manager"), Reply(content="I can't reach the manager."))
    reply = await chat.send("Manager please")
    assert reply.messages == ["I can't reach the manager."]
    await chat.aclose()
    (text,) = system_turns(call_id)
    assert "no outbound trunk" in text


async def test_warm_task_is_livekits_with_the_calls_trunk_number_and_briefing() -> None:
    context = PhoneContext(
        call_session_id=uuid.uuid4(),
        direction="inbound",
        our_number="+14155550100",
        outbound_trunk_id="ST_out1",
    )
    line = PhoneLine(context=context, settings=Settings())
    entry = TransferNumber(label="Manager", number=MANAGER, when="complaints", mode="warm")
    chat_ctx = ChatContext.empty()
    chat_ctx.add_message(role="user", content="My parcel never came.")
    chat_ctx.add_message(role="assistant", content="I'm sorry, let me get my manager.")
    task = line.make_warm_task(entry, chat_ctx)
    assert isinstance(task, WarmTransferTask)
    assert task._sip_call_to == MANAGER
    assert task._sip_trunk_id == "ST_out1"
    assert task._sip_number == "+14155550100"
    assert task._ringing_timeout == human_transfer.WARM_RINGING_TIMEOUT_S
    briefing = task.instructions.render()
    assert "Caller: My parcel never came." in briefing
    assert "Assistant: I'm sorry, let me get my manager." in briefing
    assert "transferred to Manager (complaints)" in briefing


async def _originate(task: WarmTransferTask, lk: LiveKitDouble) -> None:
    """Run the task's dialling step with a job context whose server API is the double
    (the rest of `on_enter` needs a LiveKit room)."""
    lkapi = api.LiveKitAPI(url=lk.url, api_key=lk.api_key, api_secret=lk.api_secret)
    token = _JobContextVar.set(SimpleNamespace(api=lkapi))  # type: ignore[arg-type]
    try:
        await task._originate_human_agent(
            room_name=f"{ROOM}-human-agent", identity="human-agent-sip", room=None
        )
    finally:
        _JobContextVar.reset(token)
        await lkapi.aclose()


async def test_warm_task_dials_the_person_through_the_double(
    livekit_double: LiveKitDouble,
) -> None:
    context = PhoneContext(
        uuid.uuid4(), "inbound", our_number="+14155550100", outbound_trunk_id="ST_out1"
    )
    entry = TransferNumber(label="Manager", number=MANAGER, mode="warm")
    task = PhoneLine(context=context, settings=Settings()).make_warm_task(
        entry, ChatContext.empty()
    )
    await contextvars.copy_context().run(lambda: _originate(task, livekit_double))
    (sent,) = livekit_double.calls("CreateSIPParticipant")
    body = sent.body
    assert body["sip_trunk_id"] == "ST_out1"
    assert body["sip_call_to"] == MANAGER
    assert body["sip_number"] == "+14155550100"
    assert body["room_name"] == f"{ROOM}-human-agent"
    assert body["participant_identity"] == "human-agent-sip"
    assert body["wait_until_answered"] is True
    assert body["ringing_timeout"] == "30s"
    assert sent.claims["sip"]["call"] is True


async def test_warm_task_dial_failure_reaches_the_task(livekit_double: LiveKitDouble) -> None:
    livekit_double.script_dial("busy")
    context = PhoneContext(uuid.uuid4(), "inbound", outbound_trunk_id="ST_out1")
    entry = TransferNumber(label="Manager", number=MANAGER, mode="warm")
    task = PhoneLine(context=context, settings=Settings()).make_warm_task(
        entry, ChatContext.empty()
    )
    with pytest.raises(api.SipCallError) as err:
        await contextvars.copy_context().run(lambda: _originate(task, livekit_double))
    assert err.value.sip_status_code == 486


def test_spec_carries_transfer_numbers() -> None:
    spec = AgentSpec.model_validate(BASE)
    assert human_transfer.find(spec, "MANAGER").number == MANAGER
    assert human_transfer.find(spec, "+442079460958") is None
    assert human_transfer.offered(spec, phone=True)
    assert not human_transfer.offered(spec, phone=False)
