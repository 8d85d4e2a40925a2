"""The analytics date range: which From/To pairs are shown, and what was changed, in words.

A pure rule (no database, no clock: `today` is passed in) so the page never
changes a range silently. A pair that cannot mean anything (From after To,
From in the future) is refused with a message for the field that was edited;
a pair that only overshoots (To after today, more than `MAX_RANGE_DAYS` days)
is trimmed, and each trim is described in a note the page shows beside the
fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from voxie_app.services.reports import MAX_RANGE_DAYS

Field = Literal["start", "end"]


def day_words(day: date) -> str:
    """`2 Dec 2026`: unambiguous in every locale (no 12/02 vs 02/12)."""
    return f"{day.day} {day:%b %Y}"


@dataclass(frozen=True)
class DateRange:
    """The range to show, and one sentence per adjustment made to what was asked."""

    start: date
    end: date
    notes: tuple[str, ...] = ()


class RangeRefused(ValueError):
    """The asked range cannot be shown; `field` is where the message belongs."""

    def __init__(self, field: Field, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def resolve(start: date, end: date, *, today: date, edited: Field = "start") -> DateRange:
    """The range to show for From=`start`, To=`end` on `today` (the viewer's local day).

    `edited` names the field the user just changed: a From-after-To pair is
    refused there, since that is the value the user is looking at.
    """
    if start > today:
        raise RangeRefused(
            "start", f"From is in the future. Pick today ({day_words(today)}) or earlier."
        )
    if start > end:
        if edited == "end":
            raise RangeRefused(
                "end", f"To is before From ({day_words(start)}). Pick a day on or after it."
            )
        raise RangeRefused(
            "start", f"From is after To ({day_words(end)}). Pick a day on or before it."
        )
    notes: list[str] = []
    if end > today:
        end = today
        notes.append(f"To is after today: showing up to today, {day_words(today)}.")
    if (end - start).days >= MAX_RANGE_DAYS:
        start = end - timedelta(days=MAX_RANGE_DAYS - 1)
        notes.append(
            f"A range covers at most {MAX_RANGE_DAYS} days: showing from {day_words(start)}."
        )
    return DateRange(start, end, tuple(notes))
