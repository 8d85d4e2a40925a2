"""The analytics date range in Chromium: refused ranges say why next to the field,
trimmed ranges say what was trimmed, nothing changes silently.

The app's "today" is its own clock's; the dates used here are decades away from
it on either side, so the test gives the same answer on any day.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}

FAR_PAST = "2001-03-10"
FAR_FUTURE = "2999-01-01"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("browser-analytics")) as running:
        yield running


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_range_is_refused_or_trimmed_out_loud(site: SeededApp, make_browse, viewport) -> None:
    browse = make_browse(site.base, viewport=viewport)
    page = browse.goto("/analytics")
    start, end = page.get_by_test_id("range-start"), page.get_by_test_id("range-end")
    calls = page.get_by_test_id("an-calls")
    expect(calls).not_to_have_text("0", timeout=10_000)
    before = calls.inner_text()
    shown_start, shown_end = start.input_value(), end.input_value()
    assert end.get_attribute("max") == shown_end  # the picker stops at today

    # To before From: refused under To; the charts keep the range they showed.
    end.fill(FAR_PAST)
    error = page.get_by_test_id("range-end-error")
    expect(error).to_contain_text("To is before From")
    expect(end).to_have_attribute("aria-invalid", "true")
    expect(calls).to_have_text(before)
    expect(page.get_by_test_id("range-note")).to_have_count(0)
    browse.shot("refused")

    # From moved before that To: a valid range again, the message goes away.
    start.fill("2001-03-01")
    expect(error).to_have_count(0)
    expect(end).to_have_value(FAR_PAST)
    expect(page.get_by_test_id("empty-state").first).to_be_visible()

    # From in the future: refused under From.
    start.fill(FAR_FUTURE)
    expect(page.get_by_test_id("range-start-error")).to_contain_text("From is in the future")

    # A To after today and a range over the limit: both trimmed, both said.
    start.fill(FAR_PAST)
    end.fill(FAR_FUTURE)
    note = page.get_by_test_id("range-note")
    expect(note).to_contain_text("To is after today: showing up to today")
    expect(note).to_contain_text("A range covers at most 366 days")
    expect(end).to_have_value(shown_end)  # today
    expect(start).not_to_have_value(FAR_PAST)
    expect(page.get_by_test_id("range-start-error")).to_have_count(0)
    expect(calls).to_have_text(before)  # the seeded fortnight is inside the last year
    browse.shot("trimmed")

    # A preset is taken as it is: no note.
    page.get_by_test_id("range-presets").get_by_role("radio", name="30 days").click()
    expect(note).to_have_count(0)
    expect(start).to_have_value(shown_start)
    browse.assert_clean()
