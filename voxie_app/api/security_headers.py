"""Security headers on every HTTP response of the web process: pages, `/api`, uploads.

The FastAPI app wraps the whole Reflex app (`rx.App(api_transformer=...)`
mounts Reflex inside it), so this one middleware covers the production
single-port build's static pages as well as the API. WebSocket traffic (the
Reflex event socket) passes through untouched.

The policy, and why each source is there:
- `frame-ancestors 'none'` and `X-Frame-Options: DENY`: no page can be framed
  (clickjacking of `/settings`).
- `script-src 'self' 'unsafe-inline' 'unsafe-eval'`: React Router's static export
  puts a different set of inline bootstrap scripts in every page, and Reflex runs
  `rx.call_script` (the call page's microphone check) and event callbacks with
  `eval`. No other origin may serve scripts; escaping (not CSP) is what keeps
  user and model text from becoming markup.
- `style-src 'self' 'unsafe-inline'`: emotion and Radix inject style elements and
  style attributes at run time.
- `connect-src 'self'` plus the LiveKit server's origin (ws/wss and http/https):
  the app's own websocket and API, and browser calls.
- `object-src 'none'`, `base-uri 'self'`, `form-action 'self'`: no plugins, no
  `<base>` hijack, forms post only here.
A route may send its own `Content-Security-Policy` (`/api/docs` does, with the
hash of its one inline script); the middleware only fills in what is missing.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxie_app.settings import Settings

FRAME_ANCESTORS = "frame-ancestors 'none'"
HSTS = "max-age=31536000"


def _livekit_origins(settings: Settings) -> list[str]:
    url = settings.livekit_public_url or settings.livekit_url
    if not url:
        return []
    parts = urlsplit(url.strip())
    if not parts.hostname or parts.scheme not in ("ws", "wss", "http", "https"):
        return []
    host = parts.netloc.rsplit("@", 1)[-1]
    secure = parts.scheme in ("wss", "https")
    return [f"{'wss' if secure else 'ws'}://{host}", f"{'https' if secure else 'http'}://{host}"]


def app_policy(settings: Settings) -> str:
    """The Content-Security-Policy of the app's pages and API responses."""
    connect = " ".join(["'self'", *_livekit_origins(settings)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            f"connect-src {connect}",
            "media-src 'self' data: blob:",  # the form's voice sample is a data: URL
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            FRAME_ANCESTORS,
        ]
    )


def script_hash(script: str) -> str:
    """The CSP source (`'sha256-…'`) that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def strict_policy(*script_hashes: str) -> str:
    """A policy for a page of our own making: same-origin assets, listed inline scripts only."""
    scripts = " ".join(["'self'", *script_hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            FRAME_ANCESTORS,
        ]
    )


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": app_policy(settings),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        if settings.public_url_is_https:
            self.headers["Strict-Transport-Security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
