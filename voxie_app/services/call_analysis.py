"""Post-call analysis, the domain half: which calls need it, what they said, storing the result.

The LLM call itself lives in the worker (`voice_worker.analysis`); this module
has no LiveKit and no network. `CallAnalysis` is the structured-output schema
the model fills in; its validators cap and normalise every field, so whatever
the model writes is trimmed to what the tables and the UI expect.

A call is analysed once: `save_analysis` writes the summary, the call's
sentiment / resolved / rating and the analysis's own LLM usage in one
transaction, and does nothing if a summary already exists (the UNIQUE
constraint on `call_summaries.call_session_id` settles races).
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession, CallSummary, ConversationTurn, TokenUsage
from voxie_app.services import pricing
from voxie_app.services.calls import get_call
from voxie_app.settings import Settings

MAX_SUMMARY = 2000
MAX_ITEMS = 10
MAX_ITEM = 300
MAX_LABEL = 50
MAX_SALES_VALUE = Decimal("99999999.99")  # call_summaries.sales_value_usd is NUMERIC(10, 2)
MAX_TOOL_LINE = 200
ANALYSIS_SUFFIX = " (analysis)"
"""Appended to the model name of the analysis's usage row, so it never merges
with the live call's running total for the same model (still priced as that model)."""

CATEGORIES = ("support", "sales", "booking", "inquiry", "complaint", "other")
OUTCOMES = (
    "resolved",
    "appointment_booked",
    "sale",
    "lead_captured",
    "escalated",
    "unresolved",
    "no_outcome",
)

# Control characters other than tab and newline (PostgreSQL text rejects NUL).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LABEL_RE = re.compile(r"[^a-z0-9]+")


def _clean(text: str, cap: int) -> str:
    return _CONTROL_RE.sub(" ", text).strip()[:cap].rstrip()


def _label(value: str, default: str) -> str:
    """`"Appointment Booked"` -> `"appointment_booked"`, capped; empty -> default."""
    slug = _LABEL_RE.sub("_", value.strip().lower()).strip("_")[:MAX_LABEL].rstrip("_")
    return slug or default


class CallAnalysis(BaseModel):
    """Analysis of one phone call between a caller and a business's voice agent."""

    # The structured-output schema (its docstring and descriptions are sent to
    # the model). Validators cap and normalise after parsing: the schema stays
    # simple for the model, and a verbose or slightly off answer is trimmed,
    # not rejected.

    summary: str = Field(description="What happened on the call, in 2-5 sentences.")
    key_points: list[str] = Field(description="The main facts of the call, at most 10.")
    action_items: list[str] = Field(
        description="Follow-ups the business should do after the call, at most 10."
    )
    category: str = Field(description=f"One of: {', '.join(CATEGORIES)}.")
    business_outcome: str = Field(description=f"One of: {', '.join(OUTCOMES)}.")
    sales_value_usd: float | None = Field(
        description="Value in USD of a sale or order made on the call, or null if none."
    )
    sentiment: Literal["positive", "neutral", "negative"] = Field(
        description="The caller's overall sentiment."
    )
    resolved: bool = Field(description="Whether the caller's need was met on this call.")
    rating: int = Field(description="How well the agent handled the call, 1 (poor) to 5 (great).")

    @field_validator("summary", mode="after")
    @classmethod
    def _cap_summary(cls, value: str) -> str:
        return _clean(value, MAX_SUMMARY)

    @field_validator("key_points", "action_items", mode="after")
    @classmethod
    def _cap_items(cls, value: list[str]) -> list[str]:
        items = [_clean(item, MAX_ITEM) for item in value]
        return [item for item in items if item][:MAX_ITEMS]

    @field_validator("category", mode="after")
    @classmethod
    def _category(cls, value: str) -> str:
        return _label(value, "other")

    @field_validator("business_outcome", mode="after")
    @classmethod
    def _outcome(cls, value: str) -> str:
        return _label(value, "no_outcome")

    @field_validator("sales_value_usd", mode="after")
    @classmethod
    def _sales_value(cls, value: float | None) -> float | None:
        if value is None or not math.isfinite(value):
            return None
        return float(min(max(Decimal(str(value)), Decimal(0)), MAX_SALES_VALUE))

    @field_validator("rating", mode="before")
    @classmethod
    def _round_rating(cls, value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value):
            return round(value)
        return value

    @field_validator("rating", mode="after")
    @classmethod
    def _clamp_rating(cls, value: int) -> int:
        return min(max(value, 1), 5)


