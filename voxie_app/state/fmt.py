"""How numbers, times and labels are shown on the pages (pure functions, no Reflex)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

DASH = "—"


def money(value: Decimal | float | None) -> str:
    """Dollars: cents for sums of a dollar or more, four places below (calls cost cents)."""
    if value is None:
        return DASH
    v = Decimal(str(value))
    if v == 0:
        return "$0.00"
    if abs(v) >= 1:
        return f"${v:,.2f}"
    return f"${v:.4f}"


def number(value: float | int | None, places: int = 1) -> str:
    if value is None:
        return DASH
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{places}f}"


def percent(rate: float | None) -> str:
    return DASH if rate is None else f"{rate * 100:.0f}%"


def rating(value: float | int | None) -> str:
    return DASH if value is None else f"{value:.1f} / 5"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def when(value: datetime | None, tz: str) -> str:
    """A stored UTC time as a short local time: 'Nov 25, 14:03'."""
    if value is None:
        return DASH
    local = value.astimezone(ZoneInfo(tz))
    return f"{local:%b} {local.day}, {local:%H:%M}"


def clock(value: datetime | None, tz: str) -> str:
    return DASH if value is None else value.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")


def day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}s"


def label(value: str | None) -> str:
    """'appointment_booked' -> 'Appointment booked'."""
    if not value:
        return DASH
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


SENTIMENT_COLORS = {"positive": "green", "neutral": "gray", "negative": "red", "mixed": "amber"}
STATUS_COLORS = {
    "completed": "green",
    "active": "blue",
    "failed": "red",
    "ready": "green",
    "processing": "amber",
}


def sentiment_color(value: str | None) -> str:
    return SENTIMENT_COLORS.get(value or "", "gray")


def status_color(value: str | None) -> str:
    return STATUS_COLORS.get(value or "", "gray")
