"""The telephone line's share of a phone call's cost: one usage row, priced per minute.

A phone call costs what its models cost (LLM, STT, TTS, written by the recorder as
they report) plus the line itself: the carrier's SIP trunk, and LiveKit SIP where it
bills. Nothing reports the line's usage, so it is derived from the call's own
duration when the call ends (`calls.end_call_record` calls `bill_line`, whichever
way the call ended) and stored as a `TokenUsage` row of kind "phone" and model
`pricing.TELEPHONY_MODEL`; every cost total (call page, dashboard, analytics, CSV)
then includes it with no query knowing about telephony.

Kept apart from `services.phone_calls` (which imports `services.calls`) so that
`services.calls` can import it without a cycle.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession, TokenUsage
from voxie_app.services import pricing
from voxie_app.settings import Settings

# Outbound dial outcomes where the line never connected: carriers bill nothing.
UNCONNECTED = ("ringing", "no_answer", "busy", "failed")
ABANDONED = "abandoned"  # reconciler.ABANDONED (not imported: the reconciler imports calls)


def connected_seconds(call: CallSession, last_seen: datetime | None = None) -> float:
    """How long the line was up, as well as Voxie knows it.

    The call's duration, except for a call the reconciler closed as abandoned: its
    worker went silent, so the last activity seen before the end (`last_seen`) ends
    it, not the reconciler's clock.
    """
    if call.end_reason == ABANDONED and last_seen is not None:
        return max(0.0, (last_seen - call.started_at).total_seconds())
    return max(0.0, call.duration_seconds or 0.0)


def bill_line(
    *,
    session: Session,
    call: CallSession,
    last_seen: datetime | None = None,
    settings: Settings | None = None,
) -> TokenUsage | None:
    """Write the telephony usage row of an ended phone call (None for any other call,
    and for an outbound call that never connected). Idempotent: rewrites the one row."""
    if call.kind != "phone" or call.ended_at is None or call.dial_status in UNCONNECTED:
        return None
    seconds = round(connected_seconds(call, last_seen), 3)
    price = pricing.cost(pricing.TELEPHONY_MODEL, "phone", audio_seconds=seconds, settings=settings)
    row = session.exec(
        select(TokenUsage).where(
            TokenUsage.call_session_id == call.id,
            TokenUsage.usage_type == "phone",
            TokenUsage.model_name == pricing.TELEPHONY_MODEL,
        )
    ).first()
    if row is None:
        row = TokenUsage(
            call_session_id=call.id, model_name=pricing.TELEPHONY_MODEL, usage_type="phone"
        )
    row.audio_seconds = seconds
    row.cost_per_input_token = price.per_input
    row.cost_per_output_token = price.per_output
    row.total_cost_usd = price.total
    row.timestamp = utcnow()
    session.add(row)
    session.flush()
    return row
