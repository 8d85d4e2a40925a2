"""The real app, started the way `make run` starts it, serves pages and the API on one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from voxie_app.settings import ROOT_DIR

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 600  # first build installs the frontend packages from npm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    db_path = log_path.parent / "voxie.db"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIVEKIT_", "OPENAI_", "DEEPGRAM_", "CARTESIA_", "RAGIE_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{db_path}",
        PORT=str(port),
        PATH=f"{ROOT_DIR / '.venv' / 'bin'}:{env.get('PATH', '')}",
    )
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"app exited early:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail(f"app did not start:\n{log_path.read_text()[-4000:]}")
        yield base, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_health_and_home_page_on_one_port(running_app: tuple[str, Path]) -> None:
    base, log_path = running_app
    health = httpx.get(f"{base}/api/health", timeout=10).json()
    assert health["database"] == "ok"
    assert health["providers"]["database"] == "sqlite"

    page = httpx.get(f"{base}/", timeout=10)
    assert page.status_code == 200
    assert "<title>Voxie</title>" in page.text

    assert httpx.get(f"{base}/api/agents", timeout=10).json() == []
    assert httpx.get(f"{base}/api/openapi.json", timeout=10).json()["info"]["title"] == "Voxie API"

    log = log_path.read_text()
    assert "database: migrated (sqlite)" in log
    assert "voice worker: not started: LiveKit is not configured" in log


def test_api_create_through_running_app(running_app: tuple[str, Path]) -> None:
    base, _ = running_app
    r = httpx.post(
        f"{base}/api/agents/create",
        json={
            "user_requirements": {"business": "bakery"},
            "processed_spec": {"name": "Bakery Bot", "instructions": "You take cake orders."},
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    assert httpx.get(f"{base}/api/agents", timeout=10).json()[0]["name"] == "Bakery Bot"
    no_livekit = httpx.post(
        f"{base}/api/call/start", json={"agent_id": r.json()["agent_id"]}, timeout=10
    )
    assert no_livekit.status_code == 503
    assert "LIVEKIT_URL" in no_livekit.json()["missing_settings"]
