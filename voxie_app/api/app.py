"""Build the FastAPI app that serves `/api/*` and hosts the Reflex app under it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from voxie_app.api import errors
from voxie_app.api.deps import require_access
from voxie_app.api.limits import BodySizeLimit
from voxie_app.api.routes import (
    agents,
    analytics,
    calls,
    health,
    knowledge,
    livekit_webhook,
    webhooks,
)
from voxie_app.settings import get_settings


class ErrorMessage(BaseModel):
    detail: str


# What `require_access` may answer on every protected route (documented for clients).
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorMessage, "description": "no API key, or an unknown or revoked one"},
    403: {"model": ErrorMessage, "description": "this key may only read (a viewer key on a write)"},
}


def create_api() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="Voxie API",
        version="1.0.0",
        description="Create voice agents, start browser calls, read call analytics.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    api = APIRouter(prefix="/api")
    api.include_router(health.router)
    api.include_router(livekit_webhook.router)  # authenticated by its signature
    protected = APIRouter(dependencies=[Depends(require_access)], responses=ACCESS_RESPONSES)
    protected.include_router(agents.router)
    protected.include_router(knowledge.router)
    protected.include_router(calls.router)
    protected.include_router(analytics.router)
    protected.include_router(webhooks.router)
    api.include_router(protected)
    app.include_router(api)
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
