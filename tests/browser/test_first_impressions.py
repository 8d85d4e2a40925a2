"""Issue 13, first impressions: what a newcomer met on every page, in Chromium.

One app (seeded SQLite, an OpenAI-compatible double for the chats) for the
module; each test covers one item of the walkthrough at laptop and phone size.
The last test adds agents (paging, duplicate names), so it runs last.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, PHONE, SESSION_COOKIE, SeededApp, seeded_app
from tests.doubles.openai_server import OpenAIServerDouble, Reply
from tests.seed import AGENT_SPECS, add_active_call
from voxie_app.db import session_scope
from voxie_app.services import agents as agents_svc
from voxie_app.services import auth
from voxie_app.services import calls as calls_svc

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1400, "height": 900}
REFUSED = "cannot do that"


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, double: OpenAIServerDouble):
    with seeded_app(
        tmp_path_factory.mktemp("first-impressions"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
    ) as running:
        yield running


# The element that scrolls: Radix Themes puts the test id on the scroll area's viewport.
VIEW = "document.querySelector('[data-testid=chat-messages]')"


def _at_bottom(page: Page) -> bool:
    return page.evaluate(
        f"() => {{ const v = {VIEW}; return v.scrollHeight - v.scrollTop - v.clientHeight <= 4; }}"
    )


def _toasts(page: Page) -> str:
    return " ".join(page.locator("[data-sonner-toast]").all_inner_texts())


# ------------------------------------------------------------- 1. chat scrolls


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_chat_follows_the_newest_message_unless_scrolled_up(
    site: SeededApp, double: OpenAIServerDouble, make_browse, viewport: dict[str, int]
) -> None:
    long = "We are open from noon to eleven, every day of the week. " * 4
    double.reset()
    double.script(*[Reply(content=f"Reply {i}. {long}") for i in range(1, 7)])
    b = make_browse(site.base, viewport=viewport)
    page = b.goto(f"/agents/{site.seeded.agent_ids['Pizza Roma Orders']}/chat")
    expect(page.get_by_test_id("msg-agent").first).to_be_visible(timeout=20_000)  # greeting
    for i in range(1, 5):
        page.get_by_test_id("chat-input").fill(f"Question {i}: when are you open?")
        page.get_by_test_id("chat-send").click()
        expect(page.get_by_test_id("msg-agent").last).to_contain_text(f"Reply {i}.")
        page.wait_for_function("() => !document.querySelector('[data-testid=chat-typing]')")
        page.wait_for_timeout(150)
        assert _at_bottom(page), f"reply {i} landed below the visible area"
    b.shot("followed")

    # A reader who scrolled up to re-read is left where they are.
    page.evaluate(f"() => {{ const v = {VIEW}; v.scrollTop = 0; }}")
    page.wait_for_timeout(100)  # the scroll event has run
    page.get_by_test_id("chat-input").fill("One more?")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-agent").last).to_contain_text("Reply 5.")
    page.wait_for_timeout(300)
    assert not _at_bottom(page)
    assert page.evaluate(f"() => {VIEW}.scrollTop") < 5
    b.assert_clean()


# --------------------------------------------------------- 2. phone sign-out


def test_phone_menu_has_the_user_sign_out_and_api_docs(site: SeededApp, make_browse) -> None:
    # A session of its own: signing out ends it, not the one the other tests use.
    with session_scope(site.url) as session:
        token, _ = auth.login(session=session, email="admin@voxie.test", password=PASSWORD, hours=1)
    b = make_browse(site.base, viewport=PHONE, role=None)
    b.page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": site.base}])
    page = b.goto("/calls")
    page.get_by_test_id("menu-button").click()
    drawer = page.get_by_role("dialog")
    expect(drawer.get_by_test_id("user-menu")).to_contain_text("admin")
    expect(drawer.get_by_test_id("api-docs-link")).to_be_visible()
    b.shot("menu")
    drawer.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)
    b.assert_clean()


# ------------------------------------------------------- 3. show-once secrets


def _in_view(page: Page, testid: str) -> bool:
    return page.evaluate(
        """(id) => { const r = document.querySelector(`[data-testid=${id}]`)
            .getBoundingClientRect();
            return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        testid,
    )


