"""MCP servers at call time, against a real MCP server (the `mcp` SDK's `MCPServer`).

The server (tests/doubles/mcp_server.py) runs on 127.0.0.1 over streamable HTTP or
SSE with two tools, `check_slots` and `cancel_all_bookings`; the admin allows only
`check_slots`. The URL guard refuses loopback, so the tests allow-list 127.0.0.1 as an
admin would; the refusal tests take it away. The model is the OpenAI double, scripted
to call the tool in a text `AgentSession` (and through `TextChat`, the web app's chat).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from livekit.agents import AgentSession
from livekit.plugins import openai as lk_openai
from sqlmodel import select

from tests.doubles.mcp_server import SLOTS, McpDouble
from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker import mcp_tools, tool_calls
from voice_worker.calldata import CallData
from voice_worker.spec_agent import SpecAgent
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, CallSession, Event, ToolInvocation
from voxie_app.services import agent_creation
from voxie_app.services import mcp_servers as mcp_svc
from voxie_app.services import secrets as secrets_svc
from voxie_app.services.calls import CALLS_STREAM
from voxie_app.settings import Settings

SECRET = "mcp-key-77c1-never-shown"
ARGS = {"date": "2026-12-03"}


@pytest.fixture
def env(
    db: str,
    configure: Callable[..., Settings],
    openai_double: OpenAIServerDouble,
    tmp_path: Path,
) -> Settings:
    """Database, LLM double, key file, the secret, and 127.0.0.1 allow-listed."""
    settings = configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="1",
        VOXIE_PROVIDER_RETRY_INTERVAL="0.01",
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )
    with session_scope() as session:
        secrets_svc.put(session=session, name="MCP_KEY", value=SECRET)
    return settings


@pytest.fixture(params=["streamable_http", "sse"])
def server(request: pytest.FixtureRequest) -> Iterator[McpDouble]:
    with McpDouble(transport=request.param) as double:
        yield double


async def save_server(double: McpDouble, *, allowed: list[str], **change: object) -> uuid.UUID:
    """Add the server as an admin does: save, Refresh, tick the allowed tools, save."""
    body = {
        "name": "clinic_mcp",
        "url": double.url,
        "transport": double.transport,
        "headers": {"X-Api-Key": "{{secret:MCP_KEY}}"},
        "timeout_s": 5,
        **change,
    }
    with session_scope() as session:
        tool_id = mcp_svc.create_server(session=session, body=mcp_svc.parse(body)).id
    await mcp_svc.refresh(tool_id)
    with session_scope() as session:
        mcp_svc.update_server(
            session=session,
            tool_id=tool_id,
            body=mcp_svc.parse({**body, "allowed_tools": allowed}),
        )
    return tool_id


def make_agent(tool_ids: list[uuid.UUID]) -> tuple[uuid.UUID, AgentSpec]:
    spec = {
        "name": "Clinic Desk",
        "instructions": "You book appointments for Bright Smile Dental.",
        "greeting": "Hello!",
        "custom_tools": [str(t) for t in tool_ids],
    }
    agent = agent_creation.submit(user_requirements={}, processed_spec=spec)
    return agent.id, AgentSpec.model_validate(spec)


def make_call(agent_id: uuid.UUID) -> uuid.UUID:
    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="room")
        s.add(call)
    return call.id


async def invocations(call_id: uuid.UUID | None = None) -> list[ToolInvocation]:
    await tool_calls.flush()  # records are written in the background
    with session_scope() as s:
        query = select(ToolInvocation)
        if call_id is not None:
            query = query.where(ToolInvocation.call_session_id == call_id)
        return list(s.exec(query).all())


def unavailable_events() -> list[Event]:
    with session_scope() as s:
        return list(
            s.exec(
                select(Event).where(
                    Event.stream == CALLS_STREAM, Event.kind == mcp_tools.UNAVAILABLE_EVENT
                )
            ).all()
        )


def session_for(settings: Settings, spec: AgentSpec, base_url: str, call_id: uuid.UUID | None):
    model = lk_openai.LLM(model="gpt-4o-mini", api_key="k", base_url=base_url)
    data = CallData(settings=settings, spec=spec, call_session_id=call_id)
    return AgentSession(llm=model, userdata=data)


def offered(openai_double: OpenAIServerDouble, index: int = 0) -> set[str]:
    return {t["function"]["name"] for t in openai_double.requests[index].get("tools") or []}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_agent_sees_and_calls_only_the_allowed_tool(
    env: Settings, server: McpDouble, openai_double: OpenAIServerDouble
) -> None:
    server_id = await save_server(server, allowed=["check_slots"])
    agent_id, spec = make_agent([server_id])
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", ARGS)]),
        Reply(content="We have 09:00 and 10:30."),
    )
    async with session_for(env, spec, openai_double.base_url, call_id) as s:
        await s.start(SpecAgent(spec))
        result = await s.run(user_input="What's free on December 3rd?")
        result.expect.next_event().is_function_call(name="check_slots", arguments=ARGS)
        output = result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        history = json.dumps(s.history.to_dict())

    text = f"Free on 2026-12-03: {', '.join(SLOTS)}"
    assert output.event().item.output == text  # plain text, not MCP's JSON content
    assert "check_slots" in offered(openai_double)
    assert "cancel_all_bookings" not in offered(openai_double)
    tool_message = openai_double.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == text
    assert server.calls == [("check_slots", ARGS)]
    # The header secret reached the server, and nothing else saw it.
    assert any(h.get("x-api-key") == SECRET for h in server.headers)
    assert SECRET not in json.dumps(openai_double.requests) and SECRET not in history
    [record] = await invocations(call_id)
    assert (record.tool_name, record.status, record.tool_id) == ("check_slots", "ok", server_id)
    assert record.arguments == ARGS and record.result_chars == len(text)
    assert SECRET not in json.dumps(record.model_dump(mode="json"))
    assert unavailable_events() == []


async def test_schema_invalid_arguments_reach_no_server(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    with McpDouble() as double:
        server_id = await save_server(double, allowed=["check_slots"])
        agent_id, spec = make_agent([server_id])
        call_id = make_call(agent_id)
        openai_double.script(
            Reply(tool_calls=[ToolCall("check_slots", {"day": 3})]),
            Reply(content="Which date?"),
        )
        async with session_for(env, spec, openai_double.base_url, call_id) as s:
            await s.start(SpecAgent(spec))
            result = await s.run(user_input="Anything free?")
            result.expect.next_event().is_function_call(name="check_slots")
            output = result.expect.next_event().is_function_call_output(is_error=True)
            result.expect.next_event().is_message(role="assistant")
    assert "date" in output.event().item.output and "required" in output.event().item.output
    assert double.calls == []
    [record] = await invocations(call_id)
    assert record.status == "invalid_arguments"


async def test_a_server_down_at_call_start_leaves_the_chat_running_and_says_so(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    with McpDouble() as double:
        server_id = await save_server(double, allowed=["check_slots"], timeout_s=2)
    # The server is gone now; the chat (the web app's path: runtime.agent_builder) starts.
    agent_id, _ = make_agent([server_id])
    call_id = make_call(agent_id)
    openai_double.script(Reply(content="I can't check slots right now, sorry."))
    chat = await TextChat.open(agent_id=agent_id, settings=env, call_session_id=call_id)
    reply = await chat.send("What's free tomorrow?")
    await chat.aclose()
    assert chat.greeting == ["Hello!"]
    assert reply.messages == ["I can't check slots right now, sorry."]
    assert "check_slots" not in offered(openai_double)
    [event] = unavailable_events()
    assert event.level == "warning"
    assert event.data["call_session_id"] == str(call_id)
    assert event.data["tool_id"] == str(server_id) and event.data["server"] == "clinic_mcp"
    assert "could not reach" in event.message and "without its tools" in event.message
    assert await invocations(call_id) == []


async def test_a_server_that_never_answers_costs_the_call_its_timeout_only(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    """A listening socket that never answers: the agent starts once the server's
    timeout has passed, without its tools."""
    with McpDouble() as double:
        server_id = await save_server(double, allowed=["check_slots"])
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        with session_scope() as session:
            row = mcp_svc.get_server(session=session, tool_id=server_id)
            row.url = f"http://127.0.0.1:{silent.getsockname()[1]}/mcp"
            row.timeout_s = 1
            session.add(row)
        _, spec = make_agent([server_id])
        openai_double.script(Reply(content="Hello there."))
        async with session_for(env, spec, openai_double.base_url, None) as s:
            await s.start(SpecAgent(spec))
            result = await s.run(user_input="Hi")
            result.expect.next_event().is_message(role="assistant")
    finally:
        silent.close()
    [event] = unavailable_events()
    assert "did not answer within 1 s" in event.message
    assert event.data["call_session_id"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/mcp",
        "http://10.0.0.1/mcp",
        "http://169.254.169.254/mcp",
        "http://[::1]:{port}/mcp",
    ],
)
async def test_internal_addresses_are_refused_at_connect_time(
    env: Settings, configure: Callable[..., Settings], openai_double: OpenAIServerDouble, url: str
) -> None:
    """A server whose address is (or became) internal: no connection, no tools, the
    event names the refusal."""
    with McpDouble() as double:
        server_id = await save_server(double, allowed=["check_slots"])
        with session_scope() as session:
            row = mcp_svc.get_server(session=session, tool_id=server_id)
            row.url = url.format(port=double.port)
            session.add(row)
        configure(VOXIE_URL_ALLOWLIST=None)
        [config] = mcp_tools.load([server_id])
        _, spec = make_agent([server_id])
        openai_double.script(Reply(content="Hello."))
        before = len(double.headers)
        async with session_for(env, spec, openai_double.base_url, None) as s:
            await s.start(SpecAgent(spec, mcp_servers=[config]))
            result = await s.run(user_input="Hi")
            result.expect.next_event().is_message(role="assistant")
        assert len(double.headers) == before  # nothing reached the server
    assert "check_slots" not in offered(openai_double)
    [event] = unavailable_events()
    assert "not allowed" in event.message and "VOXIE_URL_ALLOWLIST" in event.message


def test_servers_without_allowed_tools_or_needing_setup_are_not_loaded(env: Settings) -> None:
    with session_scope() as session:
        tool = mcp_svc.create_server(
            session=session,
            body=mcp_svc.parse({"name": "empty_mcp", "url": "http://127.0.0.1:9/mcp"}),
        )
        tool_id = tool.id
    assert mcp_tools.load([tool_id]) == []
    with session_scope() as session:
        row = mcp_svc.get_server(session=session, tool_id=tool_id)
        row.discovered_tools = [{"name": "check_slots", "description": ""}]
        row.allowed_tools = ["check_slots"]
        session.add(row)
    [config] = mcp_tools.load([tool_id])
    assert config.allowed_tools == ("check_slots",)
    with session_scope() as session:
        row = mcp_svc.get_server(session=session, tool_id=tool_id)
        row.status = "needs_setup"
        session.add(row)
    assert mcp_tools.load([tool_id]) == []


@pytest.mark.parametrize(
    ("date", "error", "status", "words"),
    [
        ("1999-01-01", True, "failed", "calendar is down"),
        ("2099-01-01", False, "ok", "…[truncated]"),
    ],
)
async def test_a_failing_or_long_answer_is_a_short_error_or_capped_text(
    env: Settings,
    openai_double: OpenAIServerDouble,
    date: str,
    error: bool,
    status: str,
    words: str,
) -> None:
    with McpDouble() as double:
        server_id = await save_server(double, allowed=["check_slots"])
        agent_id, spec = make_agent([server_id])
        call_id = make_call(agent_id)
        openai_double.script(
            Reply(tool_calls=[ToolCall("check_slots", {"date": date})]),
            Reply(content="Let me see."),
            Reply(content="Anything else?"),
        )
        async with session_for(env, spec, openai_double.base_url, call_id) as s:
            await s.start(SpecAgent(spec))
            result = await s.run(user_input="Anything free?")
            result.expect.next_event().is_function_call(name="check_slots")
            output = result.expect.next_event().is_function_call_output(is_error=error)
            result.expect.next_event().is_message(role="assistant")
            again = await s.run(user_input="Thanks")
            again.expect.next_event().is_message(role="assistant")
    text = output.event().item.output
    assert words in text and len(text) <= mcp_tools.MAX_RESULT_CHARS + 40
    [record] = await invocations(call_id)
    assert record.status == status
    assert (record.error is not None) == error


def test_results_are_plain_text_with_secrets_redacted() -> None:
    from livekit.agents.llm.mcp import MCPToolResultContext
    from mcp.types import CallToolResult, ImageContent, TextContent

    result = CallToolResult(
        content=[
            TextContent(type="text", text=f"token {SECRET} ok"),
            ImageContent(type="image", data="aGk=", mime_type="image/png"),
        ]
    )
    text = mcp_tools.plain_text(MCPToolResultContext("t", {}, result))
    assert text == f"token {SECRET} ok\n[image not shown]"
    assert mcp_tools.capped(text, [SECRET]) == "token [secret] ok\n[image not shown]"
    empty = CallToolResult(content=[], structured_content={"slots": ["09:00"]})
    assert mcp_tools.plain_text(MCPToolResultContext("t", {}, empty)) == '{"slots": ["09:00"]}'
