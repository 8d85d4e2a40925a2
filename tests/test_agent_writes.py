"""Agent writes under load and races, on SQLite and PostgreSQL (issue 12: H4, H7, H8).

- H4: free-form JSON is bounded at the schema, and a response that cannot be
  built rolls the write back.
- H7: concurrent partial updates of different fields all survive.
- H8: a delete racing a call start or an update never gives a 500. The race is
  reproduced deterministically: a hook runs the delete on its own connection
  right after the request read the agent, and does not wait for locks.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app import db as db_module
from voxie_app.api.app import create_api
from voxie_app.api.routes import agents as agents_route
from voxie_app.db import session_scope
from voxie_app.models import MAX_JSON_DEPTH, Agent, CallSession
from voxie_app.schemas import AgentPublic
from voxie_app.services import agents as agents_svc
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

SPEC = {"name": "Race Bot", "instructions": "You answer calls.", "greeting": "Hello!"}
LIVEKIT_SECRET = "a-secret-of-at-least-32-characters-long!"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def _create(client: TestClient) -> str:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {"business": "race"}, "processed_spec": SPEC},
    )
    assert r.status_code == 201, r.text
    return r.json()["agent_id"]


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# ---- H4: bounded JSON ---------------------------------------------------------


def test_deep_requirements_are_422_on_create_and_update(client: TestClient) -> None:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": _nested(300), "processed_spec": SPEC},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "user_requirements"]
    assert "levels deep" in r.json()["detail"][0]["msg"]
    agent_id = _create(client)
    r = client.put(f"/api/agents/{agent_id}", json={"user_requirements": _nested(300)})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "user_requirements"]
    assert client.get(f"/api/agents/{agent_id}").json()["user_requirements"] == {"business": "race"}
    assert client.get("/api/agents").status_code == 200


def test_json_bounds_depth_and_size(client: TestClient) -> None:
    agent_id = _create(client)
    ok = client.put(f"/api/agents/{agent_id}", json={"user_requirements": _nested(MAX_JSON_DEPTH)})
    assert ok.status_code == 200, ok.text
    r = client.put(
        f"/api/agents/{agent_id}", json={"user_requirements": _nested(MAX_JSON_DEPTH + 1)}
    )
    assert r.status_code == 422
    r = client.put(f"/api/agents/{agent_id}", json={"user_requirements": {"x": "y" * 70_000}})
    assert r.status_code == 422
    assert "bytes" in r.json()["detail"][0]["msg"]
    r = client.put(f"/api/agents/{agent_id}", json={"processed_spec": _nested(300)})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "processed_spec"]


def test_service_refuses_deep_requirements(db: str) -> None:
    """The UI and the builder reach the service directly: it checks the bounds too."""
    with session_scope() as session, pytest.raises(InvalidInput) as exc:
        agents_svc.create_agent(session=session, user_requirements=_nested(300), spec=None)
    assert exc.value.field == "user_requirements"


def test_a_row_stored_before_the_limit_does_not_break_reads(client: TestClient) -> None:
    """A row written before the bounds existed (300 levels) is listed with its
    requirements replaced by a note, and a PUT can still fix it."""
    agent_id = _create(client)
    with session_scope() as session:
        agent = session.get(Agent, uuid.UUID(agent_id))
        assert agent is not None
        agent.user_requirements = _nested(300)
        session.add(agent)
    (listed,) = client.get("/api/agents").json()
    assert listed["user_requirements"] == {"not_shown": agents_route.NOT_SHOWN}
    assert client.get(f"/api/agents/{agent_id}").status_code == 200
    r = client.put(f"/api/agents/{agent_id}", json={"user_requirements": {"fixed": True}})
    assert r.status_code == 200
    assert r.json()["user_requirements"] == {"fixed": True}


def test_a_response_that_cannot_be_built_commits_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_id = _create(client)

    def cannot_serialise(self: AgentPublic, **_: object) -> str:
        raise ValueError("cannot serialise")

    monkeypatch.setattr(AgentPublic, "model_dump_json", cannot_serialise)
    with TestClient(create_api(), headers=client.headers, raise_server_exceptions=False) as c:
        r = c.put(f"/api/agents/{agent_id}", json={"room_id": "changed"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    with session_scope() as session:
        assert session.get(Agent, uuid.UUID(agent_id)).room_id is None  # type: ignore[union-attr]


# ---- H7: concurrent partial updates -------------------------------------------

CHANGES: list[dict] = [
    {"processed_spec": {"greeting": "Hi from thread 0"}},
    {"processed_spec": {"description": "changed by thread 1"}},
    {"processed_spec": {"instructions": "Instructions of thread 2."}},
    {"processed_spec": {"temperature": 0.25}},
    {"processed_spec": {"language": "es"}},
    {"processed_spec": {"voice": "coral"}},
    {"processed_spec": {"llm_model": "gpt-4.1-mini"}},
    {"processed_spec": {"min_endpointing_delay": 0.3}},
    {"processed_spec": {"max_endpointing_delay": 4.0}},
    {"room_id": "room-of-thread-9"},
]


def test_concurrent_updates_of_different_fields_all_survive(client: TestClient) -> None:
    agent_id = _create(client)
    start = threading.Barrier(len(CHANGES))
    statuses: list[int] = []

    def put(body: dict) -> None:
        start.wait()
        statuses.append(client.put(f"/api/agents/{agent_id}", json=body).status_code)

    threads = [threading.Thread(target=put, args=(body,)) for body in CHANGES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(CHANGES)
    stored = client.get(f"/api/agents/{agent_id}").json()
    for body in CHANGES:
        for key, value in body.get("processed_spec", {}).items():
            assert stored["processed_spec"][key] == value, key
    assert stored["room_id"] == "room-of-thread-9"
    assert stored["processed_spec"]["name"] == SPEC["name"]


# ---- H8: races with a delete --------------------------------------------------


def _deleter(url: str) -> Callable[[uuid.UUID], bool]:
    """Delete an agent on a connection of its own that never waits for a lock.

    Returns True if it deleted, False if the agent was locked by the request.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 0})
        sa.event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
    else:
        engine = sa.create_engine(url, connect_args={"options": "-c lock_timeout=200"})

    def delete(agent_id: uuid.UUID) -> bool:
        try:
            with engine.begin() as conn:
                conn.execute(sa.delete(Agent).where(Agent.id == agent_id))  # type: ignore[arg-type]
        except sa.exc.OperationalError:
            return False
        return True

    return delete


