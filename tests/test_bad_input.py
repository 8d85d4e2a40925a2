"""Hostile and odd input through the REST API, on SQLite and PostgreSQL.

- 10 MB bodies: 413 on every route that takes a body, nothing written.
- NUL characters in JSON strings and query parameters: 422 naming the field
  (PostgreSQL cannot store NUL in text or JSONB), never a 500, nothing written.
- Emoji and `<script>`/`<img onerror>` in agent names and greetings: accepted,
  stored and returned verbatim, as JSON (the browser side is
  tests/browser/test_escaping.py).
- Path-like names: agent names are plain text (never used as paths); knowledge
  document names must be plain file names (the full table of bad uploads is in
  tests/test_knowledge.py::test_bad_uploads_are_refused_with_nothing_stored).
- Very long query parameters and ids: 422, never a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Agent, CallSession, KnowledgeDocument, Webhook
from voxie_app.services import agent_creation

MB10 = 10 * 1024 * 1024
SPEC = {
    "name": "Front Desk",
    "instructions": "You answer calls for the front desk.",
    "greeting": "Hello, front desk!",
}
COUNTED: tuple[type[SQLModel], ...] = (Agent, CallSession, KnowledgeDocument, Webhook)


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers(), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def agent_id(db: str) -> uuid.UUID:
    return agent_creation.submit(user_requirements={"business": "desk"}, processed_spec=SPEC).id


def counts() -> dict[str, int]:
    with session_scope() as session:
        return {
            table.__tablename__: session.execute(  # type: ignore[attr-defined]
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in COUNTED
        }


def stored_agent(agent_id: uuid.UUID) -> Agent:
    with session_scope() as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        return agent


def locs(response) -> list[list]:
    return [e["loc"] for e in response.json()["detail"]]


# ------------------------------------------------------------------ 10 MB bodies


def _big_json(field: str) -> bytes:
    return b'{"' + field.encode() + b'": "' + b"x" * MB10 + b'"}'


BIG_REQUESTS = {
    "create agent": ("POST", "/api/agents/create", {"content": _big_json("user_requirements")}),
    "update agent": ("PUT", "/api/agents/{agent}", {"content": _big_json("room_id")}),
    "paste knowledge": ("POST", "/api/agents/{agent}/knowledge", {"content": _big_json("text")}),
    "upload knowledge": (
        "POST",
        "/api/agents/{agent}/knowledge",
        {"files": {"file": ("big.txt", b"a" * MB10, "text/plain")}},
    ),
    "register webhook": ("POST", "/api/webhooks", {"content": _big_json("url")}),
    "start call": ("POST", "/api/call/start", {"content": _big_json("agent_id")}),
    "builder call": ("POST", "/api/call/builder", {"content": _big_json("session_id")}),
    "get with a body": ("GET", "/api/agents", {"content": _big_json("x")}),
}


@pytest.mark.parametrize("name", list(BIG_REQUESTS))
def test_a_10mb_body_is_413_and_nothing_is_written(
    client: TestClient, agent_id: uuid.UUID, name: str
) -> None:
    method, path, kwargs = BIG_REQUESTS[name]
    if "content" in kwargs:
        kwargs = {**kwargs, "headers": {"content-type": "application/json"}}
    before, agent_before = counts(), stored_agent(agent_id)
    r = client.request(method, path.format(agent=agent_id), **kwargs)
    assert r.status_code == 413, r.text[:300]
    assert "too large" in r.json()["detail"]
    assert counts() == before
    assert stored_agent(agent_id).model_dump() == agent_before.model_dump()


def test_a_10mb_body_without_content_length_is_413(client: TestClient) -> None:
    """Streamed (chunked) bodies are counted as they arrive, not trusted by their header."""

    def chunks() -> Iterator[bytes]:
        yield b'{"user_requirements": {"notes": "'
        for _ in range(10):
            yield b"z" * (1024 * 1024)
        yield b'"}}'

    r = client.post(
        "/api/agents/create", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert counts()["agents"] == 0


# ------------------------------------------------------------------ NUL characters

NUL_BODIES = {
    "requirement value": (
        "POST",
        "/api/agents/create",
        {"user_requirements": {"notes": "call me\x00back"}},
        ["body", "user_requirements", "notes"],
    ),
    "requirement key": (
        "POST",
        "/api/agents/create",
        {"user_requirements": {"no\x00te": "x"}},
        ["body", "user_requirements", "no\x00te"],
    ),
    "nested in a list": (
        "POST",
        "/api/agents/create",
        {"user_requirements": {"hours": ["9-5", "sat\x00"]}},
        ["body", "user_requirements", "hours", 1],
    ),
    "spec name": (
        "POST",
        "/api/agents/create",
        {"user_requirements": {}, "processed_spec": {**SPEC, "name": "Desk\x00Bot"}},
        ["body", "processed_spec", "name"],
    ),
    "spec greeting": (
        "PUT",
        "/api/agents/{agent}",
        {"processed_spec": {"greeting": "Hi\x00"}},
        ["body", "processed_spec", "greeting"],
    ),
    "room id": ("PUT", "/api/agents/{agent}", {"room_id": "room\x00"}, ["body", "room_id"]),
    "pasted text": (
        "POST",
        "/api/agents/{agent}/knowledge",
        {"name": "faq.md", "text": "open\x00late"},
        ["body", "text"],
    ),
    "document name": (
        "POST",
        "/api/agents/{agent}/knowledge",
        {"name": "faq\x00.md", "text": "open late"},
        ["body", "name"],
    ),
    "webhook url": (
        "POST",
        "/api/webhooks",
        {"url": "https://hooks.example.com/\x00", "events": ["call.ended"]},
        ["body", "url"],
    ),
    "builder session": (
        "POST",
        "/api/call/builder",
        {"session_id": "abc\x00"},
        ["body", "session_id"],
    ),
}


@pytest.mark.parametrize("name", list(NUL_BODIES))
def test_nul_in_a_json_string_is_422_naming_the_field(
    client: TestClient, agent_id: uuid.UUID, name: str
) -> None:
    method, path, body, loc = NUL_BODIES[name]
    before, agent_before = counts(), stored_agent(agent_id)
    r = client.request(method, path.format(agent=agent_id), json=body)
    assert r.status_code == 422, r.text[:300]
    assert loc in locs(r)
    assert counts() == before
    assert stored_agent(agent_id).model_dump() == agent_before.model_dump()


def test_nul_in_a_query_parameter_is_422_or_harmless(
    client: TestClient, agent_id: uuid.UUID
) -> None:
    r = client.get("/api/agents", params={"search": "Desk\x00"})
    assert r.status_code == 422 and ["query", "search"] in locs(r)
    r = client.get(f"/api/agents/{agent_id}/knowledge/search", params={"q": "open\x00late"})
    assert r.status_code in (200, 422), r.text
    r = client.get("/api/analytics/recent-calls", params={"limit": "1\x00"})
    assert r.status_code == 422 and ["query", "limit"] in locs(r)


def test_nul_in_an_uploaded_file_name_is_422(client: TestClient, agent_id: uuid.UUID) -> None:
    """A raw NUL in the multipart header (clients usually percent-encode it)."""
    boundary = "voxieboundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="faq\x00.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "open late\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    r = client.post(
        f"/api/agents/{agent_id}/knowledge",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 422, r.text
    assert counts()["knowledge_documents"] == 0


# ------------------------------------------------------------- emoji and markup

HOSTILE_NAME = "<script>window.__pwned=1</script> Café 😀 👩‍💻 🇫🇷"
HOSTILE_GREETING = '<img src=x onerror="window.__pwned=1"> ¡Hola! 👋 "quotes" & <b>bold</b>'
HOSTILE_DESCRIPTION = "Ünïcödé ✓ — 日本語 — עברית — {{7*7}} ${7*7} %s %n \\u0000"


def test_emoji_and_markup_are_stored_and_returned_verbatim(client: TestClient) -> None:
    spec = {
        **SPEC,
        "name": HOSTILE_NAME,
        "greeting": HOSTILE_GREETING,
        "description": HOSTILE_DESCRIPTION,
    }
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {"tone 😀": "<i>warm</i>"}, "processed_spec": spec},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"
    agent_id = r.json()["agent_id"]

    got = client.get(f"/api/agents/{agent_id}")
    assert got.headers["content-type"] == "application/json"
    body = got.json()
    assert body["name"] == HOSTILE_NAME
    assert body["processed_spec"]["name"] == HOSTILE_NAME
    assert body["processed_spec"]["greeting"] == HOSTILE_GREETING
    assert body["processed_spec"]["description"] == HOSTILE_DESCRIPTION
    assert body["user_requirements"] == {"tone 😀": "<i>warm</i>"}

    row = stored_agent(uuid.UUID(agent_id))
    assert row.name == HOSTILE_NAME
    assert row.processed_spec["greeting"] == HOSTILE_GREETING

    found = client.get("/api/agents", params={"search": "😀"}).json()
    assert [a["id"] for a in found] == [agent_id]
    found = client.get("/api/agents", params={"search": "<script>"}).json()
    assert [a["id"] for a in found] == [agent_id]

    renamed = "🎉 <svg onload=alert(1)> Party Line"
    r = client.put(f"/api/agents/{agent_id}", json={"processed_spec": {"name": renamed}})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == renamed
    assert stored_agent(uuid.UUID(agent_id)).processed_spec["greeting"] == HOSTILE_GREETING


# ------------------------------------------------------------------ path-like names


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "C:\\Windows\\system32\\cmd.exe", "/var/lib/voxie/data.db"]
)
def test_path_like_agent_names_are_plain_text(client: TestClient, name: str) -> None:
    """An agent's name is never used as a path: stored and returned as the text it is."""
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {}, "processed_spec": {**SPEC, "name": name}},
    )
    assert r.status_code == 201, r.text
    assert client.get(f"/api/agents/{r.json()['agent_id']}").json()["name"] == name


