"""Daily analytics rollups (services/rollups.py) on SQLite and PostgreSQL.

The rollup-backed reports must give the raw-SQL answer (latency percentiles
within the histogram's 1%), store only settled days, and never serve a day a
later write changed.
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import (
    Agent,
    CallSession,
    CallSummary,
    RollupAgentDay,
    RollupDay,
    RollupLabelCount,
    RollupState,
    TokenUsage,
    TurnMetric,
)
from voxie_app.services import agents as agents_svc
from voxie_app.services import call_analysis, recording, reports, rollups
from voxie_app.services.calls import end_call_record
from voxie_app.services.reports import CallFilter
from voxie_app.settings import get_settings

SENTIMENTS = ("positive", "neutral", "negative")
# Every test here runs with the product's clock at this instant: early in the
# UTC day, as CI may be, where "yesterday" has long been settled.
NOW = datetime(2026, 6, 10, 8, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_clock(clock: Any) -> None:
    clock(NOW)


OUTCOMES = ("appointment_booked", "order_placed", "escalated")


def _today() -> date:
    return utcnow().date()


def _seed(days: int = 12, seed: int = 5) -> dict[str, Any]:
    """Calls over the last `days` days for three agents (one deleted later), some today,
    one still active on a past day; usage, summaries, sentiment and latency."""
    rnd = random.Random(seed)
    today = _today()
    with session_scope() as s:
        agents = [Agent(name=n, processed_spec={"name": n}) for n in ("Alpha", "Beta", "Gamma")]
        s.add_all(agents)
        s.flush()
        calls = []
        for back in range(days):
            day = today - timedelta(days=back)
            for _ in range(rnd.randint(2, 6)):
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
                    minutes=rnd.randint(0, 60 * 23)
                )
                if at > utcnow():
                    at = utcnow() - timedelta(minutes=rnd.randint(1, 30))
                agent = rnd.choice([*agents, None])
                minutes = rnd.uniform(0.5, 12)
                call = CallSession(
                    session_id=uuid.uuid4().hex,
                    agent_id=agent.id if agent else None,
                    room_name=f"room-{uuid.uuid4().hex[:8]}",
                    started_at=at,
                    ended_at=at + timedelta(minutes=minutes),
                    duration_seconds=round(minutes * 60, 1),
                    call_status=rnd.choice(["completed", "completed", "failed"]),
                    call_rating=rnd.choice([None, 1, 3, 4, 5]),
                    issue_resolved=rnd.choice([None, True, False]),
                    customer_sentiment=rnd.choice([None, *SENTIMENTS]),
                )
                s.add(call)
                s.flush()
                calls.append(call)
                for kind in ("llm", "stt", "tts"):
                    s.add(
                        TokenUsage(
                            call_session_id=call.id,
                            model_name="m",
                            usage_type=kind,
                            total_cost_usd=Decimal(str(round(rnd.uniform(0, 0.2), 6))),
                        )
                    )
                if rnd.random() < 0.7:
                    s.add(
                        CallSummary(
                            call_session_id=call.id,
                            summary_text="s",
                            business_outcome=rnd.choice([None, *OUTCOMES]),
                        )
                    )
                for n in range(rnd.randint(0, 8)):
                    s.add(
                        TurnMetric(
                            call_session_id=call.id,
                            turn_number=n,
                            e2e_latency=rnd.choice([None, rnd.lognormvariate(0, 0.6)]),
                        )
                    )
        active_day = today - timedelta(days=3)
        active = CallSession(
            session_id="active",
            agent_id=agents[0].id,
            room_name="room-active",
            started_at=datetime.combine(active_day, datetime.min.time(), tzinfo=UTC)
            + timedelta(hours=12),
            call_status="active",
            last_activity_at=utcnow(),  # still talking
        )
        stale = CallSession(
            session_id="stale",
            agent_id=agents[1].id,
            room_name="room-stale",
            started_at=active.started_at - timedelta(days=2),
            call_status="active",  # its worker died; the reconciler will end it
        )
        s.add_all([active, stale])
    return {
        "agents": [a.id for a in agents],
        "calls": [c.id for c in calls],
        "active": active.id,
        "stale": stale.id,
    }


def _raw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "_rolled", lambda session, filters: None)


REPORTS = (
    reports.call_stats,
    reports.daily_series,
    reports.sentiment_mix,
    reports.outcome_mix,
    reports.agent_table,
)


def _all(f: CallFilter) -> dict[str, Any]:
    with session_scope() as s:
        out: dict[str, Any] = {fn.__name__: fn(session=s, filters=f) for fn in REPORTS}
        out["latency"] = reports.latency_by_agent(session=s, filters=f)
    return out


def _stored_days(tz: str = "UTC") -> set[date]:
    with session_scope() as s:
        return set(s.exec(select(RollupDay.day).where(RollupDay.tz == tz)).all())


def _loose(value: Any) -> Any:
    """Reports with minutes compared to 0.01 (float sums in another order may round apart)."""
    if isinstance(value, list):
        return [_loose(v) for v in value]
    fields = dataclasses.asdict(value)
    if "minutes" in fields:
        fields["minutes"] = pytest.approx(fields["minutes"], abs=0.0101)
    return fields


def _assert_same(rolled: dict[str, Any], raw: dict[str, Any]) -> None:
    for name in (fn.__name__ for fn in REPORTS):
        assert _loose(rolled[name]) == _loose(raw[name]), name
    assert [(r.agent_id, r.turns) for r in rolled["latency"]] == [
        (r.agent_id, r.turns) for r in raw["latency"]
    ]
    for got, want in zip(rolled["latency"], raw["latency"], strict=True):
        assert got.p50 == pytest.approx(want.p50, rel=0.011, abs=2e-4)
        assert got.p95 == pytest.approx(want.p95, rel=0.011, abs=2e-4)


def test_rollups_match_raw_sql(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _seed()
    today = _today()
    ranges = [
        CallFilter(start=today - timedelta(days=11), end=today),
        CallFilter(start=today - timedelta(days=8), end=today - timedelta(days=2)),
        CallFilter(start=today - timedelta(days=11), end=today, agent_id=ids["agents"][1]),
    ]
    rolled = [_all(f) for f in ranges]
    again = [_all(f) for f in ranges]  # now served from the stored days
    assert rolled == again
    with monkeypatch.context() as m:
        _raw(m)
        raw = [_all(f) for f in ranges]
    for got, want in zip(rolled, raw, strict=True):
        _assert_same(got, want)
    assert rolled[0]["call_stats"].calls == len(ids["calls"]) + 2  # the active ones too
    # Settled days stored: not today, not the day of the live call (the stale
    # one's day is settled: ending it later invalidates the day).
    assert _stored_days() == {today - timedelta(days=back) for back in range(1, 12) if back != 3}


def test_overview_is_the_sum_of_the_reports(db: str) -> None:
    _seed()
    today = _today()
    f = CallFilter(start=today - timedelta(days=11), end=today)
    parts = _all(f)
    with session_scope() as s:
        o = reports.analytics_overview(session=s, filters=f)
    assert o.stats == parts["call_stats"]
    assert o.series == parts["daily_series"]
    assert o.sentiment == parts["sentiment_mix"]
    assert o.outcomes == parts["outcome_mix"]
    assert o.agents == parts["agent_table"]
    assert o.latency == parts["latency"]


def test_late_writes_invalidate_their_day(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _seed()
    today = _today()
    f = CallFilter(start=today - timedelta(days=11), end=today)
    before = _all(f)
    assert today - timedelta(days=5) in _stored_days()

    # A late analysis of a call on a stored day (as `analyze --pending` does).
    with session_scope() as s:
        unsummarised = s.exec(
            select(CallSession)
            .where(
                col(CallSession.id).in_(ids["calls"]),
                ~sa.exists().where(CallSummary.call_session_id == CallSession.id),
                CallSession.started_at < datetime.combine(today, datetime.min.time(), UTC),
            )
            .order_by(CallSession.started_at)
        ).first()
        assert unsummarised is not None
        late_day = unsummarised.started_at.date()
        assert late_day in _stored_days()
        analysis = call_analysis.CallAnalysis(
            summary="Late.",
            key_points=[],
            action_items=[],
            category="support",
            business_outcome="sale",
            sales_value_usd=None,
            sentiment="positive",
            resolved=True,
            rating=5,
        )
        assert call_analysis.save_analysis(
            session=s,
            call_session_id=unsummarised.id,
            analysis=analysis,
            model="gpt-4o-mini",
            tokens_used=30,
            input_tokens=20,
            output_tokens=10,
        )
    assert late_day not in _stored_days()
    after = _all(f)
    assert Counter({c.label: c.count for c in after["outcome_mix"]})["sale"] == 1
    assert after["call_stats"].cost_usd >= before["call_stats"].cost_usd

    # The active call on a past day ends: its day settles on the next read.
    active_day = today - timedelta(days=3)
    assert active_day not in _stored_days()
    with session_scope() as s:
        end_call_record(
            session=s, call_session_id=ids["active"], reason="abandoned", status="failed"
        )
    _all(f)
    assert active_day in _stored_days()

    # The reconciler ends the stale call: its (stored) day is dropped, then recomputed.
    with session_scope() as s:
        stale_day = s.get(CallSession, ids["stale"]).started_at.date()
    assert stale_day in _stored_days()
    with session_scope() as s:
        end_call_record(
            session=s, call_session_id=ids["stale"], reason="abandoned", status="failed"
        )
    assert stale_day not in _stored_days()

    # Deleting an agent: its calls are kept under "no agent", as the raw SQL says.
    with session_scope() as s:
        agents_svc.delete_agent(session=s, agent_id=ids["agents"][0])
    rolled = _all(f)
    with monkeypatch.context() as m:
        _raw(m)
        raw = _all(f)
    _assert_same(rolled, raw)
    assert ids["agents"][0] not in {r.agent_id for r in rolled["agent_table"]}


def test_a_write_racing_the_computation_is_not_stored(db: str) -> None:
    _seed(days=4)
    today = _today()
    day = today - timedelta(days=2)
    with session_scope() as s:
        version = s.exec(select(RollupState.version)).one()
        totals = rollups.compute(s, tz="UTC", start=day, end=day)
    with session_scope() as s:  # a write lands while the reader computes
        call = s.exec(
            select(CallSession).where(
                CallSession.started_at >= datetime.combine(day, datetime.min.time(), UTC),
                CallSession.started_at < datetime.combine(today, datetime.min.time(), UTC),
            )
        ).first()
        assert call is not None
        call.call_rating = 2
        s.add(call)
    with session_scope() as s:
        assert not rollups._store(s, tz="UTC", days={day}, totals=totals, version=version)
        fresh = s.exec(select(RollupState.version)).one()
        assert fresh > version
        assert rollups._store(s, tz="UTC", days={day}, totals=totals, version=fresh)
    assert _stored_days() == {day}


def test_a_call_that_just_started_does_not_bump_the_state_row(db: str) -> None:
    """Its day cannot be settled, so its writes skip the one row all of them would
    queue on; an old call's change still bumps it (and a racing reader notices)."""
    ids = _seed(days=3)

    def version() -> int:
        with session_scope() as s:
            return s.exec(select(RollupState.version)).one()

    before = version()
    with session_scope() as s:
        fresh = CallSession(
            session_id="just-now",
            room_name="r",
            started_at=utcnow() - rollups.SETTLE_MARGIN / 2 + timedelta(seconds=30),
        )
        s.add(fresh)
    with session_scope() as s:
        row = s.get(CallSession, fresh.id)
        row.call_status, row.ended_at = "completed", utcnow()
        s.add(row)
    assert version() == before
    with session_scope() as s:
        old = s.get(CallSession, ids["active"])
        old.started_at = utcnow() - rollups.SETTLE_MARGIN  # older than half the margin
        s.add(old)
    assert version() > before


