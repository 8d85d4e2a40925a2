"""Call starts from the call page count against the call-start rate limit (H13): one
limit for the API and the UI. The app runs with `VOXIE_CALL_START_RATE_LIMIT=1/60` and
LiveKit at the local double (which never completes a join, so a call ends
"unreachable" and offers "Try again")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, SeededApp, open_page, seeded_app
from tests.doubles.livekit_server import LiveKitDouble

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def livekit() -> Iterator[LiveKitDouble]:
    with LiveKitDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, livekit: LiveKitDouble) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("call-rate"),
        LIVEKIT_URL=livekit.url,
        LIVEKIT_API_KEY=livekit.api_key,
        LIVEKIT_API_SECRET=livekit.api_secret,
        VOXIE_CALL_START_RATE_LIMIT="1/60",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def mic_browser(browser: Browser) -> Iterator[Browser]:
    b = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"]
    )
    yield b
    b.close()


def created(livekit: LiveKitDouble) -> list[str]:
    """Rooms and dispatches made (a failed call's room is deleted afterwards too)."""
    return [r.method for r in livekit.requests if r.method.startswith("Create")]


def test_the_second_call_within_the_limit_is_refused_with_the_retry_time(
    site: SeededApp, livekit: LiveKitDouble, mic_browser: Browser
) -> None:
    agent = str(next(iter(site.seeded.agent_ids.values())))
    browse, ctx = open_page(mic_browser, site.base, "call-rate-limit")
    try:
        page = browse.page
        page.context.grant_permissions(["microphone"], origin=site.base)
        page = browse.goto(f"/call/{agent}")
        expect(page.get_by_test_id("call-ready")).to_be_visible()
        page.get_by_test_id("call-start").click()
        problem = page.get_by_test_id("call-problem")
        expect(problem).to_have_attribute("data-problem", "unreachable", timeout=30_000)
        assert created(livekit) == ["CreateRoom", "CreateDispatch"]

        page.get_by_test_id("call-retry").click()
        toast = page.get_by_text(re.compile(r"Too many calls started; try again in \d+ s\."))
        expect(toast).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("call-start")).to_be_visible()  # back to idle
        browse.shot("refused")
        # Refused before anything was created: no second room, no second dispatch.
        assert created(livekit) == ["CreateRoom", "CreateDispatch"]
    finally:
        ctx.__exit__(None, None, None)
