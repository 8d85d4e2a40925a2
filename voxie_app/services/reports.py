"""Read-side queries behind the web pages: dashboard, agents, calls, analytics.

Plain functions over a SQLModel session (keyword-only, `session=`). Every
aggregate is computed by the database (GROUP BY, window functions,
percentile_cont on PostgreSQL); Python only shapes the few rows that come back.
Times are stored in UTC; calendar days are those of the zone `tz` (the
`VOXIE_TIMEZONE` setting), bucketed with boundaries computed here so DST days
are right on both databases.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app import provider_catalog as catalog
from voxie_app.dbtypes import UTCDateTime, utcnow
from voxie_app.models import (
    TURN_PARTS,
    Agent,
    CallSession,
    CallSummary,
    ConversationTurn,
    Event,
    PhoneNumber,
    TokenUsage,
    TurnMetric,
)
from voxie_app.services import rollups
from voxie_app.services.analytics import call_cost, call_turns
from voxie_app.services.call_kinds import (  # noqa: F401 - re-exported for pages and the API
    BUILDER_LABEL,
    DELETED_LABEL,
    KIND_FILTER_LABELS,
    KIND_FILTERS,
    KIND_LABELS,
    NO_AGENT_LABEL,
    agent_label,
    kind_condition,
)
from voxie_app.services.rollups import day_bucket, local_day_start

MAX_RANGE_DAYS = 366
CSV_MAX_ROWS = 50_000
USAGE_TYPES = ("llm", "stt", "tts")
LATENCY_FIELDS = (
    "end_of_utterance_delay",
    "transcription_delay",
    "llm_ttft",
    "tts_ttfb",
    "e2e_latency",
    *TURN_PARTS,
)

# ------------------------------------------------------------------ value types


@dataclass(frozen=True)
class CallFilter:
    """Which calls a report covers. Dates are local calendar days, both inclusive."""

    agent_id: uuid.UUID | None = None
    start: date | None = None
    end: date | None = None
    status: str | None = None
    sentiment: str | None = None
    outcome: str | None = None
    tz: str = "UTC"
    kind: str = "voice"  # one of KIND_FILTERS: voice calls unless chats are asked for
    direction: str | None = None
    # An E.164 number: phone calls from or to it (the caller's / callee's number, or
    # ours that was dialled). Callers parse it with `e164.parse` first.
    number: str | None = None


@dataclass(frozen=True)
class Stats:
    calls: int
    minutes: float
    cost_usd: Decimal
    average_rating: float | None
    resolution_rate: float | None


@dataclass(frozen=True)
class DayPoint:
    day: date
    calls: int
    minutes: float
    cost_usd: Decimal


@dataclass(frozen=True)
class AgentRow:
    id: uuid.UUID
    name: str
    status: str
    error: str | None
    description: str
    created_at: datetime
    calls: int
    last_call_at: datetime | None


@dataclass(frozen=True)
class CallRow:
    id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_name: str | None
    agent_label: str
    kind: str
    direction: str
    customer_name: str | None
    started_at: datetime
    duration_seconds: float | None
    status: str
    sentiment: str | None
    rating: int | None
    resolved: bool | None
    outcome: str | None
    cost_usd: Decimal
    turns: int
    customer_phone: str | None = None
    called_number: str | None = None


@dataclass(frozen=True)
class CallPage:
    rows: list[CallRow]
    total: int


@dataclass(frozen=True)
class Turn:
    turn_number: int
    speaker: str
    transcript: str
    agent_name: str | None
    function_called: str | None
    timestamp: datetime


@dataclass(frozen=True)
class LatencyPoint:
    turn_number: int
    end_of_utterance_delay: float | None
    transcription_delay: float | None
    llm_ttft: float | None
    tts_ttfb: float | None
    e2e_latency: float | None
    # where the gap went (`models.TURN_PARTS`); None: not measured for this turn
    part_silence: float | None = None
    part_stt: float | None = None
    part_end_of_turn: float | None = None
    part_llm: float | None = None
    part_tts: float | None = None
    part_playout: float | None = None


@dataclass(frozen=True)
class CostPart:
    """One cost line of a call: a kind's usage of one model (a kind with none: one empty
    line, `model_name` "")."""

    usage_type: str
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    audio_seconds: float
    characters: int
    model_name: str = ""
    provider: str = ""  # the provider of that model, by name (provider_catalog)


@dataclass(frozen=True)
class CallDetail:
    call: CallSession
    agent_name: str | None
    agent_label: str
    summary: CallSummary | None
    turns: list[Turn]
    costs: list[CostPart]
    total_cost_usd: Decimal
    latency: list[LatencyPoint]


@dataclass(frozen=True)
class Count:
    label: str
    count: int


@dataclass(frozen=True)
class AgentLatency:
    agent_id: uuid.UUID | None
    agent_name: str | None
    turns: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class AgentTurnParts:
    """p50 and p95 (seconds) of each part of an agent's response gaps (`TURN_PARTS`)."""

    agent_id: uuid.UUID | None
    agent_name: str | None
    turns: int  # replies measured: the most that any one part was measured on
    parts: dict[str, tuple[float | None, float | None]]  # part -> (p50, p95)


