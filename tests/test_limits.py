"""Limits: rate limits with Retry-After, explicit CORS origins, body size."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.services.ratelimit import RateLimiter, parse
from voxie_app.settings import Settings


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
