"""Analytics in SQL: today's numbers and recent calls, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Agent, CallSession, CallSummary, ConversationTurn, TokenUsage
from voxie_app.services import analytics

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def _seed() -> dict[str, uuid.UUID]:
    """Four calls today (two agents), one yesterday, with turns, costs and a summary."""
    with session_scope() as s:
        dental = Agent(name="Dental Bot", processed_spec={"name": "Dental Bot"})
        pizza = Agent(name="Pizza", processed_spec={"name": "Pizza"})
        s.add_all([dental, pizza])
        s.flush()

        def call(agent: Agent, start: datetime, minutes: float | None, **kw: object) -> CallSession:
            c = CallSession(
                session_id=uuid.uuid4().hex,
                agent_id=agent.id,
                room_name=f"room-{uuid.uuid4().hex[:6]}",
                started_at=start,
                ended_at=start + timedelta(minutes=minutes) if minutes is not None else None,
                duration_seconds=minutes * 60 if minutes is not None else None,
                **kw,
            )
            s.add(c)
            s.flush()
            return c

        a = call(
            dental,
            NOW - timedelta(hours=5),
            3,
            call_status="completed",
            call_rating=5,
            issue_resolved=True,
            customer_sentiment="positive",
        )
        b = call(
            dental,
            NOW - timedelta(hours=3),
            2,
            call_status="completed",
            call_rating=3,
            issue_resolved=False,
            customer_sentiment="negative",
        )
        c = call(
            pizza,
            NOW - timedelta(hours=1),
            1.5,
            call_status="failed",
            customer_sentiment="positive",
        )
        call(pizza, NOW - timedelta(minutes=5), None)  # active
        call(
            pizza,
            NOW - timedelta(days=1),
            10,
            call_status="completed",
            call_rating=1,
            issue_resolved=False,
            customer_sentiment="negative",
        )
        for i, speaker in enumerate(["agent", "user", "agent"]):
            s.add(
                ConversationTurn(
                    call_session_id=a.id, turn_number=i, speaker=speaker, transcript=f"turn {i}"
                )
            )
        s.add(
            TokenUsage(
                call_session_id=a.id,
                model_name="gpt-4o-mini",
                input_tokens=1000,
                output_tokens=200,
                total_tokens=1200,
                total_cost_usd=Decimal("0.0123"),
            )
        )
        s.add(
            TokenUsage(
                call_session_id=a.id,
                model_name="nova-3",
                usage_type="stt",
                audio_seconds=180,
                total_cost_usd=Decimal("0.0129"),
            )
        )
        s.add(
            TokenUsage(
                call_session_id=c.id, model_name="gpt-4o-mini", total_cost_usd=Decimal("0.0100")
            )
        )
        s.add(
            CallSummary(
                call_session_id=a.id,
                summary_text="Booked a cleaning.",
                key_points=["cleaning"],
                business_outcome="appointment_booked",
            )
        )
        return {"a": a.id, "b": b.id, "c": c.id}


def test_summary_counts_today_only(db: str) -> None:
    _seed()
    with session_scope() as s:
        summary = analytics.summary(session=s, now=NOW)
    assert summary.date == "2026-11-25"
    assert summary.total_calls == 4
    assert (summary.active_calls, summary.completed_calls, summary.failed_calls) == (1, 2, 1)
    assert summary.total_minutes == 6.5
    assert summary.total_cost_usd == Decimal("0.0352")
    assert summary.average_rating == 4.0
    assert summary.resolution_rate == 0.5
    assert summary.sentiment == {"positive": 2, "negative": 1}


def test_summary_respects_timezone(db: str) -> None:
    _seed()
    with session_scope() as s:
        # 14:00 UTC is 23:00 in Tokyo; Tokyo's 25 November runs from 15:00 UTC on the
        # 24th, so it also holds "yesterday's" 15:00 UTC call.
        tokyo = analytics.summary(session=s, now=NOW - timedelta(hours=1), tz="Asia/Tokyo")
        la = analytics.summary(session=s, now=NOW, tz="America/Los_Angeles")
    assert (tokyo.date, tokyo.total_calls, tokyo.timezone) == ("2026-11-25", 5, "Asia/Tokyo")
    assert (la.date, la.total_calls) == ("2026-11-25", 4)


def test_empty_summary(db: str) -> None:
    with session_scope() as s:
        summary = analytics.summary(session=s, now=NOW)
    assert summary.total_calls == 0
    assert summary.average_rating is None
    assert summary.resolution_rate is None
    assert summary.total_cost_usd == Decimal("0")


def test_recent_calls_join_turns_cost_summary(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        rows = analytics.recent_calls(session=s, limit=3)
    assert [r.started_at for r in rows] == sorted((r.started_at for r in rows), reverse=True)
    assert len(rows) == 3
    with session_scope() as s:
        by_id = {r.id: r for r in analytics.recent_calls(session=s, limit=10)}
    first = by_id[ids["a"]]
    assert first.agent_name == "Dental Bot"
    assert first.turns == 3
    assert first.cost_usd == Decimal("0.0252")
    assert first.summary == "Booked a cleaning."
    assert first.business_outcome == "appointment_booked"
    assert by_id[ids["b"]].turns == 0
    assert by_id[ids["b"]].summary is None


def test_analytics_api(db: str) -> None:
    _seed()
    with TestClient(create_api(), headers=admin_headers()) as client:
        summary = client.get("/api/analytics/summary")
        assert summary.status_code == 200
        assert set(summary.json()) >= {
            "total_calls",
            "total_minutes",
            "total_cost_usd",
            "average_rating",
            "resolution_rate",
            "sentiment",
        }
        recent = client.get("/api/analytics/recent-calls", params={"limit": 2})
        assert recent.status_code == 200
        assert len(recent.json()) == 2
        assert client.get("/api/analytics/recent-calls", params={"limit": 0}).status_code == 422
