"""Voxie, the builder, offers the realtime pipeline and sets it.

Driven as the other builder tests are: a text `AgentSession` (`TextChat`) against the
OpenAI double, scripted in request order (the builder's chat, then the spec draft
inside `create_agent`, then the builder's reply).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from tests.test_builder_phone import ARGS, DRAFT, settings  # noqa: F401 - the fixture
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import Agent, AgentSpec
from voxie_app.settings import Settings


def _spec() -> AgentSpec:
    with session_scope() as s:
        return AgentSpec.model_validate(s.exec(select(Agent)).one().processed_spec)


async def test_create_agent_sets_the_realtime_pipeline_and_voice(
    settings: Settings,  # noqa: F811 - the fixture imported above
    openai_double: OpenAIServerDouble,
) -> None:
    openai_double.script(
        Reply(
            tool_calls=[
                ToolCall("create_agent", {**ARGS, "pipeline": "realtime", "voice": "cedar"})
            ]
        ),
        Reply(json=DRAFT),
        Reply(content="Your agent is ready."),
    )
    chat = await TextChat.open_builder(settings=settings, session_id=uuid.uuid4().hex)
    reply = await chat.send("Yes, use realtime with the cedar voice.")
    await chat.aclose()
    assert reply.tool_calls == ["create_agent"]
    spec = _spec()
    assert (spec.pipeline, spec.realtime_voice, spec.voice) == ("realtime", "cedar", "alloy")
    # The schema offers the choice with its trade-off, and the instructions have the
    # builder explain it in one sentence.
    offered = {t["function"]["name"]: t for t in openai_double.requests[0]["tools"]}
    for tool in ("create_agent", "update_agent"):
        param = offered[tool]["function"]["parameters"]["properties"]["pipeline"]
        assert {"", "cascade", "realtime"} <= set(param["enum"])
        assert "higher per-minute cost" in param["description"]
    system = " ".join(openai_double.requests[0]["messages"][0]["content"].split())
    assert "lower latency and a more natural voice, at a higher per-minute cost" in system


async def test_realtime_without_the_openai_key_keeps_the_cascade_and_says_why(
    settings: Settings,  # noqa: F811 - the fixture imported above
    openai_double: OpenAIServerDouble,
    configure: Callable[..., Settings],
) -> None:
    from voice_worker import builder_agent

    fields, notes = builder_agent._pipeline_fields("realtime", "marin", settings)
    assert fields == {"pipeline": "realtime", "realtime_voice": "marin"} and notes == []
    fields, notes = builder_agent._pipeline_fields("realtime", "nova", settings)
    assert fields == {"pipeline": "realtime"}  # not a Realtime voice: the default stays
    bare = configure(OPENAI_API_KEY=None)
    fields, notes = builder_agent._pipeline_fields("realtime", "marin", bare)
    assert fields == {} and "OPENAI_API_KEY" in notes[0]
    assert builder_agent._pipeline_fields("", "marin", bare) == ({}, [])
