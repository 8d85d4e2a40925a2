"""`POST /api/livekit/webhook`: LiveKit server events, authenticated by their signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from voxie_app.api.deps import SettingsDep
from voxie_app.db import session_scope
from voxie_app.services import livekit_events

router = APIRouter(tags=["livekit"])


@router.post(
    "/livekit/webhook",
    responses={401: {"description": "bad or stale signature"}, 503: {"description": "no LiveKit"}},
)
async def livekit_webhook(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str, Header()] = "",
) -> JSONResponse:
    """Configure this URL in LiveKit's webhook settings (same API key and secret)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        event = livekit_events.verify(settings=settings, body=body, auth_header=authorization)
    except livekit_events.WebhookRejected as exc:
        return JSONResponse(status_code=401, content={"detail": exc.message})
    with session_scope() as session:
        outcome = livekit_events.handle(session=session, event=event)
    return JSONResponse({"event": event.event, "outcome": outcome})
