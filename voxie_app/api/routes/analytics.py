"""`/api/analytics/*`: today's numbers and recent calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from voxie_app.api.deps import PrincipalDep, SettingsDep
from voxie_app.db import session_scope
from voxie_app.schemas import AnalyticsSummary, RecentCall
from voxie_app.services import analytics

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get("/summary", response_model=AnalyticsSummary)
def summary(settings: SettingsDep, _: PrincipalDep) -> AnalyticsSummary:
    """Today's calls, minutes, cost, average rating, resolution rate and sentiment mix."""
    with session_scope() as session:
        return analytics.summary(session=session, tz=settings.timezone)


@router.get("/recent-calls", response_model=list[RecentCall])
def recent_calls(
    _: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[RecentCall]:
    with session_scope() as session:
        return analytics.recent_calls(session=session, limit=limit, offset=offset)
