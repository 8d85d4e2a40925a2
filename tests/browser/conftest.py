"""Browser tests: Chromium (Playwright) against the production build of the app.

`seeded_app(...)` migrates a fresh database, fills it with `tests.seed` demo
data and starts the app with `scripts/run.sh` (one app per test module: they
share `.web/`). `Browse` wraps a page: it collects console errors and page
errors, and saves screenshots under `test-artifacts/`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from alembic import command
from tests.apprunner import RunningApp, run_app
from tests.conftest import alembic_config, create_pg_database, drop_pg_database
from tests.seed import Seeded, seed_demo
from voxie_app import db as db_module
from voxie_app.settings import ROOT_DIR

ARTIFACTS = ROOT_DIR / "test-artifacts"
CHROMIUM = os.environ.get("VOXIE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class SeededApp:
    app: RunningApp
    url: str
    seeded: Seeded
    tokens: dict[str, str] = field(default_factory=dict)  # role -> session token

    @property
    def base(self) -> str:
        return self.app.base


@contextlib.contextmanager
def seeded_app(workdir: Path, backend: str = "sqlite", **env: str) -> Iterator[SeededApp]:
    """A migrated and seeded database (SQLite file or a new PostgreSQL database) + the app."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'voxie.db'}"
    else:
        url = create_pg_database("voxie_browser")
    try:
        command.upgrade(alembic_config(url), "head")
        seeded = seed_demo(url=url)
        with run_app(workdir, database_url=url, env=env) as app:
            site = SeededApp(app, url, seeded, sign_in_users(url))
            SESSIONS[app.base] = site.tokens
            yield site
    finally:
        db_module.get_engine(url).dispose()
        if backend != "sqlite":
            drop_pg_database(url)


# Session tokens of the seeded users, by app base URL: pages open signed in.
SESSIONS: dict[str, dict[str, str]] = {}
SESSION_COOKIE = "voxie_session"
PASSWORD = "correct horse battery"


def sign_in_users(url: str) -> dict[str, str]:
    """An admin and a viewer in the app's database, each with a session token."""
    from voxie_app.db import session_scope
    from voxie_app.services import auth

    tokens = {}
    for role in ("admin", "viewer"):
        with session_scope(url) as session:
            auth.create_user(
                session=session, email=f"{role}@voxie.test", password=PASSWORD, role=role
            )
            tokens[role], _ = auth.login(
                session=session, email=f"{role}@voxie.test", password=PASSWORD, hours=2
            )
    return tokens


# Package scope: sync Playwright runs an event loop in this thread; closing it when
# the browser tests end lets later tests use asyncio.run again.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Browse:
    """A page plus what it logged; `goto` waits until the app has loaded the page."""

    page: Page
    base: str
    name: str
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str, *, ready: str = "[data-testid=page-title]") -> Page:
        self.page.goto(self.base + path)
        self.page.wait_for_selector(ready, timeout=20_000)
        # The page's on_load has run when its skeletons are gone.
        self.page.wait_for_function("() => !document.querySelector('.rt-Skeleton')", timeout=20_000)
        return self.page

    def shot(self, label: str = "", *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.name}{'-' + label if label else ''}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_clean(self) -> None:
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)


def _track(browse: Browse, page: Page) -> None:
    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            browse.errors.append(f"{msg.text} @ {msg.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: browse.errors.append(f"pageerror: {exc}"))


def open_page(
    browser: Browser,
    base: str,
    name: str,
    *,
    viewport: dict[str, int] = LAPTOP,
    color_scheme: str = "light",
    role: str | None = "admin",
) -> tuple[Browse, contextlib.AbstractContextManager]:
    """A new browser context on `base`, signed in as `role` (None: signed out)."""
    ctx = browser.new_context(
        viewport=viewport,
        color_scheme=color_scheme,
        accept_downloads=True,  # type: ignore[arg-type]
    )
    token = SESSIONS.get(base, {}).get(role or "")
    if token:
        ctx.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
    page = ctx.new_page()
    browse = Browse(page, base, name)
    _track(browse, page)
    return browse, contextlib.closing(ctx)


def _node_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]


@pytest.fixture
def make_browse(browser: Browser, request: pytest.FixtureRequest):
    """`make_browse(base, viewport=..., color_scheme=...)`: pages closed after the test."""
    contexts: list[contextlib.AbstractContextManager] = []

    def _make(base: str, label: str = "", **kw) -> Browse:
        name = _node_name(request) + (f"-{label}" if label else "")
        browse, ctx = open_page(browser, base, name, **kw)
        contexts.append(ctx)
        return browse

    yield _make
    for ctx in contexts:
        ctx.__exit__(None, None, None)


def livekit_env(server: Any) -> dict[str, str]:
    """The app's LiveKit settings pointing at a `LiveKitDouble` running in this process."""
    return {
        "LIVEKIT_URL": server.url,
        "LIVEKIT_API_KEY": server.api_key,
        "LIVEKIT_API_SECRET": server.api_secret,
    }


def add_caller_number(url: str, number: str, *, label: str, livekit_trunk_id: str) -> None:
    """One of our numbers with an outbound trunk LiveKit has, written to the app's
    database as the Phone page would store them: it can place calls."""
    from voxie_app.db import session_scope
    from voxie_app.models import PhoneNumber, SipOutboundTrunk

    with session_scope(url) as s:
        trunk = SipOutboundTrunk(
            name="carrier", address="sip.carrier.example", livekit_trunk_id=livekit_trunk_id
        )
        s.add(trunk)
        s.flush()
        s.add(PhoneNumber(number=number, label=label, outbound_trunk_id=trunk.id))
