"""Framing and content-security headers, the session cookie's lifetime, local API docs.

The same checks against the production build (`scripts/run.sh`) are in
tests/test_app_prod.py; Swagger UI rendering offline is a browser test
(tests/browser/test_headers.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from voxie_app.api.app import create_api
from voxie_app.api.security_headers import script_hash
from voxie_app.settings import ROOT_DIR, Settings


def policy(response_headers: dict[str, str] | object) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    text = response_headers["content-security-policy"]  # type: ignore[index]
    return {
        name: sources
        for name, *sources in (part.split() for part in text.split(";") if part.strip())
    }


def assert_not_frameable(headers: object) -> None:
    assert headers["x-frame-options"] == "DENY"  # type: ignore[index]
    assert policy(headers)["frame-ancestors"] == ["'none'"]


@pytest.fixture
def client(db: str) -> TestClient:
    return TestClient(create_api())


@pytest.mark.parametrize("path", ["/api/health", "/api/agents", "/api/nowhere", "/api/docs"])
def test_every_api_response_forbids_framing(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code in (200, 401, 404), r.text
    assert_not_frameable(r.headers)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers  # not on plain http


def test_the_app_policy_allows_only_this_origin(client: TestClient) -> None:
    rules = policy(client.get("/api/health").headers)
    assert rules["default-src"] == ["'self'"]
    assert rules["connect-src"] == ["'self'"]
    assert rules["object-src"] == ["'none'"]
    assert rules["base-uri"] == ["'self'"] and rules["form-action"] == ["'self'"]
    assert all(
        not s.startswith(("http", "ws", "*")) for sources in rules.values() for s in sources
    ), rules


def test_livekit_and_https_settings_shape_the_headers(configure: Callable[..., Settings]) -> None:
    configure(
        LIVEKIT_URL="ws://livekit:7880",
        LIVEKIT_PUBLIC_URL="wss://rtc.example.com",
        VOXIE_PUBLIC_URL="https://voxie.example.com",
    )
    r = TestClient(create_api()).get("/api/health")
    assert policy(r.headers)["connect-src"] == [
        "'self'",
        "wss://rtc.example.com",
        "https://rtc.example.com",
    ]
    assert r.headers["strict-transport-security"] == "max-age=31536000"


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("src", "href"):
            if found.get(key):
                self.urls.append(found[key] or "")
        self._in_script = tag == "script" and "src" not in found

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_api_docs_use_only_same_origin_assets_that_are_served(client: TestClient) -> None:
    r = client.get("/api/docs")
    assert r.status_code == 200
    page = _Assets()
    page.feed(r.text)
    assert page.urls, r.text
    for url in page.urls:
        assert url.startswith("/api/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
    types = {u.rsplit(".", 1)[-1]: client.get(u).headers["content-type"] for u in page.urls}
    assert types["js"].startswith("text/javascript") and types["css"].startswith("text/css")
    assert "'/api/openapi.json'" in r.text
    # Its own, stricter policy: the one inline script by hash, no inline or foreign code.
    rules = policy(r.headers)
    assert rules["script-src"] == ["'self'", *(script_hash(s) for s in page.inline)]
    assert len(page.inline) == 1
    assert_not_frameable(r.headers)
    assert not re.search(r"https?://", r.text)


def _cookie_options(env: dict[str, str]) -> dict[str, object]:
    """The session cookie's options as compiled for the browser, in a fresh process."""
    code = (
        "import json, reflex as rx\n"
        "from reflex.compiler.utils import compile_client_storage\n"
        "from voxie_app.state.session import SessionState\n"
        "cookies = compile_client_storage(rx.State)['cookies']\n"
        "print(json.dumps([v for k, v in cookies.items() if v['name'] == 'voxie_session']))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOXIE_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [options] = json.loads(out.stdout.strip().splitlines()[-1])
    return options


def test_the_session_cookie_lasts_as_long_as_the_session() -> None:
    default = _cookie_options({})
    assert default["maxAge"] == 12 * 3600
    assert not default.get("secure")
    assert default["sameSite"] == "strict"
    short = _cookie_options({"VOXIE_SESSION_HOURS": "0.5"})
    assert short["maxAge"] == 1800


@pytest.mark.parametrize(
    "env",
    [
        {"VOXIE_PUBLIC_URL": "https://voxie.example.com"},
        {"VOXIE_ALLOWED_ORIGINS": "https://voxie.example.com,http://localhost:3000"},
    ],
)
def test_the_session_cookie_is_secure_behind_https(env: dict[str, str]) -> None:
    assert _cookie_options(env)["secure"] is True


def test_public_url_falls_back_to_the_first_allowed_origin(
    configure: Callable[..., Settings],
) -> None:
    s = configure(VOXIE_ALLOWED_ORIGINS=" https://a.example.com/ , http://b")
    assert s.public_base_url == "https://a.example.com" and s.public_url_is_https
    s = configure(VOXIE_PUBLIC_URL="http://voxie.lan:3000/")
    assert s.public_base_url == "http://voxie.lan:3000" and not s.public_url_is_https
    s = configure(VOXIE_PUBLIC_URL=None, VOXIE_ALLOWED_ORIGINS=None)
    assert s.public_base_url == "" and not s.public_url_is_https
