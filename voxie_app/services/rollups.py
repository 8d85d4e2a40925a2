"""Daily rollups: per-agent call totals of settled local days, so long analytics ranges stay fast.

Why: a 90-day range on a busy install covers ~25k calls and ~250k per-turn
latency rows. Summing each call's cost and sorting every latency for
percentiles on each page view took 100-400 ms on PostgreSQL with 100k calls
(`bench.bench_dashboard`). A day that is over does not change, so its totals
are computed once and stored per agent; a range then reads at most
days x agents small rows and computes only its unsettled days (today, days
with a call still active) from the raw tables.

- Settled: the local day (zone `tz`) ended more than `SETTLE_MARGIN` ago and no
  call that started in it is still live (active and heard from recently).
  Settled days are computed on first read and stored (`rollup_days` + `rollup_agent_days`).
- Invalidated: a `before_flush` hook (installed when `voxie_app.services` is
  imported) deletes the stored day of every call whose row, summary, usage or
  latency changes, and every stored day of a deleted agent, inside the same
  transaction as the change. It also bumps `rollup_state.version`; a reader
  stores what it computed only if the version did not move while it read, so a
  write racing the computation never leaves a stale day behind. A change to a
  call row that started in the last `SETTLE_MARGIN / 2` skips both: its day cannot
  be settled yet, and skipping keeps call starts and ends (many at once in a
  campaign) from queueing on the one state row.
- Latency: each agent-day keeps a histogram of end-to-end turn latency with
  log-spaced bins 1% wide (`bin_of`), stored as packed counts over the span of
  bins in use and merged across days with numpy; the p50/p95 read from it are
  within 1% of the exact percentiles (`percentile`).

Writes the recorder makes during a live call (usage totals, per-turn latency)
mark their session `LIVE_CALL_WRITE`: an active call's day is never settled,
and the call's end (a change to its row) invalidates its day afterwards.

The rollups hold voice calls (kinds web and phone, both directions): text
chats (kind chat) are left out, as every default count leaves them out, and a
report that asks for chats or one direction reads the raw tables.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app.dbtypes import UTCDateTime, utcnow
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
from voxie_app.services.analytics import call_cost
from voxie_app.services.call_kinds import kind_condition
from voxie_app.settings import get_settings

log = logging.getLogger(__name__)

SETTLE_MARGIN = timedelta(minutes=10)  # clock skew between the app and the worker
BIN_BASE = 0.001  # seconds: bin 0 holds every latency up to 1 ms
BIN_RATIO = 1.01  # each bin is 1% wider than the last
_LN_RATIO = math.log(BIN_RATIO)
LIVE_CALL_WRITE = "voxie.live_call_write"

Key = tuple[date, uuid.UUID | None]


def _raw_bin(seconds: float) -> int:
    return max(0, math.floor(math.log(max(seconds, BIN_BASE) / BIN_BASE) / _LN_RATIO))


MAX_BIN = _raw_bin(600.0)  # latencies of ten minutes or more share the last bin


@dataclass
class Hist:
    """Counts per latency bin, `counts[i]` for bin `offset + i` (only the span in use)."""

    offset: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def merged(cls, parts: Iterable[Hist]) -> Hist:
        """One histogram from many, each added into a single new array."""
        used = [p for p in parts if p.counts.size]
        if not used:
            return cls()
        lo = min(p.offset for p in used)
        counts = np.zeros(max(p.offset + p.counts.size for p in used) - lo, dtype=np.int64)
        for p in used:
            counts[p.offset - lo : p.offset - lo + p.counts.size] += p.counts
        return cls(lo, counts)

    def add(self, other: Hist) -> None:
        total = Hist.merged((self, other))
        self.offset, self.counts = total.offset, total.counts

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def of(cls, bins: dict[int, int]) -> Hist:
        if not bins:
            return cls()
        lo, hi = min(bins), max(bins)
        counts = np.zeros(hi - lo + 1, dtype=np.int64)
        for b, n in bins.items():
            counts[b - lo] += n
        return cls(lo, counts)

    def to_bytes(self) -> bytes:
        return self.counts.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, offset: int, data: bytes | None) -> Hist:
        if not data:
            return cls()
        return cls(offset, np.frombuffer(data, dtype="<u4"))  # read-only; merges copy

    def _span(self) -> tuple[int, tuple[int, ...]]:
        """(first bin, counts up to the last) without the empty bins at either end."""
        used = np.flatnonzero(self.counts)
        if not used.size:
            return 0, ()
        first, last = int(used[0]), int(used[-1])
        return self.offset + first, tuple(int(c) for c in self.counts[first : last + 1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hist):
            return NotImplemented
        return self._span() == other._span()


@dataclass
class DayTotals:
    """One agent's totals for one local day (or any sum of them)."""

    calls: int = 0
    seconds: float = 0.0
    cost: Decimal = Decimal(0)
    rating_sum: float = 0.0
    rating_n: int = 0
    resolved_yes: int = 0
    resolved_known: int = 0
    sentiments: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    latency: Hist = field(default_factory=Hist)

    def add(self, other: DayTotals, *, mixes: bool = True, latency: bool = True) -> None:
        """Add `other` in; the label mixes and the histogram only when asked (they cost most)."""
        self.calls += other.calls
        self.seconds += other.seconds
        self.cost += other.cost
        self.rating_sum += other.rating_sum
        self.rating_n += other.rating_n
        self.resolved_yes += other.resolved_yes
        self.resolved_known += other.resolved_known
        if mixes:
            self.sentiments.update(other.sentiments)
            self.outcomes.update(other.outcomes)
        if latency:
            self.latency.add(other.latency)


