"""`/calls/[id]`: transcript, summary, outcome, cost by provider, per-turn latency."""

from __future__ import annotations

import json
import uuid
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import reports
from voxie_app.services import tool_invocations as invocations_svc
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState

USAGE_LABELS = {
    "llm": "LLM",
    "stt": "Speech-to-text",
    "tts": "Text-to-speech",
    "phone": "Telephony",
}
# The parts of a turn's response gap as the call page stacks them and analytics lists
# them, in the order they happen (`models.TURN_PARTS`; README "Where the time goes").
PART_SERIES = (
    ("part_silence", "Caller's silence"),
    ("part_stt", "Transcript (STT)"),
    ("part_end_of_turn", "End-of-turn decision"),
    ("part_llm", "LLM first token"),
    ("part_tts", "TTS first byte"),
    ("part_playout", "Playout"),
)
LATENCY_SERIES = (*PART_SERIES, ("e2e_latency", "End to end"))


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


TONE_COLORS = {"ok": "grass", "warning": "amber", "error": "red"}


def invocation_view(inv: invocations_svc.Invocation, tz: str) -> dict[str, Any]:
    """One tool invocation as its chip and details show it (arguments already redacted)."""
    return {
        "kind": "tool",
        "id": str(inv.id),
        "label": f"{inv.tool_name} · {inv.status.replace('_', ' ')} · {inv.latency_ms:,} ms",
        "name": inv.tool_name,
        "status": inv.status.replace("_", " "),
        "color": TONE_COLORS[inv.tone],
        "time": fmt.clock(inv.created_at, tz),
        "arguments": json.dumps(inv.arguments, ensure_ascii=False, indent=2, sort_keys=True),
        "http_status": str(inv.http_status) if inv.http_status is not None else fmt.DASH,
        "error": inv.error or "",
        "latency": f"{inv.latency_ms:,} ms",
        "result": fmt.count(inv.result_chars, "character"),
    }


def timeline_view(
    detail: reports.CallDetail, invocations: list[invocations_svc.Invocation], tz: str
) -> list[dict[str, Any]]:
    """The transcript with each tool invocation placed at its time."""
    return [
        invocation_view(item, tz)
        if isinstance(item, invocations_svc.Invocation)
        else {"kind": "turn", **_turn_view(item, tz)}
        for item in invocations_svc.timeline(detail.turns, invocations)
    ]


def _turn_view(t: reports.Turn, tz: str) -> dict[str, Any]:
    is_user = t.speaker.lower() in ("user", "caller", "customer")
    return {
        "speaker": "Caller" if is_user else (t.agent_name or "Agent"),
        "is_user": is_user,
        "text": t.transcript,
        "time": fmt.clock(t.timestamp, tz),
        "tool": t.function_called or "",
    }


def _usage_detail(part: reports.CostPart) -> str:
    if part.usage_type == "llm":
        return f"{part.input_tokens:,} in · {part.output_tokens:,} out tokens"
    if part.usage_type == "stt":
        return f"{fmt.duration(part.audio_seconds)} of audio"
    if part.usage_type == "tts":
        return f"{part.characters:,} characters"
    if part.usage_type == "phone":
        return f"{fmt.duration(part.audio_seconds)} on the line, per minute"
    return ""


def variable_rows(variables: dict[str, str] | None) -> list[dict[str, str]]:
    """The per-call variables passed at the call's start, by name, as the page lists them."""
    return [{"key": k, "value": str(v)} for k, v in sorted((variables or {}).items())]