def test_new_key_webhook_secret_and_reset_password_show_once_in_a_dialog(
    site: SeededApp, make_browse
) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    with session_scope(site.url) as session:
        auth.create_user(session=session, email="temp@voxie.test", password=PASSWORD, role="viewer")
    page = b.goto("/settings", ready="[data-testid=create-key]")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)

    page.get_by_placeholder("what the key is for").fill("CI export")
    page.get_by_test_id("create-key").click()
    secret = page.get_by_role("alertdialog").get_by_test_id("new-secret")
    expect(secret).to_contain_text("vx_")
    assert _in_view(page, "new-secret")
    key = secret.inner_text().strip()
    page.get_by_test_id("copy-secret").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    b.shot("api-key")
    page.keyboard.press("Escape")  # kept until the admin confirms
    expect(secret).to_be_visible()
    page.get_by_test_id("confirm-secret").click()
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert key not in page.content()

    page.get_by_placeholder("https://example.com/hooks/voxie").fill("https://hooks.example/voxie")
    page.get_by_role("button", name="Add webhook").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Webhook signing secret")
    expect(dialog.get_by_test_id("new-secret")).not_to_be_empty()
    expect(dialog.get_by_test_id("copy-secret")).to_be_visible()
    page.get_by_test_id("confirm-secret").click()
    expect(page.get_by_test_id("new-secret")).to_have_count(0)

    page.get_by_test_id("user-row").filter(has_text="temp@voxie.test").get_by_test_id(
        "reset-password"
    ).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("New password for temp@voxie.test")
    expect(dialog.get_by_test_id("copy-secret")).to_be_visible()
    page.get_by_test_id("confirm-secret").click()
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    b.assert_clean()


# ------------------------------------------------------- 5. viewers' pages


def test_viewer_meets_no_admin_controls_and_no_refusal(site: SeededApp, make_browse) -> None:
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    b = make_browse(site.base, viewport=DESKTOP, role="viewer")
    page = b.goto(f"/agents/{agent_id}/chat")
    expect(page.get_by_test_id("viewer-notice")).to_be_visible()
    page.wait_for_timeout(800)  # a refused on_load would have toasted by now
    assert REFUSED not in _toasts(page)
    expect(page.get_by_test_id("chat-restart")).to_have_count(0)
    expect(page.get_by_test_id("chat-call")).to_have_count(0)
    b.shot("chat")

    page = b.goto("/builder")
    expect(page.get_by_test_id("viewer-notice")).to_be_visible()
    page.wait_for_timeout(800)
    assert REFUSED not in _toasts(page)

    page = b.goto(f"/agents/{agent_id}", ready="[data-testid=knowledge-panel]")
    page.wait_for_timeout(800)
    expect(page.get_by_test_id("knowledge-paste-toggle")).to_have_count(0)
    assert REFUSED not in _toasts(page)

    page = b.goto("/agents", ready="[data-testid=agent-card]")
    subtitle = page.get_by_test_id("page-title").locator("xpath=..").inner_text()
    assert "chat" not in subtitle and "call them" not in subtitle
    b.assert_clean()


# --------------------------------------------------------- 7. a failed call


def test_failed_call_reads_plainly_with_details_folded(site: SeededApp, make_browse) -> None:
    call_id = add_active_call(
        agent_id=site.seeded.agent_ids["Pizza Roma Orders"],
        agent_name="Pizza Roma Orders",
        url=site.url,
    )
    raw = "browser: could not establish pc connection (ICE timeout after 15000 ms)"
    with session_scope(site.url) as session:
        calls_svc.end_call_record(
            session=session, call_session_id=call_id, status="failed", reason=raw
        )
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto(f"/calls/{call_id}")
    expect(page.get_by_test_id("end-reason")).to_have_text(
        "The browser could not connect the call."
    )
    detail = page.get_by_test_id("end-detail")
    expect(detail).to_be_hidden()
    page.get_by_test_id("end-details").locator("summary").click()
    expect(detail).to_contain_text("ICE timeout")
    expect(page.get_by_test_id("summary-empty")).to_contain_text("the call failed")
    body = page.inner_text("body")
    assert "it is written when the call ends" not in body
    assert "No follow-up needed" not in body
    b.shot()
    b.assert_clean()


# ------------------------------------------------- 11. sidebar and the 404


def test_sidebar_is_page_height_and_unknown_routes_get_the_layout(
    site: SeededApp, make_browse
) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    for path, ready in (
        ("/settings", "[data-testid=key-row]"),
        (f"/calls/{site.seeded.today_call_ids[0]}", "[data-testid=turn]"),
    ):
        page = b.goto(path, ready=ready)
        heights = page.evaluate(
            """() => [document.querySelector('[data-testid=sidebar]')
                .getBoundingClientRect().height, document.documentElement.scrollHeight]"""
        )
        assert heights[1] > 900 and heights[0] >= heights[1] - 1, heights
    b.shot("settings")

    page = b.goto("/no/such/page")
    expect(page.get_by_test_id("page-title")).to_have_text("Page not found")
    expect(page.get_by_test_id("sidebar")).to_be_visible()
    b.shot("404")
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Dashboard")


# ------------------------------------------------------- rough edges: phone


