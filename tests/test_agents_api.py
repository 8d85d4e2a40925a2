"""Agent CRUD through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Agent, CallSession
from voxie_app.settings import Settings

SPEC = {
    "name": "Dental Bot",
    "instructions": "You answer calls for Bright Smile Dental.",
    "greeting": "Hello, Bright Smile Dental!",
}


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def _create(client: TestClient, **spec: object) -> dict:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {"business": "dental"}, "processed_spec": {**SPEC, **spec}},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_list_get_and_search(client: TestClient) -> None:
    first = _create(client)
    _create(client, name="Pizza Orders")
    listed = client.get("/api/agents").json()
    assert {a["name"] for a in listed} == {"Dental Bot", "Pizza Orders"}
    assert [a["name"] for a in client.get("/api/agents", params={"search": "pizza"}).json()] == [
        "Pizza Orders"
    ]
    one = client.get(f"/api/agents/{first['agent_id']}").json()
    assert one["processed_spec"]["greeting"] == SPEC["greeting"]
    assert one["user_requirements"] == {"business": "dental"}
    assert one["status"] == "ready"


def test_partial_update_merges_spec(client: TestClient) -> None:
    agent_id = _create(client)["agent_id"]
    r = client.put(f"/api/agents/{agent_id}", json={"processed_spec": {"temperature": 0.2}})
    assert r.status_code == 200, r.text
    spec = r.json()["processed_spec"]
    assert spec["temperature"] == 0.2
    assert spec["greeting"] == SPEC["greeting"]  # untouched fields stay

    r = client.put(f"/api/agents/{agent_id}", json={"processed_spec": {"name": "Smile Bot"}})
    assert r.json()["name"] == "Smile Bot"
    r = client.put(f"/api/agents/{agent_id}", json={"user_requirements": {"tone": "warm"}})
    assert r.json()["user_requirements"] == {"tone": "warm"}
    assert r.json()["processed_spec"]["name"] == "Smile Bot"


def test_invalid_update_names_field_and_changes_nothing(client: TestClient) -> None:
    agent_id = _create(client)["agent_id"]
    r = client.put(
        f"/api/agents/{agent_id}",
        json={"processed_spec": {"temperature": 9, "greeting": "changed"}},
    )
    assert r.status_code == 422
    assert ["body", "processed_spec", "temperature"] in [e["loc"] for e in r.json()["detail"]]
    assert (
        client.get(f"/api/agents/{agent_id}").json()["processed_spec"]["greeting"]
        == (SPEC["greeting"])
    )


def test_transfer_targets_must_exist(client: TestClient) -> None:
    other = _create(client, name="Billing")["agent_id"]
    missing = str(uuid.uuid4())
    r = client.post(
        "/api/agents/create",
        json={
            "user_requirements": {},
            "processed_spec": {
                **SPEC,
                "tools": ["end_call", "transfer_to_agent"],
                "transfer_targets": [{"agent_id": missing}],
            },
        },
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "agent_id"
    assert len(client.get("/api/agents").json()) == 1  # nothing written

    ok = _create(
        client, tools=["end_call", "transfer_to_agent"], transfer_targets=[{"agent_id": other}]
    )
    r = client.put(
        f"/api/agents/{ok['agent_id']}",
        json={"processed_spec": {"transfer_targets": [{"agent_id": ok["agent_id"]}]}},
    )
    assert r.status_code == 422
    assert "itself" in r.json()["detail"][0]["msg"]


def test_transfer_targets_accept_plain_ids(client: TestClient) -> None:
    """The README's short form: a plain id is `{"agent_id": id}` with the default `when`."""
    other = _create(client, name="Billing")["agent_id"]
    tools = ["end_call", "transfer_to_agent"]
    made = _create(client, name="Front desk", tools=tools, transfer_targets=[other])
    stored = client.get(f"/api/agents/{made['agent_id']}").json()["processed_spec"]
    assert stored["transfer_targets"] == [{"agent_id": other, "when": ""}]

    # Mixed with the object form in an update; the same id twice is kept once.
    third = _create(client, name="Sales")["agent_id"]
    r = client.put(
        f"/api/agents/{made['agent_id']}",
        json={
            "processed_spec": {
                "transfer_targets": [third, {"agent_id": other, "when": "billing"}, third]
            }
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["processed_spec"]["transfer_targets"] == [
        {"agent_id": third, "when": ""},
        {"agent_id": other, "when": "billing"},
    ]

    # A plain string that is not an id is refused under its index, like the object form.
    r = client.put(
        f"/api/agents/{made['agent_id']}",
        json={"processed_spec": {"transfer_targets": ["not-an-id"]}},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-3:] == ["transfer_targets", 0, "agent_id"]
    missing = str(uuid.uuid4())
    r = client.put(
        f"/api/agents/{made['agent_id']}",
        json={"processed_spec": {"transfer_targets": [missing]}},
    )
    assert r.status_code == 422
    assert missing in r.json()["detail"][0]["msg"]


def test_delete_keeps_call_history(client: TestClient) -> None:
    agent_id = _create(client)["agent_id"]
    with session_scope() as session:
        session.add(CallSession(session_id="s1", agent_id=uuid.UUID(agent_id), room_name="room-1"))
    assert client.delete(f"/api/agents/{agent_id}").status_code == 204
    assert client.get(f"/api/agents/{agent_id}").status_code == 404
    with session_scope() as session:
        call = session.exec(select(CallSession)).one()
        assert call.agent_id is None
        assert session.exec(select(Agent)).all() == []


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_agent_is_404(client: TestClient, method: str) -> None:
    url = f"/api/agents/{uuid.uuid4()}"
    kwargs = {"json": {"room_id": "x"}} if method == "put" else {}
    r = getattr(client, method)(url, **kwargs)
    assert r.status_code == 404
    assert "not found" in r.json()["detail"]


def test_bad_ids_and_bodies_are_422(client: TestClient) -> None:
    r = client.get("/api/agents/not-a-uuid")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "agent_id"]
    r = client.post("/api/agents/create", json={"processed_spec": SPEC})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "user_requirements"]
    r = client.post(
        "/api/agents/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    r = client.post("/api/agents/create", json={"user_requirements": {}, "unexpected": 1})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "unexpected"]


def test_oversized_body_is_413(client: TestClient) -> None:
    big = {"user_requirements": {"notes": "x" * 2_000_000}, "processed_spec": SPEC}
    r = client.post("/api/agents/create", json=big)
    assert r.status_code == 413
    assert "too large" in r.json()["detail"]
    assert client.get("/api/agents").json() == []


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"user_requirements": {"notes": "'
        for _ in range(30):
            yield b"y" * 100_000
        yield b'"}}'

    r = client.post(
        "/api/agents/create", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_health_and_openapi(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok"
    assert body["providers"]["livekit"] is False
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/agents",
        "/api/agents/{agent_id}",
        "/api/agents/create",
        "/api/agents/create-stream/{session_id}",
        "/api/call/start",
        "/api/call/end",
        "/api/analytics/summary",
        "/api/analytics/recent-calls",
        "/api/health",
    ):
        assert path in paths
    assert client.get("/api/docs").status_code == 200


def test_a_realtime_pipeline_needs_the_openai_key_at_save(
    client: TestClient, configure: Callable[..., Settings]
) -> None:
    configure(OPENAI_API_KEY=None)
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {}, "processed_spec": {**SPEC, "pipeline": "realtime"}},
    )
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"][-1] == "pipeline"
    assert "OPENAI_API_KEY" in error["msg"]
    assert client.get("/api/agents").json() == []  # nothing written

    agent = _create(client)  # a cascade agent saves without it
    r = client.put(
        f"/api/agents/{agent['agent_id']}", json={"processed_spec": {"pipeline": "realtime"}}
    )
    assert r.status_code == 422 and "OPENAI_API_KEY" in r.json()["detail"][0]["msg"]

    configure(OPENAI_API_KEY="k")
    r = client.put(
        f"/api/agents/{agent['agent_id']}",
        json={"processed_spec": {"pipeline": "realtime", "realtime_voice": "marin"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["processed_spec"]["pipeline"] == "realtime"
    r = client.put(
        f"/api/agents/{agent['agent_id']}", json={"processed_spec": {"realtime_voice": "nova"}}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "realtime_voice"
