"""Dashboard: today's numbers, 14 days of calls, recent calls; live on call events."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import analytics, call_limits, events, reports
from voxie_app.services.calls import CALLS_STREAM
from voxie_app.settings import get_settings
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState

SERIES_DAYS = 14
RECENT_LIMIT = 8
LIVE_BEAT_S = 10.0  # the watcher proves it is alive this often
LIVE_STALE_S = 30.0  # a watcher silent for this long is considered gone
POLL_S = 1.0  # SQLite polling interval of the event log


def fetch_dashboard(tz: str) -> dict[str, Any]:
    """Everything the dashboard shows, formatted for display (runs in a worker thread)."""
    with session_scope() as session:
        today = analytics.summary(session=session, tz=tz)
        end = reports.today(tz)
        series = reports.daily_series(
            session=session,
            filters=reports.CallFilter(start=end - timedelta(days=SERIES_DAYS - 1), end=end, tz=tz),
        )
        recent = analytics.recent_calls(session=session, limit=RECENT_LIMIT)
        agents = len(reports.agent_choices(session=session))
        last_event = reports.latest_event_id(session=session, stream=CALLS_STREAM)
        now = call_limits.usage(session=session, settings=get_settings())
    return {
        "stats": {
            "calls": fmt.number(today.total_calls),
            # Calls in progress now (any day's), against the deployment's limit.
            "active": fmt.number(now.active),
            "active_of": (
                f"{fmt.number(now.active)} / {fmt.number(now.limit)}"
                if now.limit
                else fmt.number(now.active)
            ),
            "active_hint": (
                f"calls in progress, at most {fmt.number(now.limit)}"
                if now.limit
                else "calls in progress, no limit set"
            ),
            "web": fmt.number(today.web_calls),
            "phone": fmt.number(today.phone_calls),
            "minutes": fmt.minutes(today.total_minutes),
            "cost": fmt.money(today.total_cost_usd),
            "rating": fmt.rating(today.average_rating),
            "resolution": fmt.percent(today.resolution_rate),
        },
        "series": [
            {"day": fmt.day_label(p.day), "calls": p.calls, "minutes": round(p.minutes, 1)}
            for p in series
        ],
        "series_total": sum(p.calls for p in series),
        "recent": [
            {
                "id": str(c.id),
                "href": routes.call(str(c.id)),
                "agent": c.agent_label,
                "customer": fmt.call_title(
                    c.customer_name, c.kind, c.direction, c.customer_phone, c.called_number
                ),
                "when": fmt.when(c.started_at, tz),
                "duration": fmt.duration(c.duration_seconds),
                "status": c.call_status,
                "status_color": fmt.status_color(c.call_status),
                "sentiment": fmt.label(c.customer_sentiment),
                "sentiment_color": fmt.sentiment_color(c.customer_sentiment),
                "cost": fmt.money(c.cost_usd),
                "summary": c.summary or "",
            }
            for c in recent
        ],
        "agents": agents,
        "last_event": last_event,
    }


class DashboardState(AppState):
    loaded: bool = False
    stats: dict[str, str] = {}
    series: list[dict[str, Any]] = []
    series_total: int = 0
    recent: list[dict[str, str]] = []
    agent_count: int = 0
    live: bool = False
    updated: str = ""

    _last_event_id: int = 0
    _live_run: str = ""
    _live_beat: float = 0.0

    def _apply(self, data: dict[str, Any]) -> None:
        self.stats = data["stats"]
        self.series = data["series"]
        self.series_total = data["series_total"]
        self.recent = data["recent"]
        self.agent_count = data["agents"]
        self._last_event_id = max(self._last_event_id, data["last_event"])
        self.updated = time.strftime("%H:%M:%S")
        self.loaded = True

    @rx.event
    @guard.viewer
    async def load(self):
        try:
            data = await asyncio.to_thread(fetch_dashboard, self._tz())
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        self._apply(data)
        return DashboardState.watch_calls

    def _on_dashboard(self) -> bool:
        return str(self.router.url.path) in (routes.HOME, routes.DASHBOARD)

    @rx.event(background=True)
    @guard.viewer
    async def watch_calls(self):
        """Refresh the numbers whenever a call starts or ends (the `calls` event stream).

        One watcher per browser tab: a second start returns at once while the
        first is alive (it beats every few seconds). It stops when the tab
        leaves the dashboard; Reflex also cancels it when the tab disconnects.
        """
        run = uuid.uuid4().hex
        async with self:
            if self._live_run and time.time() - self._live_beat < LIVE_STALE_S:
                return
            self._live_run, self._live_beat, self.live = run, time.time(), True
            after = self._last_event_id
        queue: asyncio.Queue[events.EventOut] = asyncio.Queue()

        async def feed() -> None:
            async for event in events.subscribe(CALLS_STREAM, after, poll_interval=POLL_S):
                await queue.put(event)

        feeder = asyncio.create_task(feed())
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), LIVE_BEAT_S)
                except TimeoutError:
                    if feeder.done():
                        feeder.result()  # raise what stopped the feed
                        return
                    async with self:
                        if self._live_run != run or not self._on_dashboard():
                            return
                        self._live_beat = time.time()
                    continue
                while not queue.empty():  # one refresh for a burst of events
                    event = queue.get_nowait()
                data = await asyncio.to_thread(fetch_dashboard, self._tz())
                async with self:
                    if self._live_run != run or not self._on_dashboard():
                        return
                    self._apply(data)
                    self._last_event_id = max(self._last_event_id, event.id)
                    self._live_beat = time.time()
        finally:
            feeder.cancel()
            with contextlib.suppress(BaseException):
                await feeder
            with contextlib.suppress(Exception):
                async with self:
                    if self._live_run == run:
                        self._live_run, self.live = "", False
