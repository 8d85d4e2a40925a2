"""`/campaigns/[id]`: one campaign's settings, progress, controls and contacts, live.

Thin: the numbers are `services.campaigns.view` and `contacts_page`; the controls are
`services.campaigns.control` (a status that does not allow the action is a
`Conflict`, shown as a toast). Anyone signed in reads the page (`@viewer`); the
controls are admin-only twice (the middleware, then each handler itself).

Live: `watch` is a background task that re-reads the campaign every `POLL_S`
seconds while the tab is connected and still on this campaign (the page's unmount
clears `campaign_id`), and stops by itself once the campaign is over with no call
under way. One watcher per tab and campaign (`state.live.claim`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CONTACT_STATUSES
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.services import e164
from voxie_app.services.errors import NotFound, ServiceError
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState
from voxie_app.state.campaigns import (
    OUTCOMES,
    REFUSED,
    progress_percent,
    progress_text,
    status_color,
)
from voxie_app.state.live import claim, client_connected

log = logging.getLogger(__name__)

PAGE_SIZE = 50
POLL_S = 2.0
ALL = "all"  # the status filter's "every status" (Radix items cannot have "" as value)
DIAL_LABELS = {"answered": "answered", "no_answer": "no answer", "voicemail": "voicemail"}


def settings_rows(view: campaigns_svc.CampaignView) -> list[dict[str, str]]:
    """The settings summary: (label, value) pairs."""
    outcomes = dict(OUTCOMES)
    retry = (
        f"up to {fmt.count(view.max_attempts, 'attempt')}, "
        f"{view.retry_delay_minutes:,} min apart, on "
        + (", ".join(outcomes.get(o, o).lower() for o in view.retry_on) or "nothing")
        if view.max_attempts > 1
        else "no retries (1 attempt)"
    )
    return [
        {"label": "Agent", "value": view.agent_name or "agent deleted"},
        {
            "label": "Calls from",
            "value": e164.display(view.from_number) if view.from_number else "number deleted",
        },
        {"label": "Window", "value": view.window},
        {"label": "Calls at once", "value": str(view.max_concurrent)},
        {"label": "Retries", "value": retry},
        {"label": "Variables", "value": ", ".join(view.variable_names) or "none"},
    ]


def window_note(view: campaigns_svc.CampaignView, tz: str) -> str:
    if view.status in ("completed", "cancelled"):
        return f"The campaign is {view.status}: it places no more calls."
    if view.window_open:
        return "The calling window is open now."
    if view.next_opening is None:
        return "The calling window has no opening day."
    return f"The calling window is closed; it opens {fmt.when(view.next_opening, tz)} ({tz})."


def contact_row(c: campaigns_svc.ContactView, tz: str) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "row": str(c.row_number),
        "phone": e164.display(c.phone),
        "variables": ", ".join(f"{k}={v}" for k, v in c.variables.items()) or fmt.DASH,
        "status": c.status,
        "status_color": status_color(c.status),
        "attempts": str(c.attempts),
        "outcome": fmt.label(c.last_outcome),
        "next": fmt.when(c.next_attempt_at, tz) if c.status == "queued" else fmt.DASH,
        "calls": [
            {
                "href": routes.call(str(call.id)),
                "label": f"#{call.attempt} "
                + DIAL_LABELS.get(call.dial_status or "", fmt.label(call.dial_status).lower()),
            }
            for call in c.calls
        ],
    }


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Page:
    view: campaigns_svc.CampaignView
    contacts: list[campaigns_svc.ContactView]
    total: int
    page: int


def read_page(campaign_id: str, status_filter: str, page: int) -> Page | None:
    """The campaign and one page of its contacts (None if there is no such campaign);
    a page past the end (the filter shrank the list) becomes the last one."""
    key = _uuid(campaign_id)
    if key is None:
        return None
    status = None if status_filter == ALL else status_filter
    try:
        with session_scope() as session:
            view = campaigns_svc.view(session=session, campaign_id=key)

            def contacts(at: int) -> tuple[list[campaigns_svc.ContactView], int]:
                return campaigns_svc.contacts_page(
                    session=session,
                    campaign_id=key,
                    status=status,
                    limit=PAGE_SIZE,
                    offset=at * PAGE_SIZE,
                )

            found, total = contacts(page)
            if not found and total and page:
                page = (total - 1) // PAGE_SIZE
                found, total = contacts(page)
    except NotFound:
        return None
    return Page(view, found, total, page)


class CampaignDetailState(AppState):
    campaign_id: str = ""
    loaded: bool = False
    missing: bool = False
    is_admin: bool = False
    name: str = ""
    status: str = ""
    status_color: str = "gray"
    progress: str = ""
    percent: int = 0
    calls_placed: str = "0"
    window_open: bool = False
    window_note: str = ""
    last_error: str = ""
    settings: list[dict[str, str]] = []
    # {status, count, color} in CONTACT_STATUSES order
    counts: list[dict[str, str]] = []
    contacts: list[dict[str, Any]] = []
    total: int = 0
    page: int = 0
    status_filter: str = ALL
    confirm_open: bool = False
    updated: str = ""

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def range_text(self) -> str:
        if not self.total:
            return "No contacts"
        first = self.page * PAGE_SIZE + 1
        last = min(self.total, first + PAGE_SIZE - 1)
        return f"{first:,} to {last:,} of {fmt.count(self.total, 'contact')}"

    def _apply(self, view: campaigns_svc.CampaignView) -> None:
        tz = self._tz()
        self.name, self.status = view.name, view.status
        self.status_color = status_color(view.status)
        self.progress, self.percent = progress_text(view), progress_percent(view)
        self.calls_placed = f"{view.calls_placed:,}"
        self.window_open = view.window_open
        self.window_note = window_note(view, tz)
        self.last_error = view.last_error or ""
        self.settings = settings_rows(view)
        self.counts = [
            {"status": s, "count": f"{view.counts.get(s, 0):,}", "color": status_color(s)}
            for s in CONTACT_STATUSES
        ]

    def _refresh(self) -> None:
        self._show(read_page(self.campaign_id, self.status_filter, self.page))

    def _show(self, found: Page | None) -> None:
        self.loaded = True
        if found is None:
            self.missing = True
            return
        tz = self._tz()
        self._apply(found.view)
        self.contacts = [contact_row(c, tz) for c in found.contacts]
        self.total, self.page, self.missing = found.total, found.page, False
        self.updated = fmt.clock(utcnow(), tz)

    def _reload(self) -> rx.event.EventSpec | None:
        try:
            self._refresh()
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        return None

    def _over(self) -> bool:
        """Nothing more will change: the campaign ended and no call is under way."""
        calling = next((c["count"] for c in self.counts if c["status"] == "calling"), "0")
        return self.status in ("completed", "cancelled") and calling == "0"

    # ---- reading (anyone signed in) ------------------------------------------------

    @rx.event
    @guard.viewer
    def load(self):
        self.campaign_id = self._path_part(1)[:64]
        self.is_admin = self._is_editor()
        self.loaded, self.missing, self.confirm_open = False, False, False
        self.page, self.status_filter = 0, ALL
        problem = self._reload()
        return [problem] if problem is not None else [CampaignDetailState.watch]

    @rx.event
    @guard.viewer
    def leave(self) -> None:
        """On unmount: the watcher stops at its next check."""
        self.campaign_id = ""

    @rx.event(background=True)
    @guard.viewer
    async def watch(self):
        """Re-read the campaign every POLL_S seconds while this tab shows it."""
        async with self:
            campaign_id = self.campaign_id
            token = self.router.session.client_token
        if not campaign_id:
            return
        with claim(f"{token}:campaign:{campaign_id}") as mine:
            if not mine:
                return
            try:
                while True:
                    await asyncio.sleep(POLL_S)
                    if not client_connected(token):
                        return
                    async with self:
                        if self.campaign_id != campaign_id or self.missing or self._over():
                            return
                        status_filter, page = self.status_filter, self.page
                    # Read outside the state's lock (and off the event loop).
                    found = await asyncio.to_thread(read_page, campaign_id, status_filter, page)
                    async with self:
                        if self.campaign_id != campaign_id:
                            return
                        if (self.status_filter, self.page) == (status_filter, page):
                            self._show(found)
            except Exception:
                log.exception("campaign watcher stopped")

    @rx.event
    @guard.viewer
    def set_status_filter(self, value: str):
        value = str(value)[:16]
        self.status_filter = value if value in CONTACT_STATUSES else ALL
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

    # ---- controls (admins) ---------------------------------------------------------

    def _refuse(self) -> rx.event.EventSpec:
        self.is_admin, self.confirm_open = False, False
        return self._toast_error(REFUSED)

    def _control(self, action: str) -> Any:
        campaign_id = _uuid(self.campaign_id)
        if campaign_id is None:
            return self._toast_error("This campaign does not exist.")
        try:
            with session_scope() as session:
                campaigns_svc.control(session=session, campaign_id=campaign_id, action=action)
        except ServiceError as exc:
            self._reload()
            return self._toast_error(exc.message[:1].upper() + exc.message[1:] + ".")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        failed = self._reload()
        if failed is not None:
            return failed
        done = {"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}
        return [self._toast_ok(f"Campaign {done[action]}."), CampaignDetailState.watch]

    @rx.event
    def start(self):
        if not self._is_editor():
            return self._refuse()
        return self._control("start")

    @rx.event
    def pause(self):
        if not self._is_editor():
            return self._refuse()
        return self._control("pause")

    @rx.event
    def resume(self):
        if not self._is_editor():
            return self._refuse()
        return self._control("resume")

    @rx.event
    def ask_cancel(self):
        if not self._is_editor():
            return self._refuse()
        self.confirm_open = True
        return None

    @rx.event
    def set_confirm_open(self, value: bool):
        if not self._is_editor():
            return self._refuse()
        self.confirm_open = bool(value)
        return None

    @rx.event
    def confirm_cancel(self):
        if not self._is_editor():
            return self._refuse()
        self.confirm_open = False
        return self._control("cancel")
