"""Test chats are kept as calls of kind `chat`, recorded turn by turn (SQLite and PostgreSQL).

The real `TextChat` and recorder run against the local OpenAI-compatible double.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import CallSession, ConversationTurn, Webhook, WebhookDelivery
from voxie_app.services import agent_creation, reports
from voxie_app.services import calls as calls_svc
from voxie_app.services.errors import NotFound
from voxie_app.services.reports import CallFilter
from voxie_app.settings import Settings

SPEC = {
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


def _speakers(call_id: uuid.UUID) -> list[str]:
    with session_scope() as s:
        rows = s.exec(
            select(ConversationTurn.speaker)
            .where(ConversationTurn.call_session_id == call_id)
            .order_by(ConversationTurn.turn_number)
        ).all()
    return list(rows)


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not written in time")


async def test_a_chat_is_kept_as_a_chat_call_turn_by_turn(
    llm_settings: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent = agent_creation.submit(user_requirements={}, processed_spec=SPEC)
    with session_scope() as s:  # a receiver of call.ended: chats are not sent to it
        s.add(Webhook(url="https://example.com/hook", events=["call.ended"], secret="whsec_x"))
    call_id = await asyncio.to_thread(calls_svc.open_chat_record, agent_id=agent.id)
    openai_double.script(Reply(content="We open at nine."))
    chat = await TextChat.open(agent_id=agent.id, settings=llm_settings, call_session_id=call_id)
    await chat.send("When do you open?")
    # Written as they happen, before the chat ends.
    await _until(lambda: _speakers(call_id) == ["agent", "user", "agent"])
    with session_scope() as s:
        row = s.get(CallSession, call_id)
        assert row is not None
        assert (row.kind, row.direction, row.call_status) == ("chat", "inbound", "active")
        assert (row.agent_id, row.primary_agent_type) == (agent.id, "Dental Bot")
    await chat.aclose()

    with session_scope() as s:
        row = s.get(CallSession, call_id)
        assert row is not None and row.call_status == "completed" and row.ended_at is not None
        assert s.exec(select(WebhookDelivery)).all() == []
        voice = reports.list_calls(session=s, filters=CallFilter())
        chats = reports.list_calls(session=s, filters=CallFilter(kind="chat"))
        detail = reports.call_detail(session=s, call_id=call_id)
        today = reports.call_stats(session=s, filters=CallFilter())
    assert voice.total == 0 and today.calls == 0  # not a voice call in any count
    assert [r.id for r in chats.rows] == [call_id] and chats.rows[0].kind == "chat"
    assert detail is not None and [t.transcript for t in detail.turns][1] == "When do you open?"


def test_a_chat_needs_an_existing_agent(db: str) -> None:
    with pytest.raises(NotFound):
        calls_svc.open_chat_record(agent_id=uuid.uuid4())
