"""Creating agents from requirements through `POST /api/agents/create`.

Runs the whole pipeline against SQLite and PostgreSQL with the real `openai`
client talking to a local OpenAI double: requirements are stored first, the
LLM drafts text only, code decides tools and caps, the caller's fields win,
invalid specs are rejected before anything is written, failures keep the
requirements and say why, and every step appears on the SSE stream.

`TestClient` runs FastAPI background tasks before returning the response, so
after a 202 the generation has already finished.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Agent, AgentSpec
from voxie_app.services import agent_creation
from voxie_app.services import events as events_svc
from voxie_app.services.errors import Conflict
from voxie_app.services.spec_builder import SYSTEM_PROMPT
from voxie_app.settings import Settings

REQUIREMENTS = {
    "business_name": "Bright Smile Dental",
    "purpose": "answer calls and book cleanings",
    "hours": "Mon-Fri 9-5",
}
DRAFT = {
    "name": "Bright Smile Dental Receptionist",
    "description": "Answers calls for Bright Smile Dental and books cleanings.",
    "instructions": "You are the receptionist of Bright Smile Dental. Keep answers short.",
    "greeting": "Thanks for calling Bright Smile Dental, how can I help?",
    "language": "en",
    "tools": ["end_call", "record_caller_details"],
    "turn_preset": "default",
    "filler_message": "One moment.",
}
COMPLETE_SPEC = {
    "name": "Pizza Orders",
    "instructions": "You take pizza orders for Luigi's. Confirm the address.",
    "greeting": "Luigi's Pizza, what can I get you?",
    "tools": ["end_call"],
    "temperature": 0.5,
}
CREATE = "/api/agents/create"


@pytest.fixture
def client(
    db: str, configure: Callable[..., Settings], openai_double: OpenAIServerDouble
) -> Iterator[TestClient]:
    """The API on a fresh database, with the LLM pointed at the OpenAI double."""
    configure(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=openai_double.base_url)
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def create(client: TestClient, expected: int = 202, **body: Any) -> dict[str, Any]:
    body.setdefault("user_requirements", REQUIREMENTS)
    r = client.post(CREATE, json=body)
    assert r.status_code == expected, r.text
    return r.json()


def get_agent(client: TestClient, agent_id: str) -> dict[str, Any]:
    r = client.get(f"/api/agents/{agent_id}")
    assert r.status_code == 200, r.text
    return r.json()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the run) if an SSE stream never ends."""

    def _expired(*_: object) -> None:
        raise TimeoutError(f"SSE stream still open after {seconds}s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_sse(
    client: TestClient, session_id: str, last_event_id: str | None = None
) -> list[dict[str, Any]]:
    """Read a creation stream to its end; each event as {id, event, data (parsed)}."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    with (
        deadline(20),
        client.stream("GET", f"/api/agents/create-stream/{session_id}", headers=headers) as r,
    ):
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line == "":
                if "event" in fields:
                    assert set(fields) == {"id", "event", "data"}, fields
                    events.append({**fields, "data": json.loads(fields["data"])})
                fields = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
    return events


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


# ------------------------------------------------------------- generation


def test_requirements_only_generates_a_valid_spec(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(json=DRAFT))
    created = create(client)
    assert created["status"] == "processing"
    assert created["session_id"]
    assert created["stream_url"] == f"/api/agents/create-stream/{created['session_id']}"

    agent = get_agent(client, created["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    assert agent["error"] is None
    assert agent["user_requirements"] == REQUIREMENTS
    assert agent["session_id"] == created["session_id"]
    assert agent["name"] == DRAFT["name"]
    spec = AgentSpec.model_validate(agent["processed_spec"])
    assert spec.model_dump(mode="json") == agent["processed_spec"]
    assert spec.instructions == DRAFT["instructions"]
    assert spec.greeting == DRAFT["greeting"]
    assert spec.tools == ["end_call", "record_caller_details"]
    assert spec.llm_model == "gpt-4o-mini"
    assert spec.transfer_targets == []
    assert [a["id"] for a in client.get("/api/agents").json()] == [created["agent_id"]]

    # The one LLM request: structured output, configured model and key.
    assert len(openai_double.requests) == 1
    sent = openai_double.requests[0]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "SpecDraft"
    schema = sent["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == set(DRAFT)
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert sent["messages"][1]["role"] == "user"
    assert json.loads(sent["messages"][1]["content"]) == {
        "requirements": REQUIREMENTS,
        "fixed_fields": {},
    }
    assert openai_double.headers[0]["Authorization"] == "Bearer test-key"


def test_configured_model_is_used_and_recorded(
    client: TestClient, openai_double: OpenAIServerDouble, configure: Callable[..., Settings]
) -> None:
    configure(OPENAI_MODEL="gpt-4.1-mini")
    openai_double.script(Reply(json=DRAFT))
    agent = get_agent(client, create(client)["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    assert openai_double.last_request["model"] == "gpt-4.1-mini"
    assert agent["processed_spec"]["llm_model"] == "gpt-4.1-mini"


@pytest.mark.parametrize(
    ("draft_tools", "expected"),
    [
        (["end_call", "transfer_to_agent", "delete_database"], ["end_call"]),
        ([], ["end_call"]),
        (["record_caller_details", "record_caller_details"], ["record_caller_details", "end_call"]),
    ],
)
def test_code_decides_the_tools(
    client: TestClient,
    openai_double: OpenAIServerDouble,
    draft_tools: list[str],
    expected: list[str],
) -> None:
    openai_double.script(Reply(json={**DRAFT, "tools": draft_tools}))
    agent = get_agent(client, create(client)["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    assert agent["processed_spec"]["tools"] == expected
    assert agent["processed_spec"]["transfer_targets"] == []


@pytest.mark.parametrize(
    ("drafted", "preset"),
    [("patient", "patient"), ("fast", "fast"), ("leisurely", "default"), (None, "default")],
)
def test_the_draft_picks_the_turn_preset_within_the_presets(
    client: TestClient, openai_double: OpenAIServerDouble, drafted: str | None, preset: str
) -> None:
    """ "Elderly callers who take their time" may become `patient`; a value outside the
    presets, or none, is the default, as the spec allows no other."""
    draft = {k: v for k, v in DRAFT.items() if k != "turn_preset"}
    if drafted is not None:
        draft["turn_preset"] = drafted
    openai_double.script(Reply(json={**draft, "filler_message": "Un momento, por favor."}))
    requirements = {**REQUIREMENTS, "callers": "our callers are elderly and take their time"}
    agent = get_agent(client, create(client, user_requirements=requirements)["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    assert agent["processed_spec"]["turn_preset"] == preset
    assert agent["processed_spec"]["filler_message"] == "Un momento, por favor."
    # The model was told what each preset trades, and given the callers as data.
    sent = openai_double.last_request
    schema = sent["response_format"]["json_schema"]["schema"]["properties"]
    assert schema["turn_preset"]["enum"] == ["default", "fast", "patient"]
    assert "patient" in sent["messages"][0]["content"]
    assert "take their time" in sent["messages"][1]["content"]


def test_the_drafted_filler_passes_the_spec_guard(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(
        Reply(json={**DRAFT, "filler_message": "Hold on. Call +1 900 555 0100 meanwhile."})
    )
    agent = get_agent(client, create(client)["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    assert agent["processed_spec"]["filler_message"] == "Hold on."


def test_over_long_fields_are_trimmed_not_rejected(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(
        Reply(
            json={
                "name": "N" * 200,
                "description": "d" * 2000,
                "instructions": "i" * 20_000,
                "greeting": "g" * 900,
                "language": " EN ",
                "tools": ["end_call"],
            }
        )
    )
    agent = get_agent(client, create(client)["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    spec = agent["processed_spec"]
    AgentSpec.model_validate(spec)
    assert spec["name"] == "N" * 80
    assert agent["name"] == "N" * 80
    assert spec["description"] == "d" * 500
    assert spec["instructions"] == "i" * 8000
    assert spec["greeting"] == "g" * 500
    assert spec["language"] == "en"


# ------------------------------------------------------- caller-given specs


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
def test_complete_spec_is_stored_without_the_llm(
    client: TestClient,
    openai_double: OpenAIServerDouble,
    configure: Callable[..., Settings],
    with_key: bool,
) -> None:
    if not with_key:
        configure(OPENAI_API_KEY=None)
    created = create(client, expected=201, processed_spec=COMPLETE_SPEC)
    assert created["status"] == "ready"
    agent = get_agent(client, created["agent_id"])
    assert agent["status"] == "ready"
    assert agent["name"] == "Pizza Orders"
    assert agent["processed_spec"] == AgentSpec.model_validate(COMPLETE_SPEC).model_dump(
        mode="json"
    )
    assert agent["processed_spec"]["temperature"] == 0.5
    assert agent["user_requirements"] == REQUIREMENTS
    assert openai_double.recorded == []


def test_partial_spec_fields_win_over_the_draft(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    partial = {"name": "Dental Bot", "greeting": "Hi!", "temperature": 0.2}
    openai_double.script(Reply(json=DRAFT))
    created = create(client, processed_spec=partial)
    assert created["status"] == "processing"
    agent = get_agent(client, created["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    spec = agent["processed_spec"]
    assert spec["name"] == "Dental Bot"
    assert agent["name"] == "Dental Bot"
    assert spec["greeting"] == "Hi!"
    assert spec["temperature"] == 0.2
    assert spec["instructions"] == DRAFT["instructions"]
    assert spec["description"] == DRAFT["description"]
    # The fixed fields were shown to the model as data.
    user = json.loads(openai_double.last_request["messages"][1]["content"])
    assert user == {"requirements": REQUIREMENTS, "fixed_fields": partial}


@pytest.mark.parametrize(
    ("spec", "loc"),
    [
        ({"temperature": 5}, ["body", "processed_spec", "temperature"]),
        ({**COMPLETE_SPEC, "temperature": 5}, ["body", "processed_spec", "temperature"]),
        ({**COMPLETE_SPEC, "tools": ["rm_rf"]}, ["body", "processed_spec", "tools", 0]),
        ({**COMPLETE_SPEC, "webhook": "http://x"}, ["body", "processed_spec", "webhook"]),
        (
            {
                **COMPLETE_SPEC,
                "tools": ["end_call", "transfer_to_agent"],
                "transfer_targets": [{"agent_id": str(uuid.uuid4())}],
            },
            ["body", "processed_spec", "transfer_targets", "0", "agent_id"],
        ),
    ],
    ids=["temperature-only", "temperature", "unknown-tool", "unknown-field", "missing-target"],
)
def test_invalid_spec_is_rejected_and_nothing_written(
    client: TestClient, openai_double: OpenAIServerDouble, spec: dict[str, Any], loc: list[Any]
) -> None:
    r = client.post(
        CREATE,
        json={"user_requirements": REQUIREMENTS, "processed_spec": spec, "session_id": "bad-1"},
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert loc in [d["loc"] for d in detail], detail
    assert client.get("/api/agents").json() == []
    assert client.get("/api/agents/create-stream/bad-1").status_code == 404
    assert openai_double.recorded == []


# ------------------------------------------------------------------ failures


def test_without_an_llm_key_creation_fails_and_keeps_requirements(
    client: TestClient, openai_double: OpenAIServerDouble, configure: Callable[..., Settings]
) -> None:
    configure(OPENAI_API_KEY=None)
    created = create(client)
    assert created["status"] == "processing"
    agent = get_agent(client, created["agent_id"])
    assert agent["status"] == "failed"
    assert "OPENAI_API_KEY" in agent["error"]
    assert agent["user_requirements"] == REQUIREMENTS
    assert agent["processed_spec"] == {}
    assert openai_double.recorded == []


def test_llm_server_errors_fail_after_retries(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.responder = lambda _: Reply(status=500, error="boom")
    agent = get_agent(client, create(client)["agent_id"])
    assert agent["status"] == "failed"
    assert "InternalServerError" in agent["error"]
    assert "boom" in agent["error"]
    assert agent["user_requirements"] == REQUIREMENTS
    assert len(openai_double.requests) == 3  # first try + max_retries=2


def test_llm_recovers_within_retries(client: TestClient, openai_double: OpenAIServerDouble) -> None:
    openai_double.script(Reply(status=500, error="blip"), Reply(json=DRAFT))
    agent = get_agent(client, create(client)["agent_id"])
    assert agent["status"] == "ready", agent["error"]
    assert len(openai_double.requests) == 2


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(content="not json"), "unusable reply"),
        (Reply(json={"name": "only a name"}), "unusable reply"),
        (Reply(refusal="I cannot help with that"), "refused"),
        (Reply(json={**DRAFT, "language": "English"}), "language"),
        (Reply(json={**DRAFT, "instructions": "   "}), "instructions"),
    ],
    ids=["not-json", "incomplete-draft", "refusal", "bad-language", "blank-instructions"],
)
def test_unusable_llm_reply_fails_without_a_partial_spec(
    client: TestClient, openai_double: OpenAIServerDouble, reply: Reply, reason: str
) -> None:
    partial = {"name": "Dental Bot"}
    openai_double.script(reply)
    agent = get_agent(client, create(client, processed_spec=partial)["agent_id"])
    assert agent["status"] == "failed"
    assert reason in agent["error"]
    assert agent["processed_spec"] == partial
    assert agent["user_requirements"] == REQUIREMENTS
    assert len(openai_double.requests) == 1


# ----------------------------------------------------------------------- SSE


def test_stream_replays_the_steps_in_order(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(json=DRAFT, prompt_tokens=100, completion_tokens=20))
    created = create(client)
    session_id = created["session_id"]
    events = read_sse(client, session_id)
    assert kinds(events) == [
        "requirements_captured",
        "spec_generation_started",
        "spec_validated",
        "agent_saved",
    ]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 4
    for event in events:
        assert event["data"]["kind"] == event["event"]
        assert event["data"]["id"] == int(event["id"])
        assert event["data"]["stream"] == f"agent-create:{session_id}"
        assert event["data"]["level"] == "info"
    assert events[0]["data"]["data"] == {
        "agent_id": created["agent_id"],
        "fields": sorted(REQUIREMENTS),
    }
    assert events[2]["data"]["data"] == {
        "tokens_used": 120,
        "tools": ["end_call", "record_caller_details"],
    }
    assert events[3]["data"]["data"] == {"agent_id": created["agent_id"]}

    replay = read_sse(client, session_id, last_event_id=events[1]["id"])
    assert kinds(replay) == ["spec_validated", "agent_saved"]
    assert [e["id"] for e in replay] == [e["id"] for e in events[2:]]


@pytest.mark.parametrize(
    "bad_id",
    [
        "\N{SUPERSCRIPT TWO}",  # passes str.isdigit(), int() refuses it
        "9" * 5000,  # over Python's int-parsing digit limit
        "9" * 20,  # over BIGINT: PostgreSQL would refuse the query
        "-1",
        "1e3",
        "abc",
        "",
    ],
    ids=["superscript-two", "5000-digits", "over-bigint", "negative", "float", "letters", "empty"],
)
async def test_a_bad_last_event_id_replays_the_whole_stream(
    client: TestClient, bad_id: str
) -> None:
    created = create(client, expected=201, processed_spec=COMPLETE_SPEC)
    # httpx's ASGI transport hands the app the raw header bytes, as a server does
    # (TestClient re-encodes a latin-1 byte as UTF-8, so `²` would not arrive as `²`).
    headers = {**client.headers, "Last-Event-ID": bad_id.encode("latin-1")}
    transport = httpx.ASGITransport(app=client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with deadline(20):
            r = await http.get(
                f"/api/agents/create-stream/{created['session_id']}", headers=headers
            )
    assert r.status_code == 200, r.text
    assert "event: requirements_captured" in r.text and "event: agent_saved" in r.text


def test_parse_event_id_accepts_only_plain_bigint_ids() -> None:
    assert events_svc.parse_event_id("42") == 42
    assert events_svc.parse_event_id(" 7 ") == 7
    assert events_svc.parse_event_id(str(2**63 - 1)) == 2**63 - 1
    for bad in (None, "", "²", "٣", "9" * 5000, str(2**63), "-3", "+3", "0x10", "1_000"):
        assert events_svc.parse_event_id(bad) == 0, bad


def test_the_event_service_bounds_any_after_id(db: str) -> None:
    events_svc.publish("bounds-test", "note", "one")
    with session_scope() as session:
        assert events_svc.list_events(session=session, stream="bounds-test", after_id=10**30) == []
        everything = events_svc.list_events(session=session, stream="bounds-test", after_id=-5)
    assert [e.message for e in everything] == ["one"]


def test_stream_of_a_complete_spec(client: TestClient) -> None:
    created = create(client, expected=201, processed_spec=COMPLETE_SPEC)
    events = read_sse(client, created["session_id"])
    assert kinds(events) == ["requirements_captured", "agent_saved"]


def test_stream_of_a_failed_creation_ends_with_failed(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(content="not json"))
    created = create(client)
    events = read_sse(client, created["session_id"])
    assert kinds(events) == ["requirements_captured", "spec_generation_started", "failed"]
    failed = events[-1]["data"]
    assert failed["level"] == "error"
    assert failed["data"] == {"agent_id": created["agent_id"]}
    assert failed["message"] == get_agent(client, created["agent_id"])["error"]


def test_streams_of_two_creations_do_not_mix(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(json=DRAFT), Reply(json={**DRAFT, "name": "Second"}))
    first, second = create(client), create(client)
    assert first["session_id"] != second["session_id"]
    for created in (first, second):
        events = read_sse(client, created["session_id"])
        assert kinds(events)[-1] == "agent_saved"
        assert {e["data"]["data"].get("agent_id") for e in events} - {None} == {created["agent_id"]}


def test_unknown_session_stream_is_404(client: TestClient) -> None:
    r = client.get("/api/agents/create-stream/no-such-session")
    assert r.status_code == 404
    assert "no-such-session" in r.json()["detail"]


def test_client_chosen_session_id_is_kept(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(json=DRAFT))
    created = create(client, session_id="builder-42.a:b")
    assert created["session_id"] == "builder-42.a:b"
    assert created["stream_url"] == "/api/agents/create-stream/builder-42.a:b"
    assert get_agent(client, created["agent_id"])["session_id"] == "builder-42.a:b"
    events = read_sse(client, "builder-42.a:b")
    assert kinds(events)[-1] == "agent_saved"
    assert events[-1]["data"]["data"] == {"agent_id": created["agent_id"]}


def test_a_reused_client_session_id_is_409_and_the_first_stream_stays_its_own(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    openai_double.script(Reply(json=DRAFT), Reply(json={**DRAFT, "name": "Second"}))
    first = create(client, session_id="mine-1")
    again = client.post(CREATE, json={"user_requirements": REQUIREMENTS, "session_id": "mine-1"})
    assert again.status_code == 409, again.text
    assert "mine-1" in again.json()["detail"]
    assert [a["id"] for a in client.get("/api/agents").json()] == [first["agent_id"]]
    # A complete spec (stored at once, 201) is refused the same way.
    spec_again = client.post(
        CREATE,
        json={"user_requirements": {}, "processed_spec": COMPLETE_SPEC, "session_id": "mine-1"},
    )
    assert spec_again.status_code == 409
    events = read_sse(client, "mine-1")
    assert kinds(events) == [
        "requirements_captured",
        "spec_generation_started",
        "spec_validated",
        "agent_saved",
    ]
    assert {e["data"]["data"].get("agent_id") for e in events} - {None} == {first["agent_id"]}
    # A fresh id still works.
    assert create(client, session_id="mine-2")["session_id"] == "mine-2"


def test_a_session_id_of_a_deleted_creation_is_not_reused(client: TestClient) -> None:
    created = create(client, expected=201, processed_spec=COMPLETE_SPEC, session_id="gone-1")
    assert client.delete(f"/api/agents/{created['agent_id']}").status_code == 204
    body = {"user_requirements": {}, "processed_spec": COMPLETE_SPEC, "session_id": "gone-1"}
    assert client.post(CREATE, json=body).status_code == 409  # its old events would replay


def test_concurrent_creations_with_one_session_id_store_one(db: str) -> None:
    """Of eight simultaneous claims of one client id, one is stored and seven get Conflict."""
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def claim() -> None:
        barrier.wait()
        try:
            agent_creation.submit(
                user_requirements={"n": 1},
                processed_spec=COMPLETE_SPEC,
                session_id="race-1",
                exclusive_session=True,
            )
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * 7 + ["stored"]
    with session_scope() as session:
        assert len(session.exec(select(Agent).where(Agent.session_id == "race-1")).all()) == 1
        logged = events_svc.list_events(session=session, stream="agent-create:race-1")
    assert [e.kind for e in logged] == ["requirements_captured", "agent_saved"]


def test_the_builder_conversation_keeps_one_stream_for_its_creations(db: str) -> None:
    """Without `exclusive_session` (the builder's own, server-made conversation id)."""
    for _ in range(2):
        agent_creation.submit(
            user_requirements={"n": 1}, processed_spec=COMPLETE_SPEC, session_id="conv-1"
        )
    with session_scope() as session:
        logged = events_svc.list_events(session=session, stream="agent-create:conv-1")
    assert [e.kind for e in logged].count("agent_saved") == 2


@pytest.mark.parametrize("session_id", ["has space", "x" * 101, "a/b"])
def test_malformed_session_id_is_rejected(client: TestClient, session_id: str) -> None:
    r = client.post(CREATE, json={"user_requirements": REQUIREMENTS, "session_id": session_id})
    assert r.status_code == 422
    assert ["body", "session_id"] in [d["loc"] for d in r.json()["detail"]]
    assert client.get("/api/agents").json() == []


def test_agent_deleted_during_generation_ends_the_stream(
    client: TestClient, openai_double: OpenAIServerDouble
) -> None:
    """Deleting an agent while its spec is generated must not crash the background task,
    and readers already on the stream must still get a terminal event."""

    def delete_then_answer(_: dict[str, Any]) -> Reply:
        with session_scope() as session:
            for agent in session.exec(select(Agent)).all():
                session.delete(agent)
        return Reply(json=DRAFT)

    openai_double.responder = delete_then_answer
    created = create(client, session_id="deleted-1")
    assert client.get(f"/api/agents/{created['agent_id']}").status_code == 404
    assert client.get("/api/agents").json() == []
    with session_scope() as session:
        logged = events_svc.list_events(session=session, stream="agent-create:deleted-1")
    assert [e.kind for e in logged] == [
        "requirements_captured",
        "spec_generation_started",
        "spec_validated",
        "failed",
    ]
    assert created["agent_id"] in logged[-1].message


def test_partial_spec_with_unknown_transfer_target_is_rejected_at_once(db: str, configure) -> None:
    configure(OPENAI_API_KEY="k", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    with TestClient(create_api(), headers=admin_headers()) as client:
        r = client.post(
            "/api/agents/create",
            json={
                "user_requirements": {"business": "x"},
                "processed_spec": {
                    "tools": ["end_call", "transfer_to_agent"],
                    "transfer_targets": [{"agent_id": "00000000-0000-4000-8000-000000000000"}],
                },
            },
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"][-1] == "agent_id"
        assert client.get("/api/agents").json() == []