# ------------------------------------------------------------------- calendar


def local_day_start(day: date, tz: str) -> datetime:
    """Midnight of `day` in zone `tz`, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))


def local_day(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


def day_bucket(session: Session, start: date, end: date, tz: str) -> Any:
    """Each call's local day as an index (0 = `start`).

    PostgreSQL converts with `AT TIME ZONE` (IANA rules, DST included); other
    databases get a CASE over the UTC boundaries of each local day.
    """
    started = col(CallSession.started_at)
    if session.get_bind().dialect.name == "postgresql":
        as_local = sa.cast(sa.func.timezone(tz, started), sa.Date)
        return as_local - sa.cast(sa.literal(start.isoformat()), sa.Date)
    whens = []
    for i in range((end - start).days + 1):
        upper = local_day_start(start + timedelta(days=i + 1), tz)
        whens.append((started < sa.literal(upper, UTCDateTime), i))
    return sa.case(*whens, else_=None)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _runs(days: Iterable[date]) -> Iterator[tuple[date, date]]:
    """Consecutive days grouped into (first, last) runs."""
    run: list[date] = []
    for d in sorted(days):
        if run and d != run[-1] + timedelta(days=1):
            yield run[0], run[-1]
            run = []
        run.append(d)
    if run:
        yield run[0], run[-1]


# ------------------------------------------------------------------ histogram


def bin_of(seconds: float) -> int:
    """The histogram bin of a latency (the same rule as the SQL in `compute`)."""
    return min(MAX_BIN, _raw_bin(seconds))


def _bin_sql(value: Any) -> Any:
    clamped = sa.case((value < BIN_BASE, BIN_BASE), else_=value)
    raw = sa.cast(sa.func.floor(sa.func.ln(clamped / BIN_BASE) / _LN_RATIO), sa.Integer)
    return sa.case((raw > MAX_BIN, MAX_BIN), else_=raw)


def percentile(hist: Hist, p: float) -> float | None:
    """The continuous percentile (as PostgreSQL's `percentile_cont`) of a histogram.

    Ranks are spread evenly through their bin on a log scale; the answer is
    within one bin (1%) of the exact value.
    """
    n = hist.n
    if n == 0:
        return None
    cum = np.cumsum(hist.counts)
    pos = p * (n - 1)
    lo = math.floor(pos)

    def value_at(rank: int) -> float:
        i = int(np.searchsorted(cum, rank, side="right"))
        before = int(cum[i - 1]) if i else 0
        frac = (rank - before + 0.5) / int(hist.counts[i])
        return BIN_BASE * BIN_RATIO ** (hist.offset + i + frac)

    low = value_at(lo)
    if pos == lo:
        return low
    return low + (value_at(lo + 1) - low) * (pos - lo)


# ------------------------------------------------------------------- computing


def compute(session: Session, *, tz: str, start: date, end: date) -> dict[Key, DayTotals]:
    """Every agent's totals for each local day from `start` to `end`, from the raw tables."""
    lo, hi = local_day_start(start, tz), local_day_start(end + timedelta(days=1), tz)
    started = col(CallSession.started_at)
    in_range = (started >= lo, started < hi, kind_condition("voice"))  # chats are not calls
    out: dict[Key, DayTotals] = {}
    conn = session.connection()  # Core rows: lighter than ORM results for these aggregates

    def totals(bucket: Any, agent_id: Any) -> DayTotals:
        key = (start + timedelta(days=int(bucket)), agent_id)
        if (t := out.get(key)) is None:
            t = out[key] = DayTotals()
        return t

    def grouped(
        *cols: Any, join: Any = None, outer: bool = False, where: tuple[Any, ...] = ()
    ) -> Any:
        # The bucket is computed in a subquery and grouped outside it, so the
        # GROUP BY never repeats an expression with bound parameters.
        inner = select(
            day_bucket(session, start, end, tz).label("bucket"),
            col(CallSession.agent_id).label("agent_id"),
            *cols,
        ).select_from(CallSession)
        if join is not None:
            inner = inner.join(*join, isouter=outer)
        return inner.where(*in_range, *where).subquery()

    # 1. The calls, grouped by day, agent, sentiment and outcome (a call has at
    #    most one summary): every scalar and both mixes in one query.
    resolved = col(CallSession.issue_resolved)
    calls = grouped(
        col(CallSession.duration_seconds).label("seconds"),
        col(CallSession.call_rating).label("rating"),
        sa.case((resolved.is_(True), 1), else_=0).label("yes"),
        sa.case((resolved.is_not(None), 1), else_=0).label("known"),
        call_cost().label("cost"),
        col(CallSession.customer_sentiment).label("sentiment"),
        col(CallSummary.business_outcome).label("outcome"),
        join=(CallSummary, col(CallSummary.call_session_id) == col(CallSession.id)),
        outer=True,
    )
    for bucket, agent_id, mood, outcome, n, seconds, cost, r_sum, r_n, yes, known in conn.execute(
        select(
            calls.c.bucket,
            calls.c.agent_id,
            calls.c.sentiment,
            calls.c.outcome,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(calls.c.seconds), 0.0),
            sa.func.coalesce(sa.func.sum(calls.c.cost), 0),
            sa.func.coalesce(sa.func.sum(calls.c.rating), 0),
            sa.func.count(calls.c.rating),
            sa.func.coalesce(sa.func.sum(calls.c.yes), 0),
            sa.func.coalesce(sa.func.sum(calls.c.known), 0),
        )
        .where(calls.c.bucket.is_not(None))
        .group_by(calls.c.bucket, calls.c.agent_id, calls.c.sentiment, calls.c.outcome)
    ):
        t = totals(bucket, agent_id)
        t.calls += int(n)
        t.seconds += float(seconds or 0)
        t.cost += Decimal(str(cost or 0))
        t.rating_sum += float(r_sum or 0)
        t.rating_n += int(r_n)
        t.resolved_yes += int(yes)
        t.resolved_known += int(known)
        if mood is not None:
            t.sentiments[mood] += int(n)
        if outcome is not None:
            t.outcomes[outcome] += int(n)

    # 2. Per-turn latency, counted per histogram bin.
    e2e = col(TurnMetric.e2e_latency)
    latency = grouped(
        _bin_sql(e2e).label("bin"),
        join=(TurnMetric, col(TurnMetric.call_session_id) == col(CallSession.id)),
        where=(e2e.is_not(None),),
    )
    bins: dict[Key, dict[int, int]] = {}
    for bucket, agent_id, b, n in conn.execute(
        select(latency.c.bucket, latency.c.agent_id, latency.c.bin, sa.func.count())
        .where(latency.c.bucket.is_not(None))
        .group_by(latency.c.bucket, latency.c.agent_id, latency.c.bin)
    ):
        key = (start + timedelta(days=int(bucket)), agent_id)
        bins.setdefault(key, {})[int(b)] = int(n)
    for key, counts in bins.items():
        if key in out:  # turns of a call always come with the call's row
            out[key].latency = Hist.of(counts)
    return out


