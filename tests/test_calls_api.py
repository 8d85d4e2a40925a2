"""The calls API (`/api/calls*`) and agent list paging, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import (
    Agent,
    CallSession,
    CallSummary,
    ConversationTurn,
    TokenUsage,
    TurnMetric,
)
from voxie_app.services.calls import BUILDER_NAME

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 10:00 in New York


@pytest.fixture
def client(db: str, configure) -> Iterator[TestClient]:
    configure(DATABASE_URL=db, VOXIE_TIMEZONE="America/New_York")
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def _call(s, agent: Agent | None, start: datetime, **kw) -> CallSession:
    c = CallSession(
        session_id=uuid.uuid4().hex,
        agent_id=agent.id if agent else None,
        room_name=f"room-{uuid.uuid4().hex[:6]}",
        started_at=start,
        ended_at=start + timedelta(minutes=2),
        duration_seconds=120.0,
        call_status=kw.pop("call_status", "completed"),
        **kw,
    )
    s.add(c)
    s.flush()
    return c


def _seed() -> dict[str, uuid.UUID]:
    with session_scope() as s:
        dental = Agent(name="Dental Bot", status="ready", processed_spec={"name": "Dental Bot"})
        pizza = Agent(name="Pizza Orders", status="ready", processed_spec={"name": "Pizza"})
        s.add_all([dental, pizza])
        s.flush()
        web = _call(
            s,
            dental,
            T0,
            customer_name="=HYPERLINK(1)",
            customer_phone="+1 555 0100",
            customer_email="ann@example.com",
            notes="prefers mornings",
            customer_sentiment="positive",
            call_rating=5,
        )
        s.add(
            CallSummary(
                call_session_id=web.id,
                summary_text="Booked a cleaning",
                key_points=["cleaning"],
                business_outcome="appointment_booked",
            )
        )
        s.add_all(
            [
                ConversationTurn(
                    call_session_id=web.id, turn_number=1, speaker="user", transcript="Hi"
                ),
                ConversationTurn(
                    call_session_id=web.id,
                    turn_number=2,
                    speaker="tool",
                    transcript="book(...) -> ok",
                    function_called="book",
                ),
                ConversationTurn(
                    call_session_id=web.id, turn_number=3, speaker="agent", transcript="Booked"
                ),
                TokenUsage(
                    call_session_id=web.id,
                    usage_type="llm",
                    model_name="gpt",
                    input_tokens=100,
                    output_tokens=20,
                    total_cost_usd=Decimal("0.0125"),
                ),
                TurnMetric(
                    call_session_id=web.id,
                    turn_number=1,
                    e2e_latency=0.8,
                    llm_ttft=0.3,
                    part_silence=0.25,
                    part_llm=0.3,
                ),
            ]
        )
        chat = _call(s, dental, T0 + timedelta(hours=1), kind="chat")
        phone_out = _call(
            s,
            pizza,
            T0 + timedelta(days=1),
            kind="phone",
            direction="outbound",
            call_status="failed",
        )
        builder = _call(s, None, T0 + timedelta(hours=2), primary_agent_type=BUILDER_NAME)
        late = _call(s, pizza, datetime(2026, 11, 21, 4, 30, tzinfo=UTC))  # 23:30 on the 20th NY
        ids = {
            "dental": dental.id,
            "pizza": pizza.id,
            "web": web.id,
            "chat": chat.id,
            "phone_out": phone_out.id,
            "builder": builder.id,
            "late": late.id,
        }
    return ids


def _ids(r) -> set[uuid.UUID]:
    assert r.status_code == 200, r.text
    return {uuid.UUID(i["id"]) for i in r.json()["items"]}


def test_list_filters_and_paging(client: TestClient) -> None:
    ids = _seed()
    voice = {ids[k] for k in ("web", "phone_out", "builder", "late")}
    assert _ids(client.get("/api/calls")) == voice  # chats only when asked for
    assert _ids(client.get("/api/calls", params={"kind": "chat"})) == {ids["chat"]}
    assert _ids(client.get("/api/calls", params={"kind": "all"})) == voice | {ids["chat"]}
    assert _ids(client.get("/api/calls", params={"kind": "phone"})) == {ids["phone_out"]}
    assert _ids(client.get("/api/calls", params={"direction": "outbound"})) == {ids["phone_out"]}
    assert _ids(client.get("/api/calls", params={"status": "failed"})) == {ids["phone_out"]}
    assert _ids(client.get("/api/calls", params={"agent": str(ids["pizza"])})) == {
        ids["phone_out"],
        ids["late"],
    }
    assert _ids(client.get("/api/calls", params={"sentiment": "positive"})) == {ids["web"]}
    assert _ids(client.get("/api/calls", params={"outcome": "appointment_booked"})) == {ids["web"]}
    # Local days of VOXIE_TIMEZONE: 04:30 UTC on the 21st is the 20th in New York.
    day = {"from": "2026-11-20", "to": "2026-11-20"}
    assert _ids(client.get("/api/calls", params=day)) == {ids["web"], ids["builder"], ids["late"]}

    page = client.get("/api/calls", params={"limit": 2, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (4, 2, 1, 2)
    newest_first = client.get("/api/calls").json()["items"]
    assert [i["id"] for i in page["items"]] == [i["id"] for i in newest_first[1:3]]
    labels = {uuid.UUID(i["id"]): i["agent_label"] for i in newest_first}
    assert labels[ids["builder"]] == "Voxie (builder)"
    assert labels[ids["web"]] == "Dental Bot"
    phone = next(i for i in newest_first if i["id"] == str(ids["phone_out"]))
    assert (phone["kind"], phone["direction"]) == ("phone", "outbound")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"kind": "fax"}, "kind"),
        ({"direction": "sideways"}, "direction"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "to"),
        ({"agent": "not-a-uuid"}, "agent"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_bad_filters_answer_422_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    for path in ("/api/calls", "/api/calls/export.csv"):
        if path.endswith(".csv") and field in ("limit", "offset"):
            continue
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert field in {e["loc"][-1] for e in r.json()["detail"]}


@pytest.mark.parametrize(
    "params",
    [{"to": "9999-12-31"}, {"from": "0001-01-01"}, {"from": "0001-01-01", "to": "9999-12-31"}],
)
def test_days_at_the_calendars_ends_bound_nothing(
    client: TestClient, params: dict[str, str]
) -> None:
    ids = _seed()
    assert len(_ids(client.get("/api/calls", params=params))) == 4
    csv_rows = client.get("/api/calls/export.csv", params=params)
    assert csv_rows.status_code == 200 and str(ids["web"]) in csv_rows.text


def test_detail_has_transcript_tools_summary_costs_latency_variables(client: TestClient) -> None:
    ids = _seed()
    r = client.get(f"/api/calls/{ids['web']}")
    assert r.status_code == 200, r.text
    d = r.json()
    assert [t["speaker"] for t in d["transcript"]] == ["user", "tool", "agent"]
    assert [t["function_called"] for t in d["tool_calls"]] == ["book"]
    assert d["summary"]["summary_text"] == "Booked a cleaning"
    assert d["summary"]["business_outcome"] == "appointment_booked"
    llm = next(c for c in d["costs"] if c["usage_type"] == "llm")
    assert (llm["input_tokens"], Decimal(llm["cost_usd"])) == (100, Decimal("0.0125"))
    assert Decimal(d["total_cost_usd"]) == Decimal("0.0125")
    assert [(m["turn_number"], m["e2e_latency"]) for m in d["latency"]] == [(1, 0.8)]
    # where the gap went; a part not measured is null
    assert {k: v for k, v in d["latency"][0].items() if k.startswith("part_")} == {
        "part_silence": 0.25,
        "part_stt": None,
        "part_end_of_turn": None,
        "part_llm": 0.3,
        "part_tts": None,
        "part_playout": None,
    }
    assert d["variables"] == {
        "customer_name": "=HYPERLINK(1)",
        "customer_phone": "+1 555 0100",
        "customer_email": "ann@example.com",
        "notes": "prefers mornings",
    }
    assert (d["kind"], d["direction"], d["agent_label"]) == ("web", "inbound", "Dental Bot")
    chat = client.get(f"/api/calls/{ids['chat']}").json()  # a chat opens like any call
    assert chat["kind"] == "chat"
    builder = client.get(f"/api/calls/{ids['builder']}").json()
    assert (builder["agent_id"], builder["agent_label"]) == (None, "Voxie (builder)")


def test_unknown_call_is_json_404(client: TestClient) -> None:
    r = client.get(f"/api/calls/{uuid.uuid4()}")
    assert r.status_code == 404
    assert "not found" in r.json()["detail"]


def test_viewer_key_reads_and_no_key_is_refused(client: TestClient) -> None:
    ids = _seed()
    viewer = admin_headers("viewer")
    assert client.get("/api/calls", headers=viewer).status_code == 200
    assert client.get(f"/api/calls/{ids['web']}", headers=viewer).status_code == 200
    assert client.get("/api/calls/export.csv", headers=viewer).status_code == 200
    bare = TestClient(create_api())
    assert bare.get("/api/calls").status_code == 401
    assert bare.get("/api/calls/export.csv").status_code == 401


def test_export_csv_filters_and_is_formula_safe(client: TestClient) -> None:
    ids = _seed()
    r = client.get("/api/calls/export.csv", params={"agent": str(ids["dental"])})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["call_id"] for row in rows] == [str(ids["web"])]  # the chat is left out
    assert rows[0]["customer_name"] == "'=HYPERLINK(1)"
    assert (rows[0]["kind"], rows[0]["direction"]) == ("web", "inbound")
    chats = client.get("/api/calls/export.csv", params={"kind": "chat"}).text
    assert [row["call_id"] for row in csv.DictReader(io.StringIO(chats))] == [str(ids["chat"])]
    every = list(csv.DictReader(io.StringIO(client.get("/api/calls/export.csv").text)))
    assert {row["agent"] for row in every} == {"Dental Bot", "Pizza Orders", "Voxie (builder)"}


def test_agent_list_keeps_its_shape_and_pages_in_headers(client: TestClient) -> None:
    with session_scope() as s:
        for i in range(3):
            s.add(Agent(name=f"Agent {i}", status="ready", processed_spec={"name": f"A{i}"}))
    r = client.get("/api/agents", params={"limit": 2, "offset": 1})
    assert r.status_code == 200
    assert isinstance(r.json(), list) and len(r.json()) == 2
    assert (r.headers["x-total-count"], r.headers["x-limit"], r.headers["x-offset"]) == (
        "3",
        "2",
        "1",
    )
    searched = client.get("/api/agents", params={"search": "Agent 1"})
    assert searched.headers["x-total-count"] == "1"
