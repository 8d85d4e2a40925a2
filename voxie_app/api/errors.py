"""Map service errors to HTTP answers: a clear message, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voxie_app.services.agents import SpecInvalid
from voxie_app.services.errors import (
    Conflict,
    InvalidInput,
    InvalidRows,
    NotConfigured,
    NotFound,
    ProviderFailed,
    RateLimited,
    ServiceError,
)

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Conflict: 409, NotConfigured: 503, ProviderFailed: 502}


def spec_errors(exc: SpecInvalid, prefix: tuple[str, ...] = ("body", "processed_spec")) -> list:
    return [{**e, "loc": [*prefix, *e["loc"]]} for e in exc.errors]


def install(app: FastAPI) -> None:
    @app.exception_handler(SpecInvalid)
    async def _spec_invalid(_: Request, exc: SpecInvalid) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": spec_errors(exc)})

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        problems = exc.problems if isinstance(exc, InvalidRows) else [(exc.field, exc.message)]
        detail = [
            {"loc": ["body", *field.split(".")], "msg": message, "type": "value_error"}
            for field, message in problems
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            status_code=429,
            content={"detail": exc.message},
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
        body: dict = {"detail": exc.message}
        if isinstance(exc, NotConfigured):
            body["missing_settings"] = exc.missing
        return JSONResponse(status_code=status, content=body)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in API")
        return JSONResponse(status_code=500, content={"detail": "internal error"})