# --------------------------------------------------------------------- reading


@dataclass
class Summary:
    """A range's totals three ways: per day, per agent (with the latency histogram), whole."""

    days: dict[date, DayTotals] = field(default_factory=dict)
    agents: dict[uuid.UUID | None, DayTotals] = field(default_factory=dict)
    whole: DayTotals = field(default_factory=DayTotals)

    def add(self, key: Key, t: DayTotals) -> None:
        d, agent_id = key
        self.days.setdefault(d, DayTotals()).add(t, mixes=False, latency=False)
        self.agents.setdefault(agent_id, DayTotals()).add(t, mixes=False)
        self.whole.add(t, latency=False)


def summarize(
    session: Session,
    *,
    tz: str,
    start: date,
    end: date,
    agent_id: uuid.UUID | None = None,
    now: datetime | None = None,
    live_after: datetime | None = None,
) -> Summary:
    """Totals of the calls started `start`..`end` (local days, inclusive), optionally one agent's.

    Stored days are summed by the database; settled days missing from the
    store are computed and stored (in a transaction of their own); unsettled
    days are computed and not stored. A call counts as live (its day
    unsettled) while it is active and was heard from after `live_after`
    (default: within `VOXIE_ABANDONED_AFTER_SECONDS`); an older active call is
    one the reconciler will end, and ending it invalidates its day.
    """
    now = now or utcnow()
    days = _days(start, end)
    lo, hi = local_day_start(start, tz), local_day_start(end + timedelta(days=1), tz)
    version = session.exec(select(RollupState.version).where(RollupState.id == 1)).first()
    if live_after is None:
        live_after = now - timedelta(seconds=get_settings().abandoned_after_seconds)
    last_heard = sa.func.coalesce(col(CallSession.last_activity_at), col(CallSession.started_at))
    live = {
        local_day(at, tz)
        for at in session.exec(
            select(CallSession.started_at).where(
                col(CallSession.call_status) == "active",
                kind_condition("voice"),
                col(CallSession.started_at) >= lo,
                col(CallSession.started_at) < hi,
                last_heard >= live_after,
            )
        ).all()
    }
    settled = {
        d
        for d in days
        if d not in live and local_day_start(d + timedelta(days=1), tz) <= now - SETTLE_MARGIN
    }
    stored = set(
        session.exec(
            select(RollupDay.day).where(
                RollupDay.tz == tz, col(RollupDay.day) >= start, col(RollupDay.day) <= end
            )
        ).all()
    )
    out = Summary()
    if usable := stored & settled:
        _sum_stored(session, out, tz=tz, days=usable, skip=stored - usable, agent_id=agent_id)

    missing = settled - stored
    fresh: dict[Key, DayTotals] = {}
    for first, last in _runs(missing):
        fresh.update(compute(session, tz=tz, start=first, end=last))
    if missing and version is not None:
        _store(session, tz=tz, days=missing, totals=fresh, version=version)
    for first, last in _runs(set(days) - settled):
        fresh.update(compute(session, tz=tz, start=first, end=last))
    for key, t in fresh.items():
        if agent_id is None or key[1] == agent_id:
            out.add(key, t)
    return out


