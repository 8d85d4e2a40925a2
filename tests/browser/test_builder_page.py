"""`/builder` in Chromium: chat with Voxie, watch the live log, get a saved agent.

The app runs against an OpenAI-compatible double in this test process; the
double answers the builder's chat turns and the spec generation in order.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.apprunner import api_headers
from tests.browser.conftest import LAPTOP, PHONE, SeededApp, seeded_app
from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARGS = {
    "business_name": "Sunny Paws Grooming",
    "business_description": "A dog grooming salon.",
    "agent_job": "Book grooming appointments.",
    "tone": "cheerful",
    "greeting": "Woof! Sunny Paws, how can we help?",
    "details_to_collect": "owner name and phone",
}
DRAFT = {
    "name": "Sunny Paws Booking",
    "description": "Books grooming appointments.",
    "instructions": "You book grooming appointments for Sunny Paws. Be cheerful.",
    "greeting": "Woof! Sunny Paws, how can we help?",
    "language": "en",
    "tools": ["end_call", "record_caller_details"],
}


# Words (of 4+ letters) in the elements matching a selector that are split over two lines.
WORDS_BROKEN_ACROSS_LINES = """(selector) => {
    const broken = [];
    for (const root of document.querySelectorAll(selector)) {
        const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walk.nextNode(); node; node = walk.nextNode()) {
            for (const m of node.textContent.matchAll(/[A-Za-z]{4,}/g)) {
                const r = document.createRange();
                r.setStart(node, m.index);
                r.setEnd(node, m.index + m[0].length);
                const tops = new Set([...r.getClientRects()].map((q) => Math.round(q.top)));
                if (tops.size > 1) broken.push(m[0]);
            }
        }
    }
    return broken;
}"""


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, double: OpenAIServerDouble):
    with seeded_app(
        tmp_path_factory.mktemp("builder"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
    ) as running:
        yield running


def test_chat_creates_an_agent_while_the_log_fills_in(
    site: SeededApp, double: OpenAIServerDouble, make_browse
) -> None:
    double.script(
        Reply(content="A grooming salon, lovely! What should the agent do?"),
        Reply(tool_calls=[ToolCall("create_agent", ARGS)]),
        Reply(json=DRAFT, delay=0.6),  # slow enough to see the log fill in step by step
        Reply(content="Sunny Paws Booking is ready! Want to try it?"),
    )
    b = make_browse(site.base)
    page = b.goto("/builder")
    expect(page.get_by_test_id("msg-agent").first).to_contain_text("I'm Voxie", timeout=20_000)
    b.shot("greeting")

    page.get_by_test_id("chat-input").fill("I run Sunny Paws, a dog grooming salon.")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-user").first).to_have_text(
        "I run Sunny Paws, a dog grooming salon."
    )
    expect(page.get_by_test_id("msg-agent").nth(1)).to_contain_text("What should the agent do?")

    page.get_by_test_id("chat-input").fill("Bookings, cheerful. Yes, create it.")
    page.get_by_test_id("chat-send").click()
    lines = page.get_by_test_id("log-line")
    # Lines arrive one by one while the spec is generated (the draft reply is delayed).
    expect(lines.first).to_contain_text("Requirements captured", timeout=20_000)
    seen_while_running = lines.count()
    expect(page.get_by_test_id("msg-agent").nth(2)).to_contain_text(
        "Sunny Paws Booking is ready", timeout=30_000
    )
    expect(lines).to_have_count(4)
    texts = [lines.nth(i).inner_text() for i in range(4)]
    for text, word in zip(texts, ["captured", "started", "valid", "saved"], strict=True):
        assert word in text, texts
    assert seen_while_running < 4
    expect(page.get_by_test_id("builder-agent-card")).to_contain_text("Sunny Paws Booking")
    b.shot("created")

    # On a phone the log wraps between words, never inside one ("Require ments").
    page.set_viewport_size(PHONE)
    assert page.evaluate(WORDS_BROKEN_ACROSS_LINES, "[data-testid=log-line]") == []
    b.shot("log-phone")
    page.set_viewport_size(LAPTOP)

    # The log survives a reload (replayed from the state, nothing doubled).
    page.reload()
    expect(page.get_by_test_id("log-line")).to_have_count(4, timeout=20_000)
    expect(page.get_by_test_id("msg-agent").nth(2)).to_contain_text("ready")

    agents = httpx.get(
        site.base + "/api/agents", params={"search": "Sunny"}, headers=api_headers(site.url)
    ).json()
    assert [a["name"] for a in agents] == ["Sunny Paws Booking"]
    page.goto(site.base + "/agents")
    expect(page.get_by_text("Sunny Paws Booking").first).to_be_visible(timeout=20_000)
    b.shot("agents")
    b.assert_clean()


def test_voice_button_says_why_without_livekit(site: SeededApp, make_browse) -> None:
    b = make_browse(site.base)
    page = b.goto("/builder")
    expect(page.get_by_test_id("voice-unavailable")).to_contain_text("LIVEKIT_URL")
    expect(page.get_by_test_id("talk-to-voxie")).to_be_disabled()
    b.assert_clean()


def test_agent_chat_page_talks_to_the_agent(
    site: SeededApp, double: OpenAIServerDouble, make_browse
) -> None:
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    double.script(Reply(content="One large margherita, coming up! Anything else?"))
    b = make_browse(site.base)
    page = b.goto(f"/agents/{agent_id}/chat")
    expect(page.get_by_test_id("page-title")).to_contain_text("Pizza Roma Orders")
    expect(page.get_by_test_id("msg-agent").first).to_be_visible(timeout=20_000)  # greeting
    page.get_by_test_id("chat-input").fill("A large margherita please <b>now</b>")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-user").first).to_have_text(
        "A large margherita please <b>now</b>"  # shown as text, not HTML
    )
    expect(page.get_by_test_id("msg-agent").nth(1)).to_contain_text("margherita, coming up")
    request = double.requests[-1]
    assert request["messages"][-1] == {
        "role": "user",
        "content": "A large margherita please <b>now</b>",
    }
    b.shot()
    b.assert_clean()