def detail_view(detail: reports.CallDetail, tz: str) -> dict[str, Any]:
    """The call as the page shows it."""
    call, summary = detail.call, detail.summary
    turns = [_turn_view(t, tz) for t in detail.turns]
    total = detail.total_cost_usd
    costs = [
        {
            "kind": USAGE_LABELS.get(p.usage_type, p.usage_type.upper()),
            "source": " · ".join(x for x in (p.provider, p.model_name) if x),
            "cost": fmt.money(p.cost_usd),
            "detail": _usage_detail(p),
            "share": f"{(p.cost_usd / total * 100):.0f}%" if total else "0%",
            "width": f"{(p.cost_usd / total * 100):.1f}%" if total else "0%",
        }
        for p in detail.costs
    ]
    latency = [
        {"turn": f"#{m.turn_number}", **{k: _ms(getattr(m, k)) for k, _ in LATENCY_SERIES}}
        for m in detail.latency
    ]
    e2e = [m.e2e_latency for m in detail.latency if m.e2e_latency is not None]
    ended, ended_detail = fmt.end_reason(call.end_reason, call.call_status)
    no_summary, no_actions = fmt.summary_note(
        call.call_status, len(turns), bool(summary and summary.summary_text)
    )
    return {
        "call": {
            "id": str(call.id),
            "agent": detail.agent_label,
            "kind": reports.KIND_LABELS.get(call.kind, call.kind),
            "type": fmt.call_type(call.kind, call.direction),
            "line": fmt.phone_line(
                call.kind, call.direction, call.customer_phone, call.called_number
            ),
            "agent_href": routes.agent(str(call.agent_id)) if call.agent_id else "",
            "customer": fmt.call_title(
                call.customer_name,
                call.kind,
                call.direction,
                call.customer_phone,
                call.called_number,
            ),
            "phone": call.customer_phone or "",
            "email": call.customer_email or "",
            "started": fmt.when(call.started_at, tz),
            "duration": fmt.duration(call.duration_seconds),
            "status": call.call_status,
            "status_color": fmt.status_color(call.call_status),
            "end_reason": ended,
            "end_detail": ended_detail,
            "no_summary": no_summary,
            "no_actions": no_actions,
            "sentiment": fmt.label(call.customer_sentiment),
            "sentiment_color": fmt.sentiment_color(call.customer_sentiment),
            "rating": fmt.rating(call.call_rating),
            "resolved": {True: "Yes", False: "No"}.get(call.issue_resolved, "—"),  # type: ignore[arg-type]
            "cost": fmt.money(total),
            "avg_latency": fmt.seconds(sum(e2e) / len(e2e)) if e2e else "—",
            "room": call.room_name,
        },
        "summary": {
            "text": summary.summary_text if summary else "",
            "outcome": fmt.label(summary.business_outcome) if summary else "—",
            "category": fmt.label(summary.call_category) if summary else "—",
            "sales": fmt.money(summary.sales_value_usd)
            if summary and summary.sales_value_usd
            else "—",
            "generated_by": summary.generated_by if summary else "",
        },
        "key_points": list(summary.key_points or []) if summary else [],
        "action_items": list(summary.action_items or []) if summary else [],
        "turns": turns,
        "variables": variable_rows(call.variables),
        "costs": costs,
        "latency": latency,
    }


class CallDetailState(AppState):
    loaded: bool = False
    found: bool = False
    call: dict[str, str] = {}
    summary: dict[str, str] = {}
    key_points: list[str] = []
    action_items: list[str] = []
    turns: list[dict[str, Any]] = []
    costs: list[dict[str, str]] = []
    latency: list[dict[str, Any]] = []
    variables: list[dict[str, str]] = []
    # The transcript as drawn: turns and tool-invocation chips ("kind": "turn" | "tool").
    timeline: list[dict[str, Any]] = []

    @rx.event
    @guard.viewer
    def load(self):
        self.loaded = False
        try:
            call_id = uuid.UUID(self._path_part(1))
        except ValueError:
            self.found, self.loaded = False, True
            return None
        tz = self._tz()
        try:
            with session_scope() as session:
                detail = reports.call_detail(session=session, call_id=call_id)
                invocations = (
                    invocations_svc.list_for_call(session=session, call_id=call_id)
                    if detail is not None
                    else []
                )
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        if detail is None:
            self.found, self.loaded = False, True
            return None
        view = detail_view(detail, tz)
        self.call = view["call"]
        self.summary = view["summary"]
        self.key_points = view["key_points"]
        self.action_items = view["action_items"]
        self.turns = view["turns"]
        self.costs = view["costs"]
        self.latency = view["latency"]
        self.variables = view["variables"]
        self.timeline = timeline_view(detail, invocations, tz)
        self.found, self.loaded = True, True
        return None
