"""The one clock the product reads, so tests can set it.

Everything that asks "what time is it" for stored times, day boundaries and
expiry goes through `now()` (via `dbtypes.utcnow`). A test that depends on
where "today" starts sets the clock to a fixed instant with `travel_to`; the
clock then runs on from there at the real rate (timeouts and polling still
work), so a test gives the same answer at any hour of the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current time, tz-aware in UTC, shifted by the offset a test set (none in production)."""
    return datetime.now(UTC) + _offset


def set_offset(offset: timedelta) -> None:
    """Shift the clock by `offset` from the real time (`timedelta(0)` restores it)."""
    global _offset
    _offset = offset


@contextmanager
def travel_to(at: datetime) -> Iterator[datetime]:
    """Run the block with the clock starting at `at` (tz-aware), then restore it."""
    if at.tzinfo is None:
        raise ValueError("travel_to needs a tz-aware datetime")
    before = _offset
    set_offset(at - datetime.now(UTC))
    try:
        yield at
    finally:
        set_offset(before)