_SCALARS = (
    "calls",
    "seconds",
    "cost_usd",
    "rating_sum",
    "rating_n",
    "resolved_yes",
    "resolved_known",
)


def _scalars(values: Any) -> DayTotals:
    calls, seconds, cost, rating_sum, rating_n, yes, known = values
    return DayTotals(
        calls=int(calls or 0),
        seconds=float(seconds or 0),
        cost=Decimal(str(cost or 0)),
        rating_sum=float(rating_sum or 0),
        rating_n=int(rating_n or 0),
        resolved_yes=int(yes or 0),
        resolved_known=int(known or 0),
    )


def _day_filter(table: Any, *, tz: str, days: set[date], skip: set[date]) -> list[Any]:
    """Rows of a rollup table for `days` (a span, less the stored days in `skip`)."""
    where = [table.c.tz == tz, table.c.day >= min(days), table.c.day <= max(days)]
    if skip:
        where.append(table.c.day.not_in(sorted(skip)))
    return where


def _sum_stored(
    session: Session,
    out: Summary,
    *,
    tz: str,
    days: set[date],
    skip: set[date],
    agent_id: uuid.UUID | None,
) -> None:
    """Add the stored rows of `days` into `out`, summed by the database (a few small queries).

    `skip`: stored days within the span that must not be read (no longer settled).
    """
    rows = RollupAgentDay.__table__  # type: ignore[attr-defined]
    where = _day_filter(rows, tz=tz, days=days, skip=skip)
    if agent_id is not None:
        where.append(rows.c.agent_id == agent_id)
    sums = [sa.func.sum(rows.c[name]) for name in _SCALARS]
    conn = session.connection()
    for d, *values in conn.execute(sa.select(rows.c.day, *sums).where(*where).group_by(rows.c.day)):
        out.days.setdefault(d, DayTotals()).add(_scalars(values), mixes=False, latency=False)
    for agent, *values in conn.execute(
        sa.select(rows.c.agent_id, *sums).where(*where).group_by(rows.c.agent_id)
    ):
        out.agents.setdefault(agent, DayTotals()).add(_scalars(values), mixes=False)
    for t in out.days.values():
        out.whole.add(t, mixes=False, latency=False)
    labels = RollupLabelCount.__table__  # type: ignore[attr-defined]
    label_where = _day_filter(labels, tz=tz, days=days, skip=skip)
    if agent_id is not None:
        label_where += [labels.c.all_agents.is_(False), labels.c.agent_id == agent_id]
    else:
        label_where.append(labels.c.all_agents.is_(True))
    for kind, label, n in conn.execute(
        sa.select(labels.c.kind, labels.c.label, sa.func.sum(labels.c.calls))
        .where(*label_where)
        .group_by(labels.c.kind, labels.c.label)
    ):
        if kind in ("sentiments", "outcomes"):
            getattr(out.whole, kind)[str(label)] += int(n)
    days_of: dict[uuid.UUID | None, list[Hist]] = {}
    for agent, offset, counts in conn.execute(
        sa.select(rows.c.agent_id, rows.c.latency_offset, rows.c.latency_counts).where(
            *where, sa.func.length(rows.c.latency_counts) > 0
        )
    ):
        days_of.setdefault(agent, []).append(Hist.from_bytes(offset, counts))
    for agent, hists in days_of.items():  # one merge per agent, not one per day
        out.agents.setdefault(agent, DayTotals()).latency.add(Hist.merged(hists))