@dataclass(frozen=True)
class AgentStatsRow:
    agent_id: uuid.UUID | None
    agent_name: str | None
    calls: int
    minutes: float
    cost_usd: Decimal
    average_rating: float | None
    resolution_rate: float | None


@dataclass(frozen=True)
class FilterOptions:
    agents: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    sentiments: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------- helpers


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.0001"))


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def today(tz: str, now: datetime | None = None) -> date:
    return rollups.local_day(now or utcnow(), tz)


def clamp_range(start: date, end: date) -> tuple[date, date]:
    """Order the two days and keep the range within `MAX_RANGE_DAYS`."""
    if end < start:
        start, end = end, start
    if (end - start).days >= MAX_RANGE_DAYS:
        start = end - timedelta(days=MAX_RANGE_DAYS - 1)
    return start, end


def _started() -> Any:
    return col(CallSession.started_at)


def _call_conditions(f: CallFilter) -> list[Any]:
    """WHERE conditions on `call_sessions` (and `call_summaries` for the outcome)."""
    conds: list[Any] = [kind_condition(f.kind)]
    if f.direction:
        conds.append(col(CallSession.direction) == f.direction)
    if f.number:
        conds.append(
            sa.or_(
                col(CallSession.customer_phone) == f.number,
                col(CallSession.called_number) == f.number,
            )
        )
    if f.agent_id is not None:
        conds.append(col(CallSession.agent_id) == f.agent_id)
    # A day at the calendar's ends bounds nothing (and its UTC time would overflow).
    if f.start is not None and f.start > date.min + timedelta(days=1):
        conds.append(_started() >= local_day_start(f.start, f.tz))
    if f.end is not None and f.end < date.max - timedelta(days=1):
        conds.append(_started() < local_day_start(f.end + timedelta(days=1), f.tz))
    if f.status:
        conds.append(col(CallSession.call_status) == f.status)
    if f.sentiment:
        conds.append(col(CallSession.customer_sentiment) == f.sentiment)
    if f.outcome:
        has_outcome = (
            select(sa.literal(1))
            .where(
                col(CallSummary.call_session_id) == col(CallSession.id),
                col(CallSummary.business_outcome) == f.outcome,
            )
            .correlate(CallSession)
        )
        conds.append(sa.exists(has_outcome))
    return conds


def _resolution(resolved: Any) -> Any:
    return sa.func.avg(sa.case((resolved.is_(True), 1.0), (resolved.is_(False), 0.0)))


def _costed_calls(filters: CallFilter, *extra: Any) -> Any:
    """The filtered calls with their cost, as a subquery: one pass for every aggregate."""
    return (
        select(
            col(CallSession.agent_id).label("agent_id"),
            col(CallSession.duration_seconds).label("seconds"),
            col(CallSession.call_rating).label("rating"),
            col(CallSession.issue_resolved).label("resolved"),
            call_cost().label("cost"),
            *extra,
        )
        .where(*_call_conditions(filters))
        .subquery()
    )


# ------------------------------------------------------------- rollup-backed


def _rolled(session: Session, filters: CallFilter) -> rollups.Summary | None:
    """The filtered calls' totals from the daily rollups, when the filter allows it.

    A date range (at most `MAX_RANGE_DAYS`), optionally one agent: the analytics
    page, the dashboard and the agent page. Any other filter reads the raw tables.
    """
    f = filters
    if f.start is None or f.end is None or f.status or f.sentiment or f.outcome:
        return None
    # The rollups hold voice calls of both directions, of every number.
    if f.kind != "voice" or f.direction or f.number:
        return None
    start, end = sorted((f.start, f.end))
    if (end - start).days >= MAX_RANGE_DAYS:
        return None
    return rollups.summarize(session, tz=f.tz, start=start, end=end, agent_id=f.agent_id)


