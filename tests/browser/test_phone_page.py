"""`/phone` in Chromium, with LiveKit pointing at the local Twirp double: an admin adds
a number bound to an agent and sees it listed, rebinds it with the row's select; the
dispatch rule LiveKit got names the agent; a viewer sees the list without any control.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SeededApp, seeded_app
from tests.doubles.livekit_server import LiveKitDouble

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1400, "height": 900}
AGENT = "Pizza Roma Orders"
OTHER_AGENT = "Acme Support Desk"


@pytest.fixture(scope="module")
def livekit() -> Iterator[LiveKitDouble]:
    with LiveKitDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, livekit: LiveKitDouble) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("phone"),
        LIVEKIT_URL=livekit.url,
        LIVEKIT_API_KEY=livekit.api_key,
        LIVEKIT_API_SECRET=livekit.api_secret,
    ) as running:
        yield running


def _dispatched_agent(livekit: LiveKitDouble) -> str:
    (rule,) = livekit.dispatch_rules.values()
    return json.loads(rule.room_config.agents[0].metadata)["agent_id"]


def test_add_a_number_bind_it_and_see_it_listed(
    site: SeededApp, livekit: LiveKitDouble, make_browse
) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/phone", ready="[data-testid=phone-numbers]")
    expect(page.get_by_test_id("nav-phone")).to_be_visible()
    expect(page.get_by_test_id("empty-state")).to_be_visible()

    page.get_by_test_id("add-number").click()
    dialog = page.get_by_test_id("number-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("number-field-number").fill("4155550123")  # no +: refused by field
    dialog.get_by_test_id("number-field-label").fill("Front desk")
    dialog.get_by_test_id("number-field-agent_id").click()
    page.get_by_role("option", name=AGENT, exact=True).click()
    dialog.get_by_test_id("save-number").click()
    expect(page.locator("[data-sonner-toast]").first).to_contain_text("Number:")
    expect(dialog.get_by_test_id("field-error")).to_be_visible()
    dialog.get_by_test_id("number-field-number").fill("+1 415 555 0123")
    b.shot("dialog")
    dialog.get_by_test_id("save-number").click()
    expect(dialog).to_be_hidden()

    row = page.get_by_test_id("number-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("number")).to_have_text("+1 415-555-0123")
    expect(row.get_by_test_id("number-status")).to_have_text("ready")
    expect(row.get_by_test_id("number-agent")).to_contain_text(AGENT)
    expect(row).to_contain_text("Front desk")
    assert _dispatched_agent(livekit) == str(site.seeded.agent_ids[AGENT])
    (trunk,) = livekit.inbound_trunks.values()
    assert list(trunk.numbers) == ["+14155550123"]

    # Rebind with the row's select: LiveKit's rule follows.
    row.get_by_test_id("number-agent").click()
    page.get_by_role("option", name=OTHER_AGENT, exact=True).click()
    expect(page.locator("[data-sonner-toast]").filter(has_text=OTHER_AGENT)).to_be_visible()
    expect(row.get_by_test_id("number-agent")).to_contain_text(OTHER_AGENT)
    assert _dispatched_agent(livekit) == str(site.seeded.agent_ids[OTHER_AGENT])
    b.shot()
    b.assert_clean()

    # A viewer sees the number and its agent, and no control.
    viewer = make_browse(site.base, "viewer", viewport=DESKTOP, role="viewer")
    vpage = viewer.goto("/phone", ready="[data-testid=number-row]")
    expect(vpage.get_by_test_id("number-row")).to_contain_text(OTHER_AGENT)
    for control in ("add-number", "sync-livekit", "number-delete", "number-agent", "add-trunk"):
        expect(vpage.get_by_test_id(control)).to_have_count(0)
    viewer.shot()
    viewer.assert_clean()
