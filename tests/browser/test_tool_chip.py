"""The call page's tool chips in Chromium: placed among the turns, coloured, unfolding.

A seeded call gets two `ToolInvocation` rows (as the worker writes them) between
its first and second turns; the page must draw a chip for each there, and a
click on a chip must show its details. A viewer sees them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app
from voxie_app.db import session_scope
from voxie_app.models import ToolInvocation
from voxie_app.services import reports

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("chip")) as running:
        yield running


@pytest.fixture(scope="module")
def call_id(site: SeededApp) -> uuid.UUID:
    """A completed call with invocations between its first two turns."""
    with session_scope(site.url) as s:
        details = [reports.call_detail(session=s, call_id=i) for i in site.seeded.call_ids]
        detail = next(d for d in details if d and d.call.call_status == "completed")
        first, second = detail.turns[0].timestamp, detail.turns[1].timestamp
        between = first + (second - first) / 3
        s.add_all(
            [
                ToolInvocation(
                    call_session_id=detail.call.id,
                    tool_name="check_slots",
                    arguments={"date": "2026-11-21", "api_key": "[redacted]"},
                    status="ok",
                    http_status=200,
                    latency_ms=120,
                    result_chars=342,
                    created_at=between,
                ),
                ToolInvocation(
                    call_session_id=detail.call.id,
                    tool_name="book_slot",
                    arguments={"slot": "10:00", "name": "A very long patient name " * 3},
                    status="timeout",
                    error="the service did not answer within 10 s",
                    latency_ms=10_004,
                    created_at=between + (second - first) / 3,
                ),
            ]
        )
        return detail.call.id


def test_chips_sit_between_turns_and_unfold(site: SeededApp, call_id, make_browse) -> None:
    browse = make_browse(site.base)
    page = browse.goto(f"/calls/{call_id}")
    chips = page.get_by_test_id("tool-invocation")
    expect(chips).to_have_count(2)
    # Timeline order: turn, chip, chip, turn ...
    kinds = page.locator("[data-testid=turn], [data-testid=tool-invocation]").evaluate_all(
        "els => els.map(e => e.dataset.testid)"
    )
    assert kinds[:4] == ["turn", "tool-invocation", "tool-invocation", "turn"]
    ok, slow = chips.nth(0), chips.nth(1)
    expect(ok.get_by_test_id("tool-invocation-chip")).to_contain_text("check_slots · ok · 120 ms")
    expect(slow.get_by_test_id("tool-invocation-chip")).to_contain_text(
        "book_slot · timeout · 10,004 ms"
    )
    details = ok.get_by_test_id("tool-invocation-details")
    expect(details).to_be_hidden()
    browse.shot("closed")

    ok.get_by_test_id("tool-invocation-chip").click()
    expect(details).to_be_visible()
    expect(ok.get_by_test_id("tool-invocation-http")).to_have_text("200")
    expect(ok.get_by_test_id("tool-invocation-latency")).to_have_text("120 ms")
    expect(ok.get_by_test_id("tool-invocation-result")).to_have_text("342 characters")
    arguments = ok.get_by_test_id("tool-invocation-arguments")
    expect(arguments).to_contain_text('"api_key": "[redacted]"')
    expect(ok.get_by_test_id("tool-invocation-error")).to_have_count(0)
    slow.get_by_test_id("tool-invocation-chip").click()
    expect(slow.get_by_test_id("tool-invocation-error")).to_have_text(
        "the service did not answer within 10 s"
    )
    expect(slow.get_by_test_id("tool-invocation-http")).to_have_text("—")
    # The colour follows the status: green for ok, amber for a timeout.
    ok_color = ok.locator(".rt-Badge").first.get_attribute("data-accent-color")
    slow_color = slow.locator(".rt-Badge").first.get_attribute("data-accent-color")
    assert (ok_color, slow_color) == ("grass", "amber")
    browse.shot("open")
    ok.get_by_test_id("tool-invocation-chip").click()
    expect(details).to_be_hidden()
    browse.assert_clean()


def test_phone_width_and_viewer(site: SeededApp, call_id, make_browse) -> None:
    browse = make_browse(site.base, viewport=PHONE, role="viewer")
    page = browse.goto(f"/calls/{call_id}")
    chips = page.get_by_test_id("tool-invocation")
    expect(chips).to_have_count(2)
    chips.nth(1).get_by_test_id("tool-invocation-chip").click()
    expect(chips.nth(1).get_by_test_id("tool-invocation-details")).to_be_visible()
    # Nothing wider than the screen: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    browse.shot()
    browse.assert_clean()