def _stats_of(t: rollups.DayTotals) -> Stats:
    return Stats(
        calls=t.calls,
        minutes=round(t.seconds / 60.0, 2),
        cost_usd=_money(t.cost),
        average_rating=round(t.rating_sum / t.rating_n, 2) if t.rating_n else None,
        resolution_rate=round(t.resolved_yes / t.resolved_known, 4) if t.resolved_known else None,
    )


def _agent_names(session: Session, ids: Any) -> dict[uuid.UUID, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.exec(select(Agent.id, Agent.name).where(col(Agent.id).in_(wanted))).all()
    return {agent_id: name for agent_id, name in rows}


def _counts(counter: Any) -> list[Count]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Count(str(k), int(n)) for k, n in ranked if n]


def _name_order(name: str | None) -> tuple[bool, str]:
    return (name is None, name or "")  # deleted agents last, as PostgreSQL orders NULLs


def _agent_rows(session: Session, summary: rollups.Summary) -> list[AgentStatsRow]:
    names = _agent_names(session, summary.agents)
    rows = []
    for a, t in summary.agents.items():
        if not t.calls:
            continue
        s = _stats_of(t)
        rows.append(
            AgentStatsRow(
                agent_id=a,
                agent_name=names.get(a) if a else None,
                calls=s.calls,
                minutes=s.minutes,
                cost_usd=s.cost_usd,
                average_rating=s.average_rating,
                resolution_rate=s.resolution_rate,
            )
        )
    return sorted(rows, key=lambda r: (-r.calls, *_name_order(r.agent_name)))


def _latency_rows(session: Session, summary: rollups.Summary) -> list[AgentLatency]:
    agents = {a: t.latency for a, t in summary.agents.items() if t.latency.n}
    names = _agent_names(session, agents)
    rows = []
    for a, hist in agents.items():
        p50, p95 = rollups.percentile(hist, 0.5), rollups.percentile(hist, 0.95)
        rows.append(
            AgentLatency(
                agent_id=a,
                agent_name=names.get(a) if a else None,
                turns=hist.n,
                p50=round(p50, 4) if p50 is not None else None,
                p95=round(p95, 4) if p95 is not None else None,
            )
        )
    return sorted(rows, key=lambda r: _name_order(r.agent_name))


def _series_of(summary: rollups.Summary, start: date, end: date) -> list[DayPoint]:
    out = []
    for i in range((end - start).days + 1):
        d = start + timedelta(days=i)
        t = summary.days.get(d, rollups.DayTotals())
        out.append(
            DayPoint(
                day=d, calls=t.calls, minutes=round(t.seconds / 60.0, 2), cost_usd=_money(t.cost)
            )
        )
    return out


@dataclass(frozen=True)
class Overview:
    """Everything the analytics page shows for one range, from one read of the rollups."""

    stats: Stats
    series: list[DayPoint]
    sentiment: list[Count]
    outcomes: list[Count]
    agents: list[AgentStatsRow]
    latency: list[AgentLatency]
    turn_parts: list[AgentTurnParts]


def analytics_overview(*, session: Session, filters: CallFilter) -> Overview:
    """The analytics page's numbers for `filters.start`..`filters.end` (clamped)."""
    assert filters.start is not None and filters.end is not None, "a date range is required"
    start, end = clamp_range(filters.start, filters.end)
    f = dataclasses.replace(
        filters, start=start, end=end, status=None, sentiment=None, outcome=None
    )
    summary = _rolled(session, f)
    assert summary is not None
    return Overview(
        stats=_stats_of(summary.whole),
        series=_series_of(summary, start, end),
        sentiment=_counts(summary.whole.sentiments),
        outcomes=_counts(summary.whole.outcomes),
        agents=_agent_rows(session, summary),
        latency=_latency_rows(session, summary),
        turn_parts=turn_parts_by_agent(session=session, filters=f),
    )


# ------------------------------------------------------------------- dashboard


def call_stats(*, session: Session, filters: CallFilter) -> Stats:
    """Calls, minutes, cost, average rating and resolution rate of the filtered calls."""
    if (summary := _rolled(session, filters)) is not None:
        return _stats_of(summary.whole)
    calls = _costed_calls(filters)
    n, seconds, cost, rating, resolution = session.exec(
        select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(calls.c.seconds), 0.0),
            sa.func.coalesce(sa.func.sum(calls.c.cost), 0),
            sa.func.avg(calls.c.rating),
            _resolution(calls.c.resolved),
        ).select_from(calls)
    ).one()
    return Stats(
        calls=int(n or 0),
        minutes=round(float(seconds or 0) / 60.0, 2),
        cost_usd=_money(cost),
        average_rating=round(float(rating), 2) if rating is not None else None,
        resolution_rate=round(float(resolution), 4) if resolution is not None else None,
    )


