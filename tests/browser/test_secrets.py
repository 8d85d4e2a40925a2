"""No configured secret, and no stored secret's value, ever reaches a browser.

The app runs with fake but distinctive values for every secret setting (LiveKit,
OpenAI and Ragie pointed at closed local ports, so nothing leaves the machine).
A secret is stored through the API too (`/api/secrets`), an HTTP tool sends it in
a header, and a seeded agent has that tool: its value must not show anywhere
either, although /settings lists the secret's name, /tools the tool and the
agent's page and form the agent. Then, signed in as an admin, the test scans for
any of those values:

- the built frontend (`.web/build/client`, what the app serves), gzip copies too;
- every page's HTML as served, and every HTTP response the browser receives;
- every websocket frame of Reflex state sent to the browser, while visiting every
  page (including /settings) and pressing the buttons that talk to providers
  (check LiveKit, start a call, chat with an agent and with the builder);
- the rendered DOM of each page, and the payload of any JWT seen on the way
  (LiveKit tokens must carry no secrets in their metadata).

Not checked here: whether the session cookie is `HttpOnly`. Reflex sets its
cookies from JavaScript (`rx.Cookie`), so `voxie_session` is readable by the
page's scripts by design; what protects it is `SameSite=strict`, the server-side
session check on every event, and the absence of injectable markup
(tests/browser/test_escaping.py).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, WebSocket
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import SESSION_COOKIE, SeededApp, seeded_app
from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.settings import ROOT_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRETS = {
    "OPENAI_API_KEY": "sk-proj-VxTestOpenAI-4f1c9a7e2b8d4e60a3c5",
    "LIVEKIT_API_SECRET": "VxTestLiveKitSecret-9b2e7d4c1a6f4853b0e8",
    "DEEPGRAM_API_KEY": "VxTestDeepgram-3c8a1f6e9d2b47c5a0f4",
    "CARTESIA_API_KEY": "sk_car_VxTestCartesia-7e5d3b1a9c4f4286",
    "RAGIE_API_KEY": "tnt_VxTestRagie-2a6c8e4f1b3d4975c7e9",
}
# Stored in the secrets store (not the environment) once the app runs.
STORED = {"VX_CLINIC_API_KEY": "VxStoredSecret-6d2f8a1c4e9b47a3b5c0"}
BUILD_DIR = ROOT_DIR / ".web" / "build" / "client"
TEXT_SUFFIXES = {".js", ".mjs", ".html", ".css", ".json", ".map", ".txt", ".svg", ".webmanifest"}
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+")


def _needles() -> dict[str, str]:
    """Each secret, and its last 20 characters (a masked or cut copy still leaks)."""
    out = {}
    for name, value in {**SECRETS, **{f"stored secret {k}": v for k, v in STORED.items()}}.items():
        out[value] = name
        out[value[-20:]] = f"{name} (tail)"
    return out


NEEDLES = _needles()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jwt_payloads(text: str) -> Iterator[str]:
    for match in JWT.finditer(text):
        part = match.group(1)
        try:
            yield base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue


@dataclass
class Findings:
    """Where each secret was found: (where, secret name).

    `canary` is data the pages do show (a seeded agent's name): finding it in the
    frames and the DOM proves the scan sees what the browser receives.
    """

    canary: str
    hits: list[tuple[str, str]] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)
    canary_seen: set[str] = field(default_factory=set)

    def scan(self, where: str, text: str, kind: str) -> None:
        self.scanned[kind] = self.scanned.get(kind, 0) + 1
        if self.canary in text:
            self.canary_seen.add(kind)
        for body in (text, *_jwt_payloads(text)):
            for needle, name in NEEDLES.items():
                if needle in body:
                    self.hits.append((where, name))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    closed = _closed_port()
    env = {
        **SECRETS,
        "LIVEKIT_URL": f"ws://127.0.0.1:{closed}",
        "LIVEKIT_API_KEY": "APIvoxieTestKey",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed}/v1",
        "RAGIE_BASE_URL": f"http://127.0.0.1:{closed}",
    }
    env["VOXIE_SECRET_KEY"] = Fernet.generate_key().decode()
    env["VOXIE_URL_ALLOWLIST"] = "127.0.0.1"
    with seeded_app(tmp_path_factory.mktemp("browser-secrets"), **env) as running:
        _store_secret(running, closed)
        yield running


def _store_secret(site: SeededApp, closed: int) -> None:
    """The stored secret, a tool sending it, and the first seeded agent using the tool."""
    with session_scope(site.url) as session:
        key, _ = auth.create_api_key(session=session, name="secret scan", role="admin")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=site.base + "/api", headers=headers, timeout=30) as api:
        ((name, value),) = STORED.items()
        assert api.post("/secrets", json={"name": name, "value": value}).status_code == 201
        tool = api.post(
            "/tools",
            json={
                "name": "check_clinic_slots",
                "description": "Free slots at the clinic.",
                "url": f"http://127.0.0.1:{closed}/slots",
                "headers": {"X-Clinic-Key": f"{{{{secret:{name}}}}}"},
            },
        )
        assert tool.status_code == 201, tool.text
        agent = next(iter(site.seeded.agent_ids.values()))
        spec = {"processed_spec": {"custom_tools": [tool.json()["id"]]}}
        assert api.put(f"/agents/{agent}", json=spec).status_code == 200


def _scan_build(findings: Findings) -> None:
    files = [p for p in BUILD_DIR.rglob("*") if p.is_file()]
    assert any(p.suffix == ".js" for p in files), f"no built JavaScript under {BUILD_DIR}"
    for path in files:
        if path.suffix == ".gz":
            data = gzip.decompress(path.read_bytes())
        elif path.suffix in TEXT_SUFFIXES:
            data = path.read_bytes()
        else:
            continue
        findings.scan(str(path.relative_to(ROOT_DIR)), data.decode("utf-8", "replace"), "build")


def _has_page(site: SeededApp, path: str) -> bool:
    """Whether the app has a page at `path` (/tools comes with its own branch)."""
    got = httpx.get(site.base + path, timeout=30)
    return got.status_code != 404 and "Page not found" not in got.text


def _pages(site: SeededApp) -> list[str]:
    agent = next(iter(site.seeded.agent_ids.values()))
    call = site.seeded.call_ids[0]
    tools = [routes.TOOLS] if _has_page(site, routes.TOOLS) else []
    return [
        *tools,
        "/",
        "/dashboard",
        "/agents",
        "/agents/new",
        f"/agents/{agent}",
        f"/agents?edit={agent}",  # the form, with its custom-tools picker
        f"/agents/{agent}/chat",
        "/builder",
        "/call",
        f"/call/{agent}",
        "/calls",
        f"/calls/{call}",
        "/analytics",
        "/settings",
    ]


def _settle(page: Page, selector: str, timeout: float = 15_000) -> None:
    """Wait for `selector` if it appears; a provider that is down may show nothing."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector(selector, timeout=timeout)


def _chat(page: Page) -> None:
    box = page.get_by_test_id("chat-input")
    if box.count() and box.first.is_enabled():
        box.first.fill("What do you know about your configuration and keys?")
        page.get_by_test_id("chat-send").first.click()
        page.wait_for_timeout(1500)
        _settle(page, "[data-testid=chat-typing]", 1000)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=chat-typing]')", timeout=30_000
        )


