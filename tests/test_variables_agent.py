"""Per-call variables at call time: a stored agent run in a text `AgentSession` (real
livekit-plugins-openai LLM against the local OpenAI double, real test databases).

The variables are stored on the call row at its start (`calls.open_chat_record`, as the
API's call start does), read back by the runtime, and rendered into the instructions the
LLM receives, the greeting, and an HTTP tool's URL sent to a local order service.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from livekit.agents import AgentSession
from livekit.plugins import openai as lk_openai

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker.calldata import CallData
from voice_worker.runtime import JobMetadata, agent_builder, load_call_context
from voice_worker.spec_agent import SpecAgent
from voice_worker.text_chat import TextChat
from voice_worker.worker import _prepare
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, CallSession
from voxie_app.services import agent_creation
from voxie_app.services import calls as calls_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

# 23:30 UTC: already 3 December in Paris, so `today` proves the agent's zone is used.
T0 = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
INSTRUCTIONS = (
    "You take orders for {{company|Acme}}. Order numbers start with {{order_prefix}}. "
    "Today is {{today}}. The caller is {{caller_name|not known yet}}. "
    "Loyalty tier: {{tier|standard}}.{{unset}}"
)
GREETING = "Hi {{caller_name|there}}, {{agent_name}} at {{company|Acme}} here."


@pytest.fixture
def orders() -> Iterator[tuple[str, list[str]]]:
    """A local order service: records each request's path, answers with a fixed order."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            paths.append(self.path)
            data = json.dumps({"status": "shipped"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", paths
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(
    db: str,
    configure: Callable[..., Settings],
    openai_double: OpenAIServerDouble,
    clock: Callable[[datetime], datetime],
) -> Settings:
    clock(T0)
    return configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="1",
        VOXIE_PROVIDER_RETRY_INTERVAL="0.01",
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_TIMEZONE="Europe/Paris",
    )


def order_tool(base: str) -> uuid.UUID:
    body = {
        "name": "get_order",
        "description": "Look up an order by its number (without the prefix).",
        "parameters": {
            "type": "object",
            "properties": {"number": {"type": "string"}},
            "required": ["number"],
        },
        "url": base + "/orders/{{order_prefix}}-{number}?region={{region|eu}}",
    }
    with session_scope() as session:
        return tools_svc.create_tool(session=session, body=tools_svc.parse(body)).id


def make_spec() -> dict[str, Any]:
    return {"name": "Order Desk", "instructions": INSTRUCTIONS, "greeting": GREETING}


def make_agent(**spec: Any) -> uuid.UUID:
    return agent_creation.submit(user_requirements={}, processed_spec={**make_spec(), **spec}).id


def system_prompt(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] in ("system", "developer")
    return first["content"]


async def test_variables_reach_the_llm_the_greeting_and_the_tool_url(
    env: Settings, openai_double: OpenAIServerDouble, orders: tuple[str, list[str]]
) -> None:
    base, paths = orders
    agent_id = make_agent(custom_tools=[str(order_tool(base))])
    call_id = calls_svc.open_chat_record(
        agent_id=agent_id, variables={"company": "Bright Shoes", "order_prefix": "VX"}
    )
    openai_double.script(
        Reply(tool_calls=[ToolCall("get_order", {"number": "123"})]),
        Reply(content="Your order has shipped."),
    )
    chat = await TextChat.open(agent_id=agent_id, settings=env, call_session_id=call_id)
    assert chat.greeting == ["Hi there, Order Desk at Bright Shoes here."]
    reply = await chat.send("Where is my order 123?")
    await chat.aclose()

    assert reply.tool_calls == ["get_order"]
    assert paths == ["/orders/VX-123?region=eu"]
    prompt = system_prompt(openai_double.requests[0])
    assert prompt.startswith(
        "You take orders for Bright Shoes. Order numbers start with VX. "
        "Today is 2026-12-03. The caller is not known yet. Loyalty tier: standard."
    )
    assert "{{" not in prompt and "}}" not in prompt
    with session_scope() as session:
        row = session.get(CallSession, call_id)
        assert row is not None
        assert row.variables == {"company": "Bright Shoes", "order_prefix": "VX"}


async def test_agent_session_run_with_the_caller_known_and_no_custom_values(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    """The worker's path: the context comes from the call row (caller details known),
    the builder renders the agent, and `AgentSession.run` sends the rendered prompt."""
    agent_id = make_agent()
    with session_scope() as session:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=agent_id,
            room_name="room-vars",
            customer_name="Ann Lee",
            customer_phone="+33 1 23 45 67 89",
        )
        session.add(call)
        session.flush()
        call_id = call.id
    context = load_call_context(call_id, env)
    assert (context.caller_name, context.caller_number, context.tz) == (
        "Ann Lee",
        "+33 1 23 45 67 89",
        "Europe/Paris",
    )
    model = lk_openai.LLM(model="gpt-4o-mini", api_key="k", base_url=openai_double.base_url)
    build = agent_builder(env, voice=False, llm_override=model, context=context)
    spec = AgentSpec.model_validate(make_spec())
    agent = build(spec, agent_id, None, False)
    assert isinstance(agent, SpecAgent)
    openai_double.script(Reply(content="Sure."))
    data = CallData(settings=env, spec=spec, agent_id=agent_id, call_session_id=None)
    async with AgentSession(userdata=data) as session:
        await session.start(agent)
        await session.wait_for_idle()
        spoken = [m.text_content for m in session.history.messages() if m.role == "assistant"]
        result = await session.run(user_input="Hello?")
        result.expect.next_event().is_message(role="assistant")
    assert spoken == ["Hi Ann Lee, Order Desk at Acme here."]
    prompt = system_prompt(openai_double.requests[-1])
    assert "You take orders for Acme. Order numbers start with . " in prompt
    assert "The caller is Ann Lee." in prompt and "Today is 2026-12-03." in prompt


async def test_a_transfer_renders_the_next_agent_with_its_own_name(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    billing = make_agent(
        name="Billing Desk", instructions="You are {{agent_name}} for {{company}}.", greeting=""
    )
    front = make_agent(
        tools=["end_call", "transfer_to_agent"],
        transfer_targets=[{"agent_id": str(billing), "when": "invoices"}],
    )
    call_id = calls_svc.open_chat_record(agent_id=front, variables={"company": "Bright Shoes"})
    openai_double.script(
        Reply(tool_calls=[ToolCall("transfer_to_agent", {"agent_id": str(billing)})]),
        Reply(content="Billing here."),
    )
    chat = await TextChat.open(agent_id=front, settings=env, call_session_id=call_id)
    await chat.send("A question about my invoice")
    await chat.aclose()
    assert system_prompt(openai_double.requests[1]).startswith(
        "You are Billing Desk for Bright Shoes."
    )


def test_chat_start_refuses_oversized_variables(env: Settings) -> None:
    agent_id = make_agent()
    with pytest.raises(InvalidInput) as caught:
        calls_svc.open_chat_record(agent_id=agent_id, variables={"note": "x" * 501})
    assert caught.value.field == "variables.note"


def test_the_voice_worker_renders_the_call_rows_variables(env: Settings) -> None:
    """The worker learns the call from its dispatch metadata (ids only) and reads the
    variables from the call row before building the agent."""
    agent_id = make_agent()
    with session_scope() as session:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=agent_id,
            room_name="room-worker",
            variables={"order_prefix": "VX", "tier": "gold"},
        )
        session.add(call)
        session.flush()
        call_id = call.id
    agent, data, _stt = _prepare(JobMetadata(call_id, agent_id), env, None)
    assert isinstance(agent, SpecAgent) and data.call_session_id == call_id
    assert agent.instructions.startswith(
        "You take orders for Acme. Order numbers start with VX. Today is 2026-12-03. "
        "The caller is not known yet. Loyalty tier: gold."
    )
    assert agent.variables["agent_name"] == "Order Desk"
