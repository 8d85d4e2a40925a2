"""`/api/calls*`: the call history for developers, with the filters of the /calls page.

Thin: the query parameters become a `reports.CallFilter` and the rules (what a
kind means, local days in VOXIE_TIMEZONE, CSV cells that cannot run as
formulas) stay in `services.reports`, shared with the pages.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from voxie_app.api.deps import PrincipalDep, SettingsDep
from voxie_app.call_schemas import CallDetailOut, CallItem, CallList, ToolInvocationOut
from voxie_app.db import session_scope
from voxie_app.models import CALL_DIRECTIONS, CALL_STATUSES
from voxie_app.services import e164, reports
from voxie_app.services import tool_invocations as invocations_svc
from voxie_app.services.errors import InvalidInput, NotFound

router = APIRouter(prefix="/calls", tags=["call history"])

Status = Literal[CALL_STATUSES]  # type: ignore[valid-type]
Direction = Literal[CALL_DIRECTIONS]  # type: ignore[valid-type]
Kind = Literal[reports.KIND_FILTERS]  # type: ignore[valid-type]
_LABEL = Query(max_length=80, pattern=r"^[^\x00]*$")


def call_filter(
    settings: SettingsDep,
    agent: Annotated[uuid.UUID | None, Query(description="an agent's id")] = None,
    status: Annotated[Status | None, Query()] = None,
    from_: Annotated[
        date | None, Query(alias="from", description="first local day (VOXIE_TIMEZONE)")
    ] = None,
    to: Annotated[date | None, Query(description="last local day, inclusive")] = None,
    sentiment: Annotated[str | None, _LABEL] = None,
    outcome: Annotated[str | None, _LABEL] = None,
    direction: Annotated[Direction | None, Query()] = None,
    kind: Annotated[
        Kind, Query(description="voice (web and phone; the default), all, web, chat or phone")
    ] = "voice",
    number: Annotated[
        str | None,
        Query(
            max_length=e164.MAX_INPUT_CHARS,
            description="an E.164 number (+14155550123): phone calls from or to it",
        ),
    ] = None,
) -> reports.CallFilter:
    if from_ is not None and to is not None and to < from_:
        raise HTTPException(
            422,
            detail=[
                {"loc": ["query", "to"], "msg": "must not be before 'from'", "type": "value_error"}
            ],
        )
    try:
        phone = e164.parse(number, field="number") if number else None
    except InvalidInput as exc:
        raise HTTPException(
            422, detail=[{"loc": ["query", "number"], "msg": exc.message, "type": "value_error"}]
        ) from None
    return reports.CallFilter(
        agent_id=agent,
        start=from_,
        end=to,
        status=status,
        sentiment=sentiment,
        outcome=outcome,
        tz=settings.timezone,
        kind=kind,
        direction=direction,
        number=phone,
    )


FilterDep = Annotated[reports.CallFilter, Depends(call_filter)]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such call"}}


@router.get("", response_model=CallList)
def list_calls(
    filters: FilterDep,
    _: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 25,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CallList:
    """Calls, newest first, one page at a time; `total` counts every match."""
    with session_scope() as session:
        page = reports.list_calls(session=session, filters=filters, limit=limit, offset=offset)
    return CallList(
        items=[CallItem.model_validate(r) for r in page.rows],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(filters: FilterDep, _: PrincipalDep) -> Response:
    """The filtered calls as CSV (newest first, at most 50,000), as the analytics page exports."""
    with session_scope() as session:
        body = reports.calls_csv(session=session, filters=filters)
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="voxie-calls.csv"'},
    )


@router.get("/{call_id}", response_model=CallDetailOut, responses=_NOT_FOUND)
def get_call(call_id: uuid.UUID, _: PrincipalDep) -> CallDetailOut:
    """One call (a chat too) with transcript, tool calls and custom tool invocations,
    summary, costs and latency."""
    with session_scope() as session:
        detail = reports.call_detail(session=session, call_id=call_id)
        if detail is None:
            raise NotFound(f"call {call_id} not found")
        out = CallDetailOut.of(detail)
        invocations = invocations_svc.list_for_call(session=session, call_id=call_id)
    out.tool_invocations = [ToolInvocationOut.model_validate(i) for i in invocations]
    return out
