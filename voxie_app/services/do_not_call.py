"""The do-not-call list: numbers Voxie must never dial.

Every outbound call checks `is_listed` before anything is written or dialled
(`services.outbound_calls`), and so must anything else that places calls (a campaign
import refuses listed numbers). Numbers are stored in E.164 (`services.e164`), so
"+1 (415) 555-0123" and "+14155550123" are one entry and one check.

Adding is idempotent: adding a listed number again keeps the one row (a new, non-empty
reason replaces the old). A bulk add checks every row first and adds nothing when any
row is bad, reporting each bad row (`InvalidRows`), so a list is never half added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from voxie_app.models import DoNotCall
from voxie_app.services import e164
from voxie_app.services.errors import InvalidInput, InvalidRows, NotFound

MAX_REASON_CHARS = 200
MAX_BULK_ROWS = 10_000
# A bulk add names at most this many bad rows (the count of the rest is said).
MAX_REPORTED_PROBLEMS = 50
MAX_SEARCH_CHARS = 80


@dataclass(frozen=True)
class Entry:
    """One number to add: as typed (any spacing) and why."""

    number: str
    reason: str = ""


@dataclass(frozen=True)
class BulkResult:
    added: int  # numbers new to the list
    already_listed: int  # numbers that were on it (reasons updated when given)


# What a reason may not contain (the API's schema states the same pattern).
REASON_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _reason(text: str | None, *, field: str) -> str:
    raw = str(text or "")
    if _CONTROL.search(raw):
        raise InvalidInput("a reason cannot contain control characters", field=field)
    reason = " ".join(raw.split())  # tabs and line breaks become single spaces
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"a reason is at most {MAX_REASON_CHARS} characters", field=field)
    return reason


def _find(session: Session, number: str) -> DoNotCall | None:
    return session.exec(select(DoNotCall).where(DoNotCall.number == number)).first()


def _upsert(session: Session, number: str, reason: str) -> tuple[DoNotCall, bool]:
    """Insert `number`, or update the reason of its row; (row, created).

    The insert runs in a savepoint: when another request adds the same number at the
    same moment, the unique constraint refuses ours and we return theirs, so the add
    stays idempotent under concurrency on both databases.
    """
    row = _find(session, number)
    if row is None:
        try:
            with session.begin_nested():
                row = DoNotCall(number=number, reason=reason)
                session.add(row)
            return row, True
        except sa.exc.IntegrityError:
            row = _find(session, number)
            if row is None:  # pragma: no cover - the conflicting row vanished again
                raise
    if reason and reason != row.reason:
        row.reason = reason
        session.add(row)
        session.flush()
    return row, False


def add(
    *, session: Session, number: str, reason: str | None = None, field: str = "number"
) -> tuple[DoNotCall, bool]:
    """Put one number on the list; returns (row, created). `InvalidInput` names `field`
    (or `reason`) for a number that is not E.164 or a reason that is too long."""
    e164_number = e164.parse(number, field=field)
    return _upsert(session, e164_number, _reason(reason, field="reason"))


def add_many(*, session: Session, entries: list[Entry], field: str = "numbers") -> BulkResult:
    """Add every entry or none: each bad row is reported as `<field>.<i>.number` /
    `<field>.<i>.reason` (`InvalidRows`), and then nothing is written."""
    if not entries:
        raise InvalidInput("give at least one number", field=field)
    if len(entries) > MAX_BULK_ROWS:
        raise InvalidInput(f"at most {MAX_BULK_ROWS} numbers at once", field=field)
    problems: list[tuple[str, str]] = []
    clean: dict[str, str] = {}  # number -> reason (the last non-empty one wins)
    for i, entry in enumerate(entries):
        try:
            number = e164.parse(entry.number, field=f"{field}.{i}.number")
            reason = _reason(entry.reason, field=f"{field}.{i}.reason")
        except InvalidInput as exc:
            problems.append((exc.field, f"row {i + 1}: {exc.message}"))
            continue
        if reason or number not in clean:
            clean[number] = reason
    if problems:
        shown = problems[:MAX_REPORTED_PROBLEMS]
        if len(problems) > len(shown):
            shown.append((field, f"and {len(problems) - len(shown)} more bad rows"))
        raise InvalidRows(shown)
    added = 0
    for number, reason in clean.items():
        _, created = _upsert(session, number, reason)
        added += created
    return BulkResult(added=added, already_listed=len(clean) - added)


def remove(*, session: Session, number: str) -> None:
    """Take a number off the list; `NotFound` when it is not on it."""
    e164_number = e164.parse(number, field="number")
    row = _find(session, e164_number)
    if row is None:
        raise NotFound(f"{e164_number} is not on the do-not-call list")
    session.delete(row)
    session.flush()


def is_listed(*, session: Session, number: str) -> bool:
    """Whether `number` (any form `e164.normalize` reads) is on the list."""
    normal = e164.normalize(number) or (number or "").strip()
    return bool(normal) and _find(session, normal) is not None


def listed_among(*, session: Session, numbers: Iterable[str]) -> set[str]:
    """Which of `numbers` are on the do-not-call list (one query per 500)."""
    pending = list(numbers)
    found: set[str] = set()
    for i in range(0, len(pending), 500):
        chunk = pending[i : i + 500]
        found.update(
            session.exec(select(DoNotCall.number).where(col(DoNotCall.number).in_(chunk))).all()
        )
    return found


def _filtered(query, search: str | None):
    text = (search or "").strip()[:MAX_SEARCH_CHARS]
    if not text:
        return query
    digits = "".join(ch for ch in text if ch.isdigit())
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conditions = [col(DoNotCall.reason).ilike(f"%{escaped}%", escape="\\")]
    if digits:
        conditions.append(col(DoNotCall.number).contains(digits))
    return query.where(sa.or_(*conditions))


def list_entries(
    *, session: Session, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[DoNotCall], int]:
    """A page of the list, newest first, and how many entries match in all.

    `search` matches the digits of a number (so "555 01" finds +14155550123) or words
    of the reason.
    """
    rows = session.exec(
        _filtered(select(DoNotCall), search)
        .order_by(col(DoNotCall.created_at).desc(), col(DoNotCall.number))
        .offset(max(0, offset))
        .limit(max(1, limit))
    ).all()
    total = session.exec(_filtered(select(func.count()).select_from(DoNotCall), search)).one()
    return list(rows), int(total)
