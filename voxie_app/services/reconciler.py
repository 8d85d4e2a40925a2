"""Mark calls whose worker died as failed (`abandoned`).

A self-hosted LiveKit server does not re-dispatch a job whose process died,
so an `active` call with no activity for too long will never end by itself.
The worker runs `reconcile` at start and then periodically.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession
from voxie_app.services.calls import end_call_record

ABANDONED = "abandoned"


def reconcile(*, session: Session, idle_seconds: int, now: datetime | None = None) -> list[str]:
    """Fail active calls idle for more than `idle_seconds`; returns their ids."""
    cutoff = (now or utcnow()) - timedelta(seconds=idle_seconds)
    last_seen = sa.func.coalesce(col(CallSession.last_activity_at), col(CallSession.started_at))
    stale = session.exec(
        select(CallSession.id).where(CallSession.call_status == "active", last_seen < cutoff)
    ).all()
    for call_id in stale:
        end_call_record(session=session, call_session_id=call_id, status="failed", reason=ABANDONED)
    return [str(i) for i in stale]
