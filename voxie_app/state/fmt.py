"""How numbers, times and labels are shown on the pages (pure functions, no Reflex)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from voxie_app.services import e164

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


def count(n: int, noun: str, plural: str = "") -> str:
    """'1 call', '2 calls', '1,204 calls' (`plural` when adding an s is wrong)."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def minutes(value: float | None) -> str:
    """Minutes of talk, one way everywhere: one decimal ('12.5'; under the label 'Minutes')."""
    return DASH if value is None else f"{value:,.1f}"


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


def p50_p95_ms(p50: float | None, p95: float | None) -> str:
    """Two percentiles in seconds as milliseconds, "250 / 310"; a dash when not measured."""
    if p50 is None or p95 is None:
        return DASH
    return f"{round(p50 * 1000):,} / {round(p95 * 1000):,}"


def label(value: str | None) -> str:
    """'appointment_booked' -> 'Appointment booked'."""
    if not value:
        return DASH
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def call_type(kind: str, direction: str) -> str:
    """What carried a call, in a few words: 'Web call', 'Text chat', 'Phone, inbound'."""
    if kind == "phone":
        return f"Phone, {direction}"
    return {"web": "Web call", "chat": "Text chat"}.get(kind, label(kind))


def phone_line(
    kind: str, direction: str, customer_phone: str | None, called_number: str | None
) -> str:
    """A phone call's numbers as 'from → to', read the way people write them ('' for a
    web call or a chat). Inbound: the caller's number to ours; outbound the reverse."""
    if kind != "phone":
        return ""
    theirs = e164.display(customer_phone) if customer_phone else "Unknown number"
    # A call Voxie placed stores the callee as `called_number` too: not our number.
    if direction == "outbound" and called_number == customer_phone:
        called_number = None
    ours = e164.display(called_number) if called_number else "our number"
    return f"{theirs} → {ours}" if direction == "inbound" else f"{ours} → {theirs}"


def call_title(
    name: str | None,
    kind: str,
    direction: str,
    customer_phone: str | None,
    called_number: str | None,
) -> str:
    """Who a call was with, for its heading: the customer's name when known; else, on
    the phone, the number dialled (outbound: the callee's, which `customer_phone`
    holds and `called_number` too for calls Voxie placed) or the caller's (inbound)."""
    if name:
        return name
    if kind == "chat":
        return "Text chat"
    if kind == "phone":
        number = (customer_phone or called_number) if direction == "outbound" else customer_phone
        if number:
            return e164.display(number)
        return "Unknown number" if direction == "outbound" else "Unknown caller"
    return "Unknown caller"


SENTIMENT_COLORS = {"positive": "green", "neutral": "gray", "negative": "red", "mixed": "amber"}
STATUS_COLORS = {
    "completed": "green",
    "active": "blue",
    "failed": "red",
    "transferred": "violet",
    "ready": "green",
    "processing": "amber",
}


def sentiment_color(value: str | None) -> str:
    return SENTIMENT_COLORS.get(value or "", "gray")


def status_color(value: str | None) -> str:
    return STATUS_COLORS.get(value or "", "gray")


# How a call ended, in words: (what happened, the technical detail to fold away).
_NORMAL_ENDINGS = {
    "caller_ended": "The caller hung up.",
    "caller_hung_up": "The caller hung up.",
    "agent_ended": "The agent ended the call.",
    "abandoned": "The call was left open and closed automatically.",
    "not_in_service": "Nobody answered: the number is not bound to an agent that is ready.",
}
_FAILED_PREFIXES = {
    "browser": "The browser could not connect the call.",
    "microphone": "The browser could not use the microphone.",
}


def end_reason(reason: str | None, status: str | None) -> tuple[str, str]:
    """A stored end reason as a sentence, with any raw detail (a browser error) apart.

    Failures keep their raw text as the detail, so support can still read it, but
    the page leads with what happened.
    """
    if not reason:
        return ("The call is still going." if status == "active" else DASH), ""
    raw = reason.strip()
    if raw in _NORMAL_ENDINGS:
        return _NORMAL_ENDINGS[raw], ""
    prefix, sep, rest = raw.partition(":")
    if sep and prefix.strip() in _FAILED_PREFIXES:
        return _FAILED_PREFIXES[prefix.strip()], rest.strip()
    if status == "failed":
        return "The call failed before it finished.", raw
    return label(raw), ""


def summary_note(status: str | None, turns: int, has_summary: bool) -> tuple[str, str]:
    """What the summary card says when a part is empty: (summary text, action items text)."""
    if has_summary:
        return "", "No follow-up needed."
    if status == "active":
        return "No summary yet: it is written when the call ends.", "None yet."
    if status == "failed":
        if turns == 0:
            return "No summary: the call failed before anything was said.", "None: the call failed."
        return "No summary: the call failed part-way.", "None: the call failed."
    if turns == 0:
        return "No summary: nothing was said on this call.", "None: nothing was said."
    return "No summary yet: it is written shortly after the call ends.", "None yet."