def _store(
    session: Session, *, tz: str, days: set[date], totals: dict[Key, DayTotals], version: int
) -> bool:
    """Store computed settled days unless an invalidation happened since `version` was read.

    Runs in its own transaction (the reader's may be a read snapshot SQLite
    cannot upgrade). The no-op UPDATE locks the state row, so an invalidation
    either committed before (the version moved: nothing is stored) or waits
    until this commits (and then deletes what was stored).
    """
    state = RollupState.__table__  # type: ignore[attr-defined]
    day_rows = RollupDay.__table__  # type: ignore[attr-defined]
    try:
        with session.get_bind().connect() as conn, conn.begin():  # Core: thousands of rows
            conn.execute(sa.update(state).where(state.c.id == 1).values(version=state.c.version))
            now_version = conn.execute(
                sa.select(state.c.version).where(state.c.id == 1)
            ).scalar_one()
            if now_version != version:
                return False
            present = set(
                conn.execute(
                    sa.select(day_rows.c.day).where(
                        day_rows.c.tz == tz, day_rows.c.day.in_(sorted(days))
                    )
                ).scalars()
            )
            new_days = sorted(days - present)
            if not new_days:
                return True
            at = utcnow()
            conn.execute(
                sa.insert(day_rows),
                [
                    {
                        "tz": tz,
                        "day": d,
                        "starts_at": local_day_start(d, tz),
                        "ends_at": local_day_start(d + timedelta(days=1), tz),
                        "computed_at": at,
                    }
                    for d in new_days
                ],
            )
            agent_rows, label_rows = [], []
            whole: dict[date, DayTotals] = {}
            for (d, agent), t in totals.items():
                if d in days and d not in present:
                    agent_rows.append(_agent_row(tz, d, agent, t))
                    label_rows += _label_rows(tz, d, agent, t, all_agents=False)
                    whole.setdefault(d, DayTotals()).add(t, latency=False)
            for d, t in whole.items():
                label_rows += _label_rows(tz, d, None, t, all_agents=True)
            if agent_rows:
                conn.execute(sa.insert(RollupAgentDay.__table__), agent_rows)  # type: ignore[attr-defined]
            if label_rows:
                conn.execute(sa.insert(RollupLabelCount.__table__), label_rows)  # type: ignore[attr-defined]
            return True
    except sa.exc.SQLAlchemyError as exc:  # a cache: the computed numbers are still returned
        log.warning("could not store analytics rollups: %s", exc)
        return False


def _label_rows(
    tz: str, d: date, agent_id: uuid.UUID | None, t: DayTotals, *, all_agents: bool
) -> list[dict[str, Any]]:
    return [
        {
            "tz": tz,
            "day": d,
            "agent_id": agent_id,
            "all_agents": all_agents,
            "kind": kind,
            "label": label,
            "calls": n,
        }
        for kind in ("sentiments", "outcomes")
        for label, n in getattr(t, kind).items()
        if n
    ]


