"""Custom HTTP tools at call time, against a real local clinic service.

The clinic (a threading `http.server` on 127.0.0.1, its own thread) serves
`GET /slots?date=` and `POST /bookings`, which refuses a request without the right
`X-Clinic-Key`. The URL guard refuses loopback, so the tests allow-list 127.0.0.1
as an admin would (`VOXIE_URL_ALLOWLIST`); the SSRF tests prove the refusal
without it. The model is the OpenAI double, scripted to call the tools in a text
`AgentSession` (and through `TextChat`, which records the transcript).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from livekit.agents import AgentSession, ToolError
from livekit.plugins import openai as lk_openai
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker import http_tools, tool_calls
from voice_worker.calldata import CallData
from voice_worker.spec_agent import SpecAgent
from voice_worker.text_chat import TextChat
from voxie_app.db import session_scope
from voxie_app.models import AgentSpec, CallSession, ConversationTurn, ToolInvocation
from voxie_app.services import agent_creation
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.settings import Settings

SECRET = "clinic-key-4f9a-never-shown"


@dataclass
class Clinic:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    bookings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(clinic: Clinic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            clinic.requests.append(
                {"method": "GET", "path": self.path, "headers": dict(self.headers)}
            )
            if parts.path == "/slots":
                date = parse_qs(parts.query).get("date", [""])[0]
                self._answer(200, {"data": {"date": date, "slots": ["09:00", "10:30"]}})
            elif parts.path == "/slow":
                time.sleep(2.5)
                self._answer(200, {"ok": True})
            elif parts.path == "/fail":
                self._answer(500, {"error": "database down"})
            elif parts.path == "/echo":
                self._answer(200, {"headers": dict(self.headers)})
            else:
                self._answer(404, {"error": "no such page"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            clinic.requests.append(
                {"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body}
            )
            if self.headers.get("X-Clinic-Key") != SECRET:
                self._answer(401, {"error": "bad key"})
                return
            booking = {"id": f"B{len(clinic.bookings) + 1}", **body}
            clinic.bookings.append(booking)
            self._answer(201, {"booking": booking})

    return Handler


@pytest.fixture
def clinic() -> Iterator[Clinic]:
    state = Clinic()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


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
        secrets_svc.put(session=session, name="CLINIC_KEY", value=SECRET)
    return settings


def booking_tool(clinic: Clinic, **change: Any) -> dict[str, Any]:
    return {
        "name": "book_slot",
        "description": "Book an appointment slot for the caller.",
        "parameters": {
            "type": "object",
            "properties": {
                "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                "time": {"type": "string"},
                "name": {"type": "string", "minLength": 1},
            },
            "required": ["date", "time", "name"],
            "additionalProperties": False,
        },
        "method": "POST",
        "url": f"{clinic.base}/bookings",
        "headers": {"X-Clinic-Key": "{{secret:CLINIC_KEY}}"},
        "timeout_s": 5,
        "result_path": "booking",
        **change,
    }


def slots_tool(clinic: Clinic, **change: Any) -> dict[str, Any]:
    return {
        "name": "check_slots",
        "description": "Free appointment slots on a date.",
        "parameters": {
            "type": "object",
            "properties": {"date": {"type": "string"}},
            "required": ["date"],
        },
        "url": f"{clinic.base}/slots",
        "result_path": "data.slots",
        **change,
    }


def save_tool(body: dict[str, Any]) -> uuid.UUID:
    with session_scope() as session:
        return tools_svc.create_tool(session=session, body=tools_svc.parse(body)).id


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
    """The recorded invocations, once the background writes are done."""
    await tool_calls.flush()
    return stored_invocations(call_id)


def stored_invocations(call_id: uuid.UUID | None = None) -> list[ToolInvocation]:
    with session_scope() as s:
        query = select(ToolInvocation)
        if call_id is not None:
            query = query.where(ToolInvocation.call_session_id == call_id)
        return list(s.exec(query).all())


def session_for(settings: Settings, spec: AgentSpec, base_url: str, call_id: uuid.UUID | None):
    model = lk_openai.LLM(model="gpt-4o-mini", api_key="k", base_url=base_url)
    data = CallData(settings=settings, spec=spec, call_session_id=call_id)
    return AgentSession(llm=model, userdata=data)


BOOK_ARGS = {"date": "2026-12-03", "time": "10:30", "name": "Ann Lee"}


async def test_model_books_a_slot_and_the_secret_stays_out_of_everything(
    env: Settings, clinic: Clinic, openai_double: OpenAIServerDouble
) -> None:
    agent_id, spec = make_agent([save_tool(booking_tool(clinic))])
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(tool_calls=[ToolCall("book_slot", BOOK_ARGS)]),
        Reply(content="You're booked for 10:30, Ann."),
    )
    async with session_for(env, spec, openai_double.base_url, call_id) as s:
        await s.start(SpecAgent(spec))
        result = await s.run(user_input="Book me tomorrow 10:30, I'm Ann Lee")
        result.expect.next_event().is_function_call(name="book_slot", arguments=BOOK_ARGS)
        output = result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        history = json.dumps(s.history.to_dict())

    assert clinic.bookings == [{"id": "B1", **BOOK_ARGS}]
    assert clinic.requests[-1]["headers"]["X-Clinic-Key"] == SECRET
    assert json.loads(output.event().item.output) == {"id": "B1", **BOOK_ARGS}
    # The model saw the tool, by its schema, and never the secret.
    sent = json.dumps(openai_double.requests)
    assert "book_slot" in sent and SECRET not in sent and "CLINIC_KEY" not in sent
    assert SECRET not in history
    [record] = await invocations(call_id)
    assert (record.tool_name, record.status, record.http_status) == ("book_slot", "ok", 201)
    assert record.arguments == BOOK_ARGS and record.result_chars > 0
    assert record.latency_ms >= 0
    assert SECRET not in json.dumps(record.model_dump(mode="json"))


async def test_text_chat_transcript_has_no_secret_and_get_uses_the_query(
    env: Settings, clinic: Clinic, openai_double: OpenAIServerDouble
) -> None:
    agent_id, _ = make_agent([save_tool(slots_tool(clinic)), save_tool(booking_tool(clinic))])
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-03"})]),
        Reply(tool_calls=[ToolCall("book_slot", BOOK_ARGS)]),
        Reply(content="Booked."),
    )
    chat = await TextChat.open(agent_id=agent_id, settings=env, call_session_id=call_id)
    reply = await chat.send("What's free tomorrow? Book 10:30 for Ann Lee.")
    await chat.aclose()
    assert reply.tool_calls == ["check_slots", "book_slot"]
    assert clinic.requests[0]["path"] == "/slots?date=2026-12-03"
    tools_offered = sorted(t["function"]["name"] for t in openai_double.requests[0]["tools"])
    assert {"book_slot", "check_slots"} <= set(tools_offered)
    # The model got just data.slots.
    tool_message = openai_double.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == '["09:00", "10:30"]'
    with session_scope() as s:
        rows = s.exec(
            select(ConversationTurn).where(ConversationTurn.call_session_id == call_id)
        ).all()
        assert rows and SECRET not in json.dumps([r.model_dump(mode="json") for r in rows])
    assert [r.status for r in await invocations(call_id)] == ["ok", "ok"]


async def test_schema_invalid_arguments_send_nothing_and_the_chat_goes_on(
    env: Settings, clinic: Clinic, openai_double: OpenAIServerDouble
) -> None:
    agent_id, spec = make_agent([save_tool(booking_tool(clinic))])
    call_id = make_call(agent_id)
    bad = {"date": "tomorrow", "time": "10:30", "name": "Ann"}
    openai_double.script(
        Reply(tool_calls=[ToolCall("book_slot", bad)]),
        Reply(content="Which date exactly?"),
    )
    async with session_for(env, spec, openai_double.base_url, call_id) as s:
        await s.start(SpecAgent(spec))
        result = await s.run(user_input="Book me tomorrow")
        result.expect.next_event().is_function_call(name="book_slot")
        output = result.expect.next_event().is_function_call_output(is_error=True)
        result.expect.next_event().is_message(role="assistant")
    assert "date" in output.event().item.output and "does not match" in output.event().item.output
    assert clinic.requests == []
    [record] = await invocations(call_id)
    assert record.status == "invalid_arguments" and record.http_status is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/slow", "timeout", "did not answer within 1 s"),
        ("/fail", "http_error", "HTTP 500"),
        ("refused", "connection_error", "could not reach"),
    ],
)
async def test_failures_become_tool_errors_and_the_conversation_continues(
    env: Settings,
    clinic: Clinic,
    openai_double: OpenAIServerDouble,
    url: str,
    status: str,
    words: str,
) -> None:
    target = f"http://127.0.0.1:{_free_port()}/x" if url == "refused" else clinic.base + url
    body = slots_tool(clinic, url=target, timeout_s=1, result_path="")
    agent_id, spec = make_agent([save_tool(body)])
    call_id = make_call(agent_id)
    openai_double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-03"})]),
        Reply(content="Sorry, I can't check right now."),
        Reply(content="Anything else?"),
    )
    async with session_for(env, spec, openai_double.base_url, call_id) as s:
        await s.start(SpecAgent(spec))
        result = await s.run(user_input="What's free?")
        result.expect.next_event().is_function_call(name="check_slots")
        output = result.expect.next_event().is_function_call_output(is_error=True)
        result.expect.next_event().is_message(role="assistant")
        again = await s.run(user_input="Thanks")
        again.expect.next_event().is_message(role="assistant")
    assert words in output.event().item.output
    [record] = await invocations(call_id)
    assert record.status == status


async def test_secret_echoed_by_the_service_is_redacted_for_the_model(
    env: Settings, clinic: Clinic
) -> None:
    tool_id = save_tool(
        slots_tool(
            clinic,
            url=f"{clinic.base}/echo",
            result_path="",
            headers={"X-Clinic-Key": "{{secret:CLINIC_KEY}}"},
        )
    )
    [tool] = http_tools.load([tool_id])
    text = await http_tools.invoke(tool, {"date": "x"}, call_session_id=None)
    assert clinic.requests[0]["headers"]["X-Clinic-Key"] == SECRET
    assert SECRET not in text and secrets_svc.REDACTED in text


async def test_argument_that_looks_like_a_secret_reference_stays_text(
    env: Settings, clinic: Clinic
) -> None:
    body = slots_tool(clinic, url=f"{clinic.base}/slots?date={{date}}", result_path="data.date")
    [tool] = http_tools.load([save_tool(body)])
    text = await http_tools.invoke(tool, {"date": "{{secret:CLINIC_KEY}}"}, call_session_id=None)
    assert SECRET not in text and SECRET not in json.dumps(clinic.requests[0]["path"])
    assert "secret:CLINIC_KEY" in text


# ------------------------------------------------------------------ SSRF at call time


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/slots",
        "http://10.0.0.1/slots",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:{port}/slots",
    ],
)
async def test_internal_addresses_are_refused_at_call_time(
    env: Settings, clinic: Clinic, configure: Callable[..., Settings], url: str
) -> None:
    """A tool whose address is (or became) internal: refused when connecting, nothing
    sent, a tool error for the model, the refusal recorded."""
    tool = http_tools.HttpTool(
        id=uuid.uuid4(),
        name="check_slots",
        description="Free slots.",
        parameters={"type": "object", "properties": {"date": {"type": "string"}}},
        method="GET",
        url=url.format(port=clinic.port),
        headers={},
        timeout_s=2,
        wait_message="",
        result_path="",
    )
    configure(VOXIE_URL_ALLOWLIST=None)
    with pytest.raises(ToolError, match="not allowed"):
        await http_tools.invoke(tool, {"date": "2026-12-03"}, call_session_id=None)
    assert clinic.requests == []
    [record] = await invocations()
    assert record.status == "refused" and record.tool_id is None


def test_needs_setup_tools_are_not_offered(env: Settings, clinic: Clinic) -> None:
    ready = save_tool(slots_tool(clinic))
    draft = save_tool(booking_tool(clinic, status="needs_setup"))
    _, spec = make_agent([ready, draft])
    agent = SpecAgent(spec)
    assert [t.name for t in agent.custom_tools] == ["check_slots"]


async def test_a_secret_in_the_url_is_sent_but_never_logged(
    env: Settings, clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = slots_tool(clinic, url=f"{clinic.base}/slots?key={{{{secret:CLINIC_KEY}}}}")
    [tool] = http_tools.load([save_tool(body)])
    await http_tools.invoke(tool, {"date": "2026-12-03"}, call_session_id=None)
    assert f"key={SECRET}" in clinic.requests[0]["path"]
    assert "HTTP Request" in caplog.text  # httpx logged the request...
    assert SECRET not in caplog.text  # ...without the secret
    [record] = await invocations()
    assert SECRET not in json.dumps(record.model_dump(mode="json"))


async def test_a_schema_that_cannot_be_checked_sends_nothing(env: Settings, clinic: Clinic) -> None:
    """A stored schema with a remote $ref (refused on save since): nothing is fetched
    or sent; the model gets a tool error."""
    tool = http_tools.HttpTool(
        id=uuid.uuid4(),
        name="check_slots",
        description="Free slots.",
        parameters={"type": "object", "$ref": "http://169.254.169.254/schema.json"},
        method="GET",
        url=f"{clinic.base}/slots",
        headers={},
        timeout_s=2,
        wait_message="",
        result_path="",
    )
    with pytest.raises(ToolError, match="cannot be checked"):
        await http_tools.invoke(tool, {"date": "2026-12-03"}, call_session_id=None)
    assert clinic.requests == []
