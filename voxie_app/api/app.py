"""Build the FastAPI app that serves `/api/*` and hosts the Reflex app under it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from voxie_app.api import docs, errors
from voxie_app.api.deps import require_access
from voxie_app.api.gate import ApiGate
from voxie_app.api.limits import BodySizeLimit, reject_nul_characters
from voxie_app.api.routes import (
    agents,
    analytics,
    call_history,
    calls,
    campaigns,
    do_not_call,
    health,
    knowledge,
    livekit_webhook,
    outbound_calls,
    phone_numbers,
    secrets,
    sip_trunks,
    tools,
    webhooks,
)
from voxie_app.api.security_headers import SecurityHeaders
from voxie_app.services import knowledge as knowledge_svc
from voxie_app.settings import Settings, get_settings


class ErrorMessage(BaseModel):
    detail: str


# What `require_access` may answer on every protected route (documented for clients).
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorMessage, "description": "no API key, or an unknown or revoked one"},
    403: {"model": ErrorMessage, "description": "this key may only read (a viewer key on a write)"},
}
# What any route that reads a request body may answer besides its own errors.
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorMessage, "description": "the body could not be read (not UTF-8 / form)"},
    413: {"model": ErrorMessage, "description": "the body is over VOXIE_MAX_BODY_BYTES"},
}


def _document_body_errors(router: APIRouter, settings: Settings) -> APIRouter:
    """Every route with a body documents 400 and 413, with the body limit in bytes
    (OpenAPI has no keyword for a body's size)."""
    too_large = {
        "model": ErrorMessage,
        "description": f"the body is over {settings.max_body_bytes} bytes (VOXIE_MAX_BODY_BYTES)",
    }
    for route in router.routes:
        if isinstance(route, APIRoute) and route.methods & {"POST", "PUT", "PATCH"}:
            for code, doc in BODY_RESPONSES.items():
                route.responses.setdefault(code, doc)
            ours = str(route.responses[413].get("description", "")).startswith("the body is over")
            if ours:  # not a route's own 413: state this app's limits
                route.responses[413] = too_large
    return router


def create_api(ui_upload_refused: Callable[[int], bytes] | None = None) -> FastAPI:
    """The API app. `ui_upload_refused(limit)`: the body of a 413 for the UI's `/_upload`
    (the Reflex app passes one that shows a toast; see `limits.BodySizeLimit`)."""
    settings = get_settings()
    app = FastAPI(
        title="Voxie API",
        version="1.0.0",
        description="Create voice agents, start browser calls, read call analytics.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served by `docs.install` from local assets
        redoc_url=None,
    )
    api = APIRouter(prefix="/api")
    api.include_router(health.router)
    api.include_router(livekit_webhook.router)  # authenticated by its signature
    protected = APIRouter(
        dependencies=[Depends(require_access), Depends(reject_nul_characters)],
        responses=ACCESS_RESPONSES,
    )
    for module in (
        agents,
        knowledge,
        calls,
        call_history,
        analytics,
        webhooks,
        secrets,
        tools,
        do_not_call,
        outbound_calls,
        phone_numbers,
        sip_trunks,
        campaigns,
    ):
        protected.include_router(_document_body_errors(module.router, settings))
    api.include_router(protected)
    app.include_router(api)
    docs.install(app)
    errors.install(app)
    # JSON 404/405 for every /api path and method, HEAD, and auth before the body is read.
    app.add_middleware(ApiGate, api=app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        # Document uploads, and a campaign's CSV (up to 100,000 contacts) in its JSON.
        uploads=r"^/api/(agents/[^/]+/knowledge|campaigns)$",
        ui_upload_bytes=knowledge_svc.max_ui_upload_bytes(settings),
        ui_upload_refused=ui_upload_refused,
    )
    # Outermost: every response, the Reflex pages included (they are mounted inside).
    app.add_middleware(SecurityHeaders, settings=settings)
    return app
