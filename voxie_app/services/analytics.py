"""Call analytics computed in SQL (aggregates and correlated subqueries, no row loops)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, CallSession, CallSummary, ConversationTurn, TokenUsage
from voxie_app.schemas import AnalyticsSummary, RecentCall
from voxie_app.services.call_kinds import agent_label, kind_condition


def day_bounds(day: datetime, tz: str) -> tuple[datetime, datetime]:
    """Start and end (exclusive) of `day`'s calendar date in zone `tz`, as aware datetimes."""
    zone = ZoneInfo(tz)
    local = day.astimezone(zone).date()
    start = datetime.combine(local, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.0001"))


def summary(*, session: Session, tz: str = "UTC", now: datetime | None = None) -> AnalyticsSummary:
    """Today's calls (web and phone counted apart too), minutes, cost, rating,
    resolution rate and sentiment mix."""
    start, end = day_bounds(now or utcnow(), tz)
    in_day = sa.and_(
        col(CallSession.started_at) >= start,
        col(CallSession.started_at) < end,
        kind_condition("voice"),
    )
    status = col(CallSession.call_status)
    resolved = col(CallSession.issue_resolved)
    kind = col(CallSession.kind)
    row = session.exec(
        select(
            sa.func.count(),
            sa.func.sum(sa.case((status == "active", 1), else_=0)),
            sa.func.sum(sa.case((status == "completed", 1), else_=0)),
            sa.func.sum(sa.case((status == "failed", 1), else_=0)),
            sa.func.coalesce(sa.func.sum(CallSession.duration_seconds), 0.0),
            sa.func.avg(CallSession.call_rating),
            sa.func.avg(sa.case((resolved.is_(True), 1.0), (resolved.is_(False), 0.0))),
            sa.func.sum(sa.case((kind == "web", 1), else_=0)),
            sa.func.sum(sa.case((kind == "phone", 1), else_=0)),
        ).where(in_day)
    ).one()
    cost = session.exec(
        select(sa.func.coalesce(sa.func.sum(TokenUsage.total_cost_usd), 0))
        .join(CallSession, col(CallSession.id) == col(TokenUsage.call_session_id))
        .where(in_day)
    ).one()
    sentiment_rows = session.exec(
        select(CallSession.customer_sentiment, sa.func.count())
        .where(in_day, col(CallSession.customer_sentiment).is_not(None))
        .group_by(CallSession.customer_sentiment)
    ).all()
    total, active, completed, failed, seconds, rating, resolution, web, phone = row
    return AnalyticsSummary(
        date=start.date().isoformat(),
        timezone=tz,
        total_calls=total or 0,
        active_calls=active or 0,
        completed_calls=completed or 0,
        failed_calls=failed or 0,
        web_calls=web or 0,
        phone_calls=phone or 0,
        total_minutes=round(float(seconds or 0) / 60.0, 2),
        total_cost_usd=_money(cost),
        average_rating=round(float(rating), 2) if rating is not None else None,
        resolution_rate=round(float(resolution), 4) if resolution is not None else None,
        sentiment={str(k): int(v) for k, v in sentiment_rows},
    )


def call_turns() -> Any:
    """The number of turns of the current `call_sessions` row (a correlated count)."""
    return (
        select(sa.func.count())
        .where(col(ConversationTurn.call_session_id) == col(CallSession.id))
        .correlate(CallSession)
        .scalar_subquery()
    )


def call_cost() -> Any:
    """The cost of the current `call_sessions` row (a correlated sum over its usage)."""
    return (
        select(sa.func.coalesce(sa.func.sum(TokenUsage.total_cost_usd), 0))
        .where(col(TokenUsage.call_session_id) == col(CallSession.id))
        .correlate(CallSession)
        .scalar_subquery()
    )


def recent_calls(*, session: Session, limit: int = 20, offset: int = 0) -> list[RecentCall]:
    """The latest calls with agent name, turn count, cost and summary."""
    turns = call_turns()
    cost = call_cost()
    rows = session.exec(
        select(
            CallSession,
            Agent.name,
            turns.label("turns"),
            cost.label("cost"),
            CallSummary.summary_text,
            CallSummary.business_outcome,
        )
        .outerjoin(Agent, col(Agent.id) == col(CallSession.agent_id))
        .outerjoin(CallSummary, col(CallSummary.call_session_id) == col(CallSession.id))
        .where(kind_condition("voice"))
        .order_by(col(CallSession.started_at).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        RecentCall(
            id=call.id,
            agent_id=call.agent_id,
            agent_name=agent_name,
            agent_label=agent_label(agent_name, call.agent_id, call.primary_agent_type),
            kind=call.kind,
            direction=call.direction,
            customer_name=call.customer_name,
            customer_phone=call.customer_phone,
            called_number=call.called_number,
            started_at=call.started_at,
            ended_at=call.ended_at,
            duration_seconds=call.duration_seconds,
            call_status=call.call_status,
            customer_sentiment=call.customer_sentiment,
            call_rating=call.call_rating,
            issue_resolved=call.issue_resolved,
            turns=n_turns or 0,
            cost_usd=_money(call_cost),
            summary=summary_text,
            business_outcome=outcome,
        )
        for call, agent_name, n_turns, call_cost, summary_text, outcome in rows
    ]