def daily_series(*, session: Session, filters: CallFilter) -> list[DayPoint]:
    """Calls, minutes and cost per local day from `filters.start` to `filters.end`.

    Every day of the range is present (zero when there were no calls).
    """
    assert filters.start is not None and filters.end is not None, "a date range is required"
    start, end = clamp_range(filters.start, filters.end)
    f = dataclasses.replace(filters, start=start, end=end)
    if (summary := _rolled(session, f)) is not None:
        return _series_of(summary, start, end)
    calls = _costed_calls(f, day_bucket(session, start, end, f.tz).label("bucket"))
    rows = session.exec(
        select(
            calls.c.bucket,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(calls.c.seconds), 0.0),
            sa.func.coalesce(sa.func.sum(calls.c.cost), 0),
        )
        .select_from(calls)
        .group_by(calls.c.bucket)
    ).all()
    by_day = {int(b): (int(n), float(sec or 0), c) for b, n, sec, c in rows if b is not None}
    out = []
    for i in range((end - start).days + 1):
        n, seconds, cost = by_day.get(i, (0, 0.0, 0))
        out.append(
            DayPoint(
                day=start + timedelta(days=i),
                calls=n,
                minutes=round(seconds / 60.0, 2),
                cost_usd=_money(cost),
            )
        )
    return out


def latest_event_id(*, session: Session, stream: str) -> int:
    """The id of the newest event of `stream` (0 when none): where a live reader starts."""
    value = session.exec(select(sa.func.max(Event.id)).where(col(Event.stream) == stream)).one()
    return int(value or 0)


# ---------------------------------------------------------------------- agents


def _agent_search(query, search: str | None):
    if search and search.strip():
        term = search.strip().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        query = query.where(col(Agent.name).ilike(f"%{term}%", escape="\\"))
    return query


def count_agents(*, session: Session, search: str | None = None) -> int:
    """How many agents `agents_overview` pages through (for "25 to 48 of 60 agents")."""
    query = _agent_search(select(sa.func.count()).select_from(Agent), search)
    return int(session.exec(query).one())


def agents_overview(
    *, session: Session, search: str | None = None, limit: int = 200, offset: int = 0
) -> list[AgentRow]:
    """Agents (newest first) with how many calls each had and when the last one started."""
    per_agent = (
        select(
            col(CallSession.agent_id).label("agent_id"),
            sa.func.count().label("calls"),
            sa.func.max(CallSession.started_at).label("last_call_at"),
        )
        .where(col(CallSession.agent_id).is_not(None), kind_condition("voice"))
        .group_by(col(CallSession.agent_id))
        .subquery()
    )
    query = select(
        Agent,
        sa.func.coalesce(per_agent.c.calls, 0),
        sa.type_coerce(per_agent.c.last_call_at, UTCDateTime),
    ).outerjoin(per_agent, per_agent.c.agent_id == col(Agent.id))
    query = _agent_search(query, search)
    query = query.order_by(col(Agent.created_at).desc()).offset(offset).limit(limit)
    return [
        AgentRow(
            id=agent.id,
            name=agent.name or (agent.processed_spec or {}).get("name") or "Untitled agent",
            status=agent.status,
            error=agent.error,
            description=str((agent.processed_spec or {}).get("description") or ""),
            created_at=agent.created_at,
            calls=int(calls or 0),
            last_call_at=last,
        )
        for agent, calls, last in session.exec(query).all()
    ]


def agent_choices(*, session: Session, tz: str = "UTC") -> list[tuple[uuid.UUID, str]]:
    """(id, label) of every agent, by name: for pickers and filters.

    Agents may share a name (a duplicate keeps it until renamed); those labels get
    the creation time in `tz` ("Support (created 2026-11-25 14:03)") so a picker
    tells them apart, and the start of the id when even that is shared.
    """
    rows = session.exec(
        select(Agent.id, Agent.name, Agent.created_at).order_by(
            col(Agent.name), col(Agent.created_at)
        )
    ).all()
    names = [n or "Untitled agent" for _, n, _ in rows]
    counts = Counter(names)
    zone = ZoneInfo(tz)
    labels = [
        name if counts[name] == 1 else f"{name} (created {_local(created, zone)})"
        for (_, _, created), name in zip(rows, names, strict=True)
    ]
    same = Counter(labels)
    return [
        (i, label if same[label] == 1 else f"{label[:-1]}, #{i.hex[:6]})")
        for (i, _, _), label in zip(rows, labels, strict=True)
    ]


