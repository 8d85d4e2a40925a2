"""Every Reflex event handler of our states, with no session, a viewer and an admin.

The middleware's decision is tested for each handler (the handler never runs
when denied); a few handlers are also run end to end in the browser tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import reflex as rx

from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.state import guard, middleware


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
    assert ("McpServersState", "refresh") in names
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
        ("AgentsState", "play_sample"),  # spends TTS money
        ("KnowledgeState", "confirm_delete"),
        ("KnowledgeState", "delete"),
        ("BuilderState", "send"),
        ("BuilderState", "talk_to_voxie"),
        ("AgentChatState", "send"),
        ("CallState", "start"),
        ("SettingsState", "check"),
        ("SettingsState", "check_providers"),  # spends the providers' keys
        ("SecretsState", "save"),
        ("SecretsState", "confirm_delete"),
        ("McpServersState", "save"),
        ("McpServersState", "refresh"),
        ("McpServersState", "delete"),
        ("McpServersState", "edit"),  # loads headers
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


# ------------------------------------------- H1: the request's cookie, not the tab's state


def _ctx(tab: str, router_data: dict) -> Any:
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex_base.event.context import EventContext

    async def nothing(*_a: object, **_k: object) -> None:
        return None

    return EventContext(
        token=tab, state_manager=StateManagerMemory(), enqueue_impl=nothing, router_data=router_data
    )


def _socket(cookie: str | None) -> dict:
    """Router data of a socket event: Reflex puts the handshake's headers in it."""
    headers = {"host": "voxie.test"} | ({"cookie": cookie} if cookie is not None else {})
    return {"pathname": "/settings", "headers": headers}


async def _run_guard(ctx: Any, handler: str, prepare: Callable[[Any], Any] | None = None):
    """The middleware's answer for `AdminState.<handler>` in tab `ctx.token`, and its state."""
    from reflex.istate.manager.token import BaseStateToken
    from reflex.state import State
    from reflex_base.event import Event

    from voxie_app.state.admin import AdminState

    with ctx:
        async with ctx.state_manager.modify_state(
            BaseStateToken(ident=ctx.token, cls=State)
        ) as root:
            if prepare is not None:
                await prepare(root)
            event = Event(name=f"{AdminState.get_full_name()}.{handler}", payload={})
            answer = await middleware.AuthMiddleware().preprocess(None, root, event)
            admin = await root.get_state(AdminState)
            return answer, admin


async def test_a_client_token_alone_does_not_act_as_its_user(tokens: dict[str, str]) -> None:
    """The tab's state holds an admin's session (and data loaded for them); a socket
    reconnecting with that tab's client token but without the cookie gets neither."""
    from voxie_app.state.admin import AdminState
    from voxie_app.state.session import SessionState

    with session_scope() as s:
        admin_id = str(auth.session_principal(session=s, token=tokens["admin"]).id)

    async def signed_in_tab(root: Any) -> None:
        session_state = await root.get_state(SessionState)
        admin = await root.get_state(AdminState)
        await middleware.bind_state_to(root, admin_id)  # the admin's own earlier events
        session_state.token = tokens["admin"]  # what the tab's state kept after sign-in
        admin.users = [{"email": "admin@example.com"}]  # loaded for the admin

    ctx = _ctx("tab-1", _socket(cookie=None))
    answer, admin = await _run_guard(ctx, "load", signed_in_tab)
    assert answer is not None and "login" in str(answer.events[0])  # not run
    assert admin.users == []  # and nothing loaded for the admin is left to hydrate

    ctx = _ctx("tab-1", _socket(cookie="other=1; voxie_session=forged"))
    answer, _ = await _run_guard(ctx, "load", signed_in_tab)
    assert answer is not None

    ctx = _ctx("tab-1", _socket(cookie=f"a=b; voxie_session={tokens['admin']}"))
    answer, admin = await _run_guard(ctx, "load", signed_in_tab)
    assert answer is None and admin.users == [{"email": "admin@example.com"}]

    ctx = _ctx("tab-1", _socket(cookie=f"voxie_session={tokens['viewer']}"))
    answer, admin = await _run_guard(ctx, "add_user", signed_in_tab)
    assert answer is not None and "cannot" in str(answer.events[0])
    assert admin.users == []  # filled for the admin, not for this viewer


