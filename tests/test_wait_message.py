"""An HTTP tool's `wait_message`: said while a slow request runs, never for a fast one.

The service is an aiohttp app in the test's own event loop: its slow endpoint
answers only when the test sets an `asyncio.Event`, which the test sets once the
wait message has been said, so nothing races the wall clock: a message that is
never said leaves the request hanging into the tool's timeout and the test fails.
The model is the OpenAI double, called through the real openai plugin in a text
`AgentSession` (no TTS: `say` forwards the text to the transcription output).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from livekit.agents import AgentSession
from livekit.agents.voice.events import SpeechCreatedEvent
from livekit.plugins import openai as lk_openai
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from tests.doubles.tool_service import CapturedText, ToolService, store_tool
from voice_worker import http_tools, tool_calls
from voice_worker.calldata import CallData
from voice_worker.spec_agent import SpecAgent
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, CallSession, ToolInvocation
from voxie_app.services import agent_creation
from voxie_app.settings import Settings

WAIT = "One moment while I check the diary."


@pytest.fixture
def env(
    db: str, configure: Callable[..., Settings], openai_double: OpenAIServerDouble, tmp_path: Path
) -> Settings:
    return configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )


def _agent(url: str, wait_message: str) -> tuple[uuid.UUID, AgentSpec]:
    tool_id = store_tool(url, wait_message)
    spec = {
        "name": "Clinic Desk",
        "instructions": "You book appointments.",
        "greeting": "Hello!",
        "custom_tools": [str(tool_id)],
    }
    agent = agent_creation.submit(user_requirements={}, processed_spec=spec)
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent.id, room_name="room")
        s.add(call)
    return call.id, AgentSpec.model_validate(spec)


def _session(settings: Settings, spec: AgentSpec, base_url: str, call_id: uuid.UUID):
    model = lk_openai.LLM(model="gpt-4o-mini", api_key="k", base_url=base_url)
    data = CallData(settings=settings, spec=spec, call_session_id=call_id)
    return AgentSession(llm=model, userdata=data)


async def _statuses(call_id: uuid.UUID) -> list[str]:
    await tool_calls.flush()  # records are written in the background
    with session_scope() as s:
        rows = s.exec(select(ToolInvocation).where(ToolInvocation.call_session_id == call_id))
        return [r.status for r in rows.all()]


async def test_slow_request_says_the_wait_message_once(
    env: Settings,
    tool_service: ToolService,
    openai_double: OpenAIServerDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_tools, "WAIT_MESSAGE_DELAY_S", 0.05)
    call_id, spec = _agent(f"{tool_service.base}/slow", WAIT)
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-03"})]),
        Reply(content="Nine o'clock is free."),
    )
    said: list[SpeechCreatedEvent] = []

    def on_speech(ev: SpeechCreatedEvent) -> None:
        if ev.source == "say":
            said.append(ev)
            tool_service.release.set()  # the service answers only after the message was said

    output = CapturedText()
    async with _session(env, spec, openai_double.base_url, call_id) as s:
        await s.start(SpecAgent(spec))
        await s.wait_for_idle()  # the greeting (a `say` too) is over
        s.output.transcription = output
        s.on("speech_created", on_speech)
        result = await s.run(user_input="Anything free tomorrow?")
        result.expect.next_event().is_function_call(name="check_slots")
        tool_out = result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        history = json.dumps(s.history.to_dict())

    assert len(said) == 1
    assert tool_out.event().item.output == '["09:00"]'
    # Said, before the answer that used the result ...
    assert output.text.index(WAIT) < output.text.index("Nine o'clock is free.")
    # ... but kept out of the model's history and of what it was sent next.
    assert WAIT not in history
    assert WAIT not in json.dumps(openai_double.requests[-1]["messages"])
    assert await _statuses(call_id) == ["ok"]


async def test_fast_request_says_nothing(
    env: Settings,
    tool_service: ToolService,
    openai_double: OpenAIServerDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Far longer than a local request takes: the request is over first, the filler
    # is cancelled unsaid.
    monkeypatch.setattr(http_tools, "WAIT_MESSAGE_DELAY_S", 5.0)
    call_id, spec = _agent(f"{tool_service.base}/fast", WAIT)
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-03"})]),
        Reply(content="Eleven is free."),
    )
    said: list[SpeechCreatedEvent] = []
    output = CapturedText()
    async with _session(env, spec, openai_double.base_url, call_id) as s:
        await s.start(SpecAgent(spec))
        await s.wait_for_idle()  # the greeting (a `say` too) is over
        s.output.transcription = output
        s.on("speech_created", lambda ev: said.append(ev) if ev.source == "say" else None)
        result = await s.run(user_input="Anything free tomorrow?")
        result.expect.next_event().is_function_call(name="check_slots")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
    assert tool_service.arrived == ["fast"]
    assert said == [] and WAIT not in output.text
    assert "Eleven is free." in output.text
    assert await _statuses(call_id) == ["ok"]
