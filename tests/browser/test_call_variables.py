"""Per-call variables in Chromium: `/calls/<id>` lists the ones a call started with, and
the agent's test chat takes them from its query string (`?var.name=value`).

The calls are written to the app's database directly, as `POST /api/call/start`
stores them (its own tests are in tests/test_variables_api.py). The chat runs against
an OpenAI-compatible double in this test process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import SeededApp, seeded_app
from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, CallSession

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}
VARIABLES = {
    "order_prefix": "VX",
    "customer_id": "C-42",
    "note": "<b>VIP</b> prefers mornings",
}


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, double: OpenAIServerDouble
) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("call-variables"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
    ) as running:
        yield running


def _call(site: SeededApp, variables: dict[str, str]) -> uuid.UUID:
    now = utcnow()
    with session_scope(site.url) as s:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=site.seeded.agent_ids["Pizza Roma Orders"],
            room_name=f"room-{uuid.uuid4().hex[:6]}",
            primary_agent_type="Pizza Roma Orders",
            started_at=now - timedelta(minutes=3),
            ended_at=now,
            duration_seconds=180.0,
            call_status="completed",
            variables=variables,
        )
        s.add(call)
        s.flush()
        return call.id


def test_call_page_lists_variables_and_hides_the_card_without_any(
    site: SeededApp, make_browse
) -> None:
    with_vars = _call(site, VARIABLES)
    without = _call(site, {})
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto(f"/calls/{with_vars}")
    card = page.get_by_test_id("call-variables")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("variable-row")).to_have_count(3)
    rows = card.get_by_test_id("variable-row")
    expect(rows.nth(0)).to_contain_text("customer_id")
    expect(rows.nth(0)).to_contain_text("C-42")
    expect(rows.nth(1)).to_contain_text("<b>VIP</b> prefers mornings")  # text, not markup
    expect(rows.nth(2)).to_contain_text("order_prefix")
    card.scroll_into_view_if_needed()
    b.shot("with-variables")
    b.assert_clean()

    page = b.goto(f"/calls/{without}")
    expect(page.get_by_test_id("call-cost")).to_be_visible()
    expect(page.get_by_test_id("call-variables")).to_have_count(0)
    b.assert_clean()


def _templated_agent(site: SeededApp) -> uuid.UUID:
    spec = {
        "name": "Var Desk",
        "instructions": "You help {{customer|callers}} with orders {{order_prefix}}-something.",
        "greeting": "Hi {{customer|there}}, {{agent_name}} here.",
    }
    with session_scope(site.url) as s:
        agent = Agent(name="Var Desk", status="ready", processed_spec=spec)
        s.add(agent)
        s.flush()
        return agent.id


def test_chat_takes_variables_from_the_query_and_keeps_them_on_the_call(
    site: SeededApp, double: OpenAIServerDouble, make_browse
) -> None:
    agent_id = _templated_agent(site)
    double.script(Reply(content="Happy to help."))
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto(f"/agents/{agent_id}/chat?var.customer=Ann&var.order_prefix=VX")
    greeting = page.get_by_test_id("msg-agent").first
    expect(greeting).to_contain_text("Hi Ann, Var Desk here.", timeout=20_000)
    page.get_by_test_id("chat-input").fill("Where is my order?")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-agent").nth(1)).to_contain_text("Happy to help")
    system = double.requests[-1]["messages"][0]["content"]
    assert system.startswith("You help Ann with orders VX-something.")
    with session_scope(site.url) as s:
        [chat] = s.exec(select(CallSession).where(CallSession.agent_id == agent_id)).all()
        assert chat.kind == "chat"
        assert chat.variables == {"customer": "Ann", "order_prefix": "VX"}
        chat_id = chat.id
    page = b.goto(f"/calls/{chat_id}")
    expect(page.get_by_test_id("call-variables").get_by_test_id("variable-row")).to_have_count(2)
    b.assert_clean()

    # A bad variable: the chat does not start and says which one.
    bad = make_browse(site.base, "bad", viewport=DESKTOP)
    page = bad.goto(f"/agents/{agent_id}/chat?var.caller_name=Eve")
    expect(page.get_by_test_id("chat-unavailable")).to_contain_text(
        "variables.caller_name", timeout=20_000
    )
    bad.shot("bad-variable")
