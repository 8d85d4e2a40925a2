"""`/api/call/*`: start a browser call with an agent, end it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from voxie_app.api.deps import PrincipalDep, SettingsDep
from voxie_app.schemas import CallEnd, CallPublic, CallStart, CallStarted
from voxie_app.services import calls as calls_svc

router = APIRouter(prefix="/call", tags=["calls"])


@router.post(
    "/start",
    response_model=CallStarted,
    responses={
        404: {"description": "no such agent"},
        409: {"description": "the agent is not ready"},
        422: {"description": "a variable breaks a rule (the error names `variables.<key>`)"},
        429: {
            "description": "too many calls started, or too many in progress (a concurrent-call"
            " limit; see Retry-After)"
        },
        503: {"description": "LiveKit not configured"},
        502: {"description": "LiveKit failed"},
    },
)
async def start_call(
    body: CallStart, settings: SettingsDep, principal: PrincipalDep
) -> CallStarted:
    """Create the room, dispatch the worker and return a browser token for that room."""
    started = await calls_svc.start_call(
        agent_id=body.agent_id, settings=settings, caller=principal, variables=body.variables
    )
    return CallStarted(
        server_url=started.server_url,
        room_name=started.room_name,
        participant_token=started.participant_token,
        call_session_id=started.call_session_id,
    )


@router.post("/end", response_model=CallPublic, responses={404: {"description": "no such call"}})
async def end_call(body: CallEnd, settings: SettingsDep, _: PrincipalDep) -> CallPublic:
    """Mark the call ended (idempotent) and close its room."""
    call = await calls_svc.end_call(call_session_id=body.call_session_id, settings=settings)
    return CallPublic.model_validate(call, from_attributes=True)


class BuilderCallStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$"
    )


@router.post(
    "/builder",
    response_model=CallStarted,
    responses={
        429: {
            "description": "too many calls started, or too many in progress (a concurrent-call"
            " limit; see Retry-After)"
        },
        503: {"description": "LiveKit not configured"},
        502: {"description": "LiveKit failed"},
    },
)
async def start_builder_call(
    body: BuilderCallStart, settings: SettingsDep, principal: PrincipalDep
) -> CallStarted:
    """Talk to Voxie, the builder, by voice; its log is `/api/agents/create-stream/{session_id}`."""
    started = await calls_svc.start_builder_call(
        session_id=body.session_id, settings=settings, caller=principal
    )
    return CallStarted(
        server_url=started.server_url,
        room_name=started.room_name,
        participant_token=started.participant_token,
        call_session_id=started.call_session_id,
    )
