"""Voxie, the builder, sets phone fields: transfer numbers and the voicemail policy.

Driven as the other builder tests are: a text `AgentSession` (`TextChat`) against
the OpenAI double, scripted in request order (the builder's chat, then the spec
draft inside `create_agent`, or the revision inside `update_agent`). Code keeps a
number only when the user gave it in the conversation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import Agent, AgentSpec
from voxie_app.services import agent_creation, e164
from voxie_app.settings import Settings

ARGS = {
    "business_name": "Harbor Hotel",
    "business_description": "A seaside hotel.",
    "agent_job": "Answer guests' questions and take bookings.",
}
DRAFT = {
    "name": "Harbor Concierge",
    "description": "Answers the hotel's phone.",
    "instructions": "You are the concierge of Harbor Hotel. Be helpful.",
    "greeting": "Harbor Hotel, good day!",
    "language": "en",
    "tools": ["end_call"],
}
MESSAGE = "Hi {{first_name|there}}, please call Harbor Hotel back."
SAID = (
    "Transfer billing questions to +1 415 555 0100, warm. On voicemail leave a message "
    "asking them to call back."
)


@pytest.fixture
def settings(
    db: str, openai_double: OpenAIServerDouble, configure: Callable[..., Settings]
) -> Settings:
    return configure(
        OPENAI_API_KEY="sk-test-secret-key-123456",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
        VOXIE_PROVIDER_RETRY_INTERVAL="0.01",
    )


def _spec(agent_id: uuid.UUID | None = None) -> AgentSpec:
    with session_scope() as s:
        query = select(Agent) if agent_id is None else select(Agent).where(Agent.id == agent_id)
        return AgentSpec.model_validate(s.exec(query).one().processed_spec)


def _tool_output(openai_double: OpenAIServerDouble, request: int) -> str:
    messages = openai_double.requests[request]["messages"]
    return [m["content"] for m in messages if m["role"] == "tool"][-1]


async def test_create_agent_sets_the_numbers_the_user_gave_and_the_voicemail(
    settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    people = [
        {"label": "billing", "number": "+14155550100", "when": "billing questions", "mode": "warm"},
        # Never said by the user: a number the model made up is dropped, and said so.
        {"label": "premium", "number": "+1 900 555 0199", "when": "always", "mode": "cold"},
        {"label": "broken", "number": "555", "when": "", "mode": "cold"},
    ]
    openai_double.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "create_agent",
                    {
                        **ARGS,
                        "transfer_to_people": people,
                        "voicemail_policy": "leave_message",
                        "voicemail_message": MESSAGE,
                    },
                )
            ]
        ),
        Reply(json=DRAFT),
        Reply(content="Your agent is ready."),
    )
    chat = await TextChat.open_builder(settings=settings, session_id=uuid.uuid4().hex)
    reply = await chat.send(SAID)
    await chat.aclose()
    assert reply.tool_calls == ["create_agent"]
    spec = _spec()
    assert [n.model_dump() for n in spec.transfer_numbers] == [
        {"label": "billing", "number": "+14155550100", "when": "billing questions", "mode": "warm"}
    ]
    assert spec.voicemail_policy == "leave_message"
    assert spec.voicemail_message == MESSAGE
    told = _tool_output(openai_double, 2)
    assert "+19005550199 was not given by the user" in told
    assert "broken" in told and "E.164" in told
    # The builder's schema offers the fields, and its instructions ask about them.
    offered = {t["function"]["name"]: t for t in openai_double.requests[0]["tools"]}
    params = offered["create_agent"]["function"]["parameters"]["properties"]
    assert {"transfer_to_people", "voicemail_policy", "voicemail_message"} <= set(params)
    system = " ".join(openai_double.requests[0]["messages"][0]["content"].split())
    assert "transfer_to_people" in system and "voicemail_policy" in system


async def test_leave_message_without_a_message_keeps_hang_up(
    settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(
        Reply(tool_calls=[ToolCall("create_agent", {**ARGS, "voicemail_policy": "leave_message"})]),
        Reply(json=DRAFT),
        Reply(content="Ready."),
    )
    chat = await TextChat.open_builder(settings=settings, session_id=uuid.uuid4().hex)
    await chat.send("Create it.")
    await chat.aclose()
    spec = _spec()
    assert spec.voicemail_policy == "hang_up" and spec.transfer_numbers == []
    assert "needs the voicemail message" in _tool_output(openai_double, 2)


async def test_update_agent_replaces_the_numbers_and_keeps_them_when_omitted(
    settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    hotel = agent_creation.submit(
        user_requirements={},
        processed_spec={
            "name": "Harbor Concierge",
            "instructions": "You answer the phone.",
            "transfer_numbers": [{"label": "desk", "number": "+14155550111", "mode": "cold"}],
        },
    )
    revised = {**DRAFT, "instructions": "You answer the phone."}
    people = [
        {"label": "billing", "number": "+1 (415) 555-0100", "when": "billing", "mode": "warm"}
    ]
    openai_double.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "update_agent",
                    {
                        "agent_name": "Harbor Concierge",
                        "change": "transfer billing questions to a person",
                        "transfer_to_people": people,
                        "voicemail_policy": "hang_up",
                    },
                )
            ]
        ),
        Reply(json=revised),
        Reply(content="Done."),
        Reply(
            tool_calls=[
                ToolCall("update_agent", {"agent_name": "Harbor Concierge", "change": "warmer"})
            ]
        ),
        Reply(json=revised),
        Reply(content="Done."),
    )
    chat = await TextChat.open_builder(settings=settings, session_id=uuid.uuid4().hex)
    await chat.send("Harbor Concierge: transfer billing questions to 415-555-0100, warm.")
    spec = _spec(hotel.id)
    assert [(n.label, n.number, n.mode) for n in spec.transfer_numbers] == [
        ("billing", "+14155550100", "warm")
    ]
    assert spec.voicemail_policy == "hang_up"
    await chat.send("Make it warmer.")
    assert [n.label for n in _spec(hotel.id).transfer_numbers] == ["billing"]  # omitted: kept

    # Only a number nobody said: dropped, and the list already set is not wiped.
    made_up = [{"label": "sales", "number": "+14155550177", "mode": "cold"}]
    openai_double.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "update_agent",
                    {
                        "agent_name": "Harbor Concierge",
                        "change": "sales",
                        "transfer_to_people": made_up,
                    },
                )
            ]
        ),
        Reply(json=revised),
        Reply(content="Done."),
    )
    await chat.send("Also send sales calls to our sales line.")
    await chat.aclose()
    assert [n.label for n in _spec(hotel.id).transfer_numbers] == ["billing"]
    assert "+14155550177 was not given by the user" in _tool_output(openai_double, -1)


def test_mentioned_matches_the_number_written_any_common_way() -> None:
    number = "+14155550100"
    for text in ("+1 415-555-0100", "call (415) 555-0100 please", "+14155550100,", "0415 555 0100"):
        assert e164.mentioned(number, text), text
    for text in ("415 555 0101", "order 14155550100999", "", "+44 20 7946 0958"):
        assert not e164.mentioned(number, text), text