def test_phone_tables_scroll_sideways_and_the_pager_is_one_line(
    site: SeededApp, make_browse
) -> None:
    b = make_browse(site.base, viewport=PHONE)
    page = b.goto("/calls", ready="[data-testid=call-row]")
    box = page.get_by_test_id("pager").bounding_box()
    assert box is not None and box["height"] < 48, box
    cost = page.get_by_test_id("call-row").first.locator("td").last
    cost.scroll_into_view_if_needed()
    expect(cost).to_be_in_viewport()
    b.shot("calls")

    page = b.goto("/settings", ready="[data-testid=key-row]")
    delete = page.get_by_role("button", name="Delete user").first
    delete.scroll_into_view_if_needed()
    expect(delete).to_be_in_viewport()
    b.shot("settings")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    b.assert_clean()


# ------------------------------------------------------ rough edges: settings


def test_settings_puts_admin_tasks_first_and_folds_pricing(site: SeededApp, make_browse) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/settings", ready="[data-testid=key-row]")
    tops = [
        page.get_by_role("heading", name=name, exact=True).bounding_box()["y"]  # type: ignore[index]
        for name in ("Users", "API keys", "Webhooks", "Providers")
    ]
    pricing = page.get_by_test_id("pricing-summary").bounding_box()
    assert tops == sorted(tops) and pricing is not None and pricing["y"] > tops[-1]
    expect(page.get_by_test_id("price-row").first).to_be_hidden()
    page.get_by_test_id("pricing-summary").click()
    expect(page.get_by_test_id("price-row").first).to_be_visible()
    assert "`" not in page.inner_text("body")

    page.get_by_placeholder("what the key is for").fill("old key")
    page.get_by_test_id("create-key").click()
    page.get_by_test_id("confirm-secret").click()
    row = page.get_by_test_id("key-row").filter(has_text="old key")
    row.get_by_role("button", name="Revoke").click()
    expect(row.get_by_test_id("key-revoked")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
    )
    b.shot()
    b.assert_clean()


# ----------------------------------------------- rough edges: calls and text


def test_calls_filters_live_in_the_url_and_rows_open_the_call(site: SeededApp, make_browse) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/calls", ready="[data-testid=call-row]")
    page.get_by_test_id("filter-status").click()
    page.get_by_role("option", name="Completed").click()
    expect(page).to_have_url(re.compile(r"/calls\?status=completed$"))
    page.get_by_test_id("next-page").click()
    expect(page).to_have_url(re.compile(r"status=completed&page=2$"))
    page.reload()
    page.wait_for_selector("[data-testid=call-row]")
    expect(page.get_by_test_id("filter-status")).to_have_text("Completed")
    expect(page.get_by_test_id("calls-range")).to_contain_text("21 to")
    shared = page.url

    other = make_browse(site.base, "shared", viewport=DESKTOP)
    p2 = other.goto(shared.removeprefix(site.base), ready="[data-testid=call-row]")
    expect(p2.get_by_test_id("calls-range")).to_have_text(
        page.get_by_test_id("calls-range").inner_text()
    )

    page.get_by_test_id("call-row").first.locator("td").nth(3).click()  # not the link cell
    expect(page).to_have_url(re.compile(r"/calls/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("page-title")).to_be_visible()
    b.assert_clean()


def test_one_h1_per_page_and_counts_read_right(site: SeededApp, make_browse) -> None:
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    b = make_browse(site.base, viewport=DESKTOP)
    for path in (
        "/",
        "/agents",
        f"/agents/{agent_id}",
        "/calls",
        f"/calls/{site.seeded.today_call_ids[0]}",
        "/analytics",
        "/settings",
        "/call",
        "/builder",
    ):
        page = b.goto(path)
        assert page.locator("h1").count() == 1, path
        assert not re.search(r"\b1 calls\b", page.inner_text("body")), path


def test_agents_page_past_24_and_duplicate_names_told_apart(site: SeededApp, make_browse) -> None:
    with session_scope(site.url) as session:
        spec = agents_svc.parse_spec(AGENT_SPECS[0])
        for _ in range(24):
            agents_svc.create_agent(session=session, user_requirements={}, spec=spec)
    total = len(AGENT_SPECS) + 24
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/agents", ready="[data-testid=agent-card]")
    expect(page.get_by_test_id("agent-card")).to_have_count(24)
    expect(page.get_by_test_id("agents-range")).to_contain_text(f"of {total} agents")
    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("agent-card")).to_have_count(total - 24)
    b.shot("page-2")

    page = b.goto("/calls", ready="[data-testid=call-row]")
    page.get_by_test_id("filter-agent").click()
    name = AGENT_SPECS[0]["name"]
    options = page.get_by_role("option", name=re.compile(re.escape(name))).all_inner_texts()
    assert len(options) == 25 and len(set(options)) == 25, options
    assert all("(created " in o for o in options)
    b.assert_clean()
