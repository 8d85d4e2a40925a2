"""`/calls` in Chromium: a test chat is kept as a call of kind chat; builder calls are named.

The app chats through an OpenAI-compatible double in this test process. A
builder voice call (no agent, agent type `Voxie builder`) is written to the
app's database directly, as the worker would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app
from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession
from voxie_app.services.calls import BUILDER_NAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, double: OpenAIServerDouble):
    with seeded_app(
        tmp_path_factory.mktemp("calls-kinds"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
    ) as running:
        yield running


def _builder_call(url: str) -> uuid.UUID:
    now = utcnow()
    with session_scope(url) as s:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=None,
            room_name="voxie-builder-room",
            primary_agent_type=BUILDER_NAME,
            started_at=now + timedelta(minutes=1),  # the newest voice call
            ended_at=now + timedelta(minutes=3),
            duration_seconds=120.0,
            call_status="completed",
            customer_name="Builder Tester",
        )
        s.add(call)
        s.flush()
        return call.id


def test_chat_is_listed_with_kind_chat_and_builder_calls_are_named(
    site: SeededApp, double: OpenAIServerDouble, make_browse
) -> None:
    builder_id = _builder_call(site.url)
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    double.script(Reply(content="One large margherita, coming up!"))
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto(f"/agents/{agent_id}/chat")
    expect(page.get_by_test_id("msg-agent").first).to_be_visible(timeout=20_000)  # greeting
    page.get_by_test_id("chat-input").fill("A large margherita please")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("msg-agent").nth(1)).to_contain_text("coming up")

    # /calls lists voice calls by default: the builder call by name, no chat.
    page = b.goto("/calls")
    rows = page.get_by_test_id("call-row")
    expect(rows.first).to_contain_text("Voxie (builder)")
    expect(rows.first).to_contain_text("Builder Tester")
    expect(page.get_by_test_id("call-row").filter(has_text="Text chat")).to_have_count(0)
    b.shot("voice")

    # The kind filter shows the chat; it opens with its transcript.
    page.get_by_test_id("filter-kind").click()
    page.get_by_role("option", name="Text chats", exact=True).click()
    expect(page.get_by_test_id("calls-range")).to_contain_text("1 to 1 of 1")
    chat_row = page.get_by_test_id("call-row").first
    expect(chat_row).to_contain_text("Pizza Roma Orders")
    expect(chat_row).to_contain_text("Text chat")
    b.shot("chats")
    chat_row.get_by_test_id("call-link").click()
    page.wait_for_url("**/calls/*")
    expect(page.get_by_test_id("turn").filter(has_text="A large margherita please")).to_be_visible(
        timeout=20_000
    )
    expect(page.get_by_test_id("turn").filter(has_text="coming up")).to_be_visible()
    b.shot("chat-detail")

    # The builder call's page names Voxie too.
    b.goto(f"/calls/{builder_id}")
    expect(page.get_by_text("Voxie (builder)").first).to_be_visible()
    b.assert_clean()

    phone = make_browse(site.base, "phone", viewport=PHONE)
    page = phone.goto("/calls?kind=chat")
    expect(page.get_by_test_id("call-row").first).to_contain_text("Text chat")
    phone.shot()
    phone.assert_clean()


INBOUND_CALLER = "+14155550142"
OUTBOUND_CALLEE = "+14155550177"


def _phone_calls(url: str, agent_id: uuid.UUID) -> None:
    """An inbound and an outbound phone call and a web call, as the worker writes them."""
    now = utcnow()
    with session_scope(url) as s:
        for minutes, name, kw in (
            (
                -30,
                "Inbound Phone Caller",
                {
                    "kind": "phone",
                    "direction": "inbound",
                    "customer_phone": INBOUND_CALLER,
                    "called_number": "+14155550100",
                },
            ),
            (
                -20,
                "Outbound Phone Callee",
                {
                    "kind": "phone",
                    "direction": "outbound",
                    "customer_phone": OUTBOUND_CALLEE,
                    "called_number": OUTBOUND_CALLEE,
                    "dial_status": "answered",
                },
            ),
            (-10, "Browser Web Caller", {"kind": "web"}),
        ):
            s.add(
                CallSession(
                    session_id=uuid.uuid4().hex,
                    agent_id=agent_id,
                    room_name=f"room-{uuid.uuid4().hex[:8]}",
                    started_at=now + timedelta(minutes=minutes),
                    ended_at=now + timedelta(minutes=minutes + 2),
                    duration_seconds=120.0,
                    call_status="completed",
                    customer_name=name,
                    **kw,
                )
            )


def test_direction_and_number_filters_narrow_the_list(site: SeededApp, make_browse) -> None:
    _phone_calls(site.url, site.seeded.agent_ids["Pizza Roma Orders"])
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto("/calls")
    rows = page.get_by_test_id("call-row")
    names = ("Inbound Phone Caller", "Outbound Phone Callee", "Browser Web Caller")
    for name in names:
        expect(rows.filter(has_text=name)).to_have_count(1)

    page.get_by_test_id("filter-direction").click()
    page.get_by_role("option", name="Outbound", exact=True).click()
    outbound = rows.filter(has_text="Outbound Phone Callee")
    expect(outbound).to_have_count(1)
    expect(outbound.get_by_test_id("call-line")).to_have_text("our number → +1 415-555-0177")
    expect(rows.filter(has_text="Inbound Phone Caller")).to_have_count(0)
    expect(rows.filter(has_text="Browser Web Caller")).to_have_count(0)
    page.wait_for_url("**direction=outbound**")
    b.shot("outbound")

    page.get_by_test_id("filter-direction").click()
    page.get_by_role("option", name="Inbound", exact=True).click()
    expect(rows.filter(has_text="Inbound Phone Caller")).to_have_count(1)
    expect(rows.filter(has_text="Outbound Phone Callee")).to_have_count(0)

    # A number that is not one: a toast, and the list stays as it was.
    number = page.get_by_test_id("filter-number")
    number.fill("call me")
    number.blur()
    expect(page.locator("[data-sonner-toast]")).to_contain_text("E.164")
    expect(rows.filter(has_text="Inbound Phone Caller")).to_have_count(1)

    page.get_by_test_id("clear-filters").click()
    expect(rows.filter(has_text="Browser Web Caller")).to_have_count(1)
    number = page.get_by_test_id("filter-number")
    number.fill("+1 415 555 0177")
    number.blur()
    expect(rows.filter(has_text="Outbound Phone Callee")).to_have_count(1)
    expect(rows.filter(has_text="Inbound Phone Caller")).to_have_count(0)
    expect(rows.filter(has_text="Browser Web Caller")).to_have_count(0)
    expect(page.get_by_test_id("calls-range")).to_contain_text("of 1 call")
    page.wait_for_url("**number=%2B14155550177**")
    b.shot("number")

    # The address is shareable: ?number= (any common form) filters on load.
    page = b.goto("/calls?number=%2B1%20415%20555%200142")
    rows = page.get_by_test_id("call-row")
    expect(rows.filter(has_text="Inbound Phone Caller")).to_have_count(1)
    expect(page.get_by_test_id("calls-range")).to_contain_text("of 1 call")
    expect(page.get_by_test_id("filter-number")).to_have_value("+14155550142")
    b.assert_clean()

    phone = make_browse(site.base, "phone", viewport=PHONE)
    page = phone.goto("/calls?direction=outbound")
    expect(page.get_by_test_id("call-row").filter(has_text="Outbound Phone Callee")).to_have_count(
        1
    )
    phone.shot("outbound")
    phone.assert_clean()
