"""Refresh the README's screenshots in docs/screenshots/ (desktop 1400x900, one phone shot).

    .venv/bin/python scripts/readme_screenshots.py

Runs the production build on a freshly seeded SQLite database (the same demo
data as the browser tests), with the test doubles standing in for OpenAI (a
short builder conversation) and LiveKit (so the call page is ready to call),
signs in as the seeded admin, and saves one PNG per page.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    open_page,
    seeded_app,
)
from tests.doubles.livekit_server import LiveKitDouble  # noqa: E402
from tests.doubles.openai_server import OpenAIServerDouble, Reply  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1400, "height": 900}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        OpenAIServerDouble() as llm,
        LiveKitDouble() as livekit,
        tempfile.TemporaryDirectory() as tmp,
        seeded_app(
            Path(tmp),
            OPENAI_API_KEY="screenshots",
            OPENAI_BASE_URL=llm.base_url,
            LIVEKIT_URL=livekit.url,
            LIVEKIT_API_KEY=livekit.api_key,
            LIVEKIT_API_SECRET=livekit.api_secret,
        ) as site,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
        call_id = site.seeded.today_call_ids[0]
        b, ctx = open_page(browser, site.base, "readme", viewport=DESKTOP)
        with ctx:
            for name, path, full in (
                ("dashboard", "/", False),
                ("agents", "/agents", False),
                ("call", f"/call/{agent_id}", False),
                ("call-detail", f"/calls/{call_id}", True),
                ("analytics", "/analytics", True),
            ):
                b.goto(path)
                b.page.wait_for_timeout(500)  # charts finish drawing
                b.page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)

            llm.script(
                Reply(content="A pizzeria, lovely! What should your agent do on the phone?"),
                Reply(content="Got it: take delivery orders and answer opening hours. Tone?"),
            )
            page = b.goto("/builder")
            expect(page.get_by_test_id("msg-agent").first).to_be_visible(timeout=20_000)
            for text, n in (
                ("I run a small pizzeria in Turin.", 1),
                ("Take delivery orders and say when we are open.", 2),
            ):
                page.get_by_test_id("chat-input").fill(text)
                page.get_by_test_id("chat-send").click()
                expect(page.get_by_test_id("msg-agent").nth(n)).to_be_visible(timeout=20_000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / "builder.png"))

        b, ctx = open_page(browser, site.base, "readme-phone", viewport=PHONE)
        with ctx:
            b.goto("/")
            b.page.wait_for_timeout(500)
            b.page.screenshot(path=str(OUT / "dashboard-phone.png"), full_page=True)
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
