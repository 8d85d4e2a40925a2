"""Expired sign-in sessions are deleted on a schedule, not left to pile up.

They already fail to authenticate (`auth.session_principal` checks the expiry);
this keeps the table small. The web app runs `purger_lifespan` every
`VOXIE_SESSION_PURGE_MINUTES`; several web processes purging at once is harmless
(one DELETE each). `python -m voxie_app.manage purge-sessions` does it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.settings import get_settings

log = logging.getLogger(__name__)


def purge_now(now: datetime | None = None) -> int:
    """Delete the sessions expired at `now` (default: the current time); returns how many."""
    with session_scope() as session:
        return auth.purge_expired_sessions(session=session, now=now)


async def run_purger(stop_event: asyncio.Event, interval_seconds: float) -> None:
    """Purge now, then every `interval_seconds`, until `stop_event` is set."""
    failing = False
    while not stop_event.is_set():
        try:
            purged = await asyncio.to_thread(purge_now)
            if purged:
                log.info("deleted %d expired sign-in session(s)", purged)
            failing = False
        except Exception:
            if not failing:  # log the first failure of a run in full, then keep trying
                log.exception("session purge failed; retrying every %ss", interval_seconds)
            failing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), interval_seconds)


@contextlib.asynccontextmanager
async def purger_lifespan() -> AsyncIterator[None]:
    """Run `run_purger` for the life of the web app (a Reflex lifespan task)."""
    minutes = get_settings().session_purge_minutes
    if minutes <= 0:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run_purger(stop, minutes * 60), name="voxie-session-purger")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        except TimeoutError:
            log.warning("session purger did not stop in time; cancelled")
