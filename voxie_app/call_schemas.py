"""Response shapes of the calls API (`/api/calls*`), built from `services.reports` results.

Kept apart from `schemas.py` (agents, starting calls) because these mirror the
read-side report types one to one: a field here is a field of the /calls page.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from voxie_app.services import reports


class _FromAttrs(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CallItem(_FromAttrs):
    """One call of a list: what a row of the /calls page shows."""

    id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_name: str | None  # null for the builder and deleted agents (see agent_label)
    agent_label: str  # the agent's name, "Voxie (builder)" or "Deleted agent"
    kind: str  # web, chat or phone
    direction: str  # inbound or outbound
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
    # Phone calls: the other party's number (E.164) and ours that was dialled / called from.
    customer_phone: str | None = None
    called_number: str | None = None


class CallList(BaseModel):
    items: list[CallItem]
    total: int  # calls matching the filters in all
    limit: int
    offset: int


class TranscriptTurn(_FromAttrs):
    turn_number: int
    speaker: str  # user, agent, tool or system
    transcript: str
    agent_name: str | None
    function_called: str | None
    timestamp: datetime


class CostLine(_FromAttrs):
    usage_type: str
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    audio_seconds: float
    characters: int
    model_name: str = Field(default="", description="The model metered (empty: none used).")
    provider: str = Field(default="", description="The provider of that model, by name.")


class TurnLatency(_FromAttrs):
    turn_number: int
    end_of_utterance_delay: float | None
    transcription_delay: float | None
    llm_ttft: float | None
    tts_ttfb: float | None
    e2e_latency: float | None
    # Where the gap (`e2e_latency`) went, in consecutive parts that add up to it
    # (README "Where the time goes"); null when not measured for the turn.
    part_silence: float | None = None
    part_stt: float | None = None
    part_end_of_turn: float | None = None
    part_llm: float | None = None
    part_tts: float | None = None
    part_playout: float | None = None


class CallSummaryOut(_FromAttrs):
    summary_text: str
    key_points: list[str]
    action_items: list[str]
    call_category: str | None
    business_outcome: str | None
    sales_value_usd: Decimal | None
    generated_by: str
    generated_at: datetime


class CallVariables(BaseModel):
    """What the caller told the agent about themselves, recorded on the call."""

    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    notes: str | None


class ToolInvocationOut(_FromAttrs):
    """One custom tool's invocation during the call (arguments secret-redacted at write)."""

    id: uuid.UUID
    tool_id: uuid.UUID | None  # null once the tool is deleted
    tool_name: str
    arguments: dict[str, Any]
    # ok, invalid_arguments, timeout, connection_error, refused, http_error, failed
    status: str
    http_status: int | None
    error: str | None
    latency_ms: int
    result_chars: int  # characters the model was given
    created_at: datetime  # when the request was over


class CallDetailOut(BaseModel):
    id: uuid.UUID
    session_id: str
    room_name: str
    agent_id: uuid.UUID | None
    agent_name: str | None
    agent_label: str
    agent_type: str | None
    kind: str
    direction: str
    # Phone calls (null otherwise): our number that was dialled (inbound) and its row,
    # and LiveKit's SIP call id. The other party's number is `variables.customer_phone`.
    called_number: str | None = None
    phone_number_id: uuid.UUID | None = None
    sip_call_id: str | None = None
    status: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    end_reason: str | None
    rating: int | None
    sentiment: str | None
    resolved: bool | None
    variables: CallVariables
    # The per-call values passed at call or chat start (`{{name}}` placeholders);
    # `variables` above is older and holds what the caller told the agent.
    custom_variables: dict[str, str]
    summary: CallSummaryOut | None
    transcript: list[TranscriptTurn]  # every turn in order, tool calls included
    tool_calls: list[TranscriptTurn]  # the turns that ran a tool
    costs: list[CostLine]
    total_cost_usd: Decimal
    latency: list[TurnLatency]  # one entry per measured turn
    # Every invocation of a custom HTTP tool, oldest first (see services.tool_invocations)
    tool_invocations: list[ToolInvocationOut] = []

    @classmethod
    def of(cls, d: reports.CallDetail) -> CallDetailOut:
        c = d.call
        turns = [TranscriptTurn.model_validate(t) for t in d.turns]
        return cls(
            id=c.id,
            session_id=c.session_id,
            room_name=c.room_name,
            agent_id=c.agent_id,
            agent_name=d.agent_name,
            agent_label=d.agent_label,
            agent_type=c.primary_agent_type,
            kind=c.kind,
            direction=c.direction,
            called_number=c.called_number,
            phone_number_id=c.phone_number_id,
            sip_call_id=c.sip_call_id,
            status=c.call_status,
            started_at=c.started_at,
            ended_at=c.ended_at,
            duration_seconds=c.duration_seconds,
            end_reason=c.end_reason,
            rating=c.call_rating,
            sentiment=c.customer_sentiment,
            resolved=c.issue_resolved,
            variables=CallVariables(
                customer_name=c.customer_name,
                customer_phone=c.customer_phone,
                customer_email=c.customer_email,
                notes=c.notes,
            ),
            custom_variables=dict(c.variables or {}),
            summary=CallSummaryOut.model_validate(d.summary) if d.summary else None,
            transcript=turns,
            tool_calls=[t for t in turns if t.function_called],
            costs=[CostLine.model_validate(p) for p in d.costs],
            total_cost_usd=d.total_cost_usd,
            latency=[TurnLatency.model_validate(m) for m in d.latency],
        )
