"""`/api/campaigns`: outbound calling campaigns from a CSV, their progress and controls.

Anyone with a key reads; admins create, control and delete. A bad CSV is a 422 that
lists every bad cell (`loc` = body, csv, line, column), and nothing is written.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from voxie_app.api.deps import AdminDep, PrincipalDep
from voxie_app.db import session_scope
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.services.campaigns import CampaignIn

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

# The CSV travels inside the JSON body, which may be as large as an upload
# (VOXIE_MAX_UPLOAD_BYTES, api/app.py): 100,000 contacts fit.
MAX_CSV_CHARS = 10_000_000
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such campaign"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the campaign's status does not allow this"}
}


class CampaignCreate(CampaignIn):
    """The settings, the contacts as CSV text, and whether to start at once."""

    csv: str = Field(
        min_length=1,
        max_length=MAX_CSV_CHARS,
        description="A header line with a phone column (phone, phone_number, number or to) "
        "and one column per variable, then one contact per line; at most 100,000.",
    )
    start: bool = Field(default=False, description="Start calling now (else a draft).")


class CampaignPublic(BaseModel):
    id: uuid.UUID
    name: str
    status: str = Field(description="draft, running, paused, completed or cancelled")
    agent_id: uuid.UUID | None
    agent_name: str
    from_number_id: uuid.UUID | None
    from_number: str
    window: str = Field(description='e.g. "Mon-Fri 09:00-17:00 Europe/Paris"')
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
    counts: dict[str, int] = Field(description="contacts per status")
    calls_placed: int
    last_error: str | None = Field(description="why the scheduler paused it, if it did")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    window_open: bool
    next_opening: datetime | None


class ContactCallPublic(BaseModel):
    id: uuid.UUID
    attempt: int
    dial_status: str | None
    call_status: str
    started_at: datetime
    duration_seconds: float | None


class ContactPublic(BaseModel):
    id: uuid.UUID
    row_number: int = Field(description="The CSV line (the header is line 1)")
    phone: str
    variables: dict[str, str]
    status: str = Field(description="queued, calling, done, failed, cancelled or skipped")
    attempts: int
    last_outcome: str | None
    next_attempt_at: datetime | None
    calls: list[ContactCallPublic]


class ContactPage(BaseModel):
    items: list[ContactPublic]
    total: int
    limit: int
    offset: int


def _public(view: campaigns_svc.CampaignView) -> CampaignPublic:
    return CampaignPublic(**view.__dict__)


def _view(campaign_id: uuid.UUID) -> CampaignPublic:
    with session_scope() as session:
        return _public(campaigns_svc.view(session=session, campaign_id=campaign_id))


@router.get("", response_model=list[CampaignPublic])
def list_campaigns(_: PrincipalDep) -> list[CampaignPublic]:
    """Every campaign, newest first, with its counts."""
    with session_scope() as session:
        return [_public(v) for v in campaigns_svc.list_views(session=session)]


@router.post(
    "",
    response_model=CampaignPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "start was asked but the agent or number cannot call"},
        422: {"description": "a setting or CSV cells break a rule (each one named)"},
    },
)
def create_campaign(body: CampaignCreate, principal: AdminDep) -> CampaignPublic:
    """Check the settings and the whole CSV, then save the campaign and its contacts
    (a draft, or running with `start`)."""
    data = CampaignIn.model_validate(body.model_dump(exclude={"csv", "start"}))
    with session_scope() as session:
        campaign = campaigns_svc.create(
            session=session, data=data, csv_text=body.csv, created_by=principal.name
        )
        if body.start:
            campaigns_svc.control(session=session, campaign_id=campaign.id, action="start")
        campaign_id = campaign.id
    return _view(campaign_id)


@router.get("/{campaign_id}", response_model=CampaignPublic, responses=_NOT_FOUND)
def get_campaign(campaign_id: uuid.UUID, _: PrincipalDep) -> CampaignPublic:
    return _view(campaign_id)


@router.get("/{campaign_id}/contacts", response_model=ContactPage, responses=_NOT_FOUND)
def list_contacts(
    campaign_id: uuid.UUID,
    _: PrincipalDep,
    status_: Annotated[
        str | None,
        Query(alias="status", pattern=campaigns_svc.STATUS_FILTER_PATTERN),
    ] = None,
    search: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9+ ()-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ContactPage:
    """A page of contacts in CSV order, each with its calls."""
    with session_scope() as session:
        rows, total = campaigns_svc.contacts_page(
            session=session,
            campaign_id=campaign_id,
            status=status_,
            search=search,
            limit=limit,
            offset=offset,
        )
        items = [
            ContactPublic(
                **{k: v for k, v in r.__dict__.items() if k != "calls"},
                calls=[ContactCallPublic(**c.__dict__) for c in r.calls],
            )
            for r in rows
        ]
    return ContactPage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/{campaign_id}/{action}",
    response_model=CampaignPublic,
    responses={**_NOT_FOUND, **_CONFLICT},
)
def control_campaign(
    campaign_id: uuid.UUID,
    action: Literal["start", "pause", "resume", "cancel"],
    _: AdminDep,
) -> CampaignPublic:
    """start (a draft), pause (no new calls; calls under way finish), resume, cancel
    (every queued contact is taken off the queue)."""
    with session_scope() as session:
        campaigns_svc.control(session=session, campaign_id=campaign_id, action=action)
    return _view(campaign_id)


@router.delete(
    "/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_NOT_FOUND, 409: {"description": "the campaign is running"}},
)
def delete_campaign(campaign_id: uuid.UUID, _: AdminDep) -> Response:
    """Delete a campaign that is not running, with its contacts (its calls stay)."""
    with session_scope() as session:
        campaigns_svc.delete(session=session, campaign_id=campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
