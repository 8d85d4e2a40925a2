"""Per-call variables through the REST API (`POST /api/call/start`, `GET /api/calls/{id}`)
and on the call page's state, against the LiveKit double, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import CallSession
from voxie_app.services import reports
from voxie_app.settings import Settings
from voxie_app.state.call_detail import detail_view

SPEC = {"name": "Order Desk", "instructions": "Orders start with {{order_prefix}}."}
VARIABLES = {"order_prefix": "VX", "customer_id": "C-42", "note": "VIP\nprefers mornings"}


@pytest.fixture
def client(
    db: str, configure: Callable[..., Settings], livekit_double: LiveKitDouble
) -> Iterator[TestClient]:
    configure(
        LIVEKIT_URL=livekit_double.url,
        LIVEKIT_API_KEY="devkey",
        LIVEKIT_API_SECRET="a-secret-of-at-least-32-characters-long!",
        VOXIE_CALL_START_RATE_LIMIT="1000/60",
    )
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def create_agent(client: TestClient) -> str:
    r = client.post("/api/agents/create", json={"user_requirements": {}, "processed_spec": SPEC})
    assert r.status_code == 201, r.text
    return r.json()["agent_id"]


def calls() -> list[CallSession]:
    with session_scope() as session:
        return list(session.exec(select(CallSession)).all())


def test_variables_are_stored_on_the_call_and_shown_in_its_detail(
    client: TestClient, livekit_double: LiveKitDouble
) -> None:
    agent_id = create_agent(client)
    r = client.post("/api/call/start", json={"agent_id": agent_id, "variables": VARIABLES})
    assert r.status_code == 200, r.text
    call_id = r.json()["call_session_id"]
    [row] = calls()
    assert str(row.id) == call_id and row.variables == VARIABLES
    # The worker reads them from the row: the dispatch carries only ids.
    dispatch = livekit_double.requests[-1]
    assert json.loads(dispatch.body["metadata"]) == {
        "call_session_id": call_id,
        "agent_id": agent_id,
    }
    assert "C-42" not in json.dumps(dispatch.body)

    detail = client.get(f"/api/calls/{call_id}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["custom_variables"] == VARIABLES

    # Without variables: an empty object, on the row and in the detail.
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 200, r.text
    assert client.get(f"/api/calls/{r.json()['call_session_id']}").json()["custom_variables"] == {}


@pytest.mark.parametrize(
    ("variables", "loc", "says"),
    [
        ({"note": "x" * 501}, ["body", "variables", "note"], "at most 500"),
        ({f"k{i}": "x" for i in range(21)}, ["body", "variables"], "at most 20"),
        ({"Order-Id": "x"}, ["body", "variables", "Order-Id"], "lower-case"),
        ({"k" * 41: "x"}, ["body", "variables", "k" * 41], "40 characters"),
        ({"caller_name": "Eve"}, ["body", "variables", "caller_name"], "built-in"),
        ({"tab": "a\x07b"}, ["body", "variables", "tab"], "control"),
        ({"count": 3}, ["body", "variables", "count"], "string"),
    ],
)
def test_bad_variables_are_422_naming_the_field_and_start_nothing(
    client: TestClient,
    livekit_double: LiveKitDouble,
    variables: dict[str, Any],
    loc: list[str],
    says: str,
) -> None:
    agent_id = create_agent(client)
    before = len(livekit_double.requests)
    r = client.post("/api/call/start", json={"agent_id": agent_id, "variables": variables})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == loc
    assert says in error["msg"].lower()
    assert calls() == [] and len(livekit_double.requests) == before


def test_the_openapi_schema_states_the_rules(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]["CallStart"]
    variables = schema["properties"]["variables"]
    assert variables["maxProperties"] == 20
    values = variables["additionalProperties"]
    assert values["type"] == "string" and values["maxLength"] == 500
    assert re.search(values["pattern"], "a\n\tb") and not re.search(values["pattern"], "a\x07")
    assert "caller_name" in variables["propertyNames"]["not"]["enum"]


def test_the_call_page_lists_the_variables(db: str) -> None:
    with session_scope() as session:
        call = CallSession(
            session_id=uuid.uuid4().hex, room_name="room-v", variables={"z_last": "2", **VARIABLES}
        )
        session.add(call)
        session.flush()
        call_id = call.id
    with session_scope() as session:
        detail = reports.call_detail(session=session, call_id=call_id)
    assert detail is not None
    rows = detail_view(detail, "UTC")["variables"]
    assert rows == [
        {"key": "customer_id", "value": "C-42"},
        {"key": "note", "value": "VIP\nprefers mornings"},
        {"key": "order_prefix", "value": "VX"},
        {"key": "z_last", "value": "2"},
    ]
