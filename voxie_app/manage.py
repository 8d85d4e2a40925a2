"""Small management commands used by `make run` (`python -m voxie_app.manage ...`).

They print one clear line on a known failure (database unreachable, LiveKit
not configured) instead of a stack trace.
"""

from __future__ import annotations

import importlib.util
import sys

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from voxie_app.db import normalize_url
from voxie_app.settings import ROOT_DIR, get_settings


def migrate() -> int:
    settings = get_settings()
    cfg = Config(str(ROOT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", normalize_url(settings.database_url))
    try:
        command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        where = sa.engine.make_url(normalize_url(settings.database_url))
        print(
            f"error: cannot reach the database at {where.render_as_string(hide_password=True)}"
            f" ({str(exc.orig).strip().splitlines()[0] if exc.orig else exc}); check DATABASE_URL",
            file=sys.stderr,
        )
        return 1
    print(f"database: migrated ({'sqlite' if settings.is_sqlite else 'postgresql'})")
    return 0


def worker_status() -> int:
    """Exit 0 when the worker should start; otherwise print why not and exit 1."""
    settings = get_settings()
    missing = settings.missing_livekit_settings()
    if missing:
        print(f"LiveKit is not configured (set {', '.join(missing)})")
        return 1
    if importlib.util.find_spec("voice_worker") is None:
        print("the voice worker (voice_worker/) is not part of this build yet")
        return 1
    return 0


def fill_rollups() -> int:
    """Summarise the last 90 days for analytics now rather than on the first page view."""
    from voxie_app.db import session_scope
    from voxie_app.services import rollups

    settings = get_settings()
    try:
        with session_scope() as session:
            stored = rollups.fill(session, tz=settings.timezone)
    except sa.exc.SQLAlchemyError as exc:  # not fatal: pages compute what is missing
        print(f"analytics: days not summarised now ({type(exc).__name__})", file=sys.stderr)
        return 1
    print(f"analytics: {stored} new day(s) summarised")
    return 0


def purge_sessions() -> int:
    """Delete expired sign-in sessions now (the web app also does it on a schedule)."""
    from voxie_app.services.session_purge import purge_now

    try:
        purged = purge_now()
    except sa.exc.SQLAlchemyError as exc:
        print(f"sessions: not purged ({type(exc).__name__})", file=sys.stderr)
        return 1
    print(f"sessions: {purged} expired session(s) deleted")
    return 0


def secret_key() -> int:
    """Make sure the secrets store has its key (creates data/secret.key when unset)."""
    from voxie_app.services import secrets
    from voxie_app.services.errors import NotConfigured

    try:
        where = secrets.ensure_key()
    except (NotConfigured, OSError) as exc:
        print(f"error: secrets key: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    print(f"secrets: key from {where} (back it up: stored secrets cannot be read without it)")
    return 0


COMMANDS = {
    "migrate": migrate,
    "worker-status": worker_status,
    "rollups": fill_rollups,
    "purge-sessions": purge_sessions,
    "secret-key": secret_key,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: python -m voxie_app.manage {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
