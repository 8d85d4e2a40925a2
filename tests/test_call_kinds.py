"""Chats are kept but not counted; builder calls are named (SQLite and PostgreSQL).

The dashboard (`analytics.summary`, `recent_calls`), the agents list and the
analytics tables read these services; `/api/calls` is covered in test_calls_api.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from tests.test_calls_api import _call
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import analytics, reports
from voxie_app.services.calls import BUILDER_NAME
from voxie_app.services.reports import CallFilter
from voxie_app.state.analytics import fetch_analytics

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _seed() -> dict[str, uuid.UUID]:
    with session_scope() as s:
        agent = Agent(name="Dental Bot", status="ready", processed_spec={"name": "Dental Bot"})
        s.add(agent)
        s.flush()
        web = _call(s, agent, NOW - timedelta(hours=3))
        chat = _call(s, agent, NOW - timedelta(hours=2), kind="chat")
        builder = _call(s, None, NOW - timedelta(hours=1), primary_agent_type=BUILDER_NAME)
        deleted = _call(s, None, NOW - timedelta(hours=4), primary_agent_type="Gone Bot")
        return {
            "agent": agent.id,
            "web": web.id,
            "chat": chat.id,
            "builder": builder.id,
            "deleted": deleted.id,
        }


def test_dashboard_numbers_and_recent_calls_leave_chats_out(db: str) -> None:
    ids = _seed()
    with session_scope() as s:
        today = analytics.summary(session=s, tz="UTC", now=NOW)
        recent = analytics.recent_calls(session=s)
        agents = reports.agents_overview(session=s)
    assert today.total_calls == 3  # web, builder, deleted agent's: not the chat
    assert [c.id for c in recent] == [ids["builder"], ids["web"], ids["deleted"]]
    labels = {c.id: c.agent_label for c in recent}
    assert labels == {
        ids["builder"]: "Voxie (builder)",
        ids["web"]: "Dental Bot",
        ids["deleted"]: "Deleted agent",
    }
    assert [(a.name, a.calls) for a in agents] == [("Dental Bot", 1)]


def test_agent_tables_name_the_bucket_without_an_agent_honestly(db: str) -> None:
    _seed()
    day = date(2026, 11, 20)
    with session_scope() as s:
        rows = reports.agent_table(session=s, filters=CallFilter(start=day, end=day))
    assert [(r.agent_name, r.calls) for r in rows] == [(None, 2), ("Dental Bot", 1)]
    view = fetch_analytics(day, day, "UTC")  # what the analytics page shows
    assert [r["agent"] for r in view["agents"]] == [reports.NO_AGENT_LABEL, "Dental Bot"]