def _agent_row(tz: str, d: date, agent_id: uuid.UUID | None, t: DayTotals) -> dict[str, Any]:
    return {
        "tz": tz,
        "day": d,
        "agent_id": agent_id,
        "calls": t.calls,
        "seconds": t.seconds,
        "cost_usd": t.cost,
        "rating_sum": t.rating_sum,
        "rating_n": t.rating_n,
        "resolved_yes": t.resolved_yes,
        "resolved_known": t.resolved_known,
        "latency_offset": t.latency.offset,
        "latency_counts": t.latency.to_bytes(),
    }


# ---------------------------------------------------------------- invalidation


def _invalidate_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Delete the stored days a flush is about to change (see the module docstring)."""
    times: set[datetime] = set()
    call_ids: set[uuid.UUID] = set()
    agents: set[uuid.UUID] = set()
    live = bool(session.info.get(LIVE_CALL_WRITE))
    for obj in chain(session.new, session.dirty, session.deleted):
        if obj in session.dirty and not session.is_modified(obj):
            continue
        if isinstance(obj, CallSession):
            times.update(t for t in (obj.started_at,) if t is not None)
            history = sa.inspect(obj).attrs.started_at.history
            times.update(t for t in history.deleted or () if t is not None)
        elif isinstance(obj, CallSummary) or (
            isinstance(obj, TokenUsage | TurnMetric) and not live
        ):
            if obj.call_session_id is not None:
                call_ids.add(obj.call_session_id)
        elif isinstance(obj, Agent) and obj in session.deleted:
            agents.add(obj.id)
    # A call that started within the last few minutes lies in a day no reader can
    # be storing (a day settles SETTLE_MARGIN after it ends, and this one has not
    # ended), so it needs neither the delete nor the bump of the one state row that
    # every such write would otherwise queue on. Half the margin allows for clocks
    # that differ by up to that much between processes.
    recent = utcnow() - SETTLE_MARGIN / 2
    times = {t for t in times if t < recent}
    if not (times or call_ids or agents):
        return
    days = RollupDay.__table__  # type: ignore[attr-defined]
    conds: list[Any] = [
        sa.and_(days.c.starts_at <= sa.literal(t, UTCDateTime), days.c.ends_at > t) for t in times
    ]
    if call_ids:
        calls = CallSession.__table__  # type: ignore[attr-defined]
        conds.append(
            sa.exists(
                sa.select(sa.literal(1))
                .select_from(calls)
                .where(
                    calls.c.id.in_(call_ids),
                    calls.c.started_at >= days.c.starts_at,
                    calls.c.started_at < days.c.ends_at,
                )
            )
        )
    if agents:
        rows = RollupAgentDay.__table__  # type: ignore[attr-defined]
        conds.append(
            sa.exists(
                sa.select(sa.literal(1))
                .select_from(rows)
                .where(
                    rows.c.tz == days.c.tz,
                    rows.c.day == days.c.day,
                    rows.c.agent_id.in_(agents),
                )
            )
        )
    state = RollupState.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    conn.execute(sa.update(state).where(state.c.id == 1).values(version=state.c.version + 1))
    conn.execute(sa.delete(days).where(sa.or_(*conds)))


def install() -> None:
    """Register the invalidation hook once for every session of the process."""
    if not sa.event.contains(Session, "before_flush", _invalidate_on_flush):
        sa.event.listen(Session, "before_flush", _invalidate_on_flush)


def fill(session: Session, *, tz: str, days: int = 90, now: datetime | None = None) -> int:
    """Compute and store the settled days of the last `days` days that are missing.

    Run at start (`python -m voxie_app.manage rollups`) so the first analytics
    view after an upgrade or a quiet night does not pay for it. Returns how
    many days were stored.
    """
    end = local_day(now or utcnow(), tz)
    start = end - timedelta(days=days - 1)

    def count() -> int:
        return session.exec(
            select(sa.func.count())
            .select_from(RollupDay)
            .where(RollupDay.tz == tz, col(RollupDay.day) >= start, col(RollupDay.day) <= end)
        ).one()

    before = count()
    summarize(session, tz=tz, start=start, end=end, now=now)
    session.commit()  # end the read snapshot so the count sees what was just stored
    return count() - before
