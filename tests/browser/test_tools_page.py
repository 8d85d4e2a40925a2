"""`/tools` in Chromium: an admin builds an HTTP tool with the parameter table, tests it
against a local clinic service, gives it to an agent whose chat then calls it; a
drafted tool is completed; viewers see the list without any control.

The clinic is tests/test_http_tools.py's threading service on 127.0.0.1, which the
app allow-lists (VOXIE_URL_ALLOWLIST) as an admin would. Its key is a secret the app
stores encrypted and sends in a header; the test checks it reached the service and
never the page. The chat's model is the OpenAI double, scripted to call the tool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Page, expect

from tests import test_http_tools
from tests.browser.conftest import PHONE, SeededApp, seeded_app
from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from tests.test_http_tools import SECRET, Clinic
from voxie_app.db import session_scope
from voxie_app.models import Tool
from voxie_app.services import auth

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1400, "height": 900}
clinic = test_http_tools.clinic


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, double: OpenAIServerDouble):
    with seeded_app(
        tmp_path_factory.mktemp("tools-page"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_SECRET_KEY=Fernet.generate_key().decode(),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def api(site: SeededApp) -> Iterator[httpx.Client]:
    with session_scope(site.url) as session:
        key, _ = auth.create_api_key(session=session, name="tools test", role="admin")
    with httpx.Client(
        base_url=site.base, headers={"Authorization": f"Bearer {key}"}, timeout=20
    ) as client:
        assert client.post(
            "/api/secrets", json={"name": "CLINIC_KEY", "value": SECRET}
        ).status_code in (200, 201)
        yield client


def _toasts(page: Page) -> str:
    return " ".join(page.locator("[data-sonner-toast]").all_inner_texts())


def _no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def _fill_param(page: Page, index: int, name: str, description: str, *, required: bool) -> None:
    row = page.get_by_test_id("param-row").nth(index)
    row.get_by_test_id("param-name").fill(name)
    row.get_by_test_id("param-description").fill(description)
    if required:
        row.get_by_test_id("param-required").click()


def test_build_test_attach_and_chat_with_an_http_tool(
    site: SeededApp, api: httpx.Client, clinic: Clinic, double: OpenAIServerDouble, make_browse
) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/tools", ready="[data-testid=http-tools]")
    expect(page.get_by_test_id("nav-tools")).to_be_visible()
    expect(page.get_by_test_id("empty-state").first).to_be_visible()
    b.shot("empty")

    # ---- the editor: basics, request, a secret header, two parameters in the table
    page.get_by_test_id("new-tool").click()
    dialog = page.get_by_test_id("tool-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("tool-field-name").fill("check_slots")
    dialog.get_by_test_id("tool-field-description").fill("Free appointment slots on a date.")
    dialog.get_by_test_id("tool-field-url").fill(f"{clinic.base}/slots")
    dialog.get_by_test_id("header-name").fill("X-Clinic-Key")
    dialog.get_by_test_id("header-value").fill("{{secret:CLINIC_KEY}}")
    dialog.get_by_test_id("add-param").click()
    _fill_param(page, 0, "date", "The day, as YYYY-MM-DD", required=True)
    dialog.get_by_test_id("add-param").click()
    _fill_param(page, 1, "period", "Morning or afternoon", required=False)
    page.get_by_test_id("param-row").nth(1).get_by_test_id("param-enum").fill("morning, afternoon")
    dialog.get_by_test_id("tool-field-result_path").fill("data.slots")
    dialog.get_by_test_id("tool-field-wait_message").fill("One moment while I check.")
    b.shot("editor-table")

    # ---- raw JSON shows the schema the table built; back to the table keeps the rows
    dialog.get_by_test_id("raw-toggle").click()
    raw = dialog.get_by_test_id("raw-schema")
    expect(raw).to_be_visible()
    text = raw.input_value()
    assert '"required": [\n    "date"\n  ]' in text and '"morning"' in text
    b.shot("editor-raw")
    dialog.get_by_test_id("raw-toggle").click()
    expect(page.get_by_test_id("param-row")).to_have_count(2)
    expect(page.get_by_test_id("param-name").nth(1)).to_have_value("period")

    dialog.get_by_test_id("save-tool").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("tool-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("tool-name")).to_have_text("check_slots")
    expect(row.get_by_test_id("tool-status")).to_have_text("ready")
    expect(row.get_by_test_id("tool-agents")).to_have_text("Not used by any agent yet")
    b.shot("list")

    # ---- Test: pre-filled sample arguments, a real request, status, latency, result
    row.get_by_test_id("tool-test").click()
    args = page.get_by_test_id("test-args")
    expect(args).to_have_value('{\n  "date": "example",\n  "period": "morning"\n}')
    args.fill('{"date": "2026-12-03"}')
    page.get_by_test_id("run-test").click()
    expect(page.get_by_test_id("test-status")).to_have_text("ok", timeout=15_000)
    expect(page.get_by_test_id("test-http-status")).to_have_text("HTTP 200")
    expect(page.get_by_test_id("test-latency")).to_contain_text(" ms")
    expect(page.get_by_test_id("test-result")).to_have_text('["09:00", "10:30"]')
    b.shot("test-result")
    sent = clinic.requests[-1]
    assert sent["path"] == "/slots?date=2026-12-03"
    assert sent["headers"]["X-Clinic-Key"] == SECRET  # resolved on the server
    assert SECRET not in page.content()
    page.keyboard.press("Escape")

    # ---- attach to an agent with the agent form's custom-tools picker
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    page = b.goto(f"/agents?edit={agent_id}")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    picked = dialog.get_by_test_id("custom-tool").filter(has_text="check_slots")
    picked.click()
    expect(picked.get_by_role("checkbox")).to_have_attribute("data-state", "checked")
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    tools = api.get("/api/tools").json()
    tool_id = next(t["id"] for t in tools if t["name"] == "check_slots")
    spec = api.get(f"/api/agents/{agent_id}").json()["processed_spec"]
    assert spec["custom_tools"] == [tool_id]
    page = b.goto("/tools", ready="[data-testid=tool-row]")
    expect(page.get_by_test_id("tool-agents")).to_contain_text("Pizza Roma Orders")

    # Deleting a tool an agent uses is refused with a toast; the tool stays.
    page.get_by_test_id("tool-delete").click()
    page.get_by_test_id("confirm-delete-tool").click()
    expect(page.locator("[data-sonner-toast]").first).to_contain_text("used by Pizza Roma")
    expect(page.get_by_test_id("tool-row")).to_have_count(1)

    # ---- the agent's chat calls the tool; the service receives the request
    double.reset()
    double.script(
        Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-04", "period": "morning"})]),
        Reply(content="On December 4 we have 09:00 and 10:30 free."),
    )
    before = len(clinic.requests)
    page = b.goto(f"/agents/{agent_id}/chat", ready="[data-testid=chat-input]")
    expect(page.get_by_test_id("msg-agent").first).to_be_visible(timeout=20_000)
    page.get_by_test_id("chat-input").fill("Anything free on December 4 in the morning?")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-agent").last).to_contain_text("09:00 and 10:30", timeout=20_000)
    [call] = clinic.requests[before:]
    assert call["path"] == "/slots?date=2026-12-04&period=morning"
    assert call["headers"]["X-Clinic-Key"] == SECRET
    offered = [t["function"]["name"] for t in double.requests[0].get("tools", [])]
    assert "check_slots" in offered
    tool_message = double.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == '["09:00", "10:30"]'
    assert SECRET not in page.content()
    b.shot("chat")

    # ---- the chat's call page shows the invocation as a chip that unfolds
    calls = api.get("/api/calls", params={"agent": agent_id, "kind": "chat", "limit": 5})
    chat_call = calls.json()["items"][0]
    # The invocation's row is written while the model writes its reply (its record is
    # queued, `http_tools`), so on a busy machine it may land after the reply is shown.
    deadline = time.monotonic() + 20
    while not api.get(f"/api/calls/{chat_call['id']}").json()["tool_invocations"]:
        assert time.monotonic() < deadline, "the invocation was never recorded"
        time.sleep(0.2)
    page = b.goto(f"/calls/{chat_call['id']}", ready="[data-testid=tool-invocation]")
    chip = page.get_by_test_id("tool-invocation").first
    expect(chip.get_by_test_id("tool-invocation-chip")).to_contain_text("check_slots · ok")
    chip.get_by_test_id("tool-invocation-chip").click()
    expect(chip).to_contain_text("2026-12-04")
    assert SECRET not in page.content()
    b.shot("call-chip")
    b.assert_clean()


def test_a_drafted_tool_is_completed_and_viewers_see_no_controls(
    site: SeededApp, api: httpx.Client, clinic: Clinic, make_browse
) -> None:
    # What the builder drafts: name, description, parameters, no URL, "needs setup".
    with session_scope(site.url) as session:
        session.add(
            Tool(
                name="book_table",
                description="Book a table for the caller.",
                parameters={"type": "object", "properties": {"guests": {"type": "integer"}}},
                url="",
                status="needs_setup",
            )
        )
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/tools", ready="[data-testid=tool-row]")
    draft = page.get_by_test_id("tool-row").filter(has_text="book_table")
    expect(draft.get_by_test_id("tool-status")).to_have_text("needs setup")
    expect(draft.get_by_test_id("tool-test")).to_be_disabled()
    draft.get_by_test_id("tool-edit").click()
    dialog = page.get_by_test_id("tool-dialog")
    expect(dialog.get_by_test_id("needs-setup-note")).to_be_visible()
    expect(page.get_by_test_id("param-name")).to_have_value("guests")
    dialog.get_by_test_id("tool-field-method").click()
    page.get_by_role("option", name="POST", exact=True).click()
    dialog.get_by_test_id("tool-field-url").fill(f"{clinic.base}/bookings")
    dialog.get_by_test_id("tool-field-timeout_s").fill("45")
    dialog.get_by_test_id("save-tool").click()
    expect(page.locator("[data-sonner-toast]").first).to_contain_text("Timeout")
    expect(dialog.get_by_test_id("field-error")).to_be_visible()
    dialog.get_by_test_id("tool-field-timeout_s").fill("8")
    dialog.get_by_test_id("save-tool").click()
    expect(dialog).to_be_hidden()
    expect(draft.get_by_test_id("tool-status")).to_have_text("ready")
    with session_scope(site.url) as session:
        from sqlmodel import select

        saved = session.exec(select(Tool).where(Tool.name == "book_table")).one()
        assert (saved.status, saved.method, saved.timeout_s) == ("ready", "POST", 8.0)
    b.assert_clean()

    # Phone width: the list and the editor fit 390 px.
    phone = make_browse(site.base, "phone", viewport=PHONE)
    page = phone.goto("/tools", ready="[data-testid=tool-row]")
    assert _no_horizontal_overflow(page)
    phone.shot("list")
    page.get_by_test_id("tool-edit").first.click()
    expect(page.get_by_test_id("param-row").first).to_be_visible()
    assert _no_horizontal_overflow(page)
    phone.shot("editor", full_page=False)
    page.get_by_test_id("add-param").scroll_into_view_if_needed()
    phone.shot("editor-params", full_page=False)

    # Viewers: the list, the agents using each tool; no Test, Edit, Delete or New.
    viewer = make_browse(site.base, "viewer", viewport=DESKTOP, role="viewer")
    page = viewer.goto("/tools", ready="[data-testid=tool-row]")
    expect(page.get_by_test_id("tool-row")).to_have_count(2)
    for control in ("new-tool", "tool-test", "tool-edit", "tool-delete"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    page.wait_for_timeout(800)  # a refused on_load would have toasted by now
    assert "cannot" not in _toasts(page)
    assert "X-Clinic-Key" not in page.content() and "CLINIC_KEY" not in page.content()
    viewer.shot("list")
    viewer.assert_clean()
