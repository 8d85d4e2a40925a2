"""`POST /api/call/outbound`: an agent calls a phone number (admins only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from voxie_app.api.deps import AdminDep, SettingsDep
from voxie_app.schemas import CallStart
from voxie_app.services import outbound_calls as outbound_svc

router = APIRouter(prefix="/call", tags=["calls"])


class OutboundCallStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: uuid.UUID
    to: str = Field(max_length=64, description="The number to call, E.164 (+14155550123)")
    from_number_id: uuid.UUID | None = Field(
        default=None,
        description="One of our phone numbers with an outbound trunk (the caller id shown)",
    )
    variables: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra=CallStart.model_fields["variables"].json_schema_extra,
    )


class OutboundCallPlaced(BaseModel):
    call_session_id: uuid.UUID
    room_name: str
    to: str
    from_number: str
    dial_status: str = Field(description="answered, busy, no_answer or failed")
    sip_status_code: int | None = Field(description="the SIP final response, e.g. 486")
    sip_status_reason: str = Field(description='the SIP reason phrase, e.g. "Busy Here"')
    sip_call_id: str | None


@router.post(
    "/outbound",
    response_model=OutboundCallPlaced,
    responses={
        200: {
            "description": "the call was dialled; `dial_status` says whether it was answered "
            "(busy, no answer and a refused dial are outcomes, recorded on the call)"
        },
        404: {"description": "no such agent"},
        409: {"description": "the agent is not ready"},
        422: {
            "description": "`to` is not E.164 or is on the do-not-call list; the from-number "
            "does not exist or has no outbound trunk in LiveKit; a variable breaks a rule"
        },
        429: {
            "description": "too many calls started, or too many in progress (a concurrent-call"
            " limit; see Retry-After)"
        },
        502: {"description": "LiveKit failed (the call is recorded as failed)"},
        503: {"description": "LiveKit not configured"},
    },
)
async def start_outbound_call(
    body: OutboundCallStart, settings: SettingsDep, principal: AdminDep
) -> OutboundCallPlaced:
    """Create the call, its room and the agent's dispatch, then dial and wait for the
    answer (up to the ringing timeout, 30 s)."""
    placed = await outbound_svc.start_outbound_call(
        agent_id=body.agent_id,
        to=body.to,
        from_number_id=body.from_number_id,
        settings=settings,
        caller=principal,
        variables=body.variables,
    )
    return OutboundCallPlaced(
        call_session_id=placed.call_session_id,
        room_name=placed.room_name,
        to=placed.to,
        from_number=placed.from_number,
        dial_status=placed.dial_status,
        sip_status_code=placed.sip_status_code,
        sip_status_reason=placed.sip_status_reason,
        sip_call_id=placed.sip_call_id,
    )
