"""Headless set-up (`python -m voxie_app.manage create-admin | create-api-key |
bootstrap-admin`): each idempotent; bad input is one line on stderr and exit 2."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlmodel import select

from voxie_app import manage
from voxie_app.db import session_scope
from voxie_app.models import ApiKey, User
from voxie_app.services import auth
from voxie_app.settings import ROOT_DIR, Settings

GOOD = "correct horse battery"


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def _stdin(text: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))

    return _stdin


def users() -> list[tuple[str, str]]:
    with session_scope() as s:
        return [(u.email, u.role) for u in s.exec(select(User).order_by(User.email))]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = manage.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_create_admin_reads_stdin_and_is_idempotent(
    db: str, stdin: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(GOOD + "\n")
    code, out, _ = run(["create-admin", "--email", "Owner@Example.com"], capsys)
    assert (code, out) == (0, "admin: owner@example.com created; sign in at /login\n")
    with session_scope() as s:
        token, user = auth.login(session=s, email="owner@example.com", password=GOOD, hours=1)
        assert user.role == "admin" and token
    stdin("another password entirely\n")
    code, out, _ = run(["create-admin", "--email", "owner@example.com"], capsys)
    assert code == 0
    assert "already exists; nothing changed" in out
    assert users() == [("owner@example.com", "admin")]
    with session_scope() as s:  # the first password still works
        auth.login(session=s, email="owner@example.com", password=GOOD, hours=1)


def test_create_admin_takes_the_password_from_the_environment(
    db: str,
    configure: Callable[..., Settings],
    stdin: Callable[[str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(VOXIE_ADMIN_PASSWORD=GOOD)
    stdin("")  # nothing on stdin: the setting is used
    assert run(["create-admin", "--email", "a@example.com", "--name", "Ann"], capsys)[0] == 0
    with session_scope() as s:
        _, user = auth.login(session=s, email="a@example.com", password=GOOD, hours=1)
        assert user.name == "Ann"


@pytest.mark.parametrize(
    ("argv", "password", "message"),
    [
        (["create-admin", "--email", "a@example.com"], "short", "error: password: use at least"),
        (["create-admin", "--email", "a@example.com"], "", "error: password: use at least"),
        (["create-admin", "--email", "not-an-email"], GOOD, "error: email: enter a valid email"),
        (["create-admin"], GOOD, "the following arguments are required: --email"),
        (["create-admin", "--email", "a@example.com", "--role", "x"], GOOD, "unrecognized"),
    ],
)
def test_create_admin_bad_input_exits_2_with_a_message(
    db: str,
    stdin: Callable[[str], None],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    password: str,
    message: str,
) -> None:
    stdin(password + "\n")
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert users() == []


def test_create_admin_refuses_an_email_of_a_non_admin(
    db: str, stdin: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope() as s:
        auth.create_user(session=s, email="v@example.com", password=GOOD, role="viewer")
    stdin(GOOD + "\n")
    code, _, err = run(["create-admin", "--email", "V@example.com"], capsys)
    assert code == 2
    assert err == "error: email: a user with this email exists with role viewer\n"
    assert users() == [("v@example.com", "viewer")]


def test_create_api_key_prints_the_key_once(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["create-api-key", "--name", "ci", "--role", "viewer"], capsys)
    assert code == 0
    raw = out.strip()
    assert out == raw + "\n"  # the key alone on stdout
    assert "created, role viewer; shown once" in err
    with session_scope() as s:
        principal = auth.api_key_principal(session=s, raw=raw)
        assert principal is not None and principal.role == "viewer"
    code, out, err = run(["create-api-key", "--name", "ci", "--role", "viewer"], capsys)
    assert (code, out) == (0, "")
    assert "'ci' already exists" in err and raw.split("_")[1] in err
    with session_scope() as s:
        assert len(s.exec(select(ApiKey)).all()) == 1
        key = s.exec(select(ApiKey)).one()
        auth.revoke_api_key(session=s, key_id=key.id)
    code, out, _ = run(["create-api-key", "--name", "ci", "--role", "admin"], capsys)
    assert code == 0 and out.strip() != raw  # revoked: a new one


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--name", "ci", "--role", "owner"], "invalid choice: 'owner'"),
        (["--name", "ci"], "the following arguments are required: --role"),
        (["--name", "  ", "--role", "admin"], "error: name: give the key a name"),
    ],
)
def test_create_api_key_bad_input_exits_2(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(["create-api-key", *argv], capsys)
    assert (code, out) == (2, "")
    assert message in err
    with session_scope() as s:
        assert s.exec(select(ApiKey)).all() == []


def test_bootstrap_creates_the_first_admin_once(
    db: str, configure: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["bootstrap-admin"], capsys)
    assert code == 0 and "VOXIE_ADMIN_EMAIL not set" in out
    configure(VOXIE_ADMIN_EMAIL="boss@example.com")
    code, _, err = run(["bootstrap-admin"], capsys)
    assert code == 2 and "VOXIE_ADMIN_PASSWORD is not" in err
    configure(VOXIE_ADMIN_PASSWORD="weak")
    code, _, err = run(["bootstrap-admin"], capsys)
    assert code == 2 and "error: password: use at least 10 characters" in err
    configure(VOXIE_ADMIN_PASSWORD=GOOD)
    code, out, _ = run(["bootstrap-admin"], capsys)
    assert code == 0 and "boss@example.com created" in out
    configure(VOXIE_ADMIN_EMAIL="someone-else@example.com")
    code, out, _ = run(["bootstrap-admin"], capsys)
    assert code == 0 and "set-up already done" in out
    assert users() == [("boss@example.com", "admin")]


def test_the_command_line_gives_no_traceback(sqlite_url: str) -> None:
    """The real entry point, as a deployment script runs it."""
    env = {**os.environ, "DATABASE_URL": sqlite_url}
    env.pop("VOXIE_ADMIN_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "voxie_app.manage", "create-admin", "--email", "x@example.com"],
        input="short\n",
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "error: password: use at least 10 characters\n"
