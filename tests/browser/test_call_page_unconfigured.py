"""`/call` and `/call/[id]` when LiveKit is not configured: say which settings are missing.

A separate module because it needs an app started without LiveKit settings
(apps share `.web/`, so one app per module).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SeededApp, seeded_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("call-unconfigured")) as running:
        yield running


def test_call_page_names_the_missing_livekit_settings(site: SeededApp, make_browse) -> None:
    agent = site.seeded.agent_ids["Pizza Roma Orders"]
    b = make_browse(site.base)
    page = b.goto(f"/call/{agent}")
    expect(page.get_by_test_id("call-problem")).to_have_attribute("data-problem", "not_configured")
    expect(page.get_by_test_id("call-problem-title")).to_have_text("Voice calls are not set up yet")
    expect(page.get_by_test_id("missing-setting")).to_have_text(
        ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]
    )
    expect(page.get_by_test_id("call-chat-link")).to_have_attribute("href", f"/agents/{agent}/chat")
    expect(page.get_by_test_id("call-start")).to_have_count(0)
    b.shot()

    page = b.goto("/call")
    expect(page.get_by_test_id("call-livekit-missing")).to_contain_text("LIVEKIT_URL")
    expect(page.get_by_test_id("call-choice-name")).to_have_count(3)
    b.shot("picker")
    b.assert_clean()
