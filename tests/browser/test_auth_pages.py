"""Accounts in the browser: first-run setup, sign in and out, viewers, API keys shown once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from alembic import command
from tests.apprunner import RunningApp, run_app
from tests.browser.conftest import ARTIFACTS
from tests.conftest import alembic_config
from voxie_app.db import session_scope
from voxie_app.services import auth

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN = ("owner@voxie.test", "a long admin password")
VIEWER = ("viewer@voxie.test", "a long viewer password")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, str]]:
    workdir: Path = tmp_path_factory.mktemp("auth")
    url = f"sqlite:///{workdir / 'voxie.db'}"
    command.upgrade(alembic_config(url), "head")
    with run_app(workdir, database_url=url) as app:
        yield app, url


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"auth-{name}.png"), full_page=True)


def test_first_run_setup_then_sign_out_and_in(fresh, browser) -> None:
    app, _ = fresh
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(app.base + "/agents")
    expect(page).to_have_url(re.compile(r"/setup$"), timeout=30_000)
    _shot(page, "setup")
    page.get_by_test_id("name").fill("Olive Owner")
    page.get_by_test_id("email").fill(ADMIN[0])
    page.get_by_test_id("password").fill(ADMIN[1])
    page.get_by_test_id("confirm").fill(ADMIN[1])
    page.get_by_test_id("create-admin").click()
    # Hashing the password (argon2) and the first page after it: slow on a loaded machine.
    expect(page.get_by_test_id("user-menu")).to_contain_text("Olive Owner", timeout=60_000)
    # Setup is closed once an admin exists.
    page.goto(app.base + "/setup")
    expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)

    page.goto(app.base + "/settings")
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)
    page.get_by_test_id("email").fill(ADMIN[0])
    page.get_by_test_id("password").fill("not the password")
    page.get_by_test_id("sign-in").click()
    # The password check runs on the sign-in pool (argon2): slow on a loaded machine.
    expect(page.get_by_test_id("auth-error")).to_contain_text(
        "wrong email or password", timeout=20_000
    )
    _shot(page, "login-error")

    page.goto(app.base + "/login?next=/calls")
    page.get_by_test_id("email").fill(ADMIN[0])
    page.get_by_test_id("password").fill(ADMIN[1])
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(re.compile(r"/calls$"), timeout=20_000)
    assert not errors, errors
    ctx.close()


def test_signed_out_pages_lead_to_login(fresh, browser) -> None:
    app, _ = fresh
    ctx = browser.new_context()
    page = ctx.new_page()
    for path in ("/", "/agents", "/builder", "/settings"):
        page.goto(app.base + path)
        expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)
    ctx.close()


def test_admin_creates_an_api_key_shown_once_and_viewer_sees_no_admin_panels(
    fresh, browser
) -> None:
    app, url = fresh
    with session_scope(url) as s:
        if not any(u.email == VIEWER[0] for u in auth.list_users(session=s)):
            auth.create_user(session=s, email=VIEWER[0], password=VIEWER[1], role="viewer")

    def sign_in(email: str, password: str):
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        page = ctx.new_page()
        page.goto(app.base + "/login?next=/settings")
        page.get_by_test_id("email").fill(email)
        page.get_by_test_id("password").fill(password)
        page.get_by_test_id("sign-in").click()
        expect(page).to_have_url(re.compile(r"/settings$"), timeout=20_000)
        return ctx, page

    ctx, page = sign_in(*ADMIN)
    page.get_by_placeholder("what the key is for").fill("CI export")
    page.get_by_test_id("create-key").click()
    secret = page.get_by_test_id("new-secret")
    expect(secret).to_contain_text("vx_", timeout=20_000)
    key = secret.inner_text().strip()
    _shot(page, "settings-admin")
    assert (
        httpx.get(app.base + "/api/agents", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    page.reload()
    expect(page.get_by_test_id("key-row").first).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("new-secret")).to_have_count(0)  # shown once
    assert key not in page.content()
    ctx.close()

    ctx, page = sign_in(*VIEWER)
    expect(page.get_by_test_id("user-menu")).to_contain_text("viewer")
    expect(page.get_by_test_id("key-row")).to_have_count(0)
    expect(page.get_by_test_id("create-key")).to_have_count(0)
    page.goto(app.base + "/calls")
    expect(page.get_by_test_id("page-title")).to_contain_text("Calls", timeout=20_000)
    _shot(page, "viewer-calls")
    ctx.close()


CHANGER = ("changer@voxie.test", "the first long password")


def _signed_in_page(browser, app: RunningApp, email: str, password: str, path: str = "/settings"):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.goto(f"{app.base}/login?next={path}")
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(re.compile(f"{re.escape(path)}$"), timeout=20_000)
    return ctx, page


def test_change_own_password_signs_out_the_other_sessions(fresh, browser) -> None:
    app, url = fresh
    with session_scope(url) as s:
        auth.create_user(session=s, email=CHANGER[0], password=CHANGER[1], role="viewer")
    other_ctx, other = _signed_in_page(browser, app, *CHANGER, path="/calls")
    ctx, page = _signed_in_page(browser, app, *CHANGER)

    page.get_by_test_id("account-current").fill("not my password")
    page.get_by_test_id("account-password").fill("the second long password")
    page.get_by_test_id("account-confirm").fill("the second long password")
    page.get_by_test_id("change-password").click()
    expect(page.get_by_test_id("account-error")).to_contain_text("current password is wrong")

    page.get_by_test_id("account-current").fill(CHANGER[1])
    page.get_by_test_id("change-password").click()
    expect(page.get_by_text("Password changed. 1 other session(s) signed out.")).to_be_visible(
        timeout=20_000
    )
    _shot(page, "password-changed")
    other.goto(app.base + "/analytics")  # the other browser's session has ended
    expect(other).to_have_url(re.compile(r"/login"), timeout=20_000)
    page.goto(app.base + "/calls")  # this one stays signed in
    expect(page.get_by_test_id("page-title")).to_contain_text("Calls", timeout=20_000)
    ctx.close()
    other_ctx.close()
    ctx, _ = _signed_in_page(browser, app, CHANGER[0], "the second long password")
    ctx.close()


def _as_stranger(base: str, tab: str, event_names: list[str]) -> list[str]:
    """Connect to the app's websocket with a tab's client token and no cookie, send
    `event_names`, and return every message the server sent back."""
    import asyncio
    import json
    from concurrent.futures import ThreadPoolExecutor

    import socketio

    NS = "/_event"  # Reflex's namespace and socket path

    async def run() -> list[str]:
        got: list[str] = []
        sio = socketio.AsyncClient()
        sio.on(
            "*", lambda event, data=None: got.append(f"{event} {json.dumps(data)}"), namespace=NS
        )
        await sio.connect(
            f"{base}?token={tab}", namespaces=[NS], socketio_path=NS, transports=["websocket"]
        )
        router = {"pathname": "/settings", "query": {}, "asPath": "/settings"}
        for name in event_names:
            event = {"name": name, "payload": {}, "router_data": router}
            await sio.emit("event", event, namespace=NS)
            await asyncio.sleep(2)
        await sio.disconnect()
        return got

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(60)


def test_a_client_token_is_not_a_sign_in(fresh, browser) -> None:
    from reflex.state import State

    from voxie_app.state.admin import AdminState
    from voxie_app.state.knowledge import KnowledgeState

    app, _ = fresh
    ctx, page = _signed_in_page(browser, app, *ADMIN)
    expect(page.get_by_test_id("user-row").first).to_be_visible(timeout=20_000)
    tab = page.evaluate("window.sessionStorage.getItem('token')")
    assert tab
    ctx.close()  # the tab closes; its client token is all a stranger has

    got = _as_stranger(
        app.base, tab, [f"{AdminState.get_full_name()}.load", f"{State.get_full_name()}.hydrate"]
    )
    text = "\n".join(got)
    assert got and "/login" in text  # sent to sign in
    assert ADMIN[0] not in text and "Olive Owner" not in text  # no user list, no name

    upload = httpx.post(
        app.base + "/_upload",
        headers={
            "reflex-client-token": tab,
            "reflex-event-handler": f"{KnowledgeState.get_full_name()}.upload",
        },
        files={"files": ("notes.txt", b"planted")},
        timeout=10,
    )
    assert upload.status_code == 401
    assert tab not in app.log()
