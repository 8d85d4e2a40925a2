"""The analytics date-range rule with a fixed `today`: refusals and trims, in words."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from voxie_app.services import date_range, reports
from voxie_app.services.date_range import RangeRefused, resolve

TODAY = date(2026, 3, 15)


def test_a_range_inside_the_limits_is_shown_as_asked() -> None:
    shown = resolve(date(2026, 3, 1), date(2026, 3, 10), today=TODAY)
    assert (shown.start, shown.end, shown.notes) == (date(2026, 3, 1), date(2026, 3, 10), ())
    one_day = resolve(TODAY, TODAY, today=TODAY)
    assert (one_day.start, one_day.end, one_day.notes) == (TODAY, TODAY, ())


@pytest.mark.parametrize(
    ("edited", "field", "words"),
    [
        ("start", "start", "From is after To (5 Mar 2026)"),
        ("end", "end", "To is before From (10 Mar 2026)"),
    ],
)
def test_from_after_to_is_refused_on_the_edited_field(edited, field, words) -> None:
    with pytest.raises(RangeRefused) as err:
        resolve(date(2026, 3, 10), date(2026, 3, 5), today=TODAY, edited=edited)
    assert err.value.field == field
    assert err.value.message.startswith(words)


def test_a_from_in_the_future_is_refused() -> None:
    with pytest.raises(RangeRefused) as err:
        resolve(date(2026, 3, 16), date(2026, 3, 20), today=TODAY, edited="end")
    assert err.value.field == "start"
    assert "Pick today (15 Mar 2026) or earlier" in err.value.message


def test_a_to_in_the_future_is_trimmed_to_today_and_said() -> None:
    shown = resolve(date(2026, 3, 1), date(2026, 4, 30), today=TODAY)
    assert (shown.start, shown.end) == (date(2026, 3, 1), TODAY)
    assert shown.notes == ("To is after today: showing up to today, 15 Mar 2026.",)


def test_a_range_over_the_limit_starts_later_and_says_so() -> None:
    days = reports.MAX_RANGE_DAYS
    shown = resolve(date(2024, 1, 1), TODAY, today=TODAY)
    assert shown.end == TODAY and (shown.end - shown.start).days == days - 1
    assert shown.start == date(2025, 3, 15)
    assert shown.notes == (f"A range covers at most {days} days: showing from 15 Mar 2025.",)
    # Exactly the limit is kept as asked.
    exact = resolve(date(2025, 3, 15), TODAY, today=TODAY)
    assert exact.start == date(2025, 3, 15) and exact.notes == ()


def test_both_trims_are_reported_in_order() -> None:
    shown = resolve(date(2020, 1, 1), date(2030, 1, 1), today=TODAY)
    assert shown.end == TODAY and shown.start == date(2025, 3, 15)
    assert [n.split(":")[0] for n in shown.notes] == [
        "To is after today",
        f"A range covers at most {reports.MAX_RANGE_DAYS} days",
    ]


def test_today_comes_from_the_product_clock_in_the_viewers_zone(clock) -> None:
    """The page asks the rule with `reports.today(tz)`: the product clock, not the wall's."""
    clock(datetime(2026, 3, 15, 23, 30, tzinfo=UTC))
    assert reports.today("UTC") == TODAY
    tokyo = reports.today("Asia/Tokyo")  # already the 16th there
    assert tokyo == date(2026, 3, 16)
    assert resolve(date(2026, 3, 16), date(2026, 3, 16), today=tokyo).notes == ()
    with pytest.raises(RangeRefused):
        resolve(date(2026, 3, 16), date(2026, 3, 16), today=reports.today("UTC"))


def test_day_words_are_unambiguous() -> None:
    assert date_range.day_words(date(2026, 12, 2)) == "2 Dec 2026"
