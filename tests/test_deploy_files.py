"""The container files, checked as text: no container runtime runs on this machine.

`compose.yaml` is parsed and each service's image or build, command, ports,
environment, health check and volumes are checked against what the app reads
(`voxie_app.settings`) and the scripts the tests run (`scripts/run.sh`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from voxie_app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def _aliases() -> set[str]:
    return {
        f.validation_alias
        for f in Settings.model_fields.values()
        if isinstance(f.validation_alias, str)
    }


def test_the_stack_has_its_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"db", "livekit", "web", "worker"}
    for name, service in compose["services"].items():
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") == "unless-stopped", name
    assert set(compose["volumes"]) == {"pgdata", "data"}


def test_web_and_worker_share_one_image_and_the_settings(compose: dict[str, Any]) -> None:
    web, worker = compose["services"]["web"], compose["services"]["worker"]
    assert web["build"] == "." and web["image"] == worker["image"] == "voxie:latest"
    assert worker["command"] == ["python", "-m", "voice_worker", "start"]
    assert "data:/app/data" in web["volumes"] and "data:/app/data" in worker["volumes"]
    assert _env(web)["VOXIE_WORKER"] == "off"  # the worker has its own container
    for service in (web, worker):
        env = _env(service)
        # every setting given is one the app reads, under its real name
        assert set(env) - {"PORT", "VOXIE_WORKER"} <= _aliases()
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://voxie:voxie@db:5432/")
        assert env["LIVEKIT_URL"] == "ws://livekit:7880"
        assert service["env_file"] == [{"path": ".env", "required": False}]
    assert web["ports"] == ["3000:3000"]
    assert worker.get("ports") is None  # workers dial out to LiveKit; nothing comes in
    assert worker["depends_on"]["web"]["condition"] == "service_healthy"
    assert "/api/health" in " ".join(web["healthcheck"]["test"])
    assert "8081" in " ".join(worker["healthcheck"]["test"])  # livekit-agents' own


def test_the_worker_has_time_to_drain(compose: dict[str, Any]) -> None:
    grace = compose["services"]["worker"]["stop_grace_period"]
    amount, unit = re.fullmatch(r"(\d+)([smh])", grace).groups()  # type: ignore[union-attr]
    seconds = int(amount) * {"s": 1, "m": 60, "h": 3600}[unit]
    # the default drain, plus the 90 s livekit may take to shut down after it
    assert seconds >= Settings().worker_drain_seconds + 90


def test_livekit_runs_in_dev_mode_with_its_ports(compose: dict[str, Any]) -> None:
    livekit = compose["services"]["livekit"]
    assert livekit["image"].startswith("livekit/livekit-server")
    assert "--dev" in livekit["command"]
    assert {"7880:7880", "7881:7881", "7882:7882/udp"} <= set(livekit["ports"])


def test_the_image_runs_the_scripts_the_tests_run() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, flags=re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    assert re.search(r"^USER voxie$", text, flags=re.M)  # not root
    cmd = re.search(r"^CMD (\[.*\])$", text, flags=re.M)
    assert cmd is not None and yaml.safe_load(cmd.group(1)) == ["bash", "scripts/run.sh"]
    for script in re.findall(r"scripts/[\w.]+", text):
        assert (ROOT / script).is_file(), script
    assert "pip install -r requirements.txt" in text
    assert "VOXIE_REUSE_FRONTEND_BUILD=1" in text  # run.sh serves the image's build
    build = (ROOT / "scripts/build_frontend.sh").read_text()
    assert "scripts/reflex_reuse_build.py run --env prod" in build


def _run_sh(tmp_path: Path, **env: str) -> tuple[list[str], str]:
    """Run scripts/run.sh in a copy whose python and reflex only log their arguments
    (`manage worker-status` says LiveKit is configured): the calls logged, and what
    run.sh printed (the worker runs in the background, so its own log line may come
    after run.sh has ended and stopped it)."""
    (tmp_path / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts/run.sh", tmp_path / "scripts/run.sh")
    bin_dir = tmp_path / ".venv/bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "calls.log"
    for tool in ("python", "reflex"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    done = subprocess.run(
        ["bash", str(tmp_path / "scripts/run.sh")],
        env={"PATH": os.environ["PATH"], **env},
        check=True,
        capture_output=True,
        timeout=30,
        text=True,
    )
    return log.read_text().splitlines(), done.stdout


def test_run_sh_leaves_the_worker_to_its_container(tmp_path: Path) -> None:
    calls, printed = _run_sh(tmp_path / "off", VOXIE_WORKER="off")
    assert "python -m voxie_app.manage migrate" in calls
    assert "python -m voxie_app.manage worker-status" not in calls
    assert "python -m voice_worker start" not in calls
    assert "voice worker: not started here (VOXIE_WORKER=off)" in printed
    assert calls[-1] == "reflex run --env prod --single-port --frontend-port 3000"
    # make run (no VOXIE_WORKER): the worker starts beside the app when LiveKit is set
    calls, printed = _run_sh(tmp_path / "auto")
    assert "python -m voxie_app.manage worker-status" in calls
    assert "voice worker: started (pid" in printed
