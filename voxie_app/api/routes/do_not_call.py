"""`/api/do-not-call`: numbers Voxie never dials. Anyone with a key reads; admins change."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from voxie_app.api.deps import AdminDep, PrincipalDep
from voxie_app.db import session_scope
from voxie_app.models import DoNotCall
from voxie_app.services import do_not_call as dnc_svc

router = APIRouter(prefix="/do-not-call", tags=["do-not-call"])


class DoNotCallEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=64, description="E.164, e.g. +14155550123")
    reason: str = Field(
        default="", max_length=dnc_svc.MAX_REASON_CHARS, pattern=dnc_svc.REASON_PATTERN
    )


class DoNotCallAddOne(BaseModel):
    """One number, with an optional reason."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=64, description="E.164, e.g. +14155550123")
    reason: str = Field(
        default="", max_length=dnc_svc.MAX_REASON_CHARS, pattern=dnc_svc.REASON_PATTERN
    )


class DoNotCallAddMany(BaseModel):
    """A list, added all or none: a bad row is a 422 naming `numbers.<i>.number`."""

    model_config = ConfigDict(extra="forbid")
    numbers: list[DoNotCallEntry] = Field(min_length=1, max_length=dnc_svc.MAX_BULK_ROWS)


class DoNotCallPublic(BaseModel):
    number: str
    reason: str
    created_at: datetime


class DoNotCallPage(BaseModel):
    items: list[DoNotCallPublic]
    total: int
    limit: int
    offset: int


class DoNotCallAdded(BaseModel):
    added: int
    already_listed: int


def _public(row: DoNotCall) -> DoNotCallPublic:
    return DoNotCallPublic(number=row.number, reason=row.reason, created_at=row.created_at)


@router.get("", response_model=DoNotCallPage)
def list_numbers(
    _: PrincipalDep,
    search: Annotated[str | None, Query(max_length=80, pattern=r"^[^\x00]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DoNotCallPage:
    """A page of the list, newest first; `search` matches a number's digits or the reason."""
    with session_scope() as session:
        rows, total = dnc_svc.list_entries(
            session=session, search=search, limit=limit, offset=offset
        )
        return DoNotCallPage(
            items=[_public(r) for r in rows], total=total, limit=limit, offset=offset
        )


@router.post(
    "",
    response_model=DoNotCallAdded,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "every number was already on the list (nothing new)"},
        422: {"description": "a number is not E.164 (the error names the field or row)"},
    },
)
def add_numbers(
    body: DoNotCallAddOne | DoNotCallAddMany, response: Response, _: AdminDep
) -> DoNotCallAdded:
    """Add one number or a list (idempotent: a listed number is kept, its reason updated)."""
    with session_scope() as session:
        if isinstance(body, DoNotCallAddMany):
            result = dnc_svc.add_many(
                session=session,
                entries=[dnc_svc.Entry(e.number, e.reason) for e in body.numbers],
            )
        else:
            _, created = dnc_svc.add(session=session, number=body.number, reason=body.reason)
            result = dnc_svc.BulkResult(added=int(created), already_listed=int(not created))
    if not result.added:
        response.status_code = status.HTTP_200_OK
    return DoNotCallAdded(added=result.added, already_listed=result.already_listed)


@router.delete(
    "/{number}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        404: {"description": "the number is not on the list"},
        422: {"description": "not an E.164 number"},
    },
)
def remove_number(number: Annotated[str, Path(max_length=64)], _: AdminDep) -> Response:
    """Take a number off the list (URL-encode the `+` as `%2B`)."""
    with session_scope() as session:
        dnc_svc.remove(session=session, number=number)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
