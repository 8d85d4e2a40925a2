"""`/agents/[id]`: one agent's spec, stats and recent calls."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app import provider_catalog as catalog
from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import reports
from voxie_app.state import fmt, guard
from voxie_app.state.agent_form import tool_label
from voxie_app.state.base import AppState

RECENT_LIMIT = 10
SERIES_DAYS = 30


def call_rows(rows: list[reports.CallRow], tz: str) -> list[dict[str, str]]:
    """Calls as the tables show them."""
    return [
        {
            "id": str(r.id),
            "href": routes.call(str(r.id)),
            "agent": r.agent_label,
            "kind": reports.KIND_LABELS.get(r.kind, r.kind),
            "type": fmt.call_type(r.kind, r.direction),
            "line": fmt.phone_line(r.kind, r.direction, r.customer_phone, r.called_number),
            "customer": fmt.call_title(
                r.customer_name, r.kind, r.direction, r.customer_phone, r.called_number
            ),
            "when": fmt.when(r.started_at, tz),
            "duration": fmt.duration(r.duration_seconds),
            "status": r.status,
            "status_color": fmt.status_color(r.status),
            "sentiment": fmt.label(r.sentiment),
            "sentiment_color": fmt.sentiment_color(r.sentiment),
            "rating": "—" if r.rating is None else f"{r.rating}/5",
            "outcome": fmt.label(r.outcome),
            "cost": fmt.money(r.cost_usd),
            "turns": str(r.turns),
        }
        for r in rows
    ]


class AgentDetailState(AppState):
    loaded: bool = False
    found: bool = False
    agent: dict[str, str] = {}
    tools: list[str] = []
    targets: list[dict[str, str]] = []
    stats: dict[str, str] = {}
    recent: list[dict[str, str]] = []
    series: list[dict[str, Any]] = []
    series_total: int = 0

    @rx.event
    @guard.viewer
    def load(self):
        self.loaded = False
        raw = self._path_part(1)
        try:
            agent_id = uuid.UUID(raw)
        except ValueError:
            self.found, self.loaded = False, True
            return None
        tz = self._tz()
        try:
            with session_scope() as session:
                agent = session.get(Agent, agent_id)
                if agent is None:
                    self.found, self.loaded = False, True
                    return None
                f = reports.CallFilter(agent_id=agent_id, tz=tz)
                stats = reports.call_stats(session=session, filters=f)
                page = reports.list_calls(session=session, filters=f, limit=RECENT_LIMIT)
                end = reports.today(tz)
                series = reports.daily_series(
                    session=session,
                    filters=reports.CallFilter(
                        agent_id=agent_id,
                        start=end - timedelta(days=SERIES_DAYS - 1),
                        end=end,
                        tz=tz,
                    ),
                )
                names = dict(reports.agent_choices(session=session))
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        spec = agent.processed_spec or {}
        self.agent = {
            "id": str(agent.id),
            "name": agent.name or str(spec.get("name") or "Untitled agent"),
            "status": agent.status,
            "status_color": fmt.status_color(agent.status),
            "error": agent.error or "",
            "description": str(spec.get("description") or ""),
            "instructions": str(spec.get("instructions") or ""),
            "greeting": str(spec.get("greeting") or ""),
            "language": str(spec.get("language") or "—"),
            "voice": str(spec.get("voice") or "—"),
            "llm_model": str(spec.get("llm_model") or "—"),
            "providers": providers_fact(spec),
            "temperature": "—" if spec.get("temperature") is None else f"{spec['temperature']:g}",
            "endpointing": _endpointing(spec),
            "created": fmt.when(agent.created_at, tz),
            "updated": fmt.when(agent.updated_at, tz),
            "chat_href": routes.agent_chat(str(agent.id)),
            "call_href": routes.call_agent(str(agent.id)),
            "edit_href": f"{routes.AGENTS}?edit={agent.id}",
            "calls_href": f"{routes.CALLS}?agent={agent.id}",
        }
        self.tools = [tool_label(t) for t in spec.get("tools", [])]
        self.targets = [
            {
                "name": names.get(_as_uuid(t.get("agent_id")), "Deleted agent"),
                "href": routes.agent(str(t.get("agent_id"))),
                "when": str(t.get("when") or "Whenever the model decides"),
            }
            for t in spec.get("transfer_targets", [])
        ]
        self.stats = {
            "calls": fmt.number(stats.calls),
            "minutes": fmt.minutes(stats.minutes),
            "cost": fmt.money(stats.cost_usd),
            "rating": fmt.rating(stats.average_rating),
            "resolution": fmt.percent(stats.resolution_rate),
        }
        self.recent = call_rows(page.rows, tz)
        self.series = [{"day": fmt.day_label(p.day), "calls": p.calls} for p in series]
        self.series_total = sum(p.calls for p in series)
        self.found, self.loaded = True, True
        return None


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def providers_fact(spec: dict[str, Any]) -> str:
    """'Speech-to-text: Deepgram (nova-2) · LLM: automatic · …' from a stored spec
    (one stored before the choices existed reads automatic for each kind)."""
    parts = []
    for p in ("stt", "llm", "tts"):
        choice = spec.get(p) if isinstance(spec.get(p), dict) else {}
        name, model = str(choice.get("provider") or catalog.AUTO), str(choice.get("model") or "")
        known = {i.name: i.label for i in catalog.of_kind(p)}  # type: ignore[arg-type]
        label = "automatic" if name == catalog.AUTO else known.get(name, name)
        parts.append(f"{catalog.KIND_LABELS[p]}: {label}" + (f" ({model})" if model else ""))
    return " · ".join(parts)


def _endpointing(spec: dict[str, Any]) -> str:
    low, high = spec.get("min_endpointing_delay"), spec.get("max_endpointing_delay")
    if low is None and high is None:
        return "Default"
    return f"{fmt.seconds(low) if low is not None else 'default'} to " + (
        fmt.seconds(high) if high is not None else "default"
    )
