"""`/api/sip-trunks`: LiveKit SIP outbound trunks (how Voxie places phone calls).

Admins write; viewers read, without the username and the password secret's name. The
password is a secret from the secrets store, named in `auth_password_secret`; it is
never returned.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from voxie_app.api.deps import AdminDep, PrincipalDep, SettingsDep
from voxie_app.api.routes.phone_numbers import SyncOut, sync_out
from voxie_app.db import session_scope
from voxie_app.models import SipOutboundTrunk
from voxie_app.services import sip_trunks as trunks_svc
from voxie_app.services.sip_trunks import SipTrunkIn

router = APIRouter(prefix="/sip-trunks", tags=["phone"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such trunk"}}
_LIVEKIT: dict[int | str, dict[str, Any]] = {
    502: {"description": "LiveKit's SIP service failed (the row is kept with `sync_error`)"},
    503: {"description": "LiveKit is not configured (nothing was written)"},
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_LIVEKIT,
    409: {"description": "the name is taken"},
    422: {"description": "a field breaks a rule, or the secret does not exist (named)"},
}


class SipTrunkPublic(BaseModel):
    id: uuid.UUID
    name: str
    address: str
    transport: str
    numbers: list[str]
    auth_username: str | None = None
    auth_password_secret: str | None = None
    livekit_trunk_id: str | None
    status: str
    sync_error: str | None
    created_at: datetime
    updated_at: datetime


def _public(row: SipOutboundTrunk, *, admin: bool) -> SipTrunkPublic:
    return SipTrunkPublic(**trunks_svc.view(row, admin=admin).__dict__)


@router.get("", response_model=list[SipTrunkPublic])
def list_trunks(principal: PrincipalDep) -> list[SipTrunkPublic]:
    admin = principal.can("admin")
    with session_scope() as session:
        return [_public(t, admin=admin) for t in trunks_svc.list_trunks(session=session)]


@router.post(
    "", response_model=SipTrunkPublic, status_code=status.HTTP_201_CREATED, responses=_WRITE
)
async def create_trunk(body: SipTrunkIn, settings: SettingsDep, _: AdminDep) -> SipTrunkPublic:
    """Save an outbound trunk and create it in LiveKit, the password read from the
    secrets store when the request is sent."""
    return _public(await trunks_svc.create_trunk(body=body, settings=settings), admin=True)


@router.post(
    "/sync", response_model=SyncOut, responses={503: {"description": "LiveKit not configured"}}
)
async def sync(settings: SettingsDep, _: AdminDep) -> SyncOut:
    """Push every outbound trunk to LiveKit and delete stale ones Voxie made."""
    return sync_out(await trunks_svc.sync(settings=settings))


@router.get("/{trunk_id}", response_model=SipTrunkPublic, responses=_NOT_FOUND)
def get_trunk(trunk_id: uuid.UUID, principal: PrincipalDep) -> SipTrunkPublic:
    with session_scope() as session:
        row = trunks_svc.get_trunk(session=session, trunk_id=trunk_id)
    return _public(row, admin=principal.can("admin"))


@router.put("/{trunk_id}", response_model=SipTrunkPublic, responses={**_NOT_FOUND, **_WRITE})
async def update_trunk(
    trunk_id: uuid.UUID, body: SipTrunkIn, settings: SettingsDep, _: AdminDep
) -> SipTrunkPublic:
    """Replace every field; LiveKit's trunk is replaced to match."""
    row = await trunks_svc.update_trunk(trunk_id=trunk_id, body=body, settings=settings)
    return _public(row, admin=True)


@router.delete(
    "/{trunk_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_NOT_FOUND, **_LIVEKIT},
)
async def delete_trunk(trunk_id: uuid.UUID, settings: SettingsDep, _: AdminDep) -> Response:
    """Delete the trunk in LiveKit, then here; numbers using it keep none."""
    await trunks_svc.delete_trunk(trunk_id=trunk_id, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
