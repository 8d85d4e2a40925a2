"""The MCP servers panel of /tools, in Chromium against the production build: an admin
adds a real MCP server (the `mcp` SDK's, on 127.0.0.1, allow-listed), refreshes its
tools, ticks one and saves; a bad URL is a toast; a viewer sees the list only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SeededApp, seeded_app
from tests.doubles.mcp_server import McpDouble
from voxie_app.db import session_scope
from voxie_app.services import tools as tools_svc

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEADER_VALUE = "Bearer vx-mcp-header-5d1e"


def no_toasts(page: Page) -> None:
    """Close error toasts and let the others go: they sit over the panel's buttons."""
    toasts = page.locator("[data-sonner-toast]")
    for close in page.locator("[data-sonner-toast] [data-close-button]").all():
        close.click()
    expect(toasts).to_have_count(0, timeout=15_000)


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpDouble]:
    with McpDouble() as double:
        yield double


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("browser-mcp"), VOXIE_URL_ALLOWLIST="127.0.0.1"
    ) as running:
        yield running


def test_admin_adds_refreshes_and_allows_a_tool_viewer_reads(
    site: SeededApp, mcp: McpDouble, make_browse
) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/tools")
    panel = page.get_by_test_id("mcp-panel")
    expect(panel.get_by_text("No MCP servers yet")).to_be_visible()
    panel.get_by_test_id("mcp-add").click()
    form = panel.get_by_test_id("mcp-form")
    form.get_by_test_id("mcp-name").fill("clinic_mcp")
    form.get_by_test_id("mcp-url").fill("http://10.0.0.1/mcp")
    form.get_by_role("button", name="Header").click()
    form.get_by_label("Header name").fill("Authorization")
    form.get_by_label("Header value").fill(HEADER_VALUE)
    form.get_by_test_id("mcp-save").click()
    refusal = page.locator("[data-sonner-toast]").filter(has_text="private")
    expect(refusal).to_be_visible(timeout=15_000)
    expect(refusal).to_contain_text("url:")
    browse.shot("refused")
    no_toasts(page)

    form.get_by_test_id("mcp-url").fill(mcp.url)
    form.get_by_test_id("mcp-save").click()
    expect(form.get_by_test_id("mcp-form-refresh")).to_be_visible(timeout=15_000)
    no_toasts(page)
    form.get_by_test_id("mcp-form-refresh").click()
    listed = form.get_by_test_id("mcp-listed-tool")
    expect(listed).to_have_count(2, timeout=15_000)
    expect(listed.first).to_contain_text("check_slots")
    browse.shot("refreshed")
    no_toasts(page)
    listed.filter(has_text="check_slots").get_by_test_id("mcp-tool-checkbox").click()
    form.get_by_test_id("mcp-save").click()
    expect(form).to_have_count(0, timeout=15_000)
    row = panel.get_by_test_id("mcp-server-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("check_slots")
    expect(row).to_contain_text("2 listed")
    browse.shot("saved")
    browse.assert_clean()
    assert any(h.get("authorization") == HEADER_VALUE for h in mcp.headers)
    with session_scope(site.url) as session:
        [server] = [t for t in tools_svc.list_tools(session=session) if t.kind == "mcp"]
        assert server.allowed_tools == ["check_slots"]
        assert server.headers == {"Authorization": HEADER_VALUE}

    viewer = make_browse(site.base, "viewer", role="viewer")
    frames: list[str] = []
    viewer.page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    vpage = viewer.goto("/tools")
    vpanel = vpage.get_by_test_id("mcp-panel")
    expect(vpanel.get_by_test_id("mcp-server-row")).to_contain_text("check_slots")
    expect(vpanel.get_by_test_id("mcp-add")).to_have_count(0)
    expect(vpanel.get_by_test_id("mcp-refresh")).to_have_count(0)
    expect(vpanel.get_by_test_id("mcp-edit")).to_have_count(0)
    viewer.shot()
    assert HEADER_VALUE not in vpage.content()
    assert frames and not any(HEADER_VALUE in f for f in frames)
    viewer.assert_clean()
