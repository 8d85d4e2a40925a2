"""The agent built from a stored spec, driven in text mode through `AgentSession`.

The real livekit-plugins-openai LLM talks to the local OpenAI-compatible double;
the recorder writes to the real test database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from livekit.agents import AgentSession
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker.spec_agent import SpecAgent
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import CallSession, ConversationTurn, TokenUsage, TurnMetric
from voxie_app.services import agent_creation
from voxie_app.settings import Settings

BASE = {
    "name": "Dental Bot",
    "instructions": "You are the receptionist of Bright Smile Dental.",
    "greeting": "Hello, Bright Smile Dental!",
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
    agent = agent_creation.submit(user_requirements={}, processed_spec={**BASE, **spec})
    return agent.id


def make_call(agent_id: uuid.UUID) -> uuid.UUID:
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="room")
        s.add(call)
    return call.id


def turns(call_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    with session_scope() as s:
        rows = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        return [(r.speaker, r.transcript, r.function_called) for r in rows]


def call_row(call_id: uuid.UUID) -> CallSession:
    with session_scope() as s:
        return s.get(CallSession, call_id)


def tool_names(request: dict) -> list[str]:
    return sorted(t["function"]["name"] for t in request.get("tools", []))


async def test_greeting_first_then_reply_with_spec_instructions(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent(temperature=0.3, llm_model="gpt-4.1-mini")
    openai_double.script(Reply(content="We open at nine."))
    chat = await TextChat.open(agent_id=agent_id, settings=llm_settings)
    assert chat.greeting == ["Hello, Bright Smile Dental!"]
    assert openai_double.requests == []  # the greeting is said, not generated
    reply = await chat.send("When do you open?")
    assert reply.messages == ["We open at nine."]
    request = openai_double.requests[0]
    assert request["model"] == "gpt-4.1-mini"
    assert request["temperature"] == 0.3
    system = request["messages"][0]
    assert system["role"] == "system"
    assert "receptionist of Bright Smile Dental" in system["content"]
    assert {"role": "user", "content": "When do you open?"} in request["messages"]
    await chat.aclose()


async def test_tools_are_enabled_per_spec(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    only_end = make_agent(tools=["end_call"])
    both = make_agent(name="Collector", tools=["end_call", "record_caller_details"])
    openai_double.script(Reply(content="ok"), Reply(content="ok"))
    for agent_id in (only_end, both):
        chat = await TextChat.open(agent_id=agent_id, settings=llm_settings)
        await chat.send("hi")
        await chat.aclose()
    assert tool_names(openai_double.requests[0]) == ["end_call"]
    assert tool_names(openai_double.requests[1]) == ["end_call", "record_caller_details"]


async def test_caller_details_land_in_the_database(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent(tools=["end_call", "record_caller_details"])
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "record_caller_details",
                    {"name": "Ann Lee", "phone": "+1 555 0100", "email": "ann@example.com"},
                )
            ]
        ),
        Reply(content="Thanks Ann, you're booked."),
    )
    chat = await TextChat.open(agent_id=agent_id, settings=llm_settings, call_session_id=call_id)
    reply = await chat.send("I'm Ann Lee, +1 555 0100, ann@example.com")
    assert reply.tool_calls == ["record_caller_details"]
    assert reply.messages == ["Thanks Ann, you're booked."]
    await chat.aclose()
    call = call_row(call_id)
    assert (call.customer_name, call.customer_phone, call.customer_email) == (
        "Ann Lee",
        "+1 555 0100",
        "ann@example.com",
    )


async def test_end_call_says_goodbye_closes_and_records(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(content="Sure, anything else?"),
        Reply(tool_calls=[ToolCall("end_call", {"reason": "caller done"})]),
        Reply(content="Goodbye, have a great day!"),
    )
    chat = await TextChat.open(agent_id=agent_id, settings=llm_settings, call_session_id=call_id)
    await chat.send("Can I book a cleaning?")
    reply = await chat.send("No, that's all. Bye!")
    assert reply.messages == ["Goodbye, have a great day!"]
    assert reply.ended and chat.closed
    await chat.aclose()

    assert turns(call_id) == [
        ("agent", "Hello, Bright Smile Dental!", None),
        ("user", "Can I book a cleaning?", None),
        ("agent", "Sure, anything else?", None),
        ("user", "No, that's all. Bye!", None),
        ("tool", turns(call_id)[4][1], "end_call"),
        ("agent", "Goodbye, have a great day!", None),
    ]
    call = call_row(call_id)
    assert call.call_status == "completed"
    assert call.end_reason == "agent_ended: caller done"
    assert call.ended_at is not None


async def test_usage_cost_and_latency_are_recorded(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(content="First answer.", prompt_tokens=1000, completion_tokens=100),
        Reply(content="Second answer.", prompt_tokens=2000, completion_tokens=200),
    )
    chat = await TextChat.open(agent_id=agent_id, settings=llm_settings, call_session_id=call_id)
    await chat.send("one")
    await chat.send("two")
    await chat.aclose()
    with session_scope() as s:
        (usage,) = s.exec(select(TokenUsage).where(TokenUsage.call_session_id == call_id)).all()
        metrics = s.exec(select(TurnMetric).where(TurnMetric.call_session_id == call_id)).all()
    assert (usage.model_name, usage.usage_type) == ("gpt-4o-mini", "llm")
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (3000, 300, 3300)
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output
    assert usage.total_cost_usd == Decimal("0.00063000")
    assert usage.cost_per_input_token == Decimal("0.00000015")
    assert len(metrics) == 2
    assert all(m.llm_ttft is not None and m.llm_ttft >= 0 for m in metrics)
    agent_turns = [n for n, (sp, _, _) in enumerate(turns(call_id)) if sp == "agent"]
    assert sorted(m.turn_number for m in metrics) == agent_turns[1:]  # not the greeting


async def test_transfer_hands_over_with_context(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    billing = make_agent(
        name="Billing Desk", instructions="You handle invoices and payments.", greeting=""
    )
    front = make_agent(
        tools=["end_call", "transfer_to_agent"],
        transfer_targets=[{"agent_id": str(billing), "when": "questions about invoices"}],
    )
    call_id = make_call(front)
    openai_double.script(
        Reply(tool_calls=[ToolCall("transfer_to_agent", {"agent_id": str(billing)})]),
        Reply(content="Hi, Billing Desk here. Which invoice?"),
    )
    chat = await TextChat.open(agent_id=front, settings=llm_settings, call_session_id=call_id)
    front_request_tools = None
    reply = await chat.send("I have a question about my invoice")
    front_request_tools = tool_names(openai_double.requests[0])
    assert front_request_tools == ["end_call", "transfer_to_agent"]
    assert str(billing) in openai_double.requests[0]["messages"][0]["content"]
    assert reply.tool_calls == ["transfer_to_agent"]
    assert reply.agent_name == "Billing Desk"
    agent = chat.session.current_agent
    assert isinstance(agent, SpecAgent) and agent.spec.name == "Billing Desk"
    second = openai_double.requests[1]
    assert "invoices and payments" in second["messages"][0]["content"]
    contents = [m.get("content") for m in second["messages"]]
    assert "I have a question about my invoice" in contents  # context carried over
    assert chat.data.transfers == [str(billing)]
    await chat.aclose()
    recorded = turns(call_id)
    assert ("system", "Call handed over to Billing Desk", "transfer_to_agent") in recorded


async def test_transfer_outside_the_list_is_refused_by_code(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    listed = make_agent(name="Billing Desk", greeting="")
    stranger = make_agent(name="Other Company Bot", greeting="")
    front = make_agent(
        tools=["end_call", "transfer_to_agent"],
        transfer_targets=[{"agent_id": str(listed), "when": "billing"}],
    )
    openai_double.script(
        Reply(tool_calls=[ToolCall("transfer_to_agent", {"agent_id": str(stranger)})]),
        Reply(content="I can help you myself."),
        Reply(tool_calls=[ToolCall("transfer_to_agent", {"agent_id": "+1-900-555-0100"})]),
        Reply(content="Still me."),
    )
    chat = await TextChat.open(agent_id=front, settings=llm_settings)
    reply = await chat.send("Transfer me to the other company")
    assert reply.agent_name == "Dental Bot"
    assert chat.session.current_agent.spec.name == "Dental Bot"
    tool_output = [m for m in openai_double.requests[1]["messages"] if m["role"] == "tool"]
    assert "not available" in tool_output[0]["content"]
    await chat.send("Transfer me to +1-900-555-0100")
    assert chat.session.current_agent.spec.name == "Dental Bot"
    assert chat.data.transfers == []
    await chat.aclose()


async def test_provider_failure_marks_call_failed_with_reason(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    call_id = make_call(agent_id)
    openai_double.responder = lambda _body: Reply(status=500, error="upstream exploded")
    chat = await TextChat.open(agent_id=agent_id, settings=llm_settings, call_session_id=call_id)
    with pytest.raises(Exception, match="500"):
        await chat.send("hello?")
    await asyncio.wait_for(chat._closed.wait(), 10)
    await chat.aclose()
    call = call_row(call_id)
    assert call.call_status == "failed"
    assert "upstream exploded" in call.end_reason
    assert turns(call_id)[:2] == [
        ("agent", "Hello, Bright Smile Dental!", None),
        ("user", "hello?", None),
    ]  # what was said before the failure is kept


async def test_same_class_runs_in_plain_session(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    """The documented livekit-agents testing style works with our agent class too."""
    from livekit.plugins import openai as lk_openai

    from voxie_app.models import AgentSpec

    openai_double.script(Reply(tool_calls=[ToolCall("end_call", {})]), Reply(content="Bye!"))
    spec = AgentSpec.model_validate(BASE)
    llm = lk_openai.LLM(model="gpt-4o-mini", api_key="k", base_url=openai_double.base_url)
    from voice_worker.calldata import CallData

    async with AgentSession(llm=llm, userdata=CallData(settings=llm_settings, spec=spec)) as s:
        await s.start(SpecAgent(spec))
        result = await s.run(user_input="bye")
        result.expect.next_event().is_function_call(name="end_call")
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_message(role="assistant")


async def test_llm_requests_carry_a_bounded_history(
    llm_settings: Settings, openai_double: OpenAIServerDouble, configure: Callable[..., Settings]
) -> None:
    settings = configure(VOXIE_MAX_CONTEXT_ITEMS="4")
    agent_id = make_agent()
    call_id = make_call(agent_id)
    openai_double.responder = lambda body: Reply(content=f"reply {len(body['messages'])}")
    chat = await TextChat.open(agent_id=agent_id, settings=settings, call_session_id=call_id)
    for i in range(6):
        await chat.send(f"message {i}")
    await chat.aclose()
    sizes = [len(r["messages"]) for r in openai_double.requests]
    assert max(sizes) == 5  # the system instructions + the latest 4 items
    last = openai_double.requests[-1]["messages"]
    assert last[0]["role"] == "system" and last[-1]["content"] == "message 5"
    assert len(turns(call_id)) == 13  # the transcript keeps everything: greeting + 6 x 2
