"""Every Reflex event handler of our states, with no session, a viewer and an admin.

The middleware's decision is tested for each handler (the handler never runs
when denied); a few handlers are also run end to end in the browser tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reflex as rx

from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.state import guard


def _states() -> Iterator[type]:
    import voxie_app.voxie_app  # noqa: F401  (registers every page and state)

    def walk(cls: type) -> Iterator[type]:
        for sub in cls.get_substates():
            yield sub
            yield from walk(sub)

    yield from (c for c in walk(rx.State) if c.__module__.startswith("voxie_app.state"))


HANDLERS = sorted(
    (cls.__name__, name, cls)
    for cls in _states()
    for name in cls.event_handlers
    if name != "setvar"
)


@pytest.fixture
def tokens(db: str) -> dict[str, str]:
    guard.reset_caches()
    out = {}
    with session_scope() as s:
        for role in ("admin", "viewer"):
            auth.create_user(session=s, email=f"{role}@example.com", password="p" * 12, role=role)
    for role in ("admin", "viewer"):
        with session_scope() as s:
            out[role], _ = auth.login(
                session=s, email=f"{role}@example.com", password="p" * 12, hours=1
            )
    yield out
    guard.reset_caches()


def test_every_handler_is_listed() -> None:
    names = {(c, n) for c, n, _ in HANDLERS}
    assert ("AgentsState", "confirm_delete") in names
    assert ("SessionState", "login") in names
    assert len(HANDLERS) > 40


def test_every_handler_checks_session_and_role(tokens: dict[str, str]) -> None:
    """No session, a forged one, a viewer and an admin, for each handler of each state."""
    wrong = []
    for state, handler, cls in HANDLERS:
        level = guard.access_of(cls.event_handlers[handler].fn)
        got = {
            "anonymous": guard.decide(cls, handler, "", "/somewhere") is None,
            "forged": guard.decide(cls, handler, "forged-token-value", "/") is None,
            "viewer": guard.decide(cls, handler, tokens["viewer"]) is None,
            "admin": guard.decide(cls, handler, tokens["admin"]) is None,
        }
        want = {
            "anonymous": level == "public",
            "forged": level == "public",
            "viewer": level in ("public", "viewer"),
            "admin": True,
        }
        if got != want:
            wrong.append(f"{state}.{handler} ({level}): allowed {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_write_handlers_are_admin_only() -> None:
    """What changes data, starts calls or spends LLM money is never open to viewers."""
    writes = {
        ("AgentsState", "save"),
        ("AgentsState", "confirm_delete"),
        ("AgentsState", "duplicate"),
        ("BuilderState", "send"),
        ("BuilderState", "talk_to_voxie"),
        ("AgentChatState", "send"),
        ("CallState", "start"),
        ("SettingsState", "check"),
    }
    for state, handler, cls in HANDLERS:
        if (state, handler) in writes:
            assert guard.access_of(cls.event_handlers[handler].fn) == "admin", (state, handler)


def test_before_setup_everything_leads_to_setup(db: str) -> None:
    guard.reset_caches()
    from voxie_app.state.agents import AgentsState

    denied = guard.decide(AgentsState, "confirm_delete", "")
    assert denied is not None and "setup" in str(denied[0])
    guard.reset_caches()


def test_expired_sessions_are_refused(db: str) -> None:
    from datetime import timedelta

    from voxie_app.dbtypes import utcnow

    with session_scope() as s:
        auth.create_user(session=s, email="a@example.com", password="p" * 12, role="admin")
        token, _ = auth.login(session=s, email="a@example.com", password="p" * 12, hours=1)
    with session_scope() as s:
        assert auth.session_principal(session=s, token=token) is not None
        later = utcnow() + timedelta(hours=2)
        assert auth.session_principal(session=s, token=token, now=later) is None
