"""`/call` and `/call/[id]` in Chromium, with LiveKit pointing at the local double.

The double (tests/doubles/livekit_server.py) answers the server API (rooms,
dispatch) and accepts the browser's signalling websocket, recording the token
it carries; it does not speak the signalling protocol, so the browser never
completes the join: the page must then say LiveKit is unreachable. The browser
has a fake microphone (`--use-fake-device-for-media-stream`): a context granted
the microphone permission gets it, a context without the grant is denied
(deterministic in headless Chromium: no prompt is shown, the request fails
with NotAllowedError).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator

import jwt
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    Browse,
    SeededApp,
    open_page,
    seeded_app,
)
from tests.doubles.livekit_server import LiveKitDouble, WsConnection
from voxie_app.db import session_scope
from voxie_app.models import CallSession
from voxie_app.services import agents as agents_svc
from voxie_app.state.call import ended_text, mic_problem

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AGENT = "Pizza Roma Orders"


@pytest.fixture(scope="module")
def livekit() -> Iterator[LiveKitDouble]:
    with LiveKitDouble() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, livekit: LiveKitDouble) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("call"),
        LIVEKIT_URL=livekit.url,
        LIVEKIT_API_KEY=livekit.api_key,
        LIVEKIT_API_SECRET=livekit.api_secret,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def mic_browser(browser: Browser) -> Iterator[Browser]:
    """Chromium with a fake microphone; a context must be granted it (else: denied)."""
    b = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"]
    )
    yield b
    b.close()


@pytest.fixture
def caller(
    mic_browser: Browser, site: SeededApp, livekit: LiveKitDouble, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Browse]]:
    """`caller(microphone=True, label="", **open_page kw)`: a page on the app."""
    livekit.reset()
    livekit.ws_behaviour = "idle"
    contexts = []

    def _make(*, microphone: bool = True, label: str = "", **kw) -> Browse:
        name = request.node.name + (f"-{label}" if label else "")
        browse, ctx = open_page(mic_browser, site.base, name, **kw)
        if microphone:
            browse.page.context.grant_permissions(["microphone"], origin=site.base)
        contexts.append(ctx)
        return browse

    yield _make
    for ctx in contexts:
        ctx.__exit__(None, None, None)


def agent_id(site: SeededApp, name: str = AGENT) -> str:
    return str(site.seeded.agent_ids[name])


def new_call(site: SeededApp, room_name: str) -> CallSession:
    with session_scope(site.url) as session:
        row = session.exec(select(CallSession).where(CallSession.room_name == room_name)).one()
        session.expunge(row)
        return row


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def start_call(browse: Browse, agent: str) -> Page:
    page = browse.goto(f"/call/{agent}")
    expect(page.get_by_test_id("call-ready")).to_be_visible()
    page.get_by_test_id("call-start").click()
    return page


def socket_of(livekit: LiveKitDouble) -> WsConnection:
    return wait_for(lambda: (livekit.websockets() or [None])[0], what="the LiveKit websocket")


# ---- the call page with LiveKit configured -----------------------------------


def test_call_gets_a_token_dispatches_and_opens_the_livekit_socket(
    site: SeededApp, livekit: LiveKitDouble, caller
) -> None:
    agent = agent_id(site)
    b = caller()
    opened: list[str] = []
    b.page.on("websocket", lambda ws: opened.append(ws.url))

    page = b.goto(f"/call/{agent}")
    expect(page.get_by_test_id("page-title")).to_have_text(f"Call {AGENT}")
    expect(page.get_by_test_id("call-ready")).to_contain_text("Pizza Roma, what can I get")
    b.shot("ready")

    page.get_by_test_id("call-start").click()
    expect(page.get_by_test_id("call-stage")).to_be_visible(timeout=15_000)
    socket = socket_of(livekit)
    expect(page.get_by_test_id("call-status")).to_contain_text("Connecting")
    b.shot("connecting")

    # The page asked for a token: one room, one dispatch with the call's metadata.
    assert [r.method for r in livekit.requests] == ["CreateRoom", "CreateDispatch"]
    dispatch = livekit.calls("CreateDispatch")[0]
    room = dispatch.body["room"]
    row = new_call(site, room)
    assert row.call_status == "active" and row.ended_at is None
    assert json.loads(dispatch.body["metadata"]) == {
        "call_session_id": str(row.id),
        "agent_id": agent,
    }

    # The browser opened LiveKit's signalling socket with a token for that room only.
    assert socket.path in ("/rtc", "/rtc/v1")
    assert not socket.error, socket.error
    assert socket.claims["video"]["room"] == room
    assert socket.claims["video"].get("roomJoin") is True
    assert not socket.claims["video"].get("roomAdmin")
    claims = jwt.decode(socket.access_token, livekit.api_secret, algorithms=["HS256"])
    assert claims == socket.claims
    browser_urls = [u for u in opened if f":{livekit.port}/rtc" in u]
    assert browser_urls and all(f"access_token={socket.access_token}" in u for u in browser_urls)
    # Only the token and the URL reach the browser, never the API secret.
    assert livekit.api_secret not in page.content()

    # The double never answers the join: the page says LiveKit is unreachable.
    problem = page.get_by_test_id("call-problem")
    expect(problem).to_have_attribute("data-problem", "unreachable", timeout=30_000)
    expect(page.get_by_test_id("call-problem-title")).to_have_text("LiveKit is unreachable")
    expect(page.get_by_test_id("call-problem-text")).to_contain_text(livekit.ws_url)
    expect(page.get_by_test_id("call-problem-detail")).to_contain_text("signal connection")
    expect(page.get_by_test_id("call-chat-link")).to_have_attribute("href", f"/agents/{agent}/chat")
    b.shot("unreachable")

    # The call that never connected is recorded as failed, and its room closed.
    ended = wait_for(lambda: new_call(site, room).ended_at and new_call(site, room))
    assert ended.call_status == "failed"
    assert ended.end_reason.startswith("browser:")
    wait_for(lambda: room in livekit.deleted_rooms, what="DeleteRoom")
    b.assert_clean()


def test_end_call_records_the_end_and_links_to_the_call(
    site: SeededApp, livekit: LiveKitDouble, caller
) -> None:
    agent = agent_id(site, "Acme Support Desk")
    b = caller(viewport=PHONE, color_scheme="dark")
    page = start_call(b, agent)
    expect(page.get_by_test_id("call-stage")).to_be_visible(timeout=15_000)
    socket = socket_of(livekit)  # the room is being joined (the double stays silent)
    room = socket.claims["video"]["room"]
    expect(page.get_by_test_id("call-mute")).to_be_disabled()  # nothing to mute yet
    b.shot("connecting")
    page.get_by_test_id("call-end").click()

    ended = page.get_by_test_id("call-ended")
    expect(ended).to_be_visible(timeout=10_000)
    row = new_call(site, room)
    assert row.ended_at is not None and row.end_reason == "caller_ended"
    link = page.get_by_test_id("call-details-link")
    expect(link).to_have_attribute("href", f"/calls/{row.id}")
    wait_for(lambda: room in livekit.deleted_rooms, what="DeleteRoom")
    b.shot("ended")

    link.click()
    expect(page).to_have_url(f"{site.base}/calls/{row.id}")
    expect(page.get_by_test_id("page-title")).to_be_visible(timeout=20_000)
    b.assert_clean()


def test_microphone_denied_says_so_and_starts_nothing(
    site: SeededApp, livekit: LiveKitDouble, caller
) -> None:
    agent = agent_id(site)
    b = caller(microphone=False)
    page = start_call(b, agent)
    problem = page.get_by_test_id("call-problem")
    expect(problem).to_have_attribute("data-problem", "microphone", timeout=15_000)
    expect(page.get_by_test_id("call-problem-title")).to_have_text("Microphone access is blocked")
    expect(page.get_by_test_id("call-problem-text")).to_contain_text("Allow microphone access")
    expect(page.get_by_test_id("call-chat-link")).to_have_attribute("href", f"/agents/{agent}/chat")
    b.shot()
    # Asked before anything was created: no room, no dispatch, no call row.
    assert livekit.requests == []
    b.assert_clean()


def test_picker_lists_ready_agents_and_unknown_or_unready_agents_say_so(
    site: SeededApp, caller
) -> None:
    with session_scope(site.url) as session:
        draft = agents_svc.create_agent(
            session=session,
            user_requirements={"business": "a bakery"},
            spec=None,
            partial_spec={"name": "Draft Bakery"},
        )
        draft_id = str(draft.id)

    b = caller(label="laptop")
    page = b.goto("/call")
    names = page.get_by_test_id("call-choice-name")
    expect(names).to_have_count(3)
    assert sorted(names.all_inner_texts()) == sorted(site.seeded.agent_ids)
    b.shot("picker")
    page.get_by_test_id("call-choice").nth(0).click()
    expect(page).to_have_url(re.compile(r"/call/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("call-ready")).to_be_visible(timeout=20_000)

    page = b.goto(f"/call/{uuid.uuid4()}")
    expect(page.get_by_test_id("call-problem")).to_have_attribute("data-problem", "not_found")
    expect(page.get_by_test_id("call-problem-title")).to_have_text("No such agent")
    b.shot("unknown")

    page = b.goto(f"/call/{draft_id}")
    expect(page.get_by_test_id("call-problem")).to_have_attribute("data-problem", "not_ready")
    expect(page.get_by_test_id("call-problem-text")).to_contain_text("processing")
    b.shot("not-ready")
    b.assert_clean()

    phone = caller(label="phone", viewport=PHONE, color_scheme="dark")
    page = phone.goto(f"/call/{agent_id(site)}")
    expect(page.get_by_test_id("call-ready")).to_be_visible()
    phone.shot()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1


def test_talk_to_voxie_in_the_builder_uses_the_call_component(
    site: SeededApp, livekit: LiveKitDouble, caller
) -> None:
    b = caller()
    page = b.goto("/builder")
    page.get_by_test_id("talk-to-voxie").click()
    call = page.get_by_test_id("builder-call")
    expect(call).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("talk-to-voxie")).to_be_disabled()  # one call at a time
    socket = socket_of(livekit)
    dispatch = livekit.calls("CreateDispatch")[0]
    metadata = json.loads(dispatch.body["metadata"])
    assert metadata["builder"] is True and metadata["agent_id"] is None
    assert socket.claims["video"]["room"] == dispatch.body["room"]
    hang_up = call.get_by_test_id("call-end")
    expect(hang_up).to_have_text("Hang up")
    call.scroll_into_view_if_needed()
    b.shot("calling", full_page=False)

    hang_up.click()
    expect(call).to_have_count(0, timeout=10_000)
    row = new_call(site, dispatch.body["room"])
    assert row.ended_at is not None and row.end_reason == "caller_ended"
    expect(page.get_by_test_id("talk-to-voxie")).to_be_enabled()
    b.assert_clean()


def test_messages_for_microphone_failures_and_endings() -> None:
    # The browser's names (pre-call check) and LiveKit's (during the call) agree.
    assert mic_problem("NotAllowedError") == mic_problem("PermissionDenied")
    assert mic_problem("NotFoundError")[0] == "No microphone found"
    assert mic_problem("NotReadableError") == mic_problem("DeviceInUse")
    assert mic_problem("SomethingNew") == mic_problem("Other")
    assert "HTTPS" in mic_problem("InsecureContext")[1]
    assert ended_text("CLIENT_INITIATED", 42) == "You ended the call after 42s."
    assert ended_text("ROOM_DELETED", 75) == "The agent ended the call after 1m 15s."
    assert ended_text("SIGNAL_CLOSE", None) == "The call was disconnected (signal close)."


def test_a_viewer_is_told_they_cannot_start_calls_and_sees_no_editing_controls(
    site: SeededApp, livekit: LiveKitDouble, caller
) -> None:
    """Viewers' events are refused by the server (tests/test_state_auth.py); the
    pages also leave out the controls a viewer cannot use."""
    b = caller(role="viewer")
    page = b.goto(f"/call/{agent_id(site)}")
    expect(page.get_by_test_id("viewer-notice")).to_contain_text("start calls")
    expect(page.get_by_test_id("call-start")).to_have_count(0)
    b.shot()
    page = b.goto("/agents")
    expect(page.get_by_test_id("agent-card").first).to_be_visible()
    for control in ("new-agent", "agent-edit", "agent-delete", "agent-call", "agent-chat"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    page = b.goto("/call")
    expect(page.get_by_test_id("call-choice-name").first).to_be_visible()
    expect(page.get_by_test_id("call-choice")).to_have_count(0)
    expect(page.get_by_test_id("viewer-notice")).to_be_visible()
    assert livekit.requests == []
    b.assert_clean()
