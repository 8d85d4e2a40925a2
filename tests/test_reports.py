"""Read-side reports (services/reports.py) on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.seed import seed_demo
from voxie_app.db import session_scope
from voxie_app.models import (
    TURN_PARTS,
    Agent,
    CallSession,
    CallSummary,
    ConversationTurn,
    TokenUsage,
    TurnMetric,
)
from voxie_app.services import reports
from voxie_app.services.reports import CallFilter

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)


def _call(s, agent: Agent | None, start: datetime, minutes: float | None, **kw) -> CallSession:
    c = CallSession(
        session_id=uuid.uuid4().hex,
        agent_id=agent.id if agent else None,
        room_name=f"room-{uuid.uuid4().hex[:6]}",
        started_at=start,
        ended_at=start + timedelta(minutes=minutes) if minutes is not None else None,
        duration_seconds=minutes * 60 if minutes is not None else None,
        **kw,
    )
    s.add(c)
    s.flush()
    return c


def _seed() -> dict[str, uuid.UUID]:
    with session_scope() as s:
        dental = Agent(name="Dental Bot", processed_spec={"name": "Dental Bot"})
        pizza = Agent(name="Pizza_100%", processed_spec={"name": "Pizza_100%"})
        idle = Agent(name="Idle", processed_spec={"name": "Idle"})
        s.add_all([dental, pizza, idle])
        s.flush()
        a = _call(
            s,
            dental,
            NOW - timedelta(hours=5),
            3,
            call_status="completed",
            call_rating=5,
            issue_resolved=True,
            customer_sentiment="positive",
            customer_name="=cmd|' /C calc'!A0",
        )
        b = _call(
            s,
            dental,
            NOW - timedelta(hours=3),
            2,
            call_status="completed",
            call_rating=3,
            issue_resolved=False,
            customer_sentiment="negative",
        )
        c = _call(s, pizza, NOW - timedelta(hours=1), 1.5, call_status="failed")
        d = _call(
            s,
            pizza,
            NOW - timedelta(days=2),
            10,
            call_status="completed",
            call_rating=1,
            customer_sentiment="negative",
        )
        orphan = _call(s, None, NOW - timedelta(days=1), 4, call_status="completed")
        for i, speaker in enumerate(["agent", "user", "agent", "user"]):
            s.add(
                ConversationTurn(
                    call_session_id=a.id,
                    turn_number=i,
                    speaker=speaker,
                    transcript=f"turn {i}",
                    function_called="end_call" if i == 2 else None,
                )
            )
        for usage_type, cost in (("llm", "0.0100"), ("llm", "0.0023"), ("stt", "0.0129")):
            s.add(
                TokenUsage(
                    call_session_id=a.id,
                    model_name="m",
                    usage_type=usage_type,
                    input_tokens=100,
                    output_tokens=10,
                    audio_seconds=60 if usage_type == "stt" else 0,
                    total_cost_usd=Decimal(cost),
                )
            )
        s.add(TokenUsage(call_session_id=c.id, model_name="m", total_cost_usd=Decimal("0.0100")))
        s.add(TokenUsage(call_session_id=d.id, model_name="m", total_cost_usd=Decimal("0.5000")))
        s.add(TokenUsage(call_session_id=orphan.id, model_name="m", total_cost_usd=Decimal("0.2")))
        s.add(
            CallSummary(
                call_session_id=a.id,
                summary_text="Booked a cleaning.",
                key_points=["cleaning"],
                action_items=["send reminder"],
                business_outcome="appointment_booked",
            )
        )
        s.add(
            CallSummary(call_session_id=d.id, summary_text="=1+1", business_outcome="order_placed")
        )
        # Latencies: dental 1..10 (call a) , pizza 0.5 and 1.5 (call d).
        for i in range(10):
            s.add(TurnMetric(call_session_id=a.id, turn_number=i, e2e_latency=float(i + 1)))
        s.add(TurnMetric(call_session_id=a.id, turn_number=99, e2e_latency=None, llm_ttft=0.3))
        for i, v in enumerate((0.5, 1.5)):
            s.add(TurnMetric(call_session_id=d.id, turn_number=i, e2e_latency=v))
        return {
            "dental": dental.id,
            "pizza": pizza.id,
            "idle": idle.id,
            "a": a.id,
            "b": b.id,
            "c": c.id,
            "d": d.id,
            "orphan": orphan.id,
        }


def test_call_stats_today_and_per_agent(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        today = reports.call_stats(session=s, filters=CallFilter(start=DAY, end=DAY))
        dental = reports.call_stats(session=s, filters=CallFilter(agent_id=ids["dental"]))
        none = reports.call_stats(session=s, filters=CallFilter(agent_id=ids["idle"]))
    assert today.calls == 3
    assert today.minutes == 6.5
    assert today.cost_usd == Decimal("0.0352")
    assert today.average_rating == 4.0
    assert today.resolution_rate == 0.5
    assert (dental.calls, dental.minutes, dental.cost_usd) == (2, 5.0, Decimal("0.0252"))
    assert none == reports.Stats(0, 0.0, Decimal("0.0000"), None, None)


def test_daily_series_fills_every_day_and_respects_timezone(db: str) -> None:
    _seed()
    with session_scope() as s:
        series = reports.daily_series(
            session=s, filters=CallFilter(start=DAY - timedelta(days=3), end=DAY)
        )
        tokyo = reports.daily_series(
            session=s,
            filters=CallFilter(start=DAY - timedelta(days=1), end=DAY, tz="Asia/Tokyo"),
        )
    assert [p.day for p in series] == [DAY - timedelta(days=i) for i in (3, 2, 1, 0)]
    assert [p.calls for p in series] == [0, 1, 1, 3]
    assert series[1].minutes == 10.0
    assert series[1].cost_usd == Decimal("0.5000")
    assert series[3].cost_usd == Decimal("0.0352")
    # Tokyo's 25th runs from 15:00 UTC on the 24th (the orphan call, exactly at midnight
    # there) to 15:00 UTC on the 25th; the 23rd 15:00 UTC call is Tokyo's 24th, 00:00.
    assert [p.calls for p in tokyo] == [1, 4]


def test_daily_series_reversed_and_clamped_range(db: str) -> None:
    with session_scope() as s:
        series = reports.daily_series(
            session=s, filters=CallFilter(start=DAY, end=DAY - timedelta(days=1000))
        )
    assert len(series) == reports.MAX_RANGE_DAYS
    assert series[-1].day == DAY
    assert all(p.calls == 0 for p in series)


def test_agents_overview_counts_and_search(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        rows = {r.name: r for r in reports.agents_overview(session=s)}
        found = reports.agents_overview(session=s, search="0%")
        none = reports.agents_overview(session=s, search="l%")
        underscore = reports.agents_overview(session=s, search="a_1")
        case = reports.agents_overview(session=s, search="dENTAL")
    assert rows["Dental Bot"].calls == 2
    assert rows["Dental Bot"].last_call_at == NOW - timedelta(hours=3)
    assert rows["Pizza_100%"].calls == 2
    assert rows["Idle"].calls == 0 and rows["Idle"].last_call_at is None
    assert rows["Idle"].id == ids["idle"]
    assert [r.name for r in found] == ["Pizza_100%"]
    assert none == []  # % is a literal, not a wildcard
    assert [r.name for r in underscore] == ["Pizza_100%"]
    assert [r.name for r in case] == ["Dental Bot"]


def test_list_calls_filters_and_pages(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        everything = reports.list_calls(session=s, filters=CallFilter(), limit=2)
        second = reports.list_calls(session=s, filters=CallFilter(), limit=2, offset=2)
        dental = reports.list_calls(session=s, filters=CallFilter(agent_id=ids["dental"]))
        failed = reports.list_calls(session=s, filters=CallFilter(status="failed"))
        negative = reports.list_calls(session=s, filters=CallFilter(sentiment="negative"))
        booked = reports.list_calls(session=s, filters=CallFilter(outcome="appointment_booked"))
        yesterday = reports.list_calls(
            session=s,
            filters=CallFilter(start=DAY - timedelta(days=1), end=DAY - timedelta(days=1)),
        )
    assert everything.total == 5 and len(everything.rows) == 2
    assert [r.id for r in everything.rows] == [ids["c"], ids["b"]]
    assert [r.id for r in second.rows] == [ids["a"], ids["orphan"]]
    first = second.rows[0]
    assert (first.agent_name, first.turns, first.cost_usd) == ("Dental Bot", 4, Decimal("0.0252"))
    assert first.outcome == "appointment_booked"
    assert second.rows[1].agent_name is None
    assert dental.total == 2
    assert [r.id for r in failed.rows] == [ids["c"]]
    assert {r.id for r in negative.rows} == {ids["b"], ids["d"]}
    assert [r.id for r in booked.rows] == [ids["a"]]
    assert [r.id for r in yesterday.rows] == [ids["orphan"]]


def test_call_detail(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        detail = reports.call_detail(session=s, call_id=ids["a"])
        missing = reports.call_detail(session=s, call_id=uuid.uuid4())
    assert missing is None
    assert detail is not None
    assert detail.agent_name == "Dental Bot"
    assert [t.turn_number for t in detail.turns] == [0, 1, 2, 3]
    assert detail.turns[2].function_called == "end_call"
    assert detail.summary is not None and detail.summary.action_items == ["send reminder"]
    costs = {c.usage_type: c for c in detail.costs}
    assert [c.usage_type for c in detail.costs] == ["llm", "stt", "tts"]
    assert costs["llm"].cost_usd == Decimal("0.0123")
    assert costs["llm"].input_tokens == 200
    assert costs["stt"].audio_seconds == 60
    assert costs["tts"].cost_usd == Decimal("0")
    assert detail.total_cost_usd == Decimal("0.0252")
    assert len(detail.latency) == 11
    assert detail.latency[-1].llm_ttft == 0.3
    assert detail.latency[-1].part_llm is None  # a row without parts: unknown


def test_sentiment_outcomes_and_agent_table(db: str) -> None:
    ids = _seed()
    everything = CallFilter(start=DAY - timedelta(days=7), end=DAY)
    with session_scope() as s:
        sentiment = reports.sentiment_mix(session=s, filters=everything)
        outcomes = reports.outcome_mix(session=s, filters=everything)
        table = reports.agent_table(session=s, filters=everything)
    assert sentiment == [reports.Count("negative", 2), reports.Count("positive", 1)]
    assert {o.label: o.count for o in outcomes} == {"appointment_booked": 1, "order_placed": 1}
    rows = {r.agent_id: r for r in table}
    assert set(rows) == {ids["dental"], ids["pizza"], None}
    assert rows[ids["dental"]].calls == 2
    assert rows[ids["dental"]].cost_usd == Decimal("0.0252")
    assert rows[ids["dental"]].resolution_rate == 0.5
    assert rows[ids["pizza"]].cost_usd == Decimal("0.5100")
    assert rows[ids["pizza"]].minutes == 11.5
    assert rows[ids["pizza"]].average_rating == 1.0
    assert rows[None].cost_usd == Decimal("0.2000")
    assert rows[None].agent_name is None


def test_latency_percentiles_match_percentile_cont(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        rows = {
            r.agent_id: r
            for r in reports.latency_by_agent(session=s, filters=CallFilter(), metric="e2e_latency")
        }
        ttft = reports.latency_by_agent(session=s, filters=CallFilter(), metric="llm_ttft")
        with pytest.raises(ValueError):
            reports.latency_by_agent(session=s, filters=CallFilter(), metric="id; drop")
    dental, pizza = rows[ids["dental"]], rows[ids["pizza"]]
    # Continuous percentiles of 1..10: p50 = 5.5, p95 = 9.55.
    assert (dental.turns, dental.p50, dental.p95) == (10, 5.5, 9.55)
    assert (pizza.turns, pizza.p50, pizza.p95) == (2, 1.0, 1.45)
    assert [(r.turns, r.p50, r.p95) for r in ttft] == [(1, 0.3, 0.3)]


def test_turn_parts_percentiles_per_agent_in_the_range(db: str) -> None:
    with session_scope() as s:
        dental = Agent(name="Dental Bot", processed_spec={"name": "Dental Bot"})
        pizza = Agent(name="Pizza", processed_spec={"name": "Pizza"})
        s.add_all([dental, pizza])
        s.flush()
        today = _call(s, dental, NOW - timedelta(hours=2), 3, call_status="completed")
        earlier = _call(s, dental, NOW - timedelta(days=20), 3, call_status="completed")
        other = _call(s, pizza, NOW - timedelta(hours=1), 1, call_status="completed")
        for i in range(5):  # dental today: end of turn 0.1..0.5, LLM 1..5, silence 0.25
            s.add(
                TurnMetric(
                    call_session_id=today.id,
                    turn_number=i,
                    e2e_latency=1.0,
                    part_silence=0.25,
                    part_end_of_turn=0.1 * (i + 1),
                    part_llm=float(i + 1),
                )
            )
        # outside the range: it must not move dental's numbers
        s.add(TurnMetric(call_session_id=earlier.id, turn_number=0, part_llm=100.0))
        # a row from before the parts were kept: no part, not counted
        s.add(TurnMetric(call_session_id=other.id, turn_number=0, e2e_latency=0.9))
        s.add(TurnMetric(call_session_id=other.id, turn_number=1, part_playout=0.02))
        dental_id, pizza_id = dental.id, pizza.id
    in_range = CallFilter(start=DAY - timedelta(days=6), end=DAY)
    with session_scope() as s:
        rows = reports.turn_parts_by_agent(session=s, filters=in_range)
        overview = reports.analytics_overview(session=s, filters=in_range)
        only_pizza = reports.turn_parts_by_agent(
            session=s, filters=dataclasses.replace(in_range, agent_id=pizza_id)
        )
    assert overview.turn_parts == rows
    assert [(r.agent_id, r.agent_name, r.turns) for r in rows] == [
        (dental_id, "Dental Bot", 5),
        (pizza_id, "Pizza", 1),
    ]
    d, p = rows[0].parts, rows[1].parts
    assert list(d) == list(TURN_PARTS)
    # Continuous percentiles: of 0.1..0.5, p50 0.3 and p95 0.48; of 1..5, 3 and 4.8.
    assert d["part_silence"] == (0.25, 0.25)
    assert d["part_end_of_turn"] == (0.3, 0.48)
    assert d["part_llm"] == (3.0, 4.8)
    assert d["part_stt"] == d["part_tts"] == d["part_playout"] == (None, None)
    assert p["part_playout"] == (0.02, 0.02)
    assert p["part_llm"] == (None, None)
    assert [r.agent_id for r in only_pizza] == [pizza_id]


def test_calls_csv_escapes_formulas(db: str) -> None:
    _seed()
    with session_scope() as s:
        text = reports.calls_csv(session=s, filters=CallFilter())
        limited = reports.calls_csv(session=s, filters=CallFilter(), max_rows=1)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5
    assert list(rows[0]) == list(reports.CSV_COLUMNS)
    by_name = {r["customer_name"]: r for r in rows}
    assert "'=cmd|' /C calc'!A0" in by_name
    assert by_name["'=cmd|' /C calc'!A0"]["cost_usd"] == "0.0252"
    assert by_name["'=cmd|' /C calc'!A0"]["resolved"] == "yes"
    assert any(r["summary"] == "'=1+1" for r in rows)
    assert len(list(csv.DictReader(io.StringIO(limited)))) == 1


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
        (-2.5, "-2.5"),
        (True, "yes"),
    ],
)
def test_csv_cell(value: object, cell: str) -> None:
    assert reports.csv_cell(value) == cell


def test_filter_options(db: str) -> None:
    _seed()
    with session_scope() as s:
        options = reports.filter_options(session=s)
    assert [n for _, n in options.agents] == ["Dental Bot", "Idle", "Pizza_100%"]
    assert options.sentiments == ["negative", "positive"]
    assert options.outcomes == ["appointment_booked", "order_placed"]


def test_demo_seed_runs_every_report(db: str) -> None:
    seeded = seed_demo(now=NOW, tz="UTC")
    f = CallFilter(start=DAY - timedelta(days=13), end=DAY)
    with session_scope() as s:
        stats = reports.call_stats(session=s, filters=f)
        series = reports.daily_series(session=s, filters=f)
        page = reports.list_calls(session=s, filters=f, limit=10)
        latency = reports.latency_by_agent(session=s, filters=f)
        table = reports.agent_table(session=s, filters=f)
        detail = reports.call_detail(session=s, call_id=seeded.call_ids[0])
    assert stats.calls == len(seeded.call_ids) == page.total == sum(p.calls for p in series)
    assert len(series) == 14
    assert len(latency) == 3 and all(r.p50 and r.p95 and r.p50 <= r.p95 for r in latency)
    assert sum(r.calls for r in table) == stats.calls
    assert detail is not None and detail.turns
