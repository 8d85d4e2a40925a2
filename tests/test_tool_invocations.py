"""Tool invocations on the call: the service query, the calls API and the call page's view.

Rows are written directly (fixed times) the way `voice_worker.http_tools._record`
writes them; what the worker records is tested in tests/test_http_tools.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import CallSession, ConversationTurn, Tool, ToolInvocation
from voxie_app.services import reports
from voxie_app.services import tool_invocations as svc
from voxie_app.state.call_detail import timeline_view

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _call(s) -> CallSession:
    c = CallSession(
        session_id=uuid.uuid4().hex,
        room_name=f"room-{uuid.uuid4().hex[:6]}",
        started_at=T0,
        call_status="completed",
    )
    s.add(c)
    s.flush()
    return c


def seed_call() -> dict[str, uuid.UUID]:
    """A call: caller asks, the tool runs (ok), agent answers, a second tool call fails."""
    with session_scope() as s:
        tool = Tool(name="check_slots", description="free slots", url="http://127.0.0.1/slots")
        s.add(tool)
        call, other = _call(s), _call(s)
        for i, (speaker, text, at) in enumerate(
            [
                ("user", "Any slot on Friday?", 0),
                ("agent", "Friday at 10 is free.", 10),
                ("user", "And Saturday?", 20),
            ]
        ):
            s.add(
                ConversationTurn(
                    call_session_id=call.id,
                    turn_number=i,
                    speaker=speaker,
                    transcript=text,
                    timestamp=T0 + timedelta(seconds=at),
                )
            )
        s.flush()
        # Inserted out of order: the query orders by time.
        late = ToolInvocation(
            call_session_id=call.id,
            tool_id=tool.id,
            tool_name="check_slots",
            arguments={"date": "2026-11-21", "token": "[redacted]"},
            status="http_error",
            http_status=503,
            error="the service answered HTTP 503",
            latency_ms=1840,
            created_at=T0 + timedelta(seconds=25),
        )
        early = ToolInvocation(
            call_session_id=call.id,
            tool_id=tool.id,
            tool_name="check_slots",
            arguments={"date": "2026-11-20"},
            status="ok",
            http_status=200,
            latency_ms=120,
            result_chars=1234,
            created_at=T0 + timedelta(seconds=5),
        )
        elsewhere = ToolInvocation(
            call_session_id=other.id,
            tool_name="check_slots",
            status="ok",
            created_at=T0 + timedelta(seconds=6),
        )
        s.add_all([late, early, elsewhere])
        s.flush()
        return {"call": call.id, "other": other.id, "early": early.id, "late": late.id}


def test_list_for_call_is_the_calls_rows_oldest_first(db: str) -> None:
    ids = seed_call()
    with session_scope() as s:
        rows = svc.list_for_call(session=s, call_id=ids["call"])
        none = svc.list_for_call(session=s, call_id=uuid.uuid4())
    assert [r.id for r in rows] == [ids["early"], ids["late"]]
    first, second = rows
    assert (first.status, first.http_status, first.latency_ms, first.result_chars) == (
        "ok",
        200,
        120,
        1234,
    )
    assert first.arguments == {"date": "2026-11-20"}
    assert first.created_at == T0 + timedelta(seconds=5)  # aware UTC on both databases
    assert (second.tone, second.error) == ("error", "the service answered HTTP 503")
    assert none == []


def test_timeline_places_invocations_between_the_turns_around_them(db: str) -> None:
    ids = seed_call()
    with session_scope() as s:
        detail = reports.call_detail(session=s, call_id=ids["call"])
        invocations = svc.list_for_call(session=s, call_id=ids["call"])
    assert detail is not None
    merged = svc.timeline(detail.turns, invocations)
    assert [getattr(m, "transcript", None) or m.tool_name for m in merged] == [
        "Any slot on Friday?",
        "check_slots",
        "Friday at 10 is free.",
        "And Saturday?",
        "check_slots",
    ]
    # No turns (a chat cut short): the invocations alone; no invocations: the turns.
    assert svc.timeline([], invocations) == invocations
    assert svc.timeline(detail.turns, []) == detail.turns


def test_call_page_view_has_a_chip_per_invocation(db: str) -> None:
    ids = seed_call()
    with session_scope() as s:
        detail = reports.call_detail(session=s, call_id=ids["call"])
        invocations = svc.list_for_call(session=s, call_id=ids["call"])
    assert detail is not None
    view = timeline_view(detail, invocations, "America/New_York")
    assert [v["kind"] for v in view] == ["turn", "tool", "turn", "turn", "tool"]
    ok, failed = view[1], view[4]
    assert ok["label"] == "check_slots · ok · 120 ms"
    assert (ok["color"], ok["http_status"], ok["result"], ok["error"]) == (
        "grass",
        "200",
        "1,234 characters",
        "",
    )
    assert ok["time"] == "10:00:05"  # the agent's zone
    assert '"date": "2026-11-20"' in ok["arguments"]
    assert failed["label"] == "check_slots · http error · 1,840 ms"
    assert (failed["color"], failed["http_status"], failed["latency"]) == ("red", "503", "1,840 ms")
    assert failed["error"] == "the service answered HTTP 503"
    assert '"token": "[redacted]"' in failed["arguments"]
    assert view[0]["speaker"] == "Caller" and view[0]["is_user"] is True


@pytest.fixture
def client(db: str, configure) -> Iterator[TestClient]:
    configure(DATABASE_URL=db)
    with TestClient(create_api(), headers=admin_headers("viewer")) as c:
        yield c


def test_call_detail_api_lists_tool_invocations_to_a_viewer(client: TestClient) -> None:
    ids = seed_call()
    r = client.get(f"/api/calls/{ids['call']}")
    assert r.status_code == 200, r.text
    got = r.json()["tool_invocations"]
    assert [i["id"] for i in got] == [str(ids["early"]), str(ids["late"])]
    assert got[1] | {"id": None, "tool_id": None, "created_at": None} == {
        "id": None,
        "tool_id": None,
        "tool_name": "check_slots",
        "arguments": {"date": "2026-11-21", "token": "[redacted]"},
        "status": "http_error",
        "http_status": 503,
        "error": "the service answered HTTP 503",
        "latency_ms": 1840,
        "result_chars": 0,
        "created_at": None,
    }
    assert datetime.fromisoformat(got[0]["created_at"]) == T0 + timedelta(seconds=5)
    other = client.get(f"/api/calls/{ids['other']}").json()["tool_invocations"]
    assert [i["tool_id"] for i in other] == [None]
