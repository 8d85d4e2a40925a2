"""The Secrets panel on /settings in Chromium: add, see the name, never the value; delete.

The value is typed once into a password field and sent once (the form's submit
event). After that it is in no frame the server sends, not in the page's HTML,
not in the field; a tool that refers to the secret is listed beside it. A
viewer's /settings has no panel and no secret name.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Page, WebSocket, expect

from tests.browser.conftest import ARTIFACTS, PHONE, SESSION_COOKIE, SeededApp, seeded_app
from voxie_app.db import session_scope
from voxie_app.services import auth

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}
VALUE = "VxPanelValue-3f9c2a7e5b1d4c68a0e2"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("settings-secrets"),
        VOXIE_SECRET_KEY=Fernet.generate_key().decode(),
        VOXIE_URL_ALLOWLIST="127.0.0.1",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def api(site: SeededApp) -> Iterator[httpx.Client]:
    """The REST API as an admin (a key made in the app's database)."""
    with session_scope(site.url) as session:
        key, _ = auth.create_api_key(session=session, name="browser test", role="admin")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=site.base + "/api", headers=headers, timeout=30) as client:
        yield client


class Frames:
    """Websocket frames of a page: what the server sent, and what the page sent."""

    def __init__(self, page: Page) -> None:
        self.received: list[str] = []
        self.sent: list[str] = []
        page.on("websocket", self._attach)

    def _attach(self, ws: WebSocket) -> None:
        def text(payload: str | bytes) -> str:
            return payload if isinstance(payload, str) else payload.decode("utf-8", "replace")

        ws.on("framereceived", lambda p: self.received.append(text(p)))
        ws.on("framesent", lambda p: self.sent.append(text(p)))


def _row(page: Page, name: str):
    return page.get_by_test_id("secret-row").filter(has_text=name)


def test_add_see_the_name_never_the_value_and_delete(
    site: SeededApp, api: httpx.Client, make_browse
) -> None:
    browse = make_browse(site.base, viewport=DESKTOP)
    frames = Frames(browse.page)
    page = browse.goto("/settings", ready="[data-testid=secrets-panel]")
    panel = page.get_by_test_id("secrets-panel")
    expect(panel.get_by_test_id("secret-key-note")).to_contain_text("VOXIE_SECRET_KEY")
    expect(panel.get_by_test_id("secret-key-note")).to_contain_text("data/secret.key")
    expect(panel.get_by_test_id("secrets-empty")).to_be_visible()

    # A bad name: a toast naming the field, and nothing stored.
    panel.get_by_test_id("secret-name").fill("clinic key")
    panel.get_by_test_id("secret-value").fill(VALUE)
    panel.get_by_test_id("secret-save").click()
    expect(page.locator("[data-sonner-toast]").filter(has_text="Name:")).to_have_count(1)
    expect(panel.get_by_test_id("secret-value")).to_have_value("")
    assert api.get("/secrets").json() == []

    panel.get_by_test_id("secret-name").fill("CLINIC_KEY")
    panel.get_by_test_id("secret-value").fill(VALUE)
    panel.get_by_test_id("secret-save").click()
    expect(_row(page, "CLINIC_KEY")).to_have_count(1)
    expect(page.locator("[data-sonner-toast]").filter(has_text="CLINIC_KEY saved")).to_have_count(1)
    expect(panel.get_by_test_id("secret-value")).to_have_value("")
    expect(panel.get_by_test_id("secret-name")).to_have_value("")
    assert [s["name"] for s in api.get("/secrets").json()] == ["CLINIC_KEY"]

    # A tool that sends it is listed beside it.
    tool = {
        "name": "check_slots",
        "description": "Free slots on a date.",
        "url": "http://127.0.0.1:9/slots",
        "headers": {"X-Clinic-Key": "{{secret:CLINIC_KEY}}"},
    }
    assert api.post("/tools", json=tool).status_code == 201
    page = browse.goto("/settings", ready="[data-testid=secret-row]")
    expect(_row(page, "CLINIC_KEY").get_by_test_id("secret-used-by")).to_have_text("check_slots")
    browse.shot("panel")
    page.get_by_test_id("secrets-panel").scroll_into_view_if_needed()
    browse.shot("panel-view", full_page=False)

    html = page.content()
    assert "CLINIC_KEY" in html and VALUE not in html
    assert any("CLINIC_KEY" in f for f in frames.received)  # the scan sees the state
    assert not [f for f in frames.received if VALUE in f]
    # The one frame that carries it is the page's own submit event.
    assert len([f for f in frames.sent if VALUE in f]) == 2  # the bad name, then the save
    served = httpx.get(
        site.base + "/settings",
        cookies={SESSION_COOKIE: site.tokens["admin"]},
        timeout=30,
        follow_redirects=True,
    )
    assert served.status_code == 200 and VALUE not in served.text

    # Replace fills in the name; delete asks first.
    _row(page, "CLINIC_KEY").get_by_test_id("secret-replace").click()
    expect(page.get_by_test_id("secret-name")).to_have_value("CLINIC_KEY")
    _row(page, "CLINIC_KEY").get_by_test_id("secret-delete").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete CLINIC_KEY?")
    page.get_by_test_id("secret-confirm-delete").click()
    expect(_row(page, "CLINIC_KEY")).to_have_count(0)
    assert api.get("/secrets").json() == []
    assert not [f for f in frames.received if VALUE in f]
    browse.assert_clean()


def test_a_viewer_sees_no_panel_and_no_name(site: SeededApp, api: httpx.Client, make_browse):
    assert api.post("/secrets", json={"name": "VIEWER_HIDDEN", "value": VALUE}).status_code in (
        200,
        201,
    )
    browse = make_browse(site.base, viewport=DESKTOP, role="viewer")
    frames = Frames(browse.page)
    page = browse.goto("/settings", ready="[data-testid=provider-openai]")
    page.wait_for_timeout(1000)
    expect(page.get_by_test_id("secrets-panel")).to_have_count(0)
    assert "VIEWER_HIDDEN" not in page.content()
    assert frames.received and not [f for f in frames.received if "VIEWER_HIDDEN" in f]
    assert api.delete("/secrets/VIEWER_HIDDEN").status_code == 204
    browse.assert_clean()


def test_the_panel_on_a_phone(site: SeededApp, api: httpx.Client, make_browse) -> None:
    api.post("/secrets", json={"name": "PHONE_CHECK_KEY", "value": VALUE})
    browse = make_browse(site.base, viewport=PHONE)
    page = browse.goto("/settings", ready="[data-testid=secret-row]")
    panel = page.get_by_test_id("secrets-panel")
    panel.scroll_into_view_if_needed()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    expect(panel.get_by_test_id("secret-save")).to_be_visible()
    # The dates give way on a phone: a row's actions are on screen without scrolling.
    delete = _row(page, "PHONE_CHECK_KEY").get_by_test_id("secret-delete")
    box = delete.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"], box
    browse.shot("phone", full_page=False)
    panel.screenshot(path=str(ARTIFACTS / f"{browse.name}-panel.png"))
    api.delete("/secrets/PHONE_CHECK_KEY")
    browse.assert_clean()
