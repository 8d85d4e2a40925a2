"""`/calls`: call history with filters (agent, dates, status, sentiment, outcome, kind,
direction, phone number), paged."""

from __future__ import annotations

import json
import uuid
from datetime import date
from urllib.parse import urlencode

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.models import CALL_DIRECTIONS, CALL_STATUSES
from voxie_app.services import e164, reports
from voxie_app.services.errors import InvalidInput
from voxie_app.state import fmt, guard
from voxie_app.state.agent_detail import call_rows
from voxie_app.state.base import AppState

ALL = "all"
PAGE_SIZE = 20
FILTER_KEYS = (
    "agent",
    "start",
    "end",
    "status",
    "sentiment",
    "outcome",
    "kind",
    "direction",
    "number",
)
NUMBER_HINT = "Enter a phone number in E.164 form, e.g. +14155550123."
DEFAULT_KIND = "voice"  # chats are kept as calls but listed only when asked for


def parse_number(value: str) -> str | None:
    """The filter's phone number as E.164, or None when it is not one."""
    try:
        return e164.parse(value, field="number") if value else None
    except InvalidInput:
        return None


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def build_filter(values: dict[str, str], tz: str) -> reports.CallFilter:
    """The report filter the form values describe (`all` and bad values mean no filter)."""

    def pick(key: str) -> str | None:
        v = values.get(key, ALL)
        return None if v in ("", ALL) else v

    agent = pick("agent")
    try:
        agent_id = uuid.UUID(agent) if agent else None
    except ValueError:
        agent_id = None
    return reports.CallFilter(
        agent_id=agent_id,
        start=parse_day(values.get("start", "")),
        end=parse_day(values.get("end", "")),
        status=pick("status"),
        sentiment=pick("sentiment"),
        outcome=pick("outcome"),
        tz=tz,
        kind=kind
        if (kind := values.get("kind", DEFAULT_KIND)) in reports.KIND_FILTERS
        else "voice",
        direction=direction if (direction := pick("direction")) in CALL_DIRECTIONS else None,
        number=parse_number(values.get("number", "")),
    )


def blank_filters() -> dict[str, str]:
    return {
        "agent": ALL,
        "start": "",
        "end": "",
        "status": ALL,
        "sentiment": ALL,
        "outcome": ALL,
        "kind": DEFAULT_KIND,
        "direction": ALL,
        "number": "",
    }


def filters_from_query(query: dict[str, str]) -> tuple[dict[str, str], int]:
    """The filters and page a `/calls?...` URL names (unknown keys and bad values ignored)."""
    filters = blank_filters()
    for key in FILTER_KEYS:
        value = str(query.get(key, "") or "")[:64]
        if not value:
            continue
        if key in ("start", "end") and parse_day(value) is None:
            continue
        if key == "kind" and value not in reports.KIND_FILTERS:
            continue
        if key == "direction" and value not in CALL_DIRECTIONS:
            continue
        if key == "number":
            value = parse_number(value) or ""
        filters[key] = value
    try:
        page = max(0, int(str(query.get("page", "1"))) - 1)
    except ValueError:
        page = 0
    return filters, page


def query_for(filters: dict[str, str], page: int) -> str:
    """The `/calls` URL for these filters and page: only what differs from the defaults."""
    blank = blank_filters()
    params = {k: v for k, v in filters.items() if k in FILTER_KEYS and v != blank[k]}
    if page > 0:
        params["page"] = str(page + 1)
    return routes.CALLS + (f"?{urlencode(params)}" if params else "")


class CallsState(AppState):
    filters: dict[str, str] = blank_filters()
    page: int = 0
    total: int = 0
    rows: list[dict[str, str]] = []
    loaded: bool = False
    loading: bool = False
    agent_options: list[dict[str, str]] = []
    sentiment_options: list[dict[str, str]] = []
    outcome_options: list[dict[str, str]] = []
    status_options: list[dict[str, str]] = [
        {"value": s, "label": fmt.label(s)} for s in CALL_STATUSES
    ]
    kind_options: list[dict[str, str]] = [
        {"value": k, "label": label} for k, label in reports.KIND_FILTER_LABELS.items()
    ]
    direction_options: list[dict[str, str]] = [
        {"value": d, "label": fmt.label(d)} for d in CALL_DIRECTIONS
    ]

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def range_text(self) -> str:
        if self.total == 0:
            return "No calls"
        first = self.page * PAGE_SIZE + 1
        last = min(self.total, first + PAGE_SIZE - 1)
        return f"{first:,} to {last:,} of {fmt.count(self.total, 'call')}"

    @rx.var
    def filtered(self) -> bool:
        return self.filters != blank_filters()

    def _fetch(self) -> rx.event.EventSpec | None:
        tz = self._tz()
        try:
            with session_scope() as session:
                page = reports.list_calls(
                    session=session,
                    filters=build_filter(self.filters, tz),
                    limit=PAGE_SIZE,
                    offset=self.page * PAGE_SIZE,
                )
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        self.rows = call_rows(page.rows, tz)
        self.total = page.total
        self.loaded = True
        return None

    def _fetch_and_share(self) -> rx.event.EventSpec:
        """Fetch, and put the filters in the address bar (shareable; a reload keeps them).

        `replaceState` changes the URL without a navigation, so `load` does not run again.
        """
        url = json.dumps(query_for(self.filters, self.page))
        push = rx.call_script(f"window.history.replaceState(window.history.state, '', {url})")
        failed = self._fetch()
        return failed if failed is not None else push

    @rx.event
    @guard.viewer
    def load(self):
        """`/calls?agent=…&status=…&page=2`: the filters come from the URL."""
        query = dict(self.router.url.query_parameters)
        self.filters, self.page = filters_from_query(query)
        try:
            with session_scope() as session:
                options = reports.filter_options(session=session, tz=self._tz())
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        self.agent_options = [{"value": str(i), "label": n} for i, n in options.agents]
        self.sentiment_options = [{"value": s, "label": fmt.label(s)} for s in options.sentiments]
        self.outcome_options = [{"value": o, "label": fmt.label(o)} for o in options.outcomes]
        failed = self._fetch()
        if failed is None and self.page > 0 and not self.rows:  # a page past the end
            self.page = max(0, -(-self.total // PAGE_SIZE) - 1)
            return self._fetch_and_share()
        return failed

    @rx.event
    @guard.viewer
    def set_filter(self, key: str, value: str):
        if key not in FILTER_KEYS:
            return None
        if key in ("start", "end") and value and parse_day(value) is None:
            return self._toast_error("Enter a date as YYYY-MM-DD.")
        if key == "number":
            value = value.strip()
            if value and (value := parse_number(value) or "") == "":
                return self._toast_error(NUMBER_HINT)
            if value == self.filters.get("number", ""):
                return None  # left the field without changing it
        self.filters = {**self.filters, key: value}
        self.page = 0
        return self._fetch_and_share()

    @rx.event
    @guard.viewer
    def clear_filters(self):
        self.filters, self.page = blank_filters(), 0
        return self._fetch_and_share()

    @rx.event
    @guard.viewer
    def next_page(self):
        if (self.page + 1) * PAGE_SIZE < self.total:
            self.page += 1
            return self._fetch_and_share()
        return None

    @rx.event
    @guard.viewer
    def prev_page(self):
        if self.page > 0:
            self.page -= 1
            return self._fetch_and_share()
        return None
