"""Small management commands used by `make run` (`python -m voxie_app.manage ...`).

They print one clear line on a known failure (database unreachable, LiveKit
not configured) instead of a stack trace. The headless set-up commands
(`create-admin`, `create-api-key`, `bootstrap-admin`) exit 2 on bad input (a weak
password, a bad or taken email, an unknown role), with the service's own message.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import sys
from collections.abc import Callable

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from voxie_app.db import normalize_url
from voxie_app.settings import ROOT_DIR, get_settings

BAD_INPUT = 2  # the exit code of a usage error or a refused input (as argparse's)


def _unreachable(exc: sa.exc.OperationalError) -> int:
    where = sa.engine.make_url(normalize_url(get_settings().database_url))
    print(
        f"error: cannot reach the database at {where.render_as_string(hide_password=True)}"
        f" ({str(exc.orig).strip().splitlines()[0] if exc.orig else exc}); check DATABASE_URL",
        file=sys.stderr,
    )
    return 1


def migrate() -> int:
    settings = get_settings()
    cfg = Config(str(ROOT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", normalize_url(settings.database_url))
    try:
        command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        return _unreachable(exc)
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


# ------------------------------------------------------------ headless set-up


def _refused(exc: Exception) -> int:
    """A service's refusal (InvalidInput names the field) as one line, exit 2."""
    where = getattr(exc, "field", None)
    message = getattr(exc, "message", str(exc))
    print(f"error: {where + ': ' if where else ''}{message}", file=sys.stderr)
    return BAD_INPUT


def _password() -> str:
    """VOXIE_ADMIN_PASSWORD when set, else one line from stdin (prompted, not echoed,
    on a terminal): never a command-line argument, which `ps` would show."""
    secret = get_settings().admin_password
    if secret is not None:
        return secret.get_secret_value()
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _admin(email: str, password: str, name: str = "") -> int:
    from voxie_app.db import session_scope
    from voxie_app.services import auth
    from voxie_app.services.errors import ServiceError

    try:
        with session_scope() as session:
            user, created = auth.ensure_admin(
                session=session, email=email, password=password, name=name
            )
            email = user.email
    except ServiceError as exc:
        return _refused(exc)
    except sa.exc.IntegrityError:  # another process created it meanwhile
        created = False
    except sa.exc.OperationalError as exc:
        return _unreachable(exc)
    if created:
        print(f"admin: {email} created; sign in at /login")
    else:
        print(f"admin: {email} already exists; nothing changed (its password is kept)")
    return 0


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=f"python -m voxie_app.manage {command}", description=description
    )


def create_admin(argv: list[str]) -> int:
    parser = _parser(
        command="create-admin",
        description="Create an admin account (the password from VOXIE_ADMIN_PASSWORD or "
        "stdin). Run again, it changes nothing.",
    )
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", default="")
    args = parser.parse_args(argv)
    return _admin(args.email, _password(), args.name)


def bootstrap_admin(argv: list[str]) -> int:
    """At start (scripts/run.sh): the first admin from VOXIE_ADMIN_EMAIL and
    VOXIE_ADMIN_PASSWORD while no account exists; once any exists, nothing."""
    _parser("bootstrap-admin", bootstrap_admin.__doc__ or "").parse_args(argv)
    from voxie_app.db import session_scope
    from voxie_app.services import auth

    settings = get_settings()
    if not settings.admin_email:
        print(
            "admin: VOXIE_ADMIN_EMAIL not set; create the first admin at /setup"
            " or with create-admin"
        )
        return 0
    try:
        with session_scope() as session:
            done = not auth.needs_setup(session=session)
    except sa.exc.OperationalError as exc:
        return _unreachable(exc)
    if done:
        print("admin: set-up already done; VOXIE_ADMIN_EMAIL not used")
        return 0
    if settings.admin_password is None:
        print("error: VOXIE_ADMIN_EMAIL is set but VOXIE_ADMIN_PASSWORD is not", file=sys.stderr)
        return BAD_INPUT
    return _admin(settings.admin_email, settings.admin_password.get_secret_value())


def create_api_key(argv: list[str]) -> int:
    from voxie_app.db import session_scope
    from voxie_app.services import auth
    from voxie_app.services.errors import ServiceError

    parser = _parser(
        command="create-api-key",
        description="Create an API key and print it (once: only its hash is stored). "
        "Run again with the same name, it prints nothing new.",
    )
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", required=True, choices=auth.ROLES)
    args = parser.parse_args(argv)
    try:
        with session_scope() as session:
            existing = auth.active_api_key_named(session=session, name=args.name)
            if existing is not None:
                print(
                    f"api key: {existing.name!r} already exists ({auth.KEY_PREFIX}"
                    f"{existing.prefix}_..., role {existing.role}); no new key made "
                    "(revoke it under /settings to make another)",
                    file=sys.stderr,
                )
                return 0
            raw, key = auth.create_api_key(session=session, name=args.name, role=args.role)
            role = key.role
    except ServiceError as exc:
        return _refused(exc)
    except sa.exc.OperationalError as exc:
        return _unreachable(exc)
    print(f"api key: {args.name.strip()!r} created, role {role}; shown once:", file=sys.stderr)
    print(raw)  # alone on stdout, so KEY=$(... create-api-key ...) captures it
    return 0


COMMANDS: dict[str, Callable[[], int]] = {
    "migrate": migrate,
    "worker-status": worker_status,
    "rollups": fill_rollups,
    "purge-sessions": purge_sessions,
    "secret-key": secret_key,
}
# Commands that take options (argparse: `--help`, and exit 2 on a usage error).
WITH_OPTIONS: dict[str, Callable[[list[str]], int]] = {
    "create-admin": create_admin,
    "create-api-key": create_api_key,
    "bootstrap-admin": bootstrap_admin,
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in WITH_OPTIONS:
        try:
            return WITH_OPTIONS[argv[0]](argv[1:])
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            return exc.code if isinstance(exc.code, int) else BAD_INPUT
    if len(argv) != 1 or argv[0] not in COMMANDS:
        names = "|".join([*COMMANDS, *WITH_OPTIONS])
        print(f"usage: python -m voxie_app.manage {{{names}}}", file=sys.stderr)
        return BAD_INPUT
    return COMMANDS[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