@pytest.mark.parametrize(
    "filename",
    ["/etc/passwd.txt", "../notes.txt", "..", "notes.txt:stream", "x" * 300 + ".txt"],
)
def test_path_like_document_names_are_refused(
    client: TestClient, agent_id: uuid.UUID, filename: str
) -> None:
    r = client.post(f"/api/agents/{agent_id}/knowledge", files={"file": (filename, b"hello")})
    assert r.status_code == 422, r.text
    assert counts()["knowledge_documents"] == 0
    r = client.post(f"/api/agents/{agent_id}/knowledge", json={"name": filename, "text": "hello"})
    assert r.status_code == 422, r.text
    assert counts()["knowledge_documents"] == 0


# --------------------------------------------------------------- long parameters


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/api/agents", {"search": "a" * 10_000}, ["query", "search"]),
        ("/api/agents", {"limit": "9" * 40}, ["query", "limit"]),
        ("/api/agents", {"offset": "9" * 40}, ["query", "offset"]),
        ("/api/agents", {"offset": str(2**63)}, ["query", "offset"]),
        ("/api/analytics/recent-calls", {"offset": str(2**63)}, ["query", "offset"]),
        ("/api/agents/{agent}/knowledge/search", {"q": "q" * 60_000}, ["query", "q"]),
        ("/api/agents/" + "a" * 10_000, {}, ["path", "agent_id"]),
        ("/api/agents/create-stream/" + "s" * 10_000, {}, None),
    ],
)
def test_very_long_query_parameters_are_refused(
    client: TestClient, agent_id: uuid.UUID, path: str, params: dict, loc: list | None
) -> None:
    r = client.get(path.format(agent=agent_id), params=params)
    if loc is None:
        assert r.status_code == 404, r.text[:300]
    else:
        assert r.status_code == 422, r.text[:300]
        assert loc in locs(r)


def test_a_long_unknown_query_parameter_is_ignored(client: TestClient) -> None:
    r = client.get("/api/agents", params={"x" * 1000: "y" * 60_000})
    assert r.status_code == 200 and r.json() == []
