"""The do-not-call panel: anyone signed in reads the list; admins add and remove.

Thin: every rule (E.164, idempotent adds, all-or-nothing bulk adds) is
`services.do_not_call`. The read handlers are `@viewer`; the rest are admin-only
twice: the middleware refuses a viewer's event, and each handler checks the role
again before it touches anything.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.services import do_not_call as dnc_svc
from voxie_app.services import e164
from voxie_app.services.errors import InvalidInput, InvalidRows, ServiceError
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState

log = logging.getLogger(__name__)

PAGE_SIZE = 20
REFUSED = "Only an admin can change the do-not-call list."
# A bulk add's toast names this many bad rows; the rest are counted.
TOAST_ROWS = 5


def bulk_entries(text: str) -> list[dnc_svc.Entry]:
    """One number per line, optionally followed by a comma and a reason; blank lines skipped."""
    entries = []
    for line in str(text or "").splitlines():
        if not line.strip():
            continue
        number, _, reason = line.partition(",")
        entries.append(dnc_svc.Entry(number.strip(), reason.strip()))
    return entries


def rows_message(exc: InvalidRows) -> str:
    """The bad rows of a bulk add, as a toast says them."""
    lines = [message for _, message in exc.problems[:TOAST_ROWS]]
    rest = len(exc.problems) - len(lines)
    if rest > 0:
        lines.append(f"and {rest} more")
    return "Nothing was added. " + "; ".join(lines)


class DoNotCallState(AppState):
    is_admin: bool = False
    loaded: bool = False
    # {number, display, reason, added}
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    search: str = ""
    remove_open: bool = False
    remove_number: str = ""

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def range_text(self) -> str:
        if not self.total:
            return "No numbers"
        first = self.page * PAGE_SIZE + 1
        last = min(self.total, first + PAGE_SIZE - 1)
        return f"{first} to {last} of {fmt.count(self.total, 'number')}"

    def _refresh(self) -> None:
        tz = self._tz()
        with session_scope() as session:
            found, total = dnc_svc.list_entries(
                session=session, search=self.search, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE
            )
        if not found and total and self.page:  # the last page emptied: step back
            self.page = max(0, (total - 1) // PAGE_SIZE)
            with session_scope() as session:
                found, total = dnc_svc.list_entries(
                    session=session,
                    search=self.search,
                    limit=PAGE_SIZE,
                    offset=self.page * PAGE_SIZE,
                )
        self.total = total
        self.rows = [
            {
                "number": r.number,
                "display": e164.display(r.number),
                "reason": r.reason,
                "added": fmt.when(r.created_at, tz),
            }
            for r in found
        ]
        self.loaded = True

    def _reload(self) -> rx.event.EventSpec | None:
        try:
            self._refresh()
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        return None

    def _refuse(self) -> rx.event.EventSpec:
        self.is_admin, self.remove_open = False, False
        return self._toast_error(REFUSED)

    # ---- reading (anyone signed in) ------------------------------------------------

    @rx.event
    @guard.viewer
    def load(self):
        self.is_admin = self._is_editor()
        self.remove_open, self.remove_number = False, ""
        return self._reload()

    @rx.event
    @guard.viewer
    def set_search(self, value: str):
        self.search = str(value)[: dnc_svc.MAX_SEARCH_CHARS]
        self.page = 0
        return self._reload()

    @rx.event
    @guard.viewer
    def next_page(self):
        if self.page + 1 < self.pages:
            self.page += 1
        return self._reload()

    @rx.event
    @guard.viewer
    def prev_page(self):
        self.page = max(0, self.page - 1)
        return self._reload()

    # ---- changing (admins) ---------------------------------------------------------

    @rx.event
    def add(self, form: dict[str, Any]):
        """Add the number in the form (a listed number stays, its reason updated)."""
        if not self._is_editor():
            return self._refuse()
        try:
            with session_scope() as session:
                row, created = dnc_svc.add(
                    session=session,
                    number=str(form.get("number", ""))[:64],
                    reason=str(form.get("reason", ""))[:500],
                )
                number = row.number
        except InvalidInput as exc:
            label = {"number": "Number", "reason": "Reason"}.get(exc.field, exc.field)
            return self._toast_error(f"{label}: {exc.message}")
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        failed = self._reload()
        if failed is not None:
            return failed
        verb = "added to" if created else "was already on"
        return self._toast_ok(f"{e164.display(number)} {verb} the do-not-call list.")

    @rx.event
    def add_many(self, form: dict[str, Any]):
        """Add every pasted line, or none when any line is bad (each bad row is named)."""
        if not self._is_editor():
            return self._refuse()
        entries = bulk_entries(str(form.get("numbers", ""))[:2_000_000])
        try:
            with session_scope() as session:
                result = dnc_svc.add_many(session=session, entries=entries)
        except InvalidRows as exc:
            return self._toast_error(rows_message(exc))
        except InvalidInput as exc:
            return self._toast_error(f"Numbers: {exc.message}")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        failed = self._reload()
        if failed is not None:
            return failed
        return self._toast_ok(
            f"Added {fmt.count(result.added, 'number')}"
            + (f"; {result.already_listed} already listed." if result.already_listed else ".")
        )

    @rx.event
    def ask_remove(self, number: str):
        if not self._is_editor():
            return self._refuse()
        self.remove_number, self.remove_open = str(number)[:64], True
        return None

    @rx.event
    def set_remove_open(self, value: bool):
        if not self._is_editor():
            return self._refuse()
        self.remove_open = bool(value)
        return None

    @rx.event
    def confirm_remove(self):
        if not self._is_editor():
            return self._refuse()
        number, self.remove_open = self.remove_number, False
        try:
            with session_scope() as session:
                dnc_svc.remove(session=session, number=number)
        except ServiceError as exc:
            self._reload()
            return self._toast_error(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        failed = self._reload()
        if failed is not None:
            return failed
        return self._toast_ok(f"{e164.display(number)} can be called again.")
