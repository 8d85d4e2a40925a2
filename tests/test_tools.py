"""Custom HTTP tools as a resource: rules checked on save, /api/tools, agents pick by id."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.settings import Settings

SECRET = "clinic-key-4f9a-never-shown"
BOOKING: dict[str, Any] = {
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
    "url": "http://127.0.0.1:9/clinics/{date}/bookings",
    "headers": {"X-Clinic-Key": "{{secret:CLINIC_KEY}}"},
    "timeout_s": 5,
    "wait_message": "One moment while I book that.",
    "result_path": "booking.id",
}


@pytest.fixture
def allowed(db: str, configure: Callable[..., Settings], tmp_path: Path) -> Iterator[str]:
    """A migrated database, a key file, 127.0.0.1 allow-listed as an admin would, and
    the secret CLINIC_KEY stored."""
    configure(
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )
    with session_scope() as session:
        secrets_svc.put(session=session, name="CLINIC_KEY", value=SECRET)
    yield db


@pytest.fixture
def client(allowed: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def _error(response: Any) -> tuple[str, str]:
    detail = response.json()["detail"][0]
    return ".".join(str(p) for p in detail["loc"][1:]), detail["msg"]


def test_api_create_get_list_update_delete(client: TestClient) -> None:
    created = client.post("/api/tools", json=BOOKING)
    assert created.status_code == 201, created.text
    tool = created.json()
    assert tool["headers"] == {"X-Clinic-Key": "{{secret:CLINIC_KEY}}"}
    assert tool["status"] == "ready" and tool["kind"] == "http"
    assert SECRET not in created.text
    assert client.get(f"/api/tools/{tool['id']}").json()["name"] == "book_slot"
    assert [t["name"] for t in client.get("/api/tools").json()] == ["book_slot"]

    changed = client.put(f"/api/tools/{tool['id']}", json={**BOOKING, "timeout_s": 12})
    assert changed.status_code == 200 and changed.json()["timeout_s"] == 12
    assert client.delete(f"/api/tools/{tool['id']}").status_code == 204
    assert client.get(f"/api/tools/{tool['id']}").status_code == 404


def test_api_defaults(client: TestClient) -> None:
    body = {"name": "ping", "description": "Ping.", "url": "http://127.0.0.1:9/ping"}
    tool = client.post("/api/tools", json=body).json()
    assert tool["method"] == "GET" and tool["timeout_s"] == 10
    assert tool["parameters"] == {"type": "object", "properties": {}}


def test_viewers_read_without_headers_and_cannot_write(client: TestClient) -> None:
    tool = client.post("/api/tools", json=BOOKING).json()
    viewer = TestClient(create_api(), headers=admin_headers("viewer"))
    listed = viewer.get("/api/tools")
    assert listed.status_code == 200
    assert listed.json()[0]["headers"] is None
    assert viewer.get(f"/api/tools/{tool['id']}").json()["headers"] is None
    assert "X-Clinic-Key" not in listed.text
    assert viewer.post("/api/tools", json={**BOOKING, "name": "x"}).status_code == 403
    assert viewer.put(f"/api/tools/{tool['id']}", json=BOOKING).status_code == 403
    assert viewer.delete(f"/api/tools/{tool['id']}").status_code == 403


def test_duplicate_name_is_409(client: TestClient) -> None:
    assert client.post("/api/tools", json=BOOKING).status_code == 201
    again = client.post("/api/tools", json=BOOKING)
    assert again.status_code == 409 and "book_slot" in again.json()["detail"]


DEEP: dict[str, Any] = {"type": "object"}
_node = DEEP
for _ in range(9):
    _node["properties"] = {"a": {"type": "object"}}
    _node = _node["properties"]["a"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "BookSlot"}, "name", "snake_case"),
        ({"name": "end_call"}, "name", "built-in"),
        ({"name": "search_knowledge_base"}, "name", "built-in"),
        ({"parameters": {"type": "string"}}, "parameters", '"type": "object"'),
        ({"parameters": {"type": "object", "properties": 3}}, "parameters", "valid JSON Schema"),
        ({"parameters": {"type": "object", "required": "date"}}, "parameters", "JSON Schema"),
        ({"parameters": DEEP}, "parameters", "levels deep"),
        (
            {"parameters": {"type": "object", "$ref": "http://169.254.169.254/s.json"}},
            "parameters",
            "local $ref",
        ),
        (
            {"parameters": {"type": "object", "description": "x" * 17000}},
            "parameters",
            "bytes",
        ),
        ({"timeout_s": 0.5}, "timeout_s", "greater than or equal to 1"),
        ({"timeout_s": 31}, "timeout_s", "less than or equal to 30"),
        ({"method": "TRACE"}, "method", "GET"),
        ({"result_path": "data..slots"}, "result_path", "dotted path"),
        ({"headers": {"Bad Header": "x"}}, "headers", "header name"),
        ({"headers": {"Host": "x"}}, "headers", "set by Voxie"),
        ({"headers": {"X-Key": "{{secret:NOPE}}"}}, "headers.X-Key", "'NOPE'"),
        ({"url": "http://127.0.0.1:9/a?key={{secret:NOPE}}"}, "url", "'NOPE'"),
        ({"url": "http://127.0.0.1:9/{nope}"}, "url", "{nope} is not one of the parameters"),
        ({"url": "http://{date}.example.com/x"}, "url", "not the host"),
        ({"url": "ftp://127.0.0.1/x"}, "url", "http"),
        ({"status": "broken"}, "status", "ready"),
    ],
)
def test_bad_fields_are_422_naming_them(
    client: TestClient, change: dict, field: str, words: str
) -> None:
    response = client.post("/api/tools", json={**BOOKING, **change})
    assert response.status_code == 422, response.text
    got_field, message = _error(response)
    assert got_field == field
    assert words in message


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/bookings",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/bookings",
        "http://localhost/bookings",
        "http://192.168.1.5/x",
    ],
)
def test_internal_urls_are_refused_at_save(client: TestClient, url: str) -> None:
    response = client.post("/api/tools", json={**BOOKING, "url": url})
    assert response.status_code == 422
    assert _error(response)[0] == "url"


def test_loopback_needs_the_allow_list(allowed: str, configure: Callable[..., Settings]) -> None:
    configure(VOXIE_URL_ALLOWLIST=None)
    client = TestClient(create_api(), headers=admin_headers())
    response = client.post("/api/tools", json=BOOKING)
    assert response.status_code == 422
    field, message = _error(response)
    assert field == "url" and "loopback" in message and "VOXIE_URL_ALLOWLIST" in message


# ------------------------------------------------------------------ agents pick by id


def _agent(client: TestClient, custom_tools: list[str]) -> Any:
    spec = {
        "name": "Clinic",
        "instructions": "You book appointments for a clinic.",
        "custom_tools": custom_tools,
    }
    return client.post("/api/agents/create", json={"user_requirements": {}, "processed_spec": spec})


def test_agent_spec_with_a_known_tool_is_saved(client: TestClient) -> None:
    tool = client.post("/api/tools", json=BOOKING).json()
    created = _agent(client, [tool["id"]])
    assert created.status_code in (200, 201, 202), created.text
    agent = client.get(f"/api/agents/{created.json()['agent_id']}").json()
    assert agent["processed_spec"]["custom_tools"] == [tool["id"]]
    # In use: not deletable, and the message names the agent.
    refused = client.delete(f"/api/tools/{tool['id']}")
    assert refused.status_code == 409 and "Clinic" in refused.json()["detail"]


def test_agent_spec_naming_an_unknown_tool_is_422_naming_it(client: TestClient) -> None:
    unknown = str(uuid.uuid4())
    response = _agent(client, [unknown])
    assert response.status_code == 422, response.text
    field, message = _error(response)
    assert field == "processed_spec.custom_tools.0"
    assert unknown in message


def test_agent_update_naming_an_unknown_tool_is_422(client: TestClient) -> None:
    created = _agent(client, [])
    agent_id = created.json()["agent_id"]
    unknown = str(uuid.uuid4())
    response = client.put(
        f"/api/agents/{agent_id}", json={"processed_spec": {"custom_tools": [unknown]}}
    )
    assert response.status_code == 422
    assert unknown in response.text


def test_tools_for_leaves_out_needs_setup_and_missing(allowed: str) -> None:
    with session_scope() as session:
        ready = tools_svc.create_tool(session=session, body=tools_svc.parse(BOOKING))
        draft = tools_svc.create_tool(
            session=session,
            body=tools_svc.parse({**BOOKING, "name": "draft", "status": "needs_setup"}),
        )
        ids = [draft.id, uuid.uuid4(), ready.id]
        assert [t.name for t in tools_svc.tools_for(session=session, ids=ids)] == ["book_slot"]
