"""Writes that record a live call: turns, usage and cost, latency, caller details.

Used by the worker's recorder. Each function is one small transaction so a
crash mid-call loses nothing already said. Usage rows hold running totals per
(call, kind, model) and are updated in place, so a repeated update is harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import TURN_PARTS, CallSession, ConversationTurn, TokenUsage, TurnMetric
from voxie_app.services import pricing, rollups
from voxie_app.services.calls import get_call
from voxie_app.settings import Settings

MAX_TRANSCRIPT = 20_000
SPEAKERS = ("user", "agent", "system", "tool")


def _touch(session: Session, call_session_id: uuid.UUID, at: datetime) -> None:
    session.execute(
        sa.update(CallSession)
        .where(col(CallSession.id) == call_session_id)
        .values(last_activity_at=at)
    )


def add_turn(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    speaker: str,
    transcript: str,
    agent_name: str | None = None,
    function_called: str | None = None,
    at: datetime | None = None,
) -> ConversationTurn:
    """Append the next turn of a call (numbered from 0 in the order they happen)."""
    if speaker not in SPEAKERS:
        raise ValueError(f"speaker must be one of {SPEAKERS}")
    at = at or utcnow()
    last = session.exec(
        select(sa.func.max(ConversationTurn.turn_number)).where(
            ConversationTurn.call_session_id == call_session_id
        )
    ).one()
    turn = ConversationTurn(
        call_session_id=call_session_id,
        turn_number=0 if last is None else last + 1,
        speaker=speaker,
        transcript=transcript.replace("\x00", "")[:MAX_TRANSCRIPT],
        agent_name=agent_name,
        function_called=function_called,
        timestamp=at,
    )
    session.add(turn)
    _touch(session, call_session_id, at)
    session.flush()
    return turn


def set_usage(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    usage_type: pricing.Kind,
    model_name: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    audio_seconds: float = 0.0,
    characters: int = 0,
    settings: Settings | None = None,
) -> TokenUsage:
    """Store the running usage total of one model in a call, priced from the table."""
    session.info[rollups.LIVE_CALL_WRITE] = True  # the call is live: no settled day to redo
    row = session.exec(
        select(TokenUsage).where(
            TokenUsage.call_session_id == call_session_id,
            TokenUsage.usage_type == usage_type,
            TokenUsage.model_name == model_name,
        )
    ).first()
    if row is None:
        row = TokenUsage(
            call_session_id=call_session_id, model_name=model_name, usage_type=usage_type
        )
    price = pricing.cost(
        model_name,
        usage_type,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        audio_seconds=audio_seconds,
        characters=characters,
        settings=settings,
    )
    row.input_tokens = input_tokens
    row.output_tokens = output_tokens
    row.total_tokens = input_tokens + output_tokens
    row.audio_seconds = audio_seconds
    row.characters = characters
    row.cost_per_input_token = price.per_input
    row.cost_per_output_token = price.per_output
    row.total_cost_usd = price.total
    row.timestamp = utcnow()
    session.add(row)
    session.flush()
    return row


def add_turn_metric(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    turn_number: int,
    end_of_utterance_delay: float | None = None,
    transcription_delay: float | None = None,
    llm_ttft: float | None = None,
    tts_ttfb: float | None = None,
    e2e_latency: float | None = None,
    parts: Mapping[str, float | None] | None = None,
) -> TurnMetric:
    """`parts`: where the gap went, by `TURN_PARTS` name (a missing one stays null)."""
    session.info[rollups.LIVE_CALL_WRITE] = True  # the call is live: no settled day to redo
    unknown = set(parts or ()) - set(TURN_PARTS)
    if unknown:
        raise ValueError(f"unknown turn parts: {sorted(unknown)}")
    metric = TurnMetric(
        call_session_id=call_session_id,
        turn_number=turn_number,
        end_of_utterance_delay=end_of_utterance_delay,
        transcription_delay=transcription_delay,
        llm_ttft=llm_ttft,
        tts_ttfb=tts_ttfb,
        e2e_latency=e2e_latency,
        **dict(parts or {}),
    )
    session.add(metric)
    session.flush()
    return metric


def save_caller_details(
    *,
    session: Session,
    call_session_id: uuid.UUID,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    notes: str | None = None,
) -> CallSession:
    """Store what the caller told the agent about themselves; empty values change nothing."""
    call = get_call(session=session, call_session_id=call_session_id)
    if name:
        call.customer_name = name.strip()[:200]
    if phone:
        call.customer_phone = phone.strip()[:50]
    if email:
        call.customer_email = email.strip()[:254]
    if notes:
        joined = f"{call.notes}\n{notes.strip()}" if call.notes else notes.strip()
        call.notes = joined[:5000]
    call.last_activity_at = utcnow()
    session.add(call)
    session.flush()
    return call


def count_user_turns(*, session: Session, call_session_id: uuid.UUID) -> int:
    return session.exec(
        select(sa.func.count()).where(
            ConversationTurn.call_session_id == call_session_id,
            ConversationTurn.speaker == "user",
        )
    ).one()