def test_live_call_writes_do_not_touch_rollups(db: str) -> None:
    ids = _seed(days=3)
    with session_scope() as s:
        before = s.exec(select(RollupState.version)).one()
    with session_scope() as s:
        recording.set_usage(
            session=s,
            call_session_id=ids["active"],
            usage_type="llm",
            model_name="gpt-4o-mini",
            input_tokens=10,
            output_tokens=5,
        )
        recording.add_turn_metric(
            session=s, call_session_id=ids["active"], turn_number=1, e2e_latency=0.8
        )
    with session_scope() as s:
        assert s.exec(select(RollupState.version)).one() == before


def test_days_are_local_to_the_zone(db: str) -> None:
    _seed(days=6)
    today = _today()
    f_utc = CallFilter(start=today - timedelta(days=5), end=today - timedelta(days=1))
    f_tokyo = CallFilter(start=f_utc.start, end=f_utc.end, tz="Asia/Tokyo")
    with session_scope() as s:
        utc_series = reports.daily_series(session=s, filters=f_utc)
        tokyo_series = reports.daily_series(session=s, filters=f_tokyo)
    assert _stored_days("UTC") and _stored_days("Asia/Tokyo")
    with session_scope() as s:
        rows = s.exec(select(RollupDay).where(RollupDay.tz == "Asia/Tokyo")).all()
        for row in rows:
            assert row.starts_at == datetime.combine(row.day, datetime.min.time(), UTC) - timedelta(
                hours=9
            )
    # Same calls, different day boundaries: the daily counts differ somewhere.
    assert [p.calls for p in utc_series] != [p.calls for p in tokyo_series]