async def test_an_event_without_headers_is_anonymous_unless_its_upload_was_checked(
    tokens: dict[str, str],
) -> None:
    ctx = _ctx("tab-2", {})
    answer, _ = await _run_guard(ctx, "load")
    assert answer is not None
    with guard.upload_grant("tab-2", tokens["admin"]):
        answer, _ = await _run_guard(_ctx("tab-2", {}), "load")
        assert answer is None
        other_tab, _ = await _run_guard(_ctx("tab-3", {}), "load")
        assert other_tab is not None
    assert guard._upload_grants == {}


def test_role_changes_deletion_and_disabling_count_from_the_next_event(
    tokens: dict[str, str],
) -> None:
    from voxie_app.state.admin import AdminState

    with session_scope() as s:
        auth.create_user(session=s, email="b@example.com", password="p" * 12, role="admin")
        token, user = auth.login(session=s, email="b@example.com", password="p" * 12, hours=1)
        user_id = user.id
    assert guard.decide(AdminState, "add_user", token) is None
    with session_scope() as s:
        auth.set_role(session=s, user_id=user_id, role="viewer")
    assert "cannot" in str(guard.decide(AdminState, "add_user", token))
    assert guard.decide(AdminState, "load", token) is None  # still a viewer
    with session_scope() as s:
        auth.set_disabled(session=s, user_id=user_id, disabled=True)
    assert "login" in str(guard.decide(AdminState, "load", token))
    with session_scope() as s:
        auth.set_disabled(session=s, user_id=user_id, disabled=False)
        token, _ = auth.login(session=s, email="b@example.com", password="p" * 12, hours=1)
    assert guard.decide(AdminState, "load", token) is None
    with session_scope() as s:
        auth.delete_user(session=s, user_id=user_id)
    assert "login" in str(guard.decide(AdminState, "load", token))


def _upload_app(seen: list[str]) -> Any:
    from voxie_app.state.upload_guard import UploadGuard

    async def reflex_upload(scope: Any, receive: Any, send: Any) -> None:
        from reflex_base.event.context import EventContext

        # What an upload event sees: no headers, the tab from `reflex-client-token`.
        if scope["method"] == "POST":
            with _ctx("tab-9", {}):
                seen.append(guard.request_token() or "anonymous")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        assert EventContext  # imported where an upload handler would use it

    return UploadGuard(reflex_upload)