def _local(value: datetime, zone: ZoneInfo) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def filter_options(*, session: Session, tz: str = "UTC") -> FilterOptions:
    sentiments = session.exec(
        select(CallSession.customer_sentiment)
        .where(col(CallSession.customer_sentiment).is_not(None))
        .distinct()
        .order_by(col(CallSession.customer_sentiment))
    ).all()
    outcomes = session.exec(
        select(CallSummary.business_outcome)
        .where(col(CallSummary.business_outcome).is_not(None))
        .distinct()
        .order_by(col(CallSummary.business_outcome))
    ).all()
    return FilterOptions(
        agents=agent_choices(session=session, tz=tz),
        sentiments=[str(s) for s in sentiments],
        outcomes=[str(o) for o in outcomes],
    )


# ----------------------------------------------------------------------- calls


def list_calls(
    *, session: Session, filters: CallFilter, limit: int = 25, offset: int = 0
) -> CallPage:
    """One page of calls (newest first) and how many calls match in all."""
    conds = _call_conditions(filters)
    total = session.exec(select(sa.func.count()).select_from(CallSession).where(*conds)).one()
    page = (
        select(CallSession.id)
        .where(*conds)
        .order_by(_started().desc(), col(CallSession.id))
        .offset(max(0, offset))
        .limit(max(1, min(limit, 500)))
        .subquery()
    )
    turns = call_turns()
    cost = call_cost()
    rows = session.exec(
        select(CallSession, Agent.name, CallSummary.business_outcome, cost, turns)
        .join(page, page.c.id == col(CallSession.id))
        .outerjoin(Agent, col(Agent.id) == col(CallSession.agent_id))
        .outerjoin(CallSummary, col(CallSummary.call_session_id) == col(CallSession.id))
        .order_by(_started().desc(), col(CallSession.id))
    ).all()
    return CallPage(
        rows=[
            CallRow(
                id=c.id,
                agent_id=c.agent_id,
                agent_name=name,
                agent_label=agent_label(name, c.agent_id, c.primary_agent_type),
                kind=c.kind,
                direction=c.direction,
                customer_name=c.customer_name,
                started_at=c.started_at,
                duration_seconds=c.duration_seconds,
                status=c.call_status,
                sentiment=c.customer_sentiment,
                rating=c.call_rating,
                resolved=c.issue_resolved,
                outcome=outcome,
                cost_usd=_money(call_cost),
                turns=int(n or 0),
                customer_phone=c.customer_phone,
                called_number=c.called_number,
            )
            for c, name, outcome, call_cost, n in rows
        ],
        total=int(total or 0),
    )


