"""What reaches the app log: no client tokens, frontend errors only from signed-in users."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from voxie_app import applog
from voxie_app.db import session_scope
from voxie_app.services import auth


def _event_ctx(cookie: str) -> Any:
    """The context of an event from a socket whose handshake sent `cookie`."""
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex_base.event.context import EventContext

    async def nothing(*_a: object, **_k: object) -> None:
        return None

    return EventContext(
        token="tab-1",
        state_manager=StateManagerMemory(),
        enqueue_impl=nothing,
        router_data={"pathname": "/", "headers": {"cookie": cookie}},
    )


@pytest.fixture
def session_token(db: str) -> str:
    with session_scope() as s:
        auth.create_user(session=s, email="v@example.com", password="p" * 12, role="viewer")
        token, _ = auth.login(session=s, email="v@example.com", password="p" * 12, hours=1)
    return token


def _app_handler() -> Any:
    import voxie_app.voxie_app as main

    return main.app.frontend_exception_handler


FORGED = "boom\n[Reflex Frontend Exception] forged line\r\nERROR admin logged in"


def test_strangers_cannot_write_into_the_log(
    session_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _event_ctx(""):
        _app_handler()(Exception(FORGED))
    with _event_ctx("voxie_session=forged"):
        _app_handler()(Exception(FORGED))
    # A socket `client_error` report, outside any event, from a socket nobody knows.
    _app_handler()(Exception("[SID: abc123] " + FORGED))
    assert "forged line" not in caplog.text


def test_a_signed_in_users_report_is_one_capped_escaped_line(
    session_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="voxie_app.applog")
    with _event_ctx(f"voxie_session={session_token}"):
        _app_handler()(Exception(FORGED + "\u2028" + "x" * 10_000))
    (record,) = [r for r in caplog.records if r.name == "voxie_app.applog"]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert "boom\\n[Reflex Frontend Exception] forged line\\r\\n" in line
    assert len(line) < applog.MAX_REPORT_CHARS + 200 and line.endswith("characters, cut]")


def test_one_line_escapes_without_ambiguity() -> None:
    assert applog.one_line("a\\nb\nc\x1b[31m\x00") == "a\\\\nb\\nc\\x1b[31m\\x00"
    assert applog.one_line("short") == "short"


def _made(name: str, level: int, msg: str, *args: object) -> str:
    """The message of a record `name`'s logger would make (through the record factory).

    Made directly rather than captured: whether a record reaches a handler depends
    on what earlier tests did to logging (uvicorn's config stops "uvicorn.*" from
    propagating to the root, where caplog listens); the factory runs either way.
    """
    record = logging.getLogger(name).makeRecord(name, level, __file__, 1, msg, args, None)
    return record.getMessage()


def test_client_tokens_never_reach_the_log() -> None:
    applog.redact_client_tokens()
    applog.redact_client_tokens()  # idempotent
    tab = "3f2b8c1e-9d4a-4c6b-a1e2-0f9e8d7c6b5a"
    warn, info = logging.WARNING, logging.INFO
    messages = [
        _made("reflex.app", warn, f"Attempting to send delta to disconnected client {tab!r}"),
        _made("reflex_base.event.processor", warn, "client %s went away", tab),
        _made("uvicorn.error", info, '"WebSocket /_event/?EIO=4&token=%s" [accepted]', tab),
        _made("reflex.state", warn, "disconnected client 'custom-tab' (%d)", 1),
        _made("voxie_app.x", warn, "agent %s", tab),  # our own ids stay readable
    ]
    assert tab not in "\n".join(messages[:3]) and "custom-tab" not in messages[3]
    assert messages[0].endswith(f"client '{applog.REDACTED}'")
    assert f"token={applog.REDACTED}" in messages[2]
    assert tab in messages[4]
