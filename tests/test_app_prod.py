"""The real app, started the way `make run` starts it, serves pages and the API on one port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apprunner import RunningApp, api_headers, run_app
from voxie_app.settings import ROOT_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    workdir: Path = tmp_path_factory.mktemp("app")
    # Behind https, with 3-hour sessions: the build's cookie and the headers follow.
    env = {"VOXIE_PUBLIC_URL": "https://voxie.example.com", "VOXIE_SESSION_HOURS": "3"}
    with run_app(workdir, database_url=f"sqlite:///{workdir / 'voxie.db'}", env=env) as app:
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


def test_pages_assets_and_api_forbid_framing(running_app: RunningApp) -> None:
    """The production server (static pages served by the backend) sends the headers too."""
    base = running_app.base
    home = httpx.get(f"{base}/", timeout=10)
    script = re.search(r'src="(/assets/[^"]+\.js)"', home.text) or re.search(
        r'href="(/assets/[^"]+\.js)"', home.text
    )
    assert script is not None, home.text[:2000]
    paths = ["/", "/settings", "/login", script.group(1), "/api/health", "/api/docs"]
    for path in paths:
        r = httpx.get(f"{base}{path}", timeout=10, follow_redirects=True)
        assert r.status_code == 200, (path, r.status_code)
        for answer in (*r.history, r):  # redirects (e.g. to a trailing slash) carry them too
            assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert r.headers["x-frame-options"] == "DENY", path
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
        assert r.headers["strict-transport-security"] == "max-age=31536000", path
    docs = httpx.get(f"{base}/api/docs", timeout=10)
    for asset in re.findall(r'(?:src|href)="([^"]+)"', docs.text):
        assert asset.startswith("/api/docs/assets/"), asset
        assert httpx.get(f"{base}{asset}", timeout=10).status_code == 200, asset


def test_the_built_session_cookie_matches_the_session(running_app: RunningApp) -> None:
    """What the browser is told: 3 hours (VOXIE_SESSION_HOURS) and Secure (https public URL)."""
    found = []
    for bundle in (ROOT_DIR / ".web" / "build" / "client" / "assets").glob("*.js"):
        text = bundle.read_text(errors="replace")
        found += re.findall(r"\{name:.voxie_session.[^}]*\}", text)
    assert found, "the session cookie's options are not in the build"
    for options in found:
        max_age = re.search(r"maxAge:([0-9.e]+)", options)
        assert max_age is not None and float(max_age.group(1)) == 3 * 3600, options
        assert re.search(r"secure:(!0|true)", options), options
