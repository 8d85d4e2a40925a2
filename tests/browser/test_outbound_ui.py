"""Outbound calls and the do-not-call list in Chromium.

The app's LiveKit is the Twirp double in this test process (no SIP service runs
here); the phone number and its outbound trunk are written to the app's database
directly, as the Phone page would store them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import SeededApp, add_caller_number, livekit_env, seeded_app
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.db import session_scope
from voxie_app.models import CallSession, DoNotCall

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}
OURS = "+14155550100"
TO = "+14155550123"
LISTED = "+14155550177"


@pytest.fixture(scope="module")
def livekit() -> Iterator[LiveKitDouble]:
    with LiveKitDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, livekit: LiveKitDouble) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("outbound"),
        **livekit_env(livekit),
    ) as running:
        add_caller_number(running.url, OURS, label="Front desk", livekit_trunk_id="ST_ui")
        with session_scope(running.url) as s:
            s.add(DoNotCall(number=LISTED, reason="asked"))
        yield running


def _calls(site: SeededApp) -> list[CallSession]:
    with session_scope(site.url) as s:
        return list(s.exec(select(CallSession).where(CallSession.kind == "phone")).all())


def test_call_a_number_dialog_places_the_call_and_shows_it(
    site: SeededApp, livekit: LiveKitDouble, make_browse
) -> None:
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto(f"/agents/{agent_id}")
    page.get_by_test_id("call-number").click()
    dialog = page.get_by_test_id("call-number-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("call-number-from")).to_contain_text("Front desk")

    # A listed number: a toast, the dialog stays, nothing is dialled.
    page.get_by_test_id("call-number-to").fill(LISTED)
    page.get_by_test_id("call-number-submit").click()
    toast = page.locator("[data-sonner-toast]")
    expect(toast.first).to_contain_text("do-not-call list")
    expect(dialog).to_be_visible()
    assert livekit.calls("CreateSIPParticipant") == []

    page.get_by_test_id("call-number-to").fill(TO)
    page.get_by_test_id("call-number-variables").fill("customer=Ann")
    page.get_by_test_id("call-number-submit").click()
    page.wait_for_url(re.compile(r"/calls/[0-9a-f-]{36}$"), timeout=20_000)
    call_id = uuid.UUID(page.url.rsplit("/", 1)[1])
    page.wait_for_function("() => !document.querySelector('.rt-Skeleton')", timeout=20_000)
    expect(page.get_by_text("Pizza Roma Orders").first).to_be_visible()  # the call's page
    (row,) = _calls(site)
    assert row.id == call_id
    assert (row.direction, row.customer_phone, row.dial_status) == ("outbound", TO, "answered")
    assert row.variables == {"customer": "Ann"}
    dial = livekit.calls("CreateSIPParticipant")[0].body
    assert (dial["sip_call_to"], dial["sip_number"], dial["sip_trunk_id"]) == (TO, OURS, "ST_ui")
    b.shot("call-page")
    b.assert_clean()


def test_do_not_call_page_adds_and_removes(site: SeededApp, make_browse) -> None:
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/do-not-call")
    panel = page.get_by_test_id("dnc-panel")
    expect(panel.get_by_test_id("dnc-row")).to_have_count(1)
    page.get_by_test_id("dnc-add-number").fill("+44 20 7183 8750")
    page.get_by_test_id("dnc-add-reason").fill("opted out")
    page.get_by_test_id("dnc-add").click()
    expect(panel.get_by_test_id("dnc-row")).to_have_count(2)
    expect(panel.get_by_test_id("dnc-number").first).to_contain_text("+44 20 7183 8750")

    page.get_by_test_id("dnc-add-number").fill("12345")
    page.get_by_test_id("dnc-add").click()
    expect(page.locator("[data-sonner-toast]").last).to_contain_text("Number:")

    page.get_by_test_id("dnc-remove").first.click()
    page.get_by_test_id("dnc-confirm-remove").click()
    expect(panel.get_by_test_id("dnc-row")).to_have_count(1)
    with session_scope(site.url) as s:
        assert [r.number for r in s.exec(select(DoNotCall)).all()] == [LISTED]
    b.shot()
    b.assert_clean()


def test_viewer_sees_the_list_but_no_controls(site: SeededApp, make_browse) -> None:
    b = make_browse(site.base, viewport=DESKTOP, role="viewer")
    page = b.goto("/do-not-call")
    expect(page.get_by_test_id("dnc-row").first).to_be_visible()
    expect(page.get_by_test_id("dnc-add")).to_have_count(0)
    expect(page.get_by_test_id("dnc-remove")).to_have_count(0)
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    b.goto(f"/agents/{agent_id}")
    expect(page.get_by_test_id("call-number")).to_have_count(0)
    b.assert_clean()