def _user_turns(call_id: Any) -> sa.ScalarSelect[int]:
    """Correlated count of a call's user turns."""
    return (
        select(sa.func.count())
        .where(
            col(ConversationTurn.call_session_id) == call_id,
            col(ConversationTurn.speaker) == "user",
        )
        .scalar_subquery()
    )


def _has_summary(call_id: Any) -> sa.Exists:
    return sa.exists().where(col(CallSummary.call_session_id) == call_id)


def pending_calls(
    *,
    session: Session,
    min_user_turns: int,
    limit: int = 100,
    ended_before: datetime | None = None,
) -> list[uuid.UUID]:
    """Ended calls with no summary yet and at least `min_user_turns` user turns, oldest first.

    `ended_before` leaves out calls that ended recently (their own job may
    still be analysing them).
    """
    ended = col(CallSession.ended_at)
    ids = session.exec(
        select(CallSession.id)
        .where(
            ended.is_not(None),
            ended < ended_before if ended_before is not None else sa.true(),
            ~_has_summary(CallSession.id),
            _user_turns(CallSession.id) >= min_user_turns,
        )
        .order_by(col(CallSession.ended_at), col(CallSession.id))
        .limit(limit)
    ).all()
    return list(ids)


def has_summary(*, session: Session, call_session_id: uuid.UUID) -> bool:
    return bool(session.exec(select(_has_summary(call_session_id))).one())


def transcript_for(*, session: Session, call_session_id: uuid.UUID) -> list[tuple[str, str]]:
    """`(speaker, text)` for every turn of a call, in order; tool turns are shortened."""
    rows = session.exec(
        select(ConversationTurn.speaker, ConversationTurn.transcript)
        .where(col(ConversationTurn.call_session_id) == call_session_id)
        .order_by(col(ConversationTurn.turn_number))
    ).all()
    lines: list[tuple[str, str]] = []
    for speaker, text in rows:
        if speaker == "tool" and len(text) > MAX_TOOL_LINE:
            text = text[: MAX_TOOL_LINE - 1] + "…"
        lines.append((speaker, text))
    return lines


def save_analysis(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    analysis: CallAnalysis,
    model: str,
    tokens_used: int,
    input_tokens: int,
    output_tokens: int,
    settings: Settings | None = None,
) -> bool:
    """Store one call's analysis: summary, call verdict and the analysis's LLM usage.

    All three land in the session's transaction (commit it, e.g. with
    `session_scope`). Returns False and writes nothing if the call already has
    a summary; if another process stores one concurrently, the UNIQUE
    constraint fails, the session is rolled back and False is returned.
    Raises `NotFound` if the call does not exist.
    """
    call = get_call(session=session, call_session_id=call_session_id)
    if has_summary(session=session, call_session_id=call_session_id):
        return False
    sales = (
        None
        if analysis.sales_value_usd is None
        else Decimal(str(analysis.sales_value_usd)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    )
    session.add(
        CallSummary(
            call_session_id=call_session_id,
            summary_text=analysis.summary,
            key_points=list(analysis.key_points),
            action_items=list(analysis.action_items),
            call_category=analysis.category,
            business_outcome=analysis.business_outcome,
            sales_value_usd=sales,
            generated_by=model[:100],
            tokens_used=tokens_used,
        )
    )
    call.customer_sentiment = analysis.sentiment
    call.issue_resolved = analysis.resolved
    call.call_rating = analysis.rating
    session.add(call)
    price = pricing.cost(
        model, "llm", input_tokens=input_tokens, output_tokens=output_tokens, settings=settings
    )
    session.add(
        TokenUsage(
            call_session_id=call_session_id,
            model_name=f"{model}{ANALYSIS_SUFFIX}",
            usage_type="llm",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            cost_per_input_token=price.per_input,
            cost_per_output_token=price.per_output,
            total_cost_usd=price.total,
            timestamp=utcnow(),
        )
    )
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        if has_summary(session=session, call_session_id=call_session_id):
            return False  # another process analysed it first
        raise
    return True
