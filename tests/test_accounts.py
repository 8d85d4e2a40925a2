"""Account management in services.auth: passwords, sessions, disabling, purging."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from voxie_app import manage
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import UserSession
from voxie_app.services import auth
from voxie_app.services.errors import Conflict, InvalidInput, NotFound
from voxie_app.services.session_purge import purge_now

PW = "first password!"


def _user(email: str, role: str = "viewer") -> str:
    with session_scope() as s:
        return str(auth.create_user(session=s, email=email, password=PW, role=role).id)


def _login(email: str, password: str = PW, hours: float = 1) -> str:
    with session_scope() as s:
        return auth.login(session=s, email=email, password=password, hours=hours)[0]


def _valid(token: str) -> bool:
    with session_scope() as s:
        return auth.session_principal(session=s, token=token) is not None


def _uuid(raw: str):
    import uuid

    return uuid.UUID(raw)


def test_change_password_needs_the_current_one_and_ends_other_sessions(db: str) -> None:
    uid = _uuid(_user("u@example.com"))
    here, elsewhere = _login("u@example.com"), _login("u@example.com")
    with session_scope() as s, pytest.raises(InvalidInput) as wrong:
        auth.change_password(session=s, user_id=uid, current="not it at all", new="x" * 12)
    assert wrong.value.field == "current"
    with session_scope() as s, pytest.raises(InvalidInput) as short:
        auth.change_password(session=s, user_id=uid, current=PW, new="short")
    assert short.value.field == "password"
    with session_scope() as s, pytest.raises(InvalidInput):
        auth.change_password(session=s, user_id=uid, current=PW, new=PW)
    assert _valid(here) and _valid(elsewhere)  # refused changes end nothing

    with session_scope() as s:
        ended = auth.change_password(
            session=s, user_id=uid, current=PW, new="second password!", keep_token=here
        )
    assert ended == 1 and _valid(here) and not _valid(elsewhere)
    with pytest.raises(InvalidInput):
        _login("u@example.com", PW)
    assert _valid(_login("u@example.com", "second password!"))


def test_admin_reset_gives_a_new_password_once_and_ends_every_session(db: str) -> None:
    uid = _uuid(_user("u@example.com"))
    old = _login("u@example.com")
    with session_scope() as s:
        password = auth.reset_password(session=s, user_id=uid)
    assert len(password) >= auth.MIN_PASSWORD
    assert not _valid(old)
    with pytest.raises(InvalidInput):
        _login("u@example.com", PW)
    assert _valid(_login("u@example.com", password))
    with session_scope() as s:
        stored = auth.list_users(session=s)[0].password_hash
    assert password not in stored
    with session_scope() as s, pytest.raises(NotFound):
        auth.reset_password(session=s, user_id=_uuid("00000000-0000-4000-8000-000000000000"))


def test_sign_out_other_sessions_keeps_this_one_and_other_users(db: str) -> None:
    uid = _uuid(_user("u@example.com"))
    _user("w@example.com")
    here, a, b = (_login("u@example.com") for _ in range(3))
    someone_else = _login("w@example.com")
    with session_scope() as s:
        assert auth.end_sessions(session=s, user_id=uid, keep_token=here) == 2
    assert _valid(here) and not _valid(a) and not _valid(b) and _valid(someone_else)


def test_a_disabled_user_cannot_sign_in_and_their_sessions_stop(db: str) -> None:
    _user("admin@example.com", "admin")
    uid = _uuid(_user("u@example.com"))
    token = _login("u@example.com")
    with session_scope() as s:
        auth.set_disabled(session=s, user_id=uid, disabled=True)
    assert not _valid(token)
    with pytest.raises(InvalidInput):
        _login("u@example.com")
    with session_scope() as s:
        auth.set_disabled(session=s, user_id=uid, disabled=False)
    assert not _valid(token)  # enabling again does not bring old sessions back
    assert _valid(_login("u@example.com"))


def test_the_last_enabled_admin_stays_one(db: str) -> None:
    first = _uuid(_user("a@example.com", "admin"))
    second = _uuid(_user("b@example.com", "admin"))
    with session_scope() as s:
        auth.set_disabled(session=s, user_id=second, disabled=True)
    for action in (
        lambda s: auth.set_disabled(session=s, user_id=first, disabled=True),
        lambda s: auth.set_role(session=s, user_id=first, role="viewer"),
        lambda s: auth.delete_user(session=s, user_id=first),
    ):
        with session_scope() as s, pytest.raises(Conflict):
            action(s)
    with session_scope() as s:  # a disabled admin is not the one keeping the lights on
        auth.set_role(session=s, user_id=second, role="viewer")
        auth.delete_user(session=s, user_id=second)


def _sessions() -> int:
    with session_scope() as s:
        return s.execute(sa.select(sa.func.count()).select_from(UserSession)).scalar_one()


def test_expired_sessions_are_purged(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    _user("u@example.com")
    short = _login("u@example.com", hours=1)
    long = _login("u@example.com", hours=5)
    assert purge_now() == 0 and _sessions() == 2
    assert purge_now(now=utcnow() + timedelta(hours=2)) == 1
    assert _sessions() == 1
    with session_scope() as s:
        later = utcnow() + timedelta(hours=2)
        assert auth.session_principal(session=s, token=short, now=later) is None
        assert auth.session_principal(session=s, token=long, now=later) is not None
    assert manage.main(["purge-sessions"]) == 0
    assert "0 expired session(s) deleted" in capsys.readouterr().out


async def test_the_web_app_purges_on_a_schedule(db: str) -> None:
    import asyncio

    from voxie_app.services.session_purge import run_purger

    _user("u@example.com")
    with session_scope() as s:
        s.add(
            UserSession(
                token_hash="0" * 64,
                user_id=auth.list_users(session=s)[0].id,
                expires_at=utcnow() - timedelta(minutes=1),
            )
        )
    stop = asyncio.Event()
    task = asyncio.create_task(run_purger(stop, interval_seconds=3600))
    for _ in range(200):
        if _sessions() == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert _sessions() == 0
