"""Limits: rate limits with Retry-After, explicit CORS origins, body size."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from reflex.state import State

from tests.conftest import admin_headers
from voxie_app.services.ratelimit import RateLimiter, parse
from voxie_app.settings import Settings
from voxie_app.state.call import CallState  # at import: Reflex registers its states
from voxie_app.state.guard import SESSION_COOKIE


def test_sliding_window() -> None:
    now = [0.0]
    rl = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert rl.hit("a") is None and rl.hit("a") is None
    assert rl.hit("a") == pytest.approx(10.0)
    assert rl.hit("b") is None  # per key
    now[0] = 10.5
    assert rl.hit("a") is None


@pytest.mark.parametrize("spec", ["", "5", "0/60", "5/0", "x/y"])
def test_bad_specs_are_clear_errors(spec: str) -> None:
    with pytest.raises(ValueError, match="events/seconds"):
        parse(spec)


def test_call_start_is_rate_limited_per_key(db: str, configure: Callable[..., Settings]) -> None:
    from voxie_app.api.app import create_api

    configure(VOXIE_CALL_START_RATE_LIMIT="2/60")
    headers = admin_headers()
    with TestClient(create_api(), headers=headers) as client:
        codes = [
            client.post(
                "/api/call/start", json={"agent_id": "00000000-0000-4000-8000-000000000000"}
            )
            for _ in range(3)
        ]
    assert [r.status_code for r in codes[:2]] == [503, 503]  # LiveKit not configured
    assert codes[2].status_code == 429
    assert 1 <= int(codes[2].headers["retry-after"]) <= 60


def test_origins_are_an_explicit_list(configure: Callable[..., Settings]) -> None:
    assert configure().origins(8123) == ["http://localhost:8123", "http://127.0.0.1:8123"]
    s = configure(VOXIE_ALLOWED_ORIGINS="https://voxie.example.com/, https://admin.example.com")
    assert s.origins() == ["https://voxie.example.com", "https://admin.example.com"]
    assert "*" not in s.origins()


def test_uploads_have_their_own_size_limit(db: str, configure: Callable[..., Settings]) -> None:
    from voxie_app.api.app import create_api
    from voxie_app.services import agent_creation

    configure(VOXIE_MAX_BODY_BYTES="100000", VOXIE_MAX_UPLOAD_BYTES="300000")
    agent = agent_creation.submit(
        user_requirements={}, processed_spec={"name": "Docs", "instructions": "x"}
    )
    text = ("Our opening hours are nine to five. " * 6000)[:200_000].encode()
    with TestClient(create_api(), headers=admin_headers()) as client:
        ok = client.post(f"/api/agents/{agent.id}/knowledge", files={"file": ("hours.txt", text)})
        assert ok.status_code == 202, ok.text  # past the 100 kB body limit: an upload
        other = client.post("/api/agents/create", content=b"{" + b" " * 200_000 + b"}")
        assert other.status_code == 413  # everything else keeps the body limit
        too_big = client.post(
            f"/api/agents/{agent.id}/knowledge", files={"file": ("big.txt", b"a" * 400_000)}
        )
        assert too_big.status_code == 413


@pytest.mark.parametrize("declared", ["9" * 5000, "9" * 19, "1000001"])
async def test_a_huge_declared_content_length_is_413_not_500(db: str, declared: str) -> None:
    """A Content-Length of thousands of digits is over any limit (int() of it would raise)."""
    import httpx

    from voxie_app.api.app import create_api

    transport = httpx.ASGITransport(app=create_api(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(
            "/api/agents/create",
            content=b"{}",
            headers={"content-length": declared, "content-type": "application/json"},
        )
    assert r.status_code == 413, r.text


async def _mic_checked(state, cookie: str) -> list:
    """Run `CallState.mic_checked` as Reflex would for a socket whose handshake carried
    `cookie`, collecting what it yields."""
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex_base.event.context import EventContext

    async def nothing(*_a: object, **_k: object) -> None:
        return None

    ctx = EventContext(
        token="tab-limits",
        state_manager=StateManagerMemory(),
        enqueue_impl=nothing,
        router_data={"pathname": "/call", "headers": {"cookie": cookie}},
    )
    state.phase, state.problem = "checking", ""  # as `start` leaves it
    with ctx:
        return [out async for out in CallState.event_handlers["mic_checked"].fn(state, "ok")]


@pytest.fixture
def signed_in_states(db: str):
    """The root state of a tab, and the session cookie of an admin signed in there."""
    from voxie_app.db import session_scope
    from voxie_app.services import auth
    from voxie_app.state import guard

    guard.reset_caches()
    with session_scope() as s:
        user = auth.create_user(
            session=s, email="caller@example.com", password="p" * 12, role="admin"
        )
        token, _ = auth.login(session=s, email=user.email, password="p" * 12, hours=1)
    root = State(_reflex_internal_init=True)
    yield root, f"{SESSION_COOKIE}={token}"
    guard.reset_caches()


async def test_calls_started_from_the_ui_share_the_call_start_limit(
    signed_in_states, configure: Callable[..., Settings]
) -> None:
    """The call page's start goes through the same limit as `POST /api/call/start` (per
    user here, per key there): past it, a toast with the retry time and nothing started."""
    configure(VOXIE_CALL_START_RATE_LIMIT="2/60")
    root, cookie = signed_in_states
    state = root.get_substate(CallState.get_full_name().split(".")[1:])
    state.agent_id, state.agent_name = "00000000-0000-4000-8000-000000000000", "Pizza"
    for _ in range(2):
        await _mic_checked(state, cookie)
        assert state.problem == "not_configured"  # got past the limit (LiveKit is not set)
    third = await _mic_checked(state, cookie)
    assert state.phase == "idle" and state.problem == ""
    toast = str(third[-1])
    assert "Too many calls started; try again in" in toast
    assert (
        re.search(r"try again in (\d+) s", toast)
        and 1 <= int(re.search(r"try again in (\d+) s", toast).group(1)) <= 60
    )


async def test_one_call_start_limit_for_agents_and_the_builder(
    db: str, configure: Callable[..., Settings]
) -> None:
    """Agent calls and builder calls of one caller count against one limit, per caller."""
    from voxie_app.services import calls
    from voxie_app.services.auth import Principal
    from voxie_app.services.errors import NotConfigured, RateLimited

    settings = configure(VOXIE_CALL_START_RATE_LIMIT="2/60")
    same_id = str(uuid.uuid4())  # the limiter lives as long as the process
    alice = Principal(id=same_id, name="Alice", role="admin", kind="user")
    key = Principal(id=same_id, name="key", role="admin", kind="api_key")  # other kind
    with pytest.raises(NotConfigured):
        await calls.start_builder_call(session_id="s1", settings=settings, caller=alice)
    with pytest.raises(NotConfigured):
        await calls.start_call(agent_id=uuid.uuid4(), settings=settings, caller=alice)
    with pytest.raises(RateLimited) as refused:
        await calls.start_builder_call(session_id="s1", settings=settings, caller=alice)
    assert 1 <= refused.value.retry_after_seconds <= 60
    with pytest.raises(NotConfigured):  # a different caller has its own allowance
        await calls.start_call(agent_id=uuid.uuid4(), settings=settings, caller=key)


def test_ui_uploads_get_the_upload_limit_and_a_refusal_is_a_toast(
    db: str, configure: Callable[..., Settings]
) -> None:
    """`/_upload` (files dropped on the Knowledge panel) is held to the upload limit of a
    whole drop, not the 1 MB body limit; over it, the 413 carries a state update with a
    toast naming the limit, which the page applies like any upload response."""
    from voxie_app.api.app import create_api
    from voxie_app.state.knowledge import upload_refused_update

    configure(VOXIE_MAX_BODY_BYTES="100000", VOXIE_MAX_UPLOAD_BYTES="300000")
    with TestClient(create_api(ui_upload_refused=upload_refused_update)) as client:
        files = {"files": ("notes.txt", b"a" * 250_000)}
        fits = client.post("/_upload", files=files)
        assert fits.status_code != 413  # past the body limit, within the upload limit
        drop = [("files", (f"f{i}.txt", b"a" * 290_000)) for i in range(11)]
        refused = client.post("/_upload", files=drop)  # more than 10 files of 300 kB
        other = client.post("/api/agents/create", content=b"{" + b" " * 200_000 + b"}")
    assert refused.status_code == 413
    update = json.loads(refused.text.splitlines()[0])
    (toast,) = update["events"]
    assert toast["name"] == "_call_function"
    assert "too large (up to 300 KB per file, 10 files at once)" in toast["payload"]["function"]
    assert other.status_code == 413  # everything else keeps the body limit


def test_files_refused_in_the_browser_get_a_toast_naming_the_limit(
    configure: Callable[..., Settings],
) -> None:
    from voxie_app.state.knowledge import rejected_message

    configure(VOXIE_MAX_UPLOAD_BYTES="1500000")
    big, kind = "manual.pdf\tfile-too-large", "tune.mp3\tfile-invalid-type"
    assert rejected_message([big, kind]) == (
        "Not uploaded: 'manual.pdf': larger than 1.5 MB, the upload limit, 'tune.mp3': not "
        "a kind of file the knowledge base takes (up to 1.5 MB per file, 10 files at once)."
    )
