"""`/campaigns`: the list of outbound calling campaigns, and the "New campaign" dialog.

Thin: every rule (settings, the whole CSV checked before anything is written, the
do-not-call list, which numbers can place calls) is `services.campaigns` and
`services.campaign_csv`. Anyone signed in reads the list (`@viewer`); everything
else is admin-only twice: the middleware (and, for the CSV drop, `upload_guard`)
refuses a viewer, and each handler checks the role again before it touches anything.

The CSV is read when it is dropped: the dialog says at once how many contacts it
holds or lists its bad rows, and keeps the text for Create, which checks it again
with the settings (the do-not-call list may have changed in between).
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import agents as agents_svc
from voxie_app.services import campaign_csv, e164
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.services import outbound_calls as outbound_svc
from voxie_app.services.errors import InvalidInput, InvalidRows, ServiceError
from voxie_app.settings import get_settings
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState
from voxie_app.state.outbound_call import caller_choices

log = logging.getLogger(__name__)

REFUSED = "Only an admin can create or control campaigns."
UPLOAD_ID = "campaign-csv"
# The dialog lists this many CSV problems (the service reports at most 100, then
# "and N more problems").
MAX_PROBLEMS = campaign_csv.MAX_REPORTED + 1
FIELDS = (
    "name",
    "agent_id",
    "from_number_id",
    "timezone",
    "window_days",
    "window_start",
    "window_end",
    "max_concurrent",
    "max_attempts",
    "retry_delay_minutes",
    "retry_on",
    "csv",
)
LABELS = {
    "name": "Name",
    "agent_id": "Agent",
    "from_number_id": "Call from",
    "timezone": "Time zone",
    "window_days": "Days",
    "window_start": "Start time",
    "window_end": "End time",
    "max_concurrent": "Calls at once",
    "max_attempts": "Attempts",
    "retry_delay_minutes": "Retry after",
    "retry_on": "Retry when",
    "csv": "Contacts",
}
# (ISO weekday, label) for the day checkboxes.
DAY_LABELS = tuple((str(i), name) for i, name in enumerate(campaigns_svc.DAY_NAMES, start=1))
OUTCOMES = (
    ("no_answer", "No answer"),
    ("busy", "Busy"),
    ("voicemail", "Voicemail"),
    ("failed", "Failed"),
)
STATUS_COLORS = {
    "draft": "gray",
    "running": "grass",
    "paused": "amber",
    "completed": "blue",
    "cancelled": "red",
    # contacts
    "queued": "gray",
    "calling": "blue",
    "done": "grass",
    "failed": "red",
    "skipped": "amber",
}
FINISHED = ("done", "failed", "cancelled", "skipped")
DEFAULT_DAYS = ["1", "2", "3", "4", "5"]
DEFAULT_RETRY_ON = ["busy", "no_answer"]


def no_errors() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, "gray")


def progress_text(view: campaigns_svc.CampaignView) -> str:
    """ "12 / 40 finished": contacts finished (reached, failed, cancelled or skipped) of
    all ("done" would read as reached, which is one of the counts below it)."""
    finished = sum(view.counts.get(s, 0) for s in FINISHED)
    return f"{finished:,} / {view.contact_count:,} finished"


def progress_percent(view: campaigns_svc.CampaignView) -> int:
    if not view.contact_count:
        return 0
    finished = sum(view.counts.get(s, 0) for s in FINISHED)
    return round(100 * finished / view.contact_count)


def campaign_row(view: campaigns_svc.CampaignView) -> dict[str, str]:
    """A campaign as the list shows it."""
    return {
        "id": str(view.id),
        "href": routes.campaign(str(view.id)),
        "name": view.name,
        "agent": view.agent_name or "agent deleted",
        "from_number": e164.display(view.from_number) if view.from_number else "number deleted",
        "status": view.status,
        "status_color": status_color(view.status),
        "progress": progress_text(view),
        "window": view.window,
    }


def _line_of(field: str) -> int:
    """`csv.<line>.<column>` -> line (a problem about the whole file sorts last)."""
    parts = field.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1 << 30


def problem_lines(exc: InvalidInput) -> list[str]:
    """What a bad CSV shows: each problem's message (they already name the line), in
    line order (the do-not-call check comes after the rest, so its rows come last)."""
    if isinstance(exc, InvalidRows):
        ordered = sorted(exc.problems[:MAX_PROBLEMS], key=lambda p: _line_of(p[0]))
        return [message for _, message in ordered]
    return [exc.message]


def is_csv_field(field: str) -> bool:
    return field == campaign_csv.FIELD or field.startswith(campaign_csv.FIELD + ".")


def settings_from_form(form: dict[str, Any], days: list[str], retry_on: list[str]) -> dict:
    """The form's text fields and the checkbox choices as `campaigns.parse` reads them;
    numbers that are not numbers stay text so the model names the field."""

    def number(key: str) -> Any:
        raw = str(form.get(key, "")).strip()[:12]
        return int(raw) if raw.lstrip("-").isdigit() else raw

    return {
        "name": str(form.get("name", ""))[:200],
        "agent_id": str(form.get("agent_id", ""))[:64],
        "from_number_id": str(form.get("from_number_id", ""))[:64],
        "timezone": str(form.get("timezone", "")).strip()[:64],
        "window_days": [int(d) for d in days if d.isdigit()],
        "window_start": str(form.get("window_start", "")).strip()[:5],
        "window_end": str(form.get("window_end", "")).strip()[:5],
        "max_concurrent": number("max_concurrent"),
        "max_attempts": number("max_attempts"),
        "retry_delay_minutes": number("retry_delay_minutes"),
        "retry_on": list(retry_on),
    }


class CampaignsState(AppState):
    is_admin: bool = False
    loaded: bool = False
    # campaign_row(...) per campaign, newest first
    rows: list[dict[str, str]] = []

    # ---- the "New campaign" dialog
    open: bool = False
    saving: bool = False
    start_after: bool = False  # "Create and start" pressed (set just before the submit)
    default_timezone: str = "UTC"
    # {id, label} of the agents and of our numbers that can place calls
    agents: list[dict[str, str]] = []
    numbers: list[dict[str, str]] = []
    agent_id: str = ""
    from_number_id: str = ""
    days: list[str] = DEFAULT_DAYS
    retry_on: list[str] = DEFAULT_RETRY_ON
    errors: dict[str, str] = no_errors()
    csv_name: str = ""
    csv_summary: str = ""
    csv_problems: list[str] = []
    _csv_text: str = ""

    def _refuse(self) -> rx.event.EventSpec:
        self.is_admin, self.open, self.saving = False, False, False
        self.agents, self.numbers, self._csv_text = [], [], ""
        return self._toast_error(REFUSED)

    def _refresh(self) -> None:
        with session_scope() as session:
            views = campaigns_svc.list_views(session=session)
        self.rows = [campaign_row(v) for v in views]
        self.loaded = True

    def _load_choices(self) -> None:
        with session_scope() as session:
            agents = agents_svc.list_agents(session=session, limit=500)
            callers = outbound_svc.caller_numbers(session=session)
        self.agents = [
            {
                "id": str(a.id),
                "label": (a.name or str(a.id)) + ("" if a.status == "ready" else f" ({a.status})"),
            }
            for a in agents
        ]
        self.numbers = caller_choices(callers)

    def _clear_csv(self) -> None:
        self.csv_name = self.csv_summary = self._csv_text = ""
        self.csv_problems = []

    def _show_csv_problems(self, exc: InvalidInput) -> None:
        self.csv_problems = problem_lines(exc)
        self.csv_summary = ""
        self.errors = no_errors()  # the list under the drop zone says it all

    # ---- reading (anyone signed in) ------------------------------------------------

    @rx.event
    @guard.viewer
    def load(self):
        self.is_admin = self._is_editor()
        self.open = self.saving = False
        try:
            self._refresh()
        except sa.exc.SQLAlchemyError as exc:
            self.loaded = True
            return self._db_failed(exc)
        return None

    # ---- the dialog (admins) -------------------------------------------------------

    @rx.event
    def open_new(self):
        if not self._is_editor():
            return self._refuse()
        try:
            self._load_choices()
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self.default_timezone = get_settings().timezone
        self.agent_id = self.agents[0]["id"] if self.agents else ""
        self.from_number_id = self.numbers[0]["id"] if self.numbers else ""
        self.days, self.retry_on = list(DEFAULT_DAYS), list(DEFAULT_RETRY_ON)
        self.errors = no_errors()
        self._clear_csv()
        self.saving, self.start_after, self.open = False, False, True
        return None

    @rx.event
    def set_open(self, value: bool):
        if not self._is_editor():
            return self._refuse()
        if not self.saving:
            self.open = bool(value)
        if not self.open:
            self._clear_csv()
        return None

    @rx.event
    def set_agent(self, value: str):
        if not self._is_editor():
            return self._refuse()
        self.agent_id = str(value)[:64]
        self.errors = {**self.errors, "agent_id": ""}
        return None

    @rx.event
    def set_from_number(self, value: str):
        if not self._is_editor():
            return self._refuse()
        self.from_number_id = str(value)[:64]
        self.errors = {**self.errors, "from_number_id": ""}
        return None

    @rx.event
    def toggle_day(self, day: str, on: bool):
        if not self._is_editor():
            return self._refuse()
        day = str(day)[:1]
        chosen = {d for d in self.days if d != day} | ({day} if on else set())
        self.days = sorted(d for d in chosen if d in "1234567")
        return None

    @rx.event
    def toggle_retry(self, outcome: str, on: bool):
        if not self._is_editor():
            return self._refuse()
        known = {o for o, _ in OUTCOMES}
        chosen = {o for o in self.retry_on if o != outcome} | ({str(outcome)} if on else set())
        self.retry_on = sorted(chosen & known)
        return None

    @rx.event
    def set_start_after(self, value: bool):
        """Which button submits the form: set by its click, just before the submit."""
        if not self._is_editor():
            return self._refuse()
        self.start_after = bool(value)
        return None

    @rx.event
    async def upload_csv(self, files: list[rx.UploadFile]):
        """Read the dropped CSV (UTF-8) and check it now: its contacts, or its bad rows."""
        if not self._is_editor():
            return self._refuse()
        self._clear_csv()
        self.errors = {**self.errors, "csv": ""}
        if not files:
            return None
        if len(files) > 1:
            self.errors = {**self.errors, "csv": "Drop one CSV file."}
            return None
        file = files[0]
        name = str(file.name or "contacts.csv").rsplit("/", 1)[-1][:120]
        limit = get_settings().max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            self.errors = {**self.errors, "csv": f"{name} is larger than {limit:,} bytes."}
            return None
        if not name.lower().endswith(".csv"):
            self.errors = {**self.errors, "csv": f"{name} is not a .csv file."}
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.errors = {
                **self.errors,
                "csv": f"{name} is not UTF-8 text: save it as 'CSV UTF-8' and drop it again.",
            }
            return None
        self.csv_name, self._csv_text = name, text
        try:
            with session_scope() as session:
                checked = campaigns_svc.check_csv(session=session, csv_text=text)
        except InvalidInput as exc:
            self._show_csv_problems(exc)
            return None
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        variables = ", ".join(checked.variable_names) or "none"
        self.csv_summary = (
            f"{fmt.count(len(checked.contacts), 'contact')} (phone column "
            f"'{checked.phone_column}'); variables: {variables}"
        )
        return None

    @rx.event
    def csv_rejected(self):
        """The drop zone refused the file (not a .csv, or several files)."""
        if not self._is_editor():
            return self._refuse()
        self.errors = {**self.errors, "csv": "Drop one .csv file."}
        return None

    @rx.event
    def create(self, form: dict[str, Any]):
        """Create the campaign (a draft, or running with "Create and start"); on a bad
        field or CSV the dialog stays open with the problem under the field."""
        if not self._is_editor():
            return self._refuse()
        if self.saving:
            return None
        start, self.start_after = self.start_after, False
        self.errors = no_errors()
        if not self._csv_text:
            self.errors = {**self.errors, "csv": "Drop the contacts' CSV file here first."}
            return self._toast_error("Contacts: drop the CSV file first.")
        missing = {
            key: message
            for key, chosen, message in (
                ("agent_id", self.agent_id, "Choose the agent that makes the calls."),
                ("from_number_id", self.from_number_id, "Choose the number the calls come from."),
            )
            if not chosen
        }
        if missing:
            self.errors = {**self.errors, **missing}
            return self._toast_error(next(iter(missing.values())))
        data = settings_from_form(
            {**form, "agent_id": self.agent_id, "from_number_id": self.from_number_id},
            self.days,
            self.retry_on,
        )
        principal = guard.current()
        try:
            settings = campaigns_svc.parse(data)
            with session_scope() as session:
                campaign = campaigns_svc.create(
                    session=session,
                    data=settings,
                    csv_text=self._csv_text,
                    created_by=principal.name if principal else "",
                )
                if start:
                    campaigns_svc.control(session=session, campaign_id=campaign.id, action="start")
                campaign_id, name = str(campaign.id), campaign.name
        except InvalidInput as exc:
            if is_csv_field(exc.field):
                self._show_csv_problems(exc)
                return self._toast_error("Nothing was created: the CSV has problems (listed).")
            head = exc.field.split(".", 1)[0]
            key = head if head in FIELDS else "name"
            self.errors = {**no_errors(), key: _sentence(exc.message)}
            return self._toast_error(f"{LABELS.get(head, head)}: {exc.message}")
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self.open = False
        self._clear_csv()
        verb = "created and started" if start else "created as a draft"
        return [
            rx.toast.dismiss(),  # the refusals of earlier tries are answered now
            self._toast_ok(f"Campaign {name} {verb}."),
            rx.redirect(routes.campaign(campaign_id)),
        ]


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."
