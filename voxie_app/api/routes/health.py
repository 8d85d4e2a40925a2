"""`/api/health`: is the app up, can it reach its database, what is configured."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from voxie_app.api.deps import SettingsDep
from voxie_app.db import get_engine
from voxie_app.settings import providers

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"description": "the database cannot be reached"}})
def health(settings: SettingsDep) -> JSONResponse:
    """Open to all (no auth): used by load balancers and `make run` checks."""
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError as exc:
        database = f"error: {exc.__class__.__name__}"
    ok = database == "ok"
    return JSONResponse(
        status_code=200 if ok else 503,
        content={
            "status": "ok" if ok else "degraded",
            "database": database,
            "providers": providers(settings).model_dump(),
        },
    )
