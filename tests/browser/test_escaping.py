"""Markup in stored data is shown as text, never run: agent names, greetings,
transcripts, summaries and caller names on every page that shows them.

The agent is named `<script>window.__pwned=1</script>😀` and its call's
transcript holds `<img src=x onerror=window.__pwned=1>`: each page must show
those strings literally, and `window.__pwned` must stay undefined.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SeededApp, seeded_app
from voxie_app.db import session_scope
from voxie_app.models import CallSession, CallSummary, ConversationTurn
from voxie_app.services import agents as agents_svc

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AGENT_NAME = "<script>window.__pwned=1</script>😀"
GREETING = '<img src=x onerror="window.__pwned=1"> Hello 👋'
DESCRIPTION = "<b onmouseover=window.__pwned=1>bold?</b> {{7*7}}"
TRANSCRIPT = "<img src=x onerror=window.__pwned=1>"
AGENT_REPLY = "<svg onload=window.__pwned=1></svg> Sure 😀"
CALLER = "<iframe srcdoc='<script>parent.__pwned=1</script>'>"
SUMMARY = "<script>window.__pwned=1</script> summary"
KEY_POINT = "<a href=javascript:window.__pwned=1>click</a>"


@dataclass
class Hostile:
    site: SeededApp
    agent_id: uuid.UUID
    call_id: uuid.UUID


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    with seeded_app(tmp_path_factory.mktemp("browser-escaping")) as site:
        now = datetime.now(UTC)
        with session_scope(site.url) as session:
            spec = agents_svc.parse_spec(
                {
                    "name": AGENT_NAME,
                    "description": DESCRIPTION,
                    "instructions": "You answer calls.",
                    "greeting": GREETING,
                }
            )
            agent = agents_svc.create_agent(
                session=session, user_requirements={"business": "<i>x</i>"}, spec=spec
            )
            call = CallSession(
                session_id=uuid.uuid4().hex,
                agent_id=agent.id,
                room_name=f"voxie-{uuid.uuid4().hex[:12]}",
                primary_agent_type=AGENT_NAME,
                customer_name=CALLER,
                started_at=now - timedelta(minutes=3),
                ended_at=now - timedelta(minutes=1),
                duration_seconds=120.0,
                call_status="completed",
                end_reason="caller_hung_up",
                last_activity_at=now - timedelta(minutes=1),
            )
            session.add(call)
            session.flush()
            for i, (speaker, text) in enumerate(
                [("agent", GREETING), ("user", TRANSCRIPT), ("agent", AGENT_REPLY)]
            ):
                session.add(
                    ConversationTurn(
                        call_session_id=call.id,
                        turn_number=i,
                        speaker=speaker,
                        transcript=text,
                        agent_name=AGENT_NAME if speaker == "agent" else None,
                        timestamp=now - timedelta(minutes=3) + timedelta(seconds=10 * i),
                    )
                )
            session.add(
                CallSummary(
                    call_session_id=call.id,
                    summary_text=SUMMARY,
                    key_points=[KEY_POINT],
                    action_items=[TRANSCRIPT],
                    generated_at=now,
                )
            )
            agent_id, call_id = agent.id, call.id
        yield Hostile(site, agent_id, call_id)


def _assert_inert(page: Page, where: str) -> None:
    assert page.evaluate("() => typeof window.__pwned") == "undefined", f"markup ran on {where}"
    injected = page.evaluate(
        """() => document.querySelectorAll(
            'img[src="x"], img[onerror], svg[onload], iframe[srcdoc], [onmouseover],'
            + ' a[href^="javascript:"]').length"""
    )
    assert injected == 0, f"{where}: stored markup became {injected} element(s)"
    scripts = page.evaluate(
        "() => [...document.scripts].filter(s => s.textContent.includes('__pwned')).length"
    )
    assert scripts == 0, f"{where}: a <script> element carries the stored text"


def _shows(page: Page, text: str) -> None:
    expect(page.get_by_text(text, exact=False).first).to_be_visible()


def test_markup_in_names_and_transcripts_renders_as_text(hostile: Hostile, make_browse) -> None:
    browse = make_browse(hostile.site.base)
    agent, call = hostile.agent_id, hostile.call_id

    page = browse.goto("/agents")
    _shows(page, AGENT_NAME)
    _assert_inert(page, "/agents")
    browse.shot("agents")

    page = browse.goto(f"/agents/{agent}")
    _shows(page, AGENT_NAME)
    _shows(page, GREETING)
    _shows(page, DESCRIPTION)
    _assert_inert(page, "/agents/<id>")
    browse.shot("agent-detail")

    page = browse.goto(f"/calls/{call}")
    for text in (TRANSCRIPT, AGENT_REPLY, GREETING, SUMMARY, KEY_POINT, CALLER):
        _shows(page, text)
    expect(page.get_by_test_id("turn")).to_have_count(3)
    _assert_inert(page, "/calls/<id>")
    browse.shot("call-detail")

    # Everywhere else the name or the caller appears.
    for path in ("/", "/calls", "/call", f"/call/{agent}"):
        page = browse.goto(path)
        _assert_inert(page, path)
    page = browse.goto("/calls")
    _shows(page, AGENT_NAME)
    browse.assert_clean()
