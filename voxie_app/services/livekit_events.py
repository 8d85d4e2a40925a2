"""LiveKit server webhooks: verify, handle once, end the call when the room or caller goes.

The signature (a JWT signed with the API secret, carrying the body's SHA-256)
is checked with livekit-api's `WebhookReceiver`; events older than the max age
are refused (a replayed capture); each event id is recorded so a duplicate
delivery is handled once.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from livekit import api
from sqlmodel import Session, select

from voxie_app.models import CallSession, ProcessedWebhook
from voxie_app.services.calls import end_call_record
from voxie_app.services.errors import ServiceError
from voxie_app.services.livekit_gateway import require_livekit
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

HANDLED = ("room_finished", "participant_left")


class WebhookRejected(ServiceError):
    """Bad, stale or unsigned webhook (HTTP 401)."""


def verify(*, settings: Settings, body: str, auth_header: str) -> api.WebhookEvent:
    require_livekit(settings)
    assert settings.livekit_api_secret is not None and settings.livekit_api_key
    receiver = api.WebhookReceiver(
        api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
    )
    token = auth_header.removeprefix("Bearer ").strip()
    try:
        event = receiver.receive(body, token)
    except Exception as exc:  # noqa: BLE001 - any verification failure is a rejection
        raise WebhookRejected(f"webhook signature rejected: {exc}") from None
    if not event.id:
        raise WebhookRejected("webhook has no event id")
    age = time.time() - event.created_at if event.created_at else 0
    if age > settings.webhook_max_age_seconds:
        raise WebhookRejected(f"webhook is stale ({int(age)} s old)")
    return event


def handle(*, session: Session, event: api.WebhookEvent) -> str:
    """Apply an event once; returns what was done (for the response and the log)."""
    try:
        with session.begin_nested():
            session.add(ProcessedWebhook(id=event.id[:200]))
            session.flush()
    except sa.exc.IntegrityError:
        return "duplicate"
    if event.event not in HANDLED:
        return "ignored"
    room = event.room.name
    if event.event == "participant_left" and not event.participant.identity.startswith("caller-"):
        return "ignored"  # only the caller leaving ends the call (not the agent)
    call = session.exec(
        select(CallSession).where(
            CallSession.room_name == room, CallSession.call_status == "active"
        )
    ).first()
    if call is None:
        return "no active call"
    reason = "room_finished" if event.event == "room_finished" else "caller_left"
    end_call_record(session=session, call_session_id=call.id, reason=reason)
    return "call ended"
