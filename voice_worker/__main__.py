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
from typing import Annotated

import typer

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


commands = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Voxie's own worker commands (dev, start and the rest are livekit-agents').",
)


@commands.command()
def analyze(
    call_id: Annotated[
        uuid.UUID | None, typer.Argument(help="Analyse this one call (idempotent).")
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="Analyse every ended call that has no summary.")
    ] = False,
) -> None:
    """Write the post-call analysis (summary, outcome, sentiment, cost) of ended calls."""
    from voice_worker.analysis import analyze_call, analyze_pending

    if pending == (call_id is not None):
        raise typer.BadParameter("give either CALL_ID or --pending", param_hint="CALL_ID")
    settings = get_settings()
    if call_id is not None:
        print(asyncio.run(analyze_call(call_session_id=call_id, settings=settings)))
        return
    results = asyncio.run(analyze_pending(settings=settings))
    for line in results:
        print(line)
    failed = sum(1 for line in results if ": failed" in line)
    print(f"{len(results)} pending call(s): {len(results) - failed} done, {failed} failed")
    if failed:
        raise typer.Exit(code=1)


@commands.command("reconcile")
def reconcile_command() -> None:
    """Mark calls failed whose worker went silent (abandoned), once."""
    print(f"marked failed: {reconcile_once()}")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if argv[:1] in (["analyze"], ["reconcile"]):
        try:
            commands(args=argv, prog_name="python -m voice_worker", standalone_mode=True)
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return 0
    from livekit.agents import cli

    from voice_worker.worker import server

    if argv[:1] in (["dev"], ["start"]):
        start_reconciler()
    cli.run_app(server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
