"""The real app, started the way `make run` starts it, serves pages and the API on one port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apprunner import RunningApp, api_headers, run_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    workdir: Path = tmp_path_factory.mktemp("app")
    with run_app(workdir, database_url=f"sqlite:///{workdir / 'voxie.db'}") as app:
        app.headers = api_headers(f"sqlite:///{workdir / 'voxie.db'}")  # type: ignore[attr-defined]
        yield app


def test_health_and_home_page_on_one_port(running_app: RunningApp) -> None:
    base = running_app.base
    health = httpx.get(f"{base}/api/health", timeout=10).json()
    assert health["database"] == "ok"
    assert health["providers"]["database"] == "sqlite"

    page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 200
    assert "<title>Voxie</title>" in page.text

    assert httpx.get(f"{base}/api/agents", timeout=10).status_code == 401  # a key is needed
    key = running_app.headers  # type: ignore[attr-defined]
    assert httpx.get(f"{base}/api/agents", headers=key, timeout=10).json() == []
    assert httpx.get(f"{base}/api/openapi.json", timeout=10).json()["info"]["title"] == "Voxie API"

    log = running_app.log()
    assert "database: migrated (sqlite)" in log
    assert "voice worker: not started: LiveKit is not configured" in log


def test_api_create_through_running_app(running_app: RunningApp) -> None:
    base = running_app.base
    key = running_app.headers  # type: ignore[attr-defined]
    r = httpx.post(
        f"{base}/api/agents/create",
        json={
            "user_requirements": {"business": "bakery"},
            "processed_spec": {"name": "Bakery Bot", "instructions": "You take cake orders."},
        },
        headers=key,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    agents = httpx.get(f"{base}/api/agents", headers=key, timeout=10).json()
    assert agents[0]["name"] == "Bakery Bot"
    no_livekit = httpx.post(
        f"{base}/api/call/start", json={"agent_id": r.json()["agent_id"]}, headers=key, timeout=10
    )
    assert no_livekit.status_code == 503
    assert "LIVEKIT_URL" in no_livekit.json()["missing_settings"]
