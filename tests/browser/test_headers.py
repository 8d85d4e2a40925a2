"""The production build under its Content-Security-Policy, in Chromium, with no internet.

The app's pages still load their data over the Reflex websocket (no CSP
violation), no page can be framed, Swagger UI renders from local assets, and
signing in sets a cookie that lasts as long as the server session.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Route, expect

from tests.browser.conftest import PASSWORD, SESSION_COOKIE, SeededApp, seeded_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("browser-headers")) as running:
        yield running


def offline(ctx: BrowserContext) -> list[str]:
    """Abort every request that leaves this machine; returns the URLs that tried."""
    tried: list[str] = []

    def handle(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort()

    ctx.route("**/*", handle)
    return tried


def csp_messages(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


def test_pages_work_under_the_policy(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    messages: list[str] = []
    browse.page.on("console", lambda m: messages.append(m.text))
    for path in ("/", "/agents", "/settings", "/analytics"):
        page = browse.goto(path)
        expect(page.get_by_test_id("page-title")).to_be_visible()
    # The websocket worked: the agents of the seeded data were loaded into the page.
    browse.goto("/agents")
    first_agent = next(iter(site.seeded.agent_ids))
    expect(browse.page.get_by_text(first_agent).first).to_be_visible()
    assert csp_messages(messages) == []
    browse.assert_clean()


def test_no_page_can_be_framed(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    messages: list[str] = []
    browse.page.on("console", lambda m: messages.append(m.text))
    browse.page.set_content(f'<iframe id="f" src="{site.base}/settings"></iframe>')
    browse.page.wait_for_timeout(2000)
    framed = [f for f in browse.page.frames if f != browse.page.main_frame]
    assert framed and all("page-title" not in f.content() for f in framed)
    assert any("frame-ancestors" in m for m in messages), messages


def test_swagger_ui_renders_offline(site: SeededApp, browser) -> None:
    ctx = browser.new_context()
    try:
        tried = offline(ctx)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(site.base + "/api/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "Voxie API", timeout=20_000
        )
        expect(page.locator(".opblock").first).to_be_visible()
        assert page.locator(".opblock").count() > 10
        assert tried == [] and errors == []
    finally:
        ctx.close()


def test_signing_in_sets_a_cookie_as_long_as_the_session(site: SeededApp, browser) -> None:
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(site.base + "/login")
        page.get_by_test_id("email").fill("admin@voxie.test")
        page.get_by_test_id("password").fill(PASSWORD)
        page.get_by_test_id("sign-in").click()
        expect(page.get_by_test_id("user-menu")).to_be_visible(timeout=30_000)
        [cookie] = [c for c in ctx.cookies() if c["name"] == SESSION_COOKIE]
        # The browser's own clock set the expiry (not this process's: under the
        # clock check each process's clock starts at the instant when it starts).
        lifetime = cookie["expires"] - page.evaluate("Date.now() / 1000")
        assert 12 * 3600 - 600 < lifetime <= 12 * 3600, lifetime  # VOXIE_SESSION_HOURS
        assert cookie["sameSite"] == "Strict"
        assert cookie["secure"] is False  # plain http here; https: tests/test_app_prod.py
    finally:
        ctx.close()
