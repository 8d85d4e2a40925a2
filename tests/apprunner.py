"""Start the real app the way `make run` does (`scripts/run.sh`), for tests.

    with run_app(tmp_dir, database_url=url, env={...}) as app:
        httpx.get(app.base + "/api/health")

One app at a time: the production build writes `.web/`, which every app of
this checkout shares, so a module-scoped fixture is the most a test module
should start; a file lock serialises apps across processes too.

The apps reuse the last production frontend build when the app compiles to
what it was built from (VOXIE_REUSE_FRONTEND_BUILD, scripts/reflex_reuse_build.py).
The build bakes its port into the bundle, so every app of this checkout listens
on the same port (saved next to the lock) while that port is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from voxie_app.settings import ROOT_DIR

START_TIMEOUT_S = 600  # the first build installs the frontend packages from npm
PROVIDER_PREFIXES = ("LIVEKIT_", "OPENAI_", "DEEPGRAM_", "CARTESIA_", "RAGIE_", "VOXIE_")
# Outside the repository (not to be committed), one per checkout.
BUILD_LOCK = Path(tempfile.gettempdir()) / (
    "voxie-app-" + hashlib.sha1(str(ROOT_DIR).encode()).hexdigest()[:12] + ".lock"
)
PORT_FILE = BUILD_LOCK.with_suffix(".port")


class AppFailed(RuntimeError):
    """The app exited or did not become healthy; the message ends with its log."""


@dataclass
class RunningApp:
    base: str
    port: int
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _can_listen(port: int) -> bool:
    """Whether the app could listen on `port` (on every address, as it does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def app_port() -> int:
    """The port of this checkout's test apps: the last one while free, else a new one.

    Call it holding BUILD_LOCK: a production build is reusable only on its own port.
    """
    with contextlib.suppress(OSError, ValueError):
        port = int(PORT_FILE.read_text())
        if _can_listen(port):
            return port
    port = free_port()
    PORT_FILE.write_text(str(port))
    return port


def app_env(database_url: str, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment: provider settings removed unless given in `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_PREFIXES)}
    env.update(
        DATABASE_URL=database_url,
        PORT=str(port),
        PATH=f"{ROOT_DIR / '.venv' / 'bin'}:{env.get('PATH', '')}",
        REFLEX_USE_NPM="1",
        VOXIE_REUSE_FRONTEND_BUILD="1",
    )
    env.update(extra or {})
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def run_app(
    workdir: Path,
    *,
    database_url: str,
    env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> Iterator[RunningApp]:
    """Run `scripts/run.sh` until healthy; stop its whole process group afterwards."""
    lock = BUILD_LOCK.open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        port = app_port()
        log_path = workdir / f"app-{port}.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                ["bash", "scripts/run.sh"],
                cwd=ROOT_DIR,
                env=app_env(database_url, port, env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        app = RunningApp(f"http://127.0.0.1:{port}", port, log_path, proc)
        try:
            _wait_healthy(app, timeout)
            yield app
        finally:
            _stop(proc)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _wait_healthy(app: RunningApp, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise AppFailed(f"app exited early:\n{app.log()[-4000:]}")
        try:
            if httpx.get(f"{app.base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AppFailed(f"app did not start within {timeout:.0f}s:\n{app.log()[-4000:]}")


def api_headers(database_url: str, role: str = "admin") -> dict[str, str]:
    """Create an API key in the app's database; returns the request headers using it."""
    from voxie_app.db import session_scope
    from voxie_app.services import auth

    with session_scope(database_url) as session:
        raw, _ = auth.create_api_key(session=session, name=f"test {role}", role=role)
    return {"Authorization": f"Bearer {raw}"}