def call_detail(*, session: Session, call_id: uuid.UUID) -> CallDetail | None:
    """Everything the call page shows, or None when there is no such call."""
    found = session.exec(
        select(CallSession, Agent.name)
        .outerjoin(Agent, col(Agent.id) == col(CallSession.agent_id))
        .where(col(CallSession.id) == call_id)
    ).first()
    if found is None:
        return None
    call, agent_name = found
    summary = session.exec(
        select(CallSummary).where(col(CallSummary.call_session_id) == call_id)
    ).first()
    turns = [
        Turn(
            turn_number=t.turn_number,
            speaker=t.speaker,
            transcript=t.transcript,
            agent_name=t.agent_name,
            function_called=t.function_called,
            timestamp=t.timestamp,
        )
        for t in session.exec(
            select(ConversationTurn)
            .where(col(ConversationTurn.call_session_id) == call_id)
            .order_by(col(ConversationTurn.turn_number))
        ).all()
    ]
    cost_rows = session.exec(
        select(
            TokenUsage.usage_type,
            TokenUsage.model_name,
            sa.func.coalesce(sa.func.sum(TokenUsage.total_cost_usd), 0),
            sa.func.coalesce(sa.func.sum(TokenUsage.input_tokens), 0),
            sa.func.coalesce(sa.func.sum(TokenUsage.output_tokens), 0),
            sa.func.coalesce(sa.func.sum(TokenUsage.audio_seconds), 0.0),
            sa.func.coalesce(sa.func.sum(TokenUsage.characters), 0),
        )
        .where(col(TokenUsage.call_session_id) == call_id)
        .group_by(col(TokenUsage.usage_type), col(TokenUsage.model_name))
        .order_by(col(TokenUsage.usage_type), col(TokenUsage.model_name))
    ).all()
    lines = [
        CostPart(
            usage_type=str(kind),
            cost_usd=_money(cost),
            input_tokens=int(i or 0),
            output_tokens=int(o or 0),
            audio_seconds=round(float(a or 0), 2),
            characters=int(ch or 0),
            model_name=str(model),
            provider=catalog.provider_label(str(kind), str(model)),
        )
        for kind, model, cost, i, o, a, ch in cost_rows
    ]
    rank = {k: n for n, k in enumerate(USAGE_TYPES)}
    present = {line.usage_type for line in lines}
    lines += [CostPart(k, _money(0), 0, 0, 0.0, 0) for k in USAGE_TYPES if k not in present]
    costs = sorted(lines, key=lambda c: rank.get(c.usage_type, len(rank)))
    latency = [
        LatencyPoint(
            turn_number=m.turn_number,
            end_of_utterance_delay=m.end_of_utterance_delay,
            transcription_delay=m.transcription_delay,
            llm_ttft=m.llm_ttft,
            tts_ttfb=m.tts_ttfb,
            e2e_latency=m.e2e_latency,
            **{part: getattr(m, part) for part in TURN_PARTS},
        )
        for m in session.exec(
            select(TurnMetric)
            .where(col(TurnMetric.call_session_id) == call_id)
            .order_by(col(TurnMetric.turn_number), col(TurnMetric.created_at))
        ).all()
    ]
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(TokenUsage.total_cost_usd), 0)).where(
            col(TokenUsage.call_session_id) == call_id
        )
    ).one()
    return CallDetail(
        call=call,
        agent_name=agent_name,
        agent_label=agent_label(agent_name, call.agent_id, call.primary_agent_type),
        summary=summary,
        turns=turns,
        costs=costs,
        total_cost_usd=_money(total),
        latency=latency,
    )


# ------------------------------------------------------------------- analytics


def sentiment_mix(*, session: Session, filters: CallFilter) -> list[Count]:
    if (summary := _rolled(session, filters)) is not None:
        return _counts(summary.whole.sentiments)
    rows = session.exec(
        select(CallSession.customer_sentiment, sa.func.count())
        .where(*_call_conditions(filters), col(CallSession.customer_sentiment).is_not(None))
        .group_by(col(CallSession.customer_sentiment))
        .order_by(sa.func.count().desc(), col(CallSession.customer_sentiment))
    ).all()
    return [Count(str(k), int(n)) for k, n in rows]


def outcome_mix(*, session: Session, filters: CallFilter) -> list[Count]:
    if (summary := _rolled(session, filters)) is not None:
        return _counts(summary.whole.outcomes)
    rows = session.exec(
        select(CallSummary.business_outcome, sa.func.count())
        .join(CallSession, col(CallSession.id) == col(CallSummary.call_session_id))
        .where(*_call_conditions(filters), col(CallSummary.business_outcome).is_not(None))
        .group_by(col(CallSummary.business_outcome))
        .order_by(sa.func.count().desc(), col(CallSummary.business_outcome))
    ).all()
    return [Count(str(k), int(n)) for k, n in rows]


def agent_table(*, session: Session, filters: CallFilter) -> list[AgentStatsRow]:
    """Per-agent calls, minutes, cost, rating and resolution rate (most calls first)."""
    if (summary := _rolled(session, filters)) is not None:
        return _agent_rows(session, summary)
    calls = _costed_calls(filters)
    per_agent = (
        select(
            calls.c.agent_id,
            sa.func.count().label("calls"),
            sa.func.coalesce(sa.func.sum(calls.c.seconds), 0.0).label("seconds"),
            sa.func.coalesce(sa.func.sum(calls.c.cost), 0).label("cost"),
            sa.func.avg(calls.c.rating).label("rating"),
            _resolution(calls.c.resolved).label("resolution"),
        )
        .group_by(calls.c.agent_id)
        .subquery()
    )
    rows = session.exec(
        select(
            per_agent.c.agent_id,
            Agent.name,
            per_agent.c.calls,
            per_agent.c.seconds,
            per_agent.c.cost,
            per_agent.c.rating,
            per_agent.c.resolution,
        )
        .outerjoin(Agent, col(Agent.id) == per_agent.c.agent_id)
        .order_by(per_agent.c.calls.desc(), col(Agent.name).asc().nulls_last())
    ).all()
    return [
        AgentStatsRow(
            agent_id=agent_id,
            agent_name=name,
            calls=int(n),
            minutes=round(float(seconds or 0) / 60.0, 2),
            cost_usd=_money(cost),
            average_rating=round(float(rating), 2) if rating is not None else None,
            resolution_rate=round(float(res), 4) if res is not None else None,
        )
        for agent_id, name, n, seconds, cost, rating, res in rows
    ]


