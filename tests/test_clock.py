"""The product's clock and the demo seed at the instants where day boundaries bite.

These run in every clock-check instant too (scripts/clock_check.sh): whatever
the wall clock says, a fixed `now` gives one answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from tests.seed import seed_demo
from voxie_app import clock
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession
from voxie_app.services import reports
from voxie_app.services.rollups import local_day

INSTANTS = [
    (datetime(2026, 12, 2, 0, 5, tzinfo=UTC), "UTC"),
    (datetime(2026, 12, 2, 9, 59, tzinfo=UTC), "UTC"),
    (datetime(2026, 12, 2, 23, 55, tzinfo=UTC), "UTC"),
    (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Europe/Berlin"),  # 23-hour day
    (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "America/New_York"),  # 25-hour day
    (datetime(2026, 11, 1, 4, 10, tzinfo=UTC), "America/New_York"),  # just after midnight
]


def test_travel_to_starts_the_clock_at_an_instant_and_restores_it() -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    with clock.travel_to(at):
        first = utcnow()
        assert timedelta(0) <= first - at < timedelta(seconds=5)
        assert utcnow() >= first  # it runs on
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="tz-aware"), clock.travel_to(naive):
        pass


def test_the_clock_fixture_sets_what_services_read(clock: Any) -> None:
    clock(datetime(2026, 12, 2, 0, 5, tzinfo=UTC))
    assert reports.today("UTC").isoformat() == "2026-12-02"
    assert reports.today("America/New_York").isoformat() == "2026-12-01"


@pytest.mark.parametrize(("now", "tz"), INSTANTS, ids=lambda v: str(v))
def test_demo_calls_fall_inside_their_local_days(
    db: str, clock: Any, now: datetime, tz: str
) -> None:
    clock(now)
    seeded = seed_demo(now=now, tz=tz)
    today = local_day(now, tz)
    with session_scope() as s:
        rows = s.exec(select(CallSession.id, CallSession.started_at)).all()
    days = {i: local_day(at, tz) for i, at in rows}
    assert all(at <= now for _, at in rows)
    assert set(days.values()) <= {today - timedelta(days=n) for n in range(14)}
    assert {i for i, d in days.items() if d == today} == set(seeded.today_call_ids)
    f = reports.CallFilter(start=today - timedelta(days=13), end=today, tz=tz)
    with session_scope() as s:
        assert reports.call_stats(session=s, filters=f).calls == len(seeded.call_ids)
