"""Outbound calling campaigns: create one from a CSV, read its progress, control it.

A campaign is a list of contacts (`campaign_contacts`, the queue, in the database so
it survives restarts), an agent, the number it calls from, a weekly calling window
in a time zone, a concurrency cap and a retry rule. `services.campaign_scheduler`
places the calls; this module is everything an admin does with a campaign:

- `create` checks the settings and the whole CSV (`services.campaign_csv`) before it
  writes anything, then writes the campaign and every contact in one transaction;
- `start`, `pause`, `resume`, `cancel` and `delete` move it between `CAMPAIGN_STATUSES`
  (pausing stops new calls; calls already under way finish);
- `view`, `list_views` and `contacts_page` are what the progress page and the API show:
  counts per contact status, and each contact's calls.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, func, select

from voxie_app.db import take_write_lock
from voxie_app.dbtypes import utcnow
from voxie_app.models import (
    CONTACT_STATUSES,
    Agent,
    CallSession,
    Campaign,
    CampaignContact,
    PhoneNumber,
)
from voxie_app.services import campaign_csv, do_not_call, outbound_calls
from voxie_app.services.errors import Conflict, InvalidInput, NotFound, parse_model

MAX_CONCURRENT = 50
MAX_ATTEMPTS = 5
MAX_RETRY_DELAY_MINUTES = 7 * 24 * 60
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"  # 24:00: to the end of the day
INSERT_CHUNK = 2_000
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Outcome = Literal["no_answer", "busy", "voicemail", "failed"]


class CampaignIn(BaseModel):
    """A campaign's settings as an admin writes them (the contacts come as a CSV)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, pattern=NAME_PATTERN)
    agent_id: uuid.UUID = Field(description="The agent that makes the calls.")
    from_number_id: uuid.UUID = Field(
        description="Our number the calls come from (it needs an outbound trunk)."
    )
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA zone of the window, e.g. Europe/Paris."
    )
    window_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5],
        min_length=1,
        max_length=7,
        description="ISO weekdays calls may be placed on: 1 = Monday ... 7 = Sunday.",
    )
    window_start: str = Field(default="09:00", pattern=TIME_PATTERN, description="Local HH:MM.")
    window_end: str = Field(
        default="17:00",
        pattern=END_PATTERN,
        description="Local HH:MM, after window_start; 24:00 (or 00:00) for midnight.",
    )
    max_concurrent: int = Field(default=5, ge=1, le=MAX_CONCURRENT)
    max_attempts: int = Field(
        default=1, ge=1, le=MAX_ATTEMPTS, description="Calls per contact in all (1 = no retry)."
    )
    retry_delay_minutes: int = Field(default=60, ge=1, le=MAX_RETRY_DELAY_MINUTES)
    retry_on: list[Outcome] = Field(
        default_factory=lambda: ["no_answer", "busy"],
        max_length=4,
        description="Outcomes that are called again (a voicemail not listed counts as done).",
    )

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Paris")
        return value

    @field_validator("window_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    @field_validator("window_end", mode="before")
    @classmethod
    def _midnight(cls, value: object) -> object:
        """An end of 00:00 can only mean the midnight that ends the day (a time input
        cannot show 24:00)."""
        return "24:00" if value == "00:00" else value

    @field_validator("window_end")
    @classmethod
    def _end_after_start(cls, value: str, info) -> str:
        start = info.data.get("window_start")
        if start and value <= start:
            raise ValueError("the window must end after it starts (same day)")
        return value

    @field_validator("retry_on")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse(data: dict) -> CampaignIn:
    """Validate settings from a form (callers without pydantic at the edge): InvalidInput."""
    return parse_model(CampaignIn, data)


# ------------------------------------------------------------------ the window


def in_window(campaign: Campaign, now: datetime) -> bool:
    """Whether a call may be placed at `now` (local weekday and time in the window)."""
    local = now.astimezone(ZoneInfo(campaign.timezone))
    if local.isoweekday() not in (campaign.window_days or []):
        return False
    return campaign.window_start <= local.strftime("%H:%M") < campaign.window_end


def next_window_opening(campaign: Campaign, now: datetime) -> datetime | None:
    """When the window next opens after `now` (None if it is open now)."""
    if in_window(campaign, now):
        return None
    zone = ZoneInfo(campaign.timezone)
    local = now.astimezone(zone)
    hour, minute = (int(p) for p in campaign.window_start.split(":"))
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        if day.isoweekday() not in (campaign.window_days or []):
            continue
        opening = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if opening > local:
            return opening
    return None


def describe_window(campaign: Campaign) -> str:
    """ "Mon-Fri 09:00-17:00 Europe/Paris": what the pages show."""
    days = campaign.window_days or []
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        names = f"{DAY_NAMES[days[0] - 1]}-{DAY_NAMES[days[-1] - 1]}"
    else:
        names = ", ".join(DAY_NAMES[d - 1] for d in days)
    return f"{names} {campaign.window_start}-{campaign.window_end} {campaign.timezone}"


# ------------------------------------------------------------------ create


def check_csv(*, session: Session, csv_text: str) -> campaign_csv.ContactList:
    """The whole CSV checked against the do-not-call list (`InvalidRows` naming every bad
    cell); what `create` imports, and what the New campaign dialog previews on drop."""
    return campaign_csv.parse(
        csv_text, listed=lambda numbers: do_not_call.listed_among(session=session, numbers=numbers)
    )


def _check_targets(
    session: Session, agent_id: uuid.UUID | None, from_number_id: uuid.UUID | None
) -> Agent:
    """The agent exists and the number can place calls (at creation and each start)."""
    agent = session.get(Agent, agent_id) if agent_id else None
    if agent is None:
        raise InvalidInput(f"there is no agent {agent_id}", field="agent_id")
    usable = {number.id for number, _ in outbound_calls.caller_numbers(session=session)}
    if from_number_id not in usable:
        number = session.get(PhoneNumber, from_number_id) if from_number_id else None
        what = number.number if number else str(from_number_id)
        raise InvalidInput(
            f"{what} cannot place calls: it needs an outbound trunk set up in LiveKit (Phone page)",
            field="from_number_id",
        )
    return agent


def create(*, session: Session, data: CampaignIn, csv_text: str, created_by: str = "") -> Campaign:
    """Check the settings and the whole CSV, then write the campaign (a draft) and its
    contacts in the caller's transaction; nothing is written when anything is wrong."""
    _check_targets(session, data.agent_id, data.from_number_id)
    contacts = check_csv(session=session, csv_text=csv_text)
    now = utcnow()
    campaign = Campaign(
        **data.model_dump(),
        status="draft",
        variable_names=contacts.variable_names,
        contact_count=len(contacts.contacts),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    rows = [
        {
            "id": uuid.uuid4(),
            "campaign_id": campaign.id,
            "row_number": c.line,
            "phone": c.phone,
            "variables": c.variables,
            "status": "queued",
            "attempts": 0,
            "updated_at": now,
        }
        for c in contacts.contacts
    ]
    for i in range(0, len(rows), INSERT_CHUNK):
        session.execute(sa.insert(CampaignContact), rows[i : i + INSERT_CHUNK])
    return campaign


# ------------------------------------------------------------------ controls


def get_campaign(*, session: Session, campaign_id: uuid.UUID, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        take_write_lock(session)
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    campaign = session.exec(query).first()
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


_MOVES = {
    "start": ({"draft"}, "running"),
    "pause": ({"running"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"draft", "running", "paused"}, "cancelled"),
}
ACTIONS = tuple(_MOVES)


def control(*, session: Session, campaign_id: uuid.UUID, action: str) -> Campaign:
    """Apply `action` (start, pause, resume, cancel); `Conflict` when the campaign's
    status does not allow it. Cancelling takes every contact still queued off the
    queue; calls under way finish."""
    if action not in _MOVES:
        raise InvalidInput(
            f"unknown action {action!r}: one of {', '.join(ACTIONS)}", field="action"
        )
    campaign = get_campaign(session=session, campaign_id=campaign_id, lock=True)
    allowed, target = _MOVES[action]
    if campaign.status not in allowed:
        raise Conflict(f"a {campaign.status} campaign cannot {action}")
    if target == "running":
        _check_targets(session, campaign.agent_id, campaign.from_number_id)
    now = utcnow()
    campaign.status = target
    campaign.updated_at = now
    if action == "start":
        campaign.started_at = now
    if target == "running":
        campaign.last_error = None
    if target == "cancelled":
        campaign.finished_at = now
        session.execute(
            sa.update(CampaignContact)
            .where(
                col(CampaignContact.campaign_id) == campaign.id,
                col(CampaignContact.status) == "queued",
            )
            .values(status="cancelled", updated_at=now)
        )
    session.add(campaign)
    session.flush()
    return campaign


def delete(*, session: Session, campaign_id: uuid.UUID) -> None:
    """Delete a campaign and its contacts (its calls stay, without the campaign);
    a running campaign must be paused or cancelled first."""
    campaign = get_campaign(session=session, campaign_id=campaign_id, lock=True)
    if campaign.status == "running":
        raise Conflict("pause or cancel the campaign before deleting it")
    session.execute(
        sa.delete(CampaignContact).where(col(CampaignContact.campaign_id) == campaign.id)
    )
    session.delete(campaign)
    session.flush()


# ------------------------------------------------------------------ views


@dataclass(frozen=True)
class CampaignView:
    """A campaign as the list, the progress page and the API show it."""

    id: uuid.UUID
    name: str
    status: str
    agent_id: uuid.UUID | None
    agent_name: str
    from_number_id: uuid.UUID | None
    from_number: str
    window: str
    timezone: str
    window_days: list[int]
    window_start: str
    window_end: str
    max_concurrent: int
    max_attempts: int
    retry_delay_minutes: int
    retry_on: list[str]
    variable_names: list[str]
    contact_count: int
    counts: dict[str, int]  # contact status -> how many
    calls_placed: int
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    window_open: bool
    next_opening: datetime | None


def _counts(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    out: dict[uuid.UUID, dict[str, int]] = {i: dict.fromkeys(CONTACT_STATUSES, 0) for i in ids}
    if not ids:
        return out
    rows = session.exec(
        select(CampaignContact.campaign_id, CampaignContact.status, func.count())
        .where(col(CampaignContact.campaign_id).in_(ids))
        .group_by(col(CampaignContact.campaign_id), col(CampaignContact.status))
    ).all()
    for campaign_id, status, n in rows:
        out[campaign_id][status] = n
    return out


def _calls_placed(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = session.exec(
        select(CallSession.campaign_id, func.count())
        .where(col(CallSession.campaign_id).in_(ids))
        .group_by(col(CallSession.campaign_id))
    ).all()
    return dict(rows)


def _views(session: Session, campaigns: list[Campaign], now: datetime) -> list[CampaignView]:
    ids = [c.id for c in campaigns]
    counts, placed = _counts(session, ids), _calls_placed(session, ids)
    agents = {
        a.id: a.name
        for a in session.exec(
            select(Agent).where(col(Agent.id).in_([c.agent_id for c in campaigns if c.agent_id]))
        ).all()
    }
    numbers = {
        n.id: n.number
        for n in session.exec(
            select(PhoneNumber).where(
                col(PhoneNumber.id).in_([c.from_number_id for c in campaigns if c.from_number_id])
            )
        ).all()
    }
    return [
        CampaignView(
            id=c.id,
            name=c.name,
            status=c.status,
            agent_id=c.agent_id,
            agent_name=agents.get(c.agent_id, "") if c.agent_id else "",
            from_number_id=c.from_number_id,
            from_number=numbers.get(c.from_number_id, "") if c.from_number_id else "",
            window=describe_window(c),
            timezone=c.timezone,
            window_days=list(c.window_days or []),
            window_start=c.window_start,
            window_end=c.window_end,
            max_concurrent=c.max_concurrent,
            max_attempts=c.max_attempts,
            retry_delay_minutes=c.retry_delay_minutes,
            retry_on=list(c.retry_on or []),
            variable_names=list(c.variable_names or []),
            contact_count=c.contact_count,
            counts=counts[c.id],
            calls_placed=placed.get(c.id, 0),
            last_error=c.last_error,
            created_at=c.created_at,
            started_at=c.started_at,
            finished_at=c.finished_at,
            window_open=in_window(c, now),
            next_opening=next_window_opening(c, now),
        )
        for c in campaigns
    ]


def list_views(*, session: Session, now: datetime | None = None) -> list[CampaignView]:
    """Every campaign, newest first."""
    campaigns = list(session.exec(select(Campaign).order_by(col(Campaign.created_at).desc())).all())
    return _views(session, campaigns, now or utcnow())


def view(*, session: Session, campaign_id: uuid.UUID, now: datetime | None = None) -> CampaignView:
    return _views(
        session, [get_campaign(session=session, campaign_id=campaign_id)], now or utcnow()
    )[0]


@dataclass(frozen=True)
class ContactCall:
    id: uuid.UUID
    attempt: int
    dial_status: str | None
    call_status: str
    started_at: datetime
    duration_seconds: float | None


@dataclass(frozen=True)
class ContactView:
    id: uuid.UUID
    row_number: int
    phone: str
    variables: dict[str, str]
    status: str
    attempts: int
    last_outcome: str | None
    next_attempt_at: datetime | None
    calls: list[ContactCall] = field(default_factory=list)


STATUS_FILTER_PATTERN = "^(" + "|".join(CONTACT_STATUSES) + ")$"
_PHONE_SEARCH = re.compile(r"[^0-9+]")


def contacts_page(
    *,
    session: Session,
    campaign_id: uuid.UUID,
    status: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ContactView], int]:
    """A page of a campaign's contacts in CSV order, each with its calls (attempt order)."""
    get_campaign(session=session, campaign_id=campaign_id)
    query = select(CampaignContact).where(col(CampaignContact.campaign_id) == campaign_id)
    if status:
        if status not in CONTACT_STATUSES:
            raise InvalidInput(f"status is one of {', '.join(CONTACT_STATUSES)}", field="status")
        query = query.where(col(CampaignContact.status) == status)
    digits = _PHONE_SEARCH.sub("", search or "")
    if digits:
        query = query.where(col(CampaignContact.phone).contains(digits, autoescape=True))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(CampaignContact.row_number)).limit(limit).offset(offset)
    ).all()
    calls: dict[uuid.UUID, list[ContactCall]] = {r.id: [] for r in rows}
    if rows:
        for call in session.exec(
            select(CallSession)
            .where(col(CallSession.campaign_contact_id).in_(list(calls)))
            .order_by(col(CallSession.campaign_attempt))
        ).all():
            calls[call.campaign_contact_id].append(
                ContactCall(
                    id=call.id,
                    attempt=call.campaign_attempt or 0,
                    dial_status=call.dial_status,
                    call_status=call.call_status,
                    started_at=call.started_at,
                    duration_seconds=call.duration_seconds,
                )
            )
    return [
        ContactView(
            id=r.id,
            row_number=r.row_number,
            phone=r.phone,
            variables=dict(r.variables or {}),
            status=r.status,
            attempts=r.attempts,
            last_outcome=r.last_outcome,
            next_attempt_at=r.next_attempt_at,
            calls=calls[r.id],
        )
        for r in rows
    ], total