def latency_by_agent(
    *, session: Session, filters: CallFilter, metric: str = "e2e_latency"
) -> list[AgentLatency]:
    """p50 and p95 of a per-turn latency (seconds) for each agent's calls.

    PostgreSQL uses `percentile_cont`; elsewhere the same continuous percentile
    (linear interpolation between the two nearest ranks) is computed with
    window functions, so both databases give the same numbers.
    """
    if metric not in LATENCY_FIELDS:
        raise ValueError(f"metric must be one of {LATENCY_FIELDS}")
    if metric == "e2e_latency" and (summary := _rolled(session, filters)) is not None:
        return _latency_rows(session, summary)
    value = getattr(TurnMetric.__table__.c, metric)
    conds = [*_call_conditions(filters), value.is_not(None)]
    agent = col(CallSession.agent_id)
    base_join = (TurnMetric.__table__, col(CallSession.id) == col(TurnMetric.call_session_id))
    if session.get_bind().dialect.name == "postgresql":
        # One ordered-set aggregate for both percentiles: one sort per agent.
        both = (
            sa.func.percentile_cont(sa.literal([0.5, 0.95], sa.ARRAY(sa.Float)))
            .within_group(value)
            .label("pcts")
        )
        grouped = (
            select(agent.label("agent_id"), sa.func.count().label("n"), both)
            .select_from(CallSession)
            .join(*base_join)
            .where(*conds)
            .group_by(agent)
            .subquery()
        )
        stats = select(
            grouped.c.agent_id,
            grouped.c.n,
            sa.type_coerce(grouped.c.pcts, sa.ARRAY(sa.Float))[1].label("p50"),
            sa.type_coerce(grouped.c.pcts, sa.ARRAY(sa.Float))[2].label("p95"),
        ).subquery()
    else:
        ranked = (
            select(
                agent.label("agent_id"),
                value.label("v"),
                (sa.func.row_number().over(partition_by=agent, order_by=value) - 1).label("rn"),
                sa.func.count().over(partition_by=agent).label("n"),
            )
            .select_from(CallSession)
            .join(*base_join)
            .where(*conds)
            .subquery()
        )

        def percentile(p: float) -> Any:
            pos = sa.literal(p) * (ranked.c.n - 1)
            lo = sa.cast(pos, sa.Integer)
            lo_v = sa.func.max(sa.case((ranked.c.rn == lo, ranked.c.v)))
            hi_v = sa.func.max(sa.case((ranked.c.rn == lo + 1, ranked.c.v)))
            frac = sa.func.max(pos - lo)
            return lo_v + (sa.func.coalesce(hi_v, lo_v) - lo_v) * frac

        stats = (
            select(
                ranked.c.agent_id,
                sa.func.max(ranked.c.n).label("n"),
                percentile(0.5).label("p50"),
                percentile(0.95).label("p95"),
            )
            .group_by(ranked.c.agent_id)
            .subquery()
        )
    rows = session.exec(
        select(stats.c.agent_id, Agent.name, stats.c.n, stats.c.p50, stats.c.p95)
        .outerjoin(Agent, col(Agent.id) == stats.c.agent_id)
        .order_by(col(Agent.name).asc().nulls_last())
    ).all()
    return [
        AgentLatency(
            agent_id=agent_id,
            agent_name=name,
            turns=int(n or 0),
            p50=round(float(p50), 4) if p50 is not None else None,
            p95=round(float(p95), 4) if p95 is not None else None,
        )
        for agent_id, name, n, p50, p95 in rows
    ]


