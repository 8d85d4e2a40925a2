"""`python -m voice_worker dev|start` (the livekit-agents CLI), plus our own commands:

- `python -m voice_worker analyze --pending`: analyse ended calls that missed it.
- `python -m voice_worker analyze CALL_ID`: analyse one call (idempotent).
- `python -m voice_worker reconcile`: mark abandoned calls failed, once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import uuid
from datetime import timedelta

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.services.reconciler import reconcile
from voxie_app.settings import get_settings

log = logging.getLogger("voxie.worker")


def reconcile_once() -> list[str]:
    settings = get_settings()
    with session_scope() as session:
        return reconcile(session=session, idle_seconds=settings.abandoned_after_seconds)


CATCH_UP_AFTER = timedelta(minutes=5)
CATCH_UP_BATCH = 20


def _reconcile_forever(interval: float) -> None:
    """Fail abandoned calls, then analyse calls that ended a while ago without a summary
    (their job died or its analysis failed), a small batch per round."""
    from voice_worker.analysis import analyze_pending

    while True:
        try:
            failed = reconcile_once()
            if failed:
                log.warning("marked %d abandoned call(s) failed: %s", len(failed), failed)
            done = asyncio.run(
                analyze_pending(
                    settings=get_settings(),
                    limit=CATCH_UP_BATCH,
                    ended_before=utcnow() - CATCH_UP_AFTER,
                )
            )
            if done:
                log.info("caught up on analysis: %s", done)
        except Exception:
            log.exception("reconciler round failed")
        time.sleep(interval)


def start_reconciler() -> threading.Thread:
    """Run the reconciler now and then every VOXIE_RECONCILE_INTERVAL_SECONDS."""
    interval = max(5, get_settings().reconcile_interval_seconds)
    thread = threading.Thread(
        target=_reconcile_forever, args=(interval,), name="voxie-reconciler", daemon=True
    )
    thread.start()
    return thread


def _analyze(args: list[str]) -> int:
    from voice_worker.analysis import analyze_call, analyze_pending

    settings = get_settings()
    if args == ["--pending"]:
        results = asyncio.run(analyze_pending(settings=settings))
        for line in results:
            print(line)
        failed = sum(1 for line in results if ": failed" in line)
        print(f"{len(results)} pending call(s): {len(results) - failed} done, {failed} failed")
        return 1 if failed else 0
    if len(args) == 1:
        try:
            call_id = uuid.UUID(args[0])
        except ValueError:
            print(f"not a call id: {args[0]}", file=sys.stderr)
            return 2
        print(asyncio.run(analyze_call(call_session_id=call_id, settings=settings)))
        return 0
    print("usage: python -m voice_worker analyze --pending | CALL_ID", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if argv[:1] == ["analyze"]:
        return _analyze(argv[1:])
    if argv[:1] == ["reconcile"]:
        print(f"marked failed: {reconcile_once()}")
        return 0
    from livekit.agents import cli

    from voice_worker.worker import server

    if argv[:1] in (["dev"], ["start"]):
        start_reconciler()
    cli.run_app(server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