@contextmanager
def delete_after_agent_read(url: str, agent_id: uuid.UUID) -> Iterator[list[bool]]:
    """Run the delete once, right after the first statement that reads the agent row."""
    delete = _deleter(url)
    engine = db_module.get_engine(url)
    outcome: list[bool] = []

    def after(conn, cursor, statement: str, params, context, executemany) -> None:
        if (
            not outcome
            and statement.lstrip().upper().startswith("SELECT")
            and ("FROM agents" in statement and "agents.id =" in statement)
        ):
            outcome.append(delete(agent_id))

    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield outcome
    finally:
        sa.event.remove(engine, "after_cursor_execute", after)


def test_update_racing_a_delete_is_never_500(client: TestClient, db: str) -> None:
    agent_id = uuid.UUID(_create(client))
    with delete_after_agent_read(db, agent_id) as deleted:
        r = client.put(f"/api/agents/{agent_id}", json={"processed_spec": {"greeting": "Hey"}})
    # The update holds the agent from its read to its commit: the delete had to wait.
    assert deleted == [False]
    assert r.status_code == 200, r.text
    assert _deleter(db)(agent_id) is True
    r = client.put(f"/api/agents/{agent_id}", json={"processed_spec": {"greeting": "Hey"}})
    assert r.status_code == 404


@pytest.fixture
def livekit(
    db: str, configure: Callable[..., Settings], livekit_double: LiveKitDouble
) -> LiveKitDouble:
    configure(
        LIVEKIT_URL=livekit_double.url,
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET=LIVEKIT_SECRET,
        VOXIE_CALL_START_RATE_LIMIT="1000/60",
    )
    return livekit_double


def test_call_start_racing_a_delete_is_never_500(
    client: TestClient, db: str, livekit: LiveKitDouble
) -> None:
    agent_id = uuid.UUID(_create(client))
    with delete_after_agent_read(db, agent_id) as deleted:
        r = client.post("/api/call/start", json={"agent_id": str(agent_id)})
    assert deleted == [False]  # the call row went in while the agent was held
    assert r.status_code == 200, r.text
    assert _deleter(db)(agent_id) is True
    with session_scope() as session:
        call = session.exec(select(CallSession)).one()
        assert call.agent_id is None  # history kept, the agent gone
    r = client.post("/api/call/start", json={"agent_id": str(agent_id)})
    assert r.status_code == 404
    assert "not found" in r.json()["detail"]
