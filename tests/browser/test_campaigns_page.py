"""`/campaigns` in Chromium, with LiveKit pointing at the Twirp double in this process:
an admin drops a bad CSV and sees every bad row inside the dialog (nothing created),
then a good one, creates and starts the campaign, and watches the progress page count
the calls the scheduler places (two busy, one answered); a viewer sees no controls.

The number and its synced outbound trunk are written to the app's database directly,
as the Phone page would store them. The window is every day from 00:00 until 00:00 (midnight,
the end of the day) in UTC, so it is open whenever the test runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import PHONE, SeededApp, add_caller_number, livekit_env, seeded_app
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.db import session_scope
from voxie_app.models import Campaign, CampaignContact, DoNotCall

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}
AGENT = "Pizza Roma Orders"
OURS = "+14155550100"
LISTED = "+14155550177"
GOOD = "phone,first_name\n+14155550131,Ann\n+14155550132,Bob\n+14155550133,Cy\n"
BAD = f"phone,first_name\n+14155550131,Ann\n+1 555,Bob\n{LISTED},Cy\n+14155550131,Dee\n"


@pytest.fixture(scope="module")
def livekit() -> Iterator[LiveKitDouble]:
    with LiveKitDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, livekit: LiveKitDouble) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("campaigns"),
        **livekit_env(livekit),
        VOXIE_TIMEZONE="UTC",
    ) as running:
        add_caller_number(running.url, OURS, label="Front desk", livekit_trunk_id="ST_camp")
        with session_scope(running.url) as s:
            s.add(DoNotCall(number=LISTED, reason="asked"))
        yield running


def _csv(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": text.encode()}


def _campaigns(site: SeededApp) -> list[Campaign]:
    with session_scope(site.url) as s:
        return list(s.exec(select(Campaign)).all())


def _count(page, status: str):
    return page.get_by_test_id(f"campaign-count-{status}").get_by_test_id("campaign-count-value")


def test_admin_creates_starts_and_watches_a_campaign(
    site: SeededApp, livekit: LiveKitDouble, make_browse
) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/campaigns")
    expect(page.get_by_test_id("nav-campaigns")).to_be_visible()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No campaigns yet")
    b.shot("empty")

    page.get_by_test_id("new-campaign").first.click()
    dialog = page.get_by_test_id("campaign-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("campaign-from")).to_contain_text("Front desk")
    expect(dialog.get_by_test_id("campaign-timezone")).to_have_value("UTC")
    dialog.get_by_test_id("campaign-name").fill("Pizza feedback")
    dialog.get_by_test_id("campaign-agent").click()
    page.get_by_role("option", name=AGENT, exact=True).click()
    for day in ("6", "7"):  # Mon-Fri are ticked already
        dialog.get_by_test_id(f"campaign-day-{day}").click()
    dialog.get_by_test_id("campaign-window-start").fill("00:00")
    dialog.get_by_test_id("campaign-window-end").fill("00:00")

    # A bad CSV: every bad row listed in the dialog; Create keeps it open, writes nothing.
    drop = dialog.locator("input[type=file]")
    drop.set_input_files([_csv("bad.csv", BAD)])
    problems = dialog.get_by_test_id("campaign-csv-problem")
    expect(problems).to_have_count(3)
    expect(problems.nth(0)).to_contain_text("line 3")
    expect(problems.nth(1)).to_contain_text("line 4")  # in line order
    expect(dialog.get_by_test_id("campaign-csv-problems")).to_contain_text("do-not-call list")
    expect(dialog.get_by_test_id("campaign-csv-problems")).to_contain_text("already on line 2")
    dialog.get_by_test_id("campaign-create").click()
    expect(page.locator("[data-sonner-toast]").first).to_contain_text("CSV has problems")
    expect(dialog).to_be_visible()
    expect(problems).to_have_count(3)
    expect(dialog.get_by_test_id("campaign-name")).to_have_value("Pizza feedback")
    b.shot("bad-csv", full_page=False)
    assert _campaigns(site) == []

    drop.set_input_files([_csv("contacts.csv", GOOD)])
    expect(dialog.get_by_test_id("campaign-csv-summary")).to_contain_text("3 contacts")
    expect(problems).to_have_count(0)
    livekit.script_dial("busy", "busy")  # the next two dials are busy; the third answers
    dialog.get_by_test_id("campaign-create-start").click()
    page.wait_for_url(re.compile(r"/campaigns/[0-9a-f-]{36}$"), timeout=20_000)
    expect(page.get_by_test_id("page-title")).to_have_text("Pizza feedback")
    (campaign,) = _campaigns(site)
    assert campaign.window_days == [1, 2, 3, 4, 5, 6, 7]
    assert (campaign.window_start, campaign.window_end) == ("00:00", "24:00")

    # The scheduler places the three calls; the page follows without a reload.
    expect(_count(page, "failed")).to_have_text("2", timeout=30_000)
    expect(_count(page, "calling")).to_have_text("1", timeout=30_000)
    expect(_count(page, "queued")).to_have_text("0")
    expect(page.get_by_test_id("campaign-progress")).to_contain_text("2 / 3 finished")
    expect(page.get_by_test_id("campaign-calls-placed")).to_contain_text("3 calls placed")
    expect(page.get_by_test_id("campaign-window-note")).to_contain_text("open now")
    expect(page.get_by_test_id("campaign-status")).to_have_text("running")
    expect(page.get_by_test_id("contact-call")).to_have_count(3)
    expect(page.get_by_test_id("contact-call").filter(has_text="busy")).to_have_count(2)
    dials = livekit.calls("CreateSIPParticipant")
    assert sorted(d.body["sip_call_to"] for d in dials) == [
        "+14155550131",
        "+14155550132",
        "+14155550133",
    ]
    assert {d.body["sip_number"] for d in dials} == {OURS}

    # The filter narrows the contacts; a call links to its page.
    page.get_by_test_id("contact-filter").click()
    page.get_by_role("option", name="Failed", exact=True).click()
    expect(page.get_by_test_id("contact-row")).to_have_count(2)
    expect(page.get_by_test_id("contact-range")).to_contain_text("of 2 contacts")
    b.shot("progress")

    # Pause, resume, cancel (confirmed): the contact still calling finishes on its own.
    page.get_by_test_id("campaign-pause").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("paused")
    page.get_by_test_id("campaign-resume").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("running")
    page.get_by_test_id("campaign-cancel").click()
    page.get_by_test_id("campaign-confirm-cancel").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("cancelled")
    expect(page.get_by_test_id("campaign-window-note")).to_contain_text("no more calls")
    expect(page.get_by_test_id("campaign-controls")).not_to_contain_text("Start")
    with session_scope(site.url) as s:
        statuses = sorted(c.status for c in s.exec(select(CampaignContact)).all())
    assert statuses == ["calling", "failed", "failed"]

    page.get_by_test_id("contact-call").first.click()
    page.wait_for_url(re.compile(r"/calls/[0-9a-f-]{36}$"), timeout=20_000)
    b.goto("/campaigns")
    expect(page.get_by_test_id("campaign-row")).to_have_count(1)
    expect(page.get_by_test_id("campaign-progress")).to_have_text("2 / 3 finished")
    b.shot("list")
    b.assert_clean()


def test_pages_fit_a_phone(site: SeededApp, make_browse) -> None:
    (campaign,) = _campaigns(site)
    b = make_browse(site.base, viewport=PHONE, color_scheme="dark")
    page = b.goto("/campaigns")
    expect(page.get_by_test_id("campaign-card")).to_have_count(1)
    expect(page.get_by_test_id("campaign-card-progress")).to_have_text("2 / 3 finished")
    expect(page.get_by_test_id("campaign-row")).not_to_be_visible()  # the table is for wider
    b.shot("list")
    page.get_by_test_id("new-campaign").first.click()
    expect(page.get_by_test_id("campaign-dialog")).to_be_visible()
    page.wait_for_timeout(500)  # the dialog's fade-in
    b.shot("dialog", full_page=False)
    page.keyboard.press("Escape")
    with session_scope(site.url) as s:  # as the scheduler says why it paused a campaign
        row = s.get(Campaign, campaign.id)
        row.last_error = "agent Pizza Roma Orders is not ready"
        s.add(row)
    b.goto(f"/campaigns/{campaign.id}")
    expect(page.get_by_test_id("campaign-count-failed")).to_be_visible()
    expect(page.get_by_test_id("campaign-last-error")).to_contain_text("is not ready")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width  # nothing wider than the screen (tables scroll)
    b.shot("progress")
    b.assert_clean()


def test_viewer_sees_campaigns_without_controls(site: SeededApp, make_browse) -> None:
    (campaign,) = _campaigns(site)
    b = make_browse(site.base, viewport=DESKTOP, role="viewer")
    page = b.goto("/campaigns")
    expect(page.get_by_test_id("campaign-row")).to_have_count(1)
    expect(page.get_by_test_id("new-campaign")).to_have_count(0)
    page.get_by_test_id("campaign-link").click()
    page.wait_for_url(re.compile(r"/campaigns/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("campaign-count-failed")).to_be_visible()
    expect(page.get_by_test_id("campaign-progress")).to_contain_text("2 / 3 finished")
    expect(page.get_by_test_id("campaign-controls")).to_have_count(0)
    assert str(campaign.id) in page.url
    b.assert_clean()
