"""`/api/webhooks*`: outbound webhooks (admin only). The signing secret is shown once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from voxie_app.api.deps import AdminDep
from voxie_app.db import session_scope
from voxie_app.models import Webhook, WebhookDelivery
from voxie_app.services import webhooks as webhooks_svc
from voxie_app.services.webhooks import MAX_URL, WebhookEvent

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such webhook"}}


class WebhookCreate(BaseModel):
    """`POST /api/webhooks`: where to send which events."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=MAX_URL,
        description="An http(s) URL without credentials; requests are signed instead.",
    )
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(webhooks_svc.EVENT_TYPES))


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description=(
            "Signing secret, shown only now. Each request carries "
            "`X-Voxie-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, '<t>.<raw body>')>`."
        )
    )


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


def _public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic(
        id=hook.id, url=hook.url, events=hook.events, active=hook.active, created_at=hook.created_at
    )


def _delivery(row: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(
        {**row.model_dump(), "payload": row.payload or {}}, from_attributes=False
    )


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the most webhooks there can be are registered"}},
)
def create_webhook(body: WebhookCreate, _: AdminDep) -> WebhookCreated:
    """Register a webhook; the response holds its signing secret (not shown again)."""
    with session_scope() as session:
        hook = webhooks_svc.register(session=session, url=body.url, events=list(body.events))
        return WebhookCreated(**_public(hook).model_dump(), secret=hook.secret)


@router.get("", response_model=list[WebhookPublic])
def list_webhooks(_: AdminDep) -> list[WebhookPublic]:
    with session_scope() as session:
        return [_public(h) for h in webhooks_svc.list_webhooks(session=session)]


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_NOT_FOUND,
)
def delete_webhook(webhook_id: uuid.UUID, _: AdminDep) -> Response:
    """Delete a webhook, its pending deliveries and its delivery log."""
    with session_scope() as session:
        webhooks_svc.delete_webhook(session=session, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryPublic], responses=_NOT_FOUND)
def list_deliveries(
    webhook_id: uuid.UUID,
    _: AdminDep,
    status_: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeliveryPublic]:
    """The delivery log, newest first: status, attempts, last HTTP status and error."""
    with session_scope() as session:
        rows = webhooks_svc.list_deliveries(
            session=session, webhook_id=webhook_id, status=status_, limit=limit, offset=offset
        )
        return [_delivery(r) for r in rows]
