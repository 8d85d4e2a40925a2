"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no timezone-aware timestamp and no JSONB; these types keep the
Python side identical on both so services never branch on the dialect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from voxie_app import clock


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A `TIMESTAMPTZ` on PostgreSQL; on SQLite a UTC text value read back tz-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a tz-aware column; use UTC-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current time, tz-aware in UTC (the only kind of time we store).

    Read from `voxie_app.clock`, which tests can set to a fixed instant.
    """
    return clock.now()