def test_rows_cascade_with_their_day(db: str) -> None:
    _seed(days=3)
    today = _today()
    _all(CallFilter(start=today - timedelta(days=2), end=today))
    with session_scope() as s:
        assert s.exec(select(sa.func.count()).select_from(RollupAgentDay)).one() > 0
        assert s.exec(select(sa.func.count()).select_from(RollupLabelCount)).one() > 0
        s.execute(sa.delete(RollupDay))
    with session_scope() as s:
        assert s.exec(select(sa.func.count()).select_from(RollupAgentDay)).one() == 0
        assert s.exec(select(sa.func.count()).select_from(RollupLabelCount)).one() == 0


@pytest.mark.parametrize(
    "values",
    [
        [float(v) for v in range(1, 11)],
        [0.0005, 0.2, 0.21, 0.9, 3.5],
        [random.Random(3).lognormvariate(0, 1) for _ in range(2000)],
        [1.234],
    ],
)
def test_histogram_percentiles_are_within_one_percent(values: list[float]) -> None:
    hist = rollups.Hist.of(Counter(rollups.bin_of(v) for v in values))
    ordered = sorted(values)
    for p in (0.5, 0.95):
        pos = p * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        exact = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
        got = rollups.percentile(hist, p)
        assert got == pytest.approx(max(exact, rollups.BIN_BASE), rel=0.0101, abs=1e-3)
    assert rollups.percentile(rollups.Hist(), 0.5) is None