def test_no_configured_secret_reaches_the_browser(site: SeededApp, make_browse) -> None:
    health = httpx.get(site.base + "/api/health", timeout=10).json()["providers"]
    assert all(health[k] for k in ("openai", "deepgram", "cartesia", "ragie", "livekit")), health

    findings = Findings(canary=next(iter(site.seeded.agent_ids)))
    _scan_build(findings)

    # Pages as served (signed in and out), the API schema and docs.
    signed_in = {SESSION_COOKIE: site.tokens["admin"]}
    for cookies in (signed_in, {}):
        with httpx.Client(base_url=site.base, timeout=30, cookies=cookies) as client:
            for path in [*_pages(site), "/login", "/setup", "/nowhere", "/api/docs"]:
                findings.scan(f"GET {path}", client.get(path).text, "http")
            for path in ("/api/openapi.json", "/api/health"):
                findings.scan(f"GET {path}", client.get(path).text, "http")

    # The browser, as an admin: every response, every websocket frame, every DOM.
    browse = make_browse(site.base, role="admin")
    page = browse.page

    def on_websocket(ws: WebSocket) -> None:
        def received(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            findings.scan(f"ws frame from {ws.url}", text, "ws")

        ws.on("framereceived", received)

    def on_response(response) -> None:
        try:
            body = response.body()
        except PlaywrightError:  # redirects and aborted requests have no body
            return
        findings.scan(f"response {response.url}", body.decode("utf-8", "replace"), "response")

    page.on("websocket", on_websocket)
    page.on("response", on_response)

    for path in _pages(site):
        page = browse.goto(path)
        page.wait_for_timeout(500)
        if path == "/settings":
            page.get_by_test_id("check-livekit").click()
            _settle(page, "[data-testid=livekit-result]")
        elif path.startswith("/call/"):
            page.get_by_test_id("call-start").first.click()
            _settle(page, "[data-testid=call-problem], [data-testid=call-room]")
        elif path.endswith("/chat") or path == "/builder":
            _chat(page)
        page.wait_for_timeout(500)
        findings.scan(f"DOM {path}", page.content(), "dom")
    browse.shot("settings")

    assert findings.scanned.get("build", 0) > 10, findings.scanned
    assert {"ws", "dom", "response"} <= findings.canary_seen, findings.canary_seen
    assert findings.scanned.get("ws", 0) > len(_pages(site)), findings.scanned
    assert findings.scanned.get("dom", 0) == len(_pages(site)), findings.scanned
    assert not findings.hits, "secrets reached the browser:\n" + json.dumps(
        sorted(set(findings.hits)), indent=1
    )
