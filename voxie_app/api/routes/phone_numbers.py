"""`/api/phone-numbers`: E.164 numbers bound to agents, kept in step with LiveKit SIP.

Admins write; viewers read. LiveKit failing is a 502 saying what failed and that the
number is saved (a sync finishes it); LiveKit not configured is a 503 with nothing
written.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from voxie_app.api.deps import AdminDep, PrincipalDep, SettingsDep
from voxie_app.db import session_scope
from voxie_app.services import phone_numbers as numbers_svc
from voxie_app.services import sip_trunks as trunks_svc
from voxie_app.services.phone_numbers import PhoneNumberIn, PhoneNumberUpdate, SyncReport

router = APIRouter(prefix="/phone-numbers", tags=["phone"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such number"}}
_LIVEKIT: dict[int | str, dict[str, Any]] = {
    502: {"description": "LiveKit's SIP service failed (the row is kept with `sync_error`)"},
    503: {"description": "LiveKit is not configured (nothing was written)"},
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_LIVEKIT,
    409: {"description": "the number is already added"},
    422: {"description": "a field breaks a rule (the error names it)"},
}


class PhoneNumberPublic(BaseModel):
    id: uuid.UUID
    number: str = Field(description="E.164")
    display: str = Field(description="The number as people read it")
    label: str
    agent_id: uuid.UUID | None
    agent_name: str
    inbound_trunk_id: str | None = Field(description="LiveKit's inbound trunk (ST_...)")
    trunk_managed: bool = Field(description="Voxie made the trunk (and deletes it)")
    dispatch_rule_id: str | None = Field(description="LiveKit's dispatch rule (SDR_...)")
    outbound_trunk_id: uuid.UUID | None
    outbound_trunk_name: str
    room_prefix: str
    status: str = Field(description="ready, pending, no_agent or error")
    sync_error: str | None = Field(description="Why LiveKit does not agree yet")
    created_at: datetime
    updated_at: datetime


class SyncOut(BaseModel):
    """What a sync did, numbers and outbound trunks together."""

    ok: bool
    created: list[str]
    updated: list[str]
    adopted: list[str]
    deleted: list[str]
    errors: dict[str, str] = Field(description="number or trunk -> why it still disagrees")


def sync_out(report: SyncReport) -> SyncOut:
    return SyncOut(
        ok=report.ok,
        created=report.created,
        updated=report.updated,
        adopted=report.adopted,
        deleted=report.deleted,
        errors=report.errors,
    )


def _public(number_id: uuid.UUID) -> PhoneNumberPublic:
    with session_scope() as session:
        found = numbers_svc.view(session=session, number_id=number_id)
    return PhoneNumberPublic(**found.__dict__)


@router.get("", response_model=list[PhoneNumberPublic])
def list_numbers(_: PrincipalDep) -> list[PhoneNumberPublic]:
    """Every number, with its agent, trunks and whether LiveKit agrees."""
    with session_scope() as session:
        return [PhoneNumberPublic(**v.__dict__) for v in numbers_svc.views(session=session)]


@router.post(
    "",
    response_model=PhoneNumberPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_WRITE,
)
async def create_number(
    body: PhoneNumberIn, settings: SettingsDep, _: AdminDep
) -> PhoneNumberPublic:
    """Add a number bound to an agent: Voxie creates the inbound trunk (unless
    `inbound_trunk_id` names an existing one) and the dispatch rule in LiveKit."""
    row = await numbers_svc.create_number(body=body, settings=settings)
    return _public(row.id)


@router.post(
    "/sync",
    response_model=SyncOut,
    responses={503: {"description": "LiveKit is not configured"}},
)
async def sync(settings: SettingsDep, _: AdminDep) -> SyncOut:
    """Make LiveKit agree with the database: outbound trunks, then numbers (missing
    trunks and rules created, changed ones replaced, stale ones Voxie made deleted).
    A LiveKit failure is a 200 with `ok` false and the reasons in `errors` (also kept
    on each row as `sync_error`)."""
    trunks = await trunks_svc.sync(settings=settings)
    numbers = await numbers_svc.sync(settings=settings)
    return sync_out(trunks.merge(numbers))


@router.get("/{number_id}", response_model=PhoneNumberPublic, responses=_NOT_FOUND)
def get_number(number_id: uuid.UUID, _: PrincipalDep) -> PhoneNumberPublic:
    return _public(number_id)


@router.patch("/{number_id}", response_model=PhoneNumberPublic, responses={**_NOT_FOUND, **_WRITE})
async def patch_number(
    number_id: uuid.UUID, body: PhoneNumberUpdate, settings: SettingsDep, _: AdminDep
) -> PhoneNumberPublic:
    """Rebind the number to another agent (or change its label or outbound trunk):
    only the fields sent change; LiveKit's dispatch rule is replaced to match."""
    row = await numbers_svc.update_number(number_id=number_id, body=body, settings=settings)
    return _public(row.id)


@router.put("/{number_id}", response_model=PhoneNumberPublic, responses={**_NOT_FOUND, **_WRITE})
async def put_number(
    number_id: uuid.UUID, body: PhoneNumberUpdate, settings: SettingsDep, _: AdminDep
) -> PhoneNumberPublic:
    """Replace what may change: `agent_id` (required), `label` and `outbound_trunk_id`
    (absent: cleared)."""
    row = await numbers_svc.update_number(
        number_id=number_id, body=body, settings=settings, replace=True
    )
    return _public(row.id)


@router.delete(
    "/{number_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_NOT_FOUND, **_LIVEKIT},
)
async def delete_number(number_id: uuid.UUID, settings: SettingsDep, _: AdminDep) -> Response:
    """Delete the dispatch rule, the inbound trunk if Voxie made it, then the number."""
    await numbers_svc.delete_number(number_id=number_id, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