def test_histograms_merge_and_round_trip() -> None:
    a = rollups.Hist.of({5: 2, 7: 1})
    b = rollups.Hist.of({3: 1, 7: 4, 9: 1})
    a.add(b)
    assert a == rollups.Hist.of({3: 1, 5: 2, 7: 5, 9: 1})
    assert a.n == 9
    assert rollups.Hist.from_bytes(a.offset, a.to_bytes()) == a
    assert rollups.bin_of(10_000.0) == rollups.MAX_BIN  # very long turns share the last bin
    assert rollups.bin_of(0.0) == 0


def test_fill_stores_the_missing_settled_days_once(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(days=5)
    from voxie_app import manage

    assert manage.main(["rollups"]) == 0  # in the configured zone
    first = capsys.readouterr().out
    # 89 settled days of the 90 (today is not); the live call's day is not settled.
    assert "88 new day(s) summarised" in first
    tz = get_settings().timezone
    with session_scope() as s:
        assert rollups.fill(s, tz=tz) == 0
    assert len(_stored_days(tz)) == 88


def test_a_day_settles_ten_minutes_after_it_ends(db: str, clock: Any) -> None:
    """Just after midnight yesterday is not stored yet: the worker's clock may lag
    the app's (`SETTLE_MARGIN`), so a call it still records could land in it."""
    yesterday = NOW.date() - timedelta(days=1)
    with session_scope() as s:
        s.add(
            CallSession(
                session_id="late",
                room_name="room-late",
                started_at=datetime.combine(yesterday, datetime.min.time(), UTC)
                + timedelta(hours=23, minutes=35),
                ended_at=datetime.combine(yesterday, datetime.min.time(), UTC)
                + timedelta(hours=23, minutes=50),
                call_status="completed",
            )
        )
    f = CallFilter(start=yesterday, end=yesterday)
    midnight = datetime.combine(NOW.date(), datetime.min.time(), UTC)
    clock(midnight + timedelta(minutes=5))
    assert _all(f)["call_stats"].calls == 1
    assert yesterday not in _stored_days()
    clock(midnight + rollups.SETTLE_MARGIN + timedelta(seconds=1))
    assert _all(f)["call_stats"].calls == 1
    assert yesterday in _stored_days()


def test_sqlite_without_math_functions_gets_them() -> None:
    """Some SQLite builds lack ln()/floor(): the connection hook supplies them."""
    from voxie_app import db as db_module

    class NoMath:
        def __init__(self) -> None:
            self.conn = sqlite3.connect(":memory:")
            self.added: dict[str, Any] = {}

        def cursor(self) -> Any:
            real = self.conn.cursor()
            added = self.added

            class Cursor:
                def execute(self, sql: str) -> Any:
                    if "ln(" in sql and "ln" not in added:
                        raise sqlite3.OperationalError("no such function: ln")
                    return real.execute(sql)

                def close(self) -> None:
                    real.close()

            return Cursor()

        def create_function(self, name: str, n: int, fn: Any, deterministic: bool) -> None:
            self.added[name] = fn
            self.conn.create_function(name, n, fn, deterministic=deterministic)

    conn = NoMath()
    db_module._sqlite_on_connect(conn, None)
    assert set(conn.added) == {"ln", "floor"}
    assert conn.conn.execute("SELECT floor(ln(100.0) / ln(10.0))").fetchone()[0] == 2
    assert (
        rollups.bin_of(0.5)
        == conn.conn.execute(
            f"SELECT floor(ln(0.5 / {rollups.BIN_BASE}) / {rollups._LN_RATIO})"
        ).fetchone()[0]
    )


def test_chats_are_left_out_of_the_rollups_and_the_raw_counts(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text chats are calls of kind chat: no default count has them, rolled or raw."""
    ids = _seed()
    today = _today()
    f = CallFilter(start=today - timedelta(days=11), end=today)
    before = _all(f)
    with session_scope() as s:
        for back, status in ((2, "completed"), (5, "active"), (0, "completed")):
            at = datetime.combine(today - timedelta(days=back), datetime.min.time(), tzinfo=UTC)
            chat = CallSession(
                session_id=uuid.uuid4().hex,
                agent_id=ids["agents"][0],
                room_name=f"chat-{back}",
                started_at=at + timedelta(hours=1),
                duration_seconds=300.0,
                call_status=status,
                customer_sentiment="positive",
                last_activity_at=utcnow(),  # the active one is still chatting
                kind="chat",
            )
            s.add(chat)
            s.flush()
            s.add(
                TokenUsage(
                    call_session_id=chat.id,
                    model_name="m",
                    usage_type="llm",
                    total_cost_usd=Decimal("1.5"),
                )
            )
            s.add(TurnMetric(call_session_id=chat.id, turn_number=1, e2e_latency=9.0))
    rolled = _all(f)
    assert rolled == before  # every report, rolled up, as if the chats were not there
    with monkeypatch.context() as m:
        _raw(m)
        raw = _all(f)
    _assert_same(rolled, raw)
    # A live chat does not keep its day unsettled: it is not a call.
    assert today - timedelta(days=5) in _stored_days()
    with session_scope() as s:
        chats = reports.call_stats(session=s, filters=dataclasses.replace(f, kind="chat"))
        every = reports.call_stats(session=s, filters=dataclasses.replace(f, kind="all"))
    assert chats.calls == 3 and chats.cost_usd == Decimal("4.5000")
    assert every.calls == before["call_stats"].calls + 3
