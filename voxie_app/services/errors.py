"""Errors services raise; entry points map them to HTTP codes or UI toasts."""

from __future__ import annotations

import math
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ServiceError(Exception):
    """Base class: `message` is safe to show to a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """The named object does not exist (HTTP 404)."""


class Conflict(ServiceError):
    """The object is not in a state that allows this (HTTP 409)."""


class InvalidInput(ServiceError):
    """Input failed a rule that needs the database to check (HTTP 422).

    `field` is a dotted path such as `processed_spec.transfer_targets.0.agent_id`.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidRows(InvalidInput):
    """Several inputs of one request failed (HTTP 422 listing each): a bulk add or an
    import reports every bad row at once, so the user fixes them in one go.

    `problems` are `(field, message)` pairs; the first one is also `field`/`message`.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        assert problems, "InvalidRows needs at least one problem"
        field, message = problems[0]
        super().__init__(message, field=field)
        self.problems = problems


def parse_model(model: type[M], data: object) -> M:
    """`data` validated as `model`, or `InvalidInput` naming the first bad field (for
    callers without pydantic at the edge: forms, the builder). Pydantic's "Value
    error, " prefix is dropped: the message is ours."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "body"
        raise InvalidInput(error["msg"].removeprefix("Value error, "), field=where) from None


class NotConfigured(ServiceError):
    """A provider needed for this is not configured (HTTP 503)."""

    def __init__(self, what: str, missing: list[str]) -> None:
        super().__init__(f"{what} is not configured: set {', '.join(missing)}")
        self.missing = missing


class ProviderFailed(ServiceError):
    """An external provider (LiveKit, OpenAI) failed or was unreachable (HTTP 502)."""


class RateLimited(ServiceError):
    """Too many attempts; the next is allowed in `retry_after` seconds (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, rounded up (what `Retry-After` and the UI say)."""
        return max(1, math.ceil(self.retry_after))
