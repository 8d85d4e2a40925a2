"""`/analytics`: a date range; daily calls, minutes and cost; mixes; latency; per agent; CSV."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.services import date_range, reports
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState
from voxie_app.state.call_detail import PART_SERIES
from voxie_app.state.calls import parse_day

DEFAULT_DAYS = 30
PRESETS = (7, 30, 90)


def preset_days(days: object) -> int | None:
    """The preset a client chose ("7", ["30"]...), or None; compared as text, never int()'d.

    (`"²".isdigit()` is true and `int("²")` raises, as does a 5,000-digit string.)
    """
    days = days[0] if isinstance(days, list) and days else days
    return next((p for p in PRESETS if days == str(p)), None)


OUTCOME_COLORS = ["violet", "cyan", "amber", "grass", "crimson", "blue", "orange", "teal"]


def fetch_analytics(start: date, end: date, tz: str) -> dict[str, Any]:
    """Every number the analytics page shows, formatted (runs in a worker thread)."""
    with session_scope() as session:
        o = reports.analytics_overview(
            session=session, filters=reports.CallFilter(start=start, end=end, tz=tz)
        )
    stats, series, sentiment, outcomes, table, latency = (
        o.stats,
        o.series,
        o.sentiment,
        o.outcomes,
        o.agents,
        o.latency,
    )
    lat = {r.agent_id: r for r in latency}
    return {
        "stats": {
            "calls": fmt.number(stats.calls),
            "minutes": fmt.minutes(stats.minutes),
            "cost": fmt.money(stats.cost_usd),
            "rating": fmt.rating(stats.average_rating),
            "resolution": fmt.percent(stats.resolution_rate),
        },
        "total_calls": stats.calls,
        "series": [
            {
                "day": fmt.day_label(p.day),
                "calls": p.calls,
                "minutes": round(p.minutes, 1),
                "cost": float(p.cost_usd),
            }
            for p in series
        ],
        "sentiment": [
            {
                "name": fmt.label(c.label),
                "value": c.count,
                "fill": f"var(--{fmt.sentiment_color(c.label)}-9)",
            }
            for c in sentiment
        ],
        "outcomes": [{"name": fmt.label(c.label), "calls": c.count} for c in outcomes],
        "latency": [
            {
                "agent": r.agent_name or reports.NO_AGENT_LABEL,
                "p50": round((r.p50 or 0) * 1000),
                "p95": round((r.p95 or 0) * 1000),
            }
            for r in latency
        ],
        "turn_parts": [
            {
                "agent": r.agent_name or reports.NO_AGENT_LABEL,
                "turns": fmt.number(r.turns),
                **{key: fmt.p50_p95_ms(*r.parts[key]) for key, _ in PART_SERIES},
            }
            for r in o.turn_parts
        ],
        "agents": [
            {
                "agent": r.agent_name or reports.NO_AGENT_LABEL,
                "calls": fmt.number(r.calls),
                "minutes": fmt.minutes(r.minutes),
                "cost": fmt.money(r.cost_usd),
                "rating": fmt.rating(r.average_rating),
                "resolution": fmt.percent(r.resolution_rate),
                "p50": fmt.seconds(lat[r.agent_id].p50) if r.agent_id in lat else "—",
                "p95": fmt.seconds(lat[r.agent_id].p95) if r.agent_id in lat else "—",
            }
            for r in table
        ],
    }


class AnalyticsState(AppState):
    # What the date fields show (possibly a refused value, with its message) ...
    start: str = ""
    end: str = ""
    start_error: str = ""
    end_error: str = ""
    # ... and what the page shows: the last accepted range, and what was trimmed.
    _shown_start: str = ""
    _shown_end: str = ""
    range_notes: list[str] = []
    today: str = ""
    preset: str = str(DEFAULT_DAYS)
    loaded: bool = False
    stats: dict[str, str] = {}
    total_calls: int = 0
    series: list[dict[str, Any]] = []
    sentiment: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    turn_parts: list[dict[str, str]] = []
    agents: list[dict[str, str]] = []
    exporting: bool = False

    def _range(self) -> tuple[date, date]:
        """The range on screen (the CSV exports exactly what the charts show)."""
        today = reports.today(self._tz())
        start = parse_day(self._shown_start) or today - timedelta(days=DEFAULT_DAYS - 1)
        end = parse_day(self._shown_end) or today
        return start, end

    async def _apply(self, start: date, end: date, edited: date_range.Field = "start"):
        """Show `start`..`end` if the rule accepts it, else say why next to the field."""
        today = reports.today(self._tz())
        self.today = today.isoformat()
        self.start_error = self.end_error = ""
        try:
            shown = date_range.resolve(start, end, today=today, edited=edited)
        except date_range.RangeRefused as exc:
            setattr(self, f"{exc.field}_error", exc.message)
            return None
        self.range_notes = list(shown.notes)
        self.start, self.end = shown.start.isoformat(), shown.end.isoformat()
        self._shown_start, self._shown_end = self.start, self.end
        return await self._refresh()

    async def _refresh(self):
        start, end = self._range()
        try:
            data = await asyncio.to_thread(fetch_analytics, start, end, self._tz())
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        for key, value in data.items():
            setattr(self, key, value)
        self.loaded = True
        return None

    @rx.event
    @guard.viewer
    async def load(self):
        if not self._shown_start:
            return await self.set_preset(str(DEFAULT_DAYS))
        start, end = self._range()
        return await self._apply(start, end)

    @rx.event
    @guard.viewer
    async def set_preset(self, days: str | list[str]):
        number = preset_days(days)
        if number is None:
            return None
        today = reports.today(self._tz())
        self.preset = str(number)
        return await self._apply(today - timedelta(days=number - 1), today)

    @rx.event
    @guard.viewer
    async def set_start(self, value: str):
        self.start, self.preset = value, ""
        day = parse_day(value)
        if day is None:
            self.start_error = "Enter a date as YYYY-MM-DD."
            return None
        return await self._apply(day, parse_day(self.end) or self._range()[1], "start")

    @rx.event
    @guard.viewer
    async def set_end(self, value: str):
        self.end, self.preset = value, ""
        day = parse_day(value)
        if day is None:
            self.end_error = "Enter a date as YYYY-MM-DD."
            return None
        return await self._apply(parse_day(self.start) or self._range()[0], day, "end")

    @rx.event
    @guard.viewer
    async def export_csv(self):
        start, end = self._range()
        f = reports.CallFilter(start=start, end=end, tz=self._tz())

        def build() -> str:
            with session_scope() as session:
                return reports.calls_csv(session=session, filters=f)

        try:
            text = await asyncio.to_thread(build)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        return rx.download(
            data=text,
            filename=f"voxie-calls-{start.isoformat()}-to-{end.isoformat()}.csv",
            mime_type="text/csv",
        )