@pytest.mark.parametrize("who", ["anonymous", "forged", "viewer", "admin"])
async def test_upload_answers_to_the_cookie_of_the_request(
    tokens: dict[str, str], who: str
) -> None:
    import httpx

    from voxie_app.state.knowledge import KnowledgeState

    seen: list[str] = []
    cookie = {"anonymous": "", "forged": "voxie_session=forged"}.get(who)
    headers = {
        "reflex-client-token": "tab-9",
        "reflex-event-handler": f"{KnowledgeState.get_full_name()}.upload",
        "cookie": cookie if cookie is not None else f"voxie_session={tokens[who]}",
    }
    transport = httpx.ASGITransport(app=_upload_app(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://voxie.test") as client:
        r = await client.post("/_upload", headers=headers, files={"files": ("a.txt", b"hi")})
        listing = await client.get("/_upload/a.txt", headers={"cookie": headers["cookie"]})
    want = {"anonymous": 401, "forged": 401, "viewer": 403, "admin": 200}[who]
    assert r.status_code == want, r.text
    assert seen == ([tokens["admin"]] if who == "admin" else [])
    assert listing.status_code == (401 if who in ("anonymous", "forged") else 200)
    assert guard._upload_grants == {}


def test_the_app_guards_uploads_and_logs() -> None:
    import voxie_app.voxie_app as main
    from voxie_app.applog import frontend_exception_handler
    from voxie_app.state.upload_guard import UploadGuard

    assert UploadGuard in main.app.api_transformer
    assert main.app.frontend_exception_handler is frontend_exception_handler


# ----------------------------------------------------------- H14: account handlers


def test_account_handlers_are_open_to_viewers_and_admin_handlers_are_not() -> None:
    from voxie_app.state.account import AccountState
    from voxie_app.state.admin import AdminState

    for name in ("change_password", "sign_out_others"):
        assert guard.access_of(AccountState.event_handlers[name].fn) == "viewer"
    for name in ("reset_password", "confirm_secret", "set_disabled"):
        assert guard.access_of(AdminState.event_handlers[name].fn) == "admin"


async def _handler(ctx: Any, state_cls: type, name: str, *args: Any) -> tuple[Any, Any]:
    """Run one handler of `state_cls` as the middleware lets it: in `ctx`, on the tab's state."""
    from reflex.istate.manager.token import BaseStateToken
    from reflex.state import State

    with ctx:
        async with ctx.state_manager.modify_state(
            BaseStateToken(ident=ctx.token, cls=State)
        ) as root:
            state = await root.get_state(state_cls)
            result = state_cls.event_handlers[name].fn(state, *args)
            if hasattr(result, "__await__"):
                result = await result
            return result, state


def _valid(token: str) -> bool:
    with session_scope() as s:
        return auth.session_principal(session=s, token=token) is not None


async def test_change_password_acts_on_the_cookie_user_and_keeps_this_session(
    tokens: dict[str, str],
) -> None:
    from voxie_app.state.account import AccountState

    with session_scope() as s:
        elsewhere, _ = auth.login(session=s, email="viewer@example.com", password="p" * 12, hours=1)
    here = _ctx("tab-5", _socket(cookie=f"voxie_session={tokens['viewer']}"))
    form = {"current": "wrong" * 3, "password": "n" * 12, "confirm": "n" * 12}
    _, state = await _handler(here, AccountState, "change_password", form)
    assert state.error_field == "current" and _valid(elsewhere)

    form = {"current": "p" * 12, "password": "n" * 12, "confirm": "m" * 12}
    _, state = await _handler(here, AccountState, "change_password", form)
    assert state.error_field == "confirm"

    form["confirm"] = "n" * 12
    result, state = await _handler(here, AccountState, "change_password", form)
    assert state.error == "" and "1 other session" in str(result)
    assert _valid(tokens["viewer"]) and not _valid(elsewhere) and _valid(tokens["admin"])

    with session_scope() as s:
        elsewhere, _ = auth.login(session=s, email="viewer@example.com", password="n" * 12, hours=1)
    await _handler(here, AccountState, "sign_out_others")
    assert _valid(tokens["viewer"]) and not _valid(elsewhere)


async def test_admin_reset_shows_the_password_once_and_refuses_own_account(
    tokens: dict[str, str],
) -> None:
    from voxie_app.state.admin import AdminState

    with session_scope() as s:
        users = {u.email: str(u.id) for u in auth.list_users(session=s)}
    admin = _ctx("tab-6", _socket(cookie=f"voxie_session={tokens['admin']}"))
    await _handler(admin, AdminState, "load")
    _, state = await _handler(admin, AdminState, "reset_password", users["viewer@example.com"])
    assert len(state.shown_secret) >= 10 and "viewer@example.com" in state.shown_title
    assert not _valid(tokens["viewer"])
    with session_scope() as s:
        auth.login(session=s, email="viewer@example.com", password=state.shown_secret, hours=1)
    _, state = await _handler(admin, AdminState, "confirm_secret")
    assert state.shown_secret == "" and state.shown_title == ""

    for name, args in (
        ("reset_password", (users["admin@example.com"],)),
        ("set_disabled", (users["admin@example.com"], True)),
    ):
        result, state = await _handler(admin, AdminState, name, *args)
        assert "own" in str(result) or "Your account" in str(result)
    assert _valid(tokens["admin"])

    _, state = await _handler(admin, AdminState, "set_disabled", users["viewer@example.com"], True)
    assert [u["disabled"] for u in state.users if u["email"] == "viewer@example.com"] == ["yes"]


async def test_mcp_panel_loads_no_headers_for_a_viewer(tokens: dict[str, str]) -> None:
    from voxie_app.services import mcp_servers as mcp_svc
    from voxie_app.state.mcp_servers import McpServersState

    with session_scope() as s:
        tool = mcp_svc.create_server(
            session=s,
            body=mcp_svc.parse(
                {
                    "name": "clinic_mcp",
                    "url": "https://mcp.example.com/mcp",
                    "headers": {"Authorization": "Bearer literal-value-9f"},
                }
            ),
        )
        tool_id = str(tool.id)
    viewer = _ctx("tab-mcp-v", _socket(cookie=f"voxie_session={tokens['viewer']}"))
    _, state = await _handler(viewer, McpServersState, "load")
    assert [r["name"] for r in state.servers] == ["clinic_mcp"] and not state.is_admin
    assert "literal-value-9f" not in json.dumps(state.dict())
    admin = _ctx("tab-mcp-a", _socket(cookie=f"voxie_session={tokens['admin']}"))
    await _handler(admin, McpServersState, "load")
    _, state = await _handler(admin, McpServersState, "edit", tool_id)
    assert state.is_admin and state.header_rows == [
        {"key": "Authorization", "value": "Bearer literal-value-9f"}
    ]