def turn_parts_by_agent(*, session: Session, filters: CallFilter) -> list[AgentTurnParts]:
    """Where each agent's response gaps went: p50 and p95 of every `TURN_PARTS` part
    over the filtered calls' turns (`latency_by_agent` for each; a part never measured
    for an agent is (None, None)). Agents with no part measured are left out."""
    names: dict[uuid.UUID | None, str | None] = {}
    turns: Counter[uuid.UUID | None] = Counter()
    parts: dict[uuid.UUID | None, dict[str, tuple[float | None, float | None]]] = {}
    for part in TURN_PARTS:
        for r in latency_by_agent(session=session, filters=filters, metric=part):
            names[r.agent_id] = r.agent_name
            turns[r.agent_id] = max(turns[r.agent_id], r.turns)
            parts.setdefault(r.agent_id, dict.fromkeys(TURN_PARTS, (None, None)))
            parts[r.agent_id][part] = (r.p50, r.p95)
    order = sorted(names, key=lambda a: (names[a] is None, names[a] or ""))
    return [AgentTurnParts(a, names[a], turns[a], parts[a]) for a in order]


# -------------------------------------------------------------------- CSV export

CSV_COLUMNS = (
    "call_id",
    "started_at",
    "ended_at",
    "agent",
    "kind",
    "direction",
    "customer_name",
    "status",
    "duration_seconds",
    "rating",
    "sentiment",
    "resolved",
    "outcome",
    "category",
    "cost_usd",
    "summary",
    # Phone calls (empty for web calls and chats): who called whom, and how dialling went.
    "caller_number",
    "called_number",
    "dial_status",
    "sip_status_code",
    "sip_status_reason",
)
# A stored E.164 number: only digits after the "+", so no formula, and kept readable.
_E164_CELL = re.compile(r"^\+[1-9]\d{6,14}$")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def phone_cell(value: str | None) -> str:
    """A phone number's cell: E.164 as stored ("+1415..."), anything else escaped."""
    if value and _E164_CELL.match(value):
        return value
    return csv_cell(value)


def phone_ends(
    kind: str, direction: str, customer_phone: str | None, called: str | None, ours: str | None
) -> tuple[str | None, str | None]:
    """(caller, called) of a phone call: inbound, the customer rang our number; outbound,
    our number (the from-number's row) rang the customer. (None, None) off the phone."""
    if kind != "phone":
        return None, None
    if direction == "outbound":
        return ours, customer_phone or called
    return customer_phone, called or ours


def calls_csv(*, session: Session, filters: CallFilter, max_rows: int = CSV_MAX_ROWS) -> str:
    """The filtered calls as CSV (newest first, at most `max_rows`)."""
    cost = (
        select(sa.func.coalesce(sa.func.sum(TokenUsage.total_cost_usd), 0))
        .where(col(TokenUsage.call_session_id) == col(CallSession.id))
        .correlate(CallSession)
        .scalar_subquery()
    )
    rows = session.exec(
        select(
            CallSession.id,
            CallSession.started_at,
            CallSession.ended_at,
            Agent.name,
            CallSession.agent_id,
            CallSession.primary_agent_type,
            CallSession.kind,
            CallSession.direction,
            CallSession.customer_name,
            CallSession.call_status,
            CallSession.duration_seconds,
            CallSession.call_rating,
            CallSession.customer_sentiment,
            CallSession.issue_resolved,
            CallSummary.business_outcome,
            CallSummary.call_category,
            cost,
            CallSummary.summary_text,
            CallSession.customer_phone,
            CallSession.called_number,
            PhoneNumber.number,
            CallSession.dial_status,
            CallSession.sip_status_code,
            CallSession.sip_status_reason,
        )
        .outerjoin(Agent, col(Agent.id) == col(CallSession.agent_id))
        .outerjoin(CallSummary, col(CallSummary.call_session_id) == col(CallSession.id))
        .outerjoin(PhoneNumber, col(PhoneNumber.id) == col(CallSession.phone_number_id))
        .where(*_call_conditions(filters))
        .order_by(_started().desc(), col(CallSession.id))
        .limit(max_rows)
    ).all()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        call_id, started, ended, name, agent_id, agent_type, *rest = row
        customer_phone, called, ours, dial, code, reason = rest[-6:]
        cells = [call_id, started, ended, agent_label(name, agent_id, agent_type), *rest[:-6]]
        cells[14] = _money(cells[14])
        if cells[8] is not None:
            cells[8] = round(float(cells[8]), 1)
        caller, callee = phone_ends(cells[4], cells[5], customer_phone, called, ours)
        phone = [
            phone_cell(caller),
            phone_cell(callee),
            *(csv_cell(v) for v in (dial, code, reason)),
        ]
        writer.writerow([csv_cell(v) for v in cells] + phone)
    return buf.getvalue()
