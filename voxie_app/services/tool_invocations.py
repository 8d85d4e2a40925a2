"""The custom-tool invocations of one call, for the call page and the calls API.

Each invocation is a `ToolInvocation` row written by the voice worker
(`voice_worker/http_tools.py`) when the request is over: its arguments are already
secret-redacted there, so what this module returns may reach any signed-in user.
`timeline` places the invocations among the transcript's turns by time, which is
how the call page draws them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlmodel import Session, col, select

from voxie_app.models import ToolInvocation

# The status written by `http_tools` -> how bad it is (the page colours the chip by it).
STATUS_TONES = {
    "ok": "ok",
    "invalid_arguments": "warning",
    "timeout": "warning",
    "connection_error": "error",
    "refused": "error",
    "http_error": "error",
    "failed": "error",
}


@dataclass(frozen=True)
class Invocation:
    """One invocation as shown and served (no secret: arguments were redacted at write)."""

    id: uuid.UUID
    tool_id: uuid.UUID | None  # None once the tool is deleted (the name stays)
    tool_name: str
    arguments: dict[str, Any]
    status: str
    http_status: int | None
    error: str | None
    latency_ms: int
    result_chars: int
    created_at: datetime  # when the request was over

    @property
    def tone(self) -> str:
        return STATUS_TONES.get(self.status, "error")


def list_for_call(*, session: Session, call_id: uuid.UUID) -> list[Invocation]:
    """The call's invocations, oldest first (ties broken by id, so the order is stable)."""
    rows = session.exec(
        select(ToolInvocation)
        .where(col(ToolInvocation.call_session_id) == call_id)
        .order_by(col(ToolInvocation.created_at), col(ToolInvocation.id))
    ).all()
    return [
        Invocation(
            id=r.id,
            tool_id=r.tool_id,
            tool_name=r.tool_name,
            arguments=dict(r.arguments or {}),
            status=r.status,
            http_status=r.http_status,
            error=r.error,
            latency_ms=r.latency_ms,
            result_chars=r.result_chars,
            created_at=_utc(r.created_at),
        )
        for r in rows
    ]


class _Timed(Protocol):
    @property
    def timestamp(self) -> datetime: ...


T = TypeVar("T", bound=_Timed)


def timeline(turns: Sequence[T], invocations: Sequence[Invocation]) -> list[T | Invocation]:
    """Turns and invocations in one sequence: each invocation after the last turn not
    later than it (an invocation is recorded when its request ends, so it lands between
    the caller's question and the agent's answer that used it). Turn order is kept."""
    merged: list[T | Invocation] = []
    pending = list(invocations)
    for turn in turns:
        at = _utc(turn.timestamp)
        while pending and pending[0].created_at < at:
            merged.append(pending.pop(0))
        merged.append(turn)
    merged.extend(pending)
    return merged


def _utc(value: datetime) -> datetime:
    """SQLite may hand back naive datetimes; all stored times are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
