""" "Check providers" on the settings page: one small live request per configured provider.

Each configured provider of each kind (voxie_app/provider_catalog.py) gets one
authenticated read that costs nothing: its model list (OpenAI-compatible servers,
Anthropic, Gemini), its projects (Deepgram) or one voice (Cartesia). All run at
once, and the whole check ends within `CHECK_TIMEOUT_S`: a provider that has not
answered by then is reported as not answering. A failure shows the provider's own
error message. Keys go in request headers only: results and logs never hold one
(a key a provider echoes back in its message is masked).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from voxie_app import provider_catalog as catalog
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 10.0
MAX_MESSAGE = 300
_MASK = "•••"
# The vendors' own endpoints, when no base URL setting points elsewhere.
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"
GOOGLE_URL = "https://generativelanguage.googleapis.com"
DEEPGRAM_URL = "https://api.deepgram.com"
CARTESIA_URL = "https://api.cartesia.ai"
CARTESIA_VERSION = "2025-04-16"  # livekit-plugins-cartesia 1.8.9's API_VERSION


@dataclass(frozen=True)
class Probe:
    """The one request that checks a provider (`secret` only to mask it in messages)."""

    kind: catalog.Kind
    provider: str
    url: str
    server: str  # host[:port] of a custom base URL, else "" (the vendor's own)
    headers: dict[str, str] = field(repr=False)
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ProviderCheck:
    """What the page shows for one provider: safe to send to the browser."""

    kind: str
    provider: str
    label: str
    server: str  # host[:port] of a custom base URL, else ""
    ok: bool
    message: str


def _probe(settings: Settings, kind: catalog.Kind, name: str) -> Probe:
    url, key = catalog.server(settings, kind, name)
    if name == "anthropic":
        base, path = url or ANTHROPIC_URL, "/v1/models?limit=1"
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    elif name == "google":
        base, path = url or GOOGLE_URL, "/v1beta/models?pageSize=1"
        headers = {"x-goog-api-key": key}
    elif name == "deepgram":
        base, path = DEEPGRAM_URL, "/v1/projects"
        headers = {"Authorization": f"Token {key}"}
    elif name == "cartesia":
        base, path = CARTESIA_URL, "/voices?limit=1"
        headers = {"X-API-Key": key, "Cartesia-Version": CARTESIA_VERSION}
    else:
        base, path = url or OPENAI_URL, "/models"
        headers = {"Authorization": f"Bearer {key}"}
    return Probe(kind, name, base.rstrip("/") + path, catalog.host(url), headers, key)


def probes(settings: Settings) -> list[Probe]:
    """One probe per configured provider, kind by kind in the catalog's order."""
    return [
        _probe(settings, p.kind, p.name)
        for p in catalog.CATALOG
        if catalog.configured(settings, p.kind, p.name)
    ]


def _mask(text: str, secret: str) -> str:
    return text.replace(secret, _MASK) if secret else text


def provider_message(body: str) -> str:
    """The provider's own error text from its response body (OpenAI, Anthropic and Gemini
    put it in `error.message`, Deepgram in `err_msg`, Cartesia in `error` or `message`)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        for key in ("err_msg", "message", "detail", "error"):
            if isinstance(data.get(key), str):
                return data[key]
    return body.strip()


def _answered(data: Any, provider: str) -> str:
    """'ok: 3 models listed' where the probe lists models; 'ok: answered' otherwise."""
    if provider in ("openai", "anthropic", "google") and isinstance(data, dict):
        listed = data.get("data", data.get("models"))
        if isinstance(listed, list):
            return f"ok: {len(listed)} model{'s' * (len(listed) != 1)} listed"
    return "ok: answered"


async def _run(client: httpx.AsyncClient, probe: Probe) -> tuple[bool, str]:
    try:
        response = await client.get(probe.url, headers=probe.headers)
    except httpx.TimeoutException:
        return False, "failed: no answer in time"
    except httpx.HTTPError as exc:
        return False, f"failed: could not connect ({type(exc).__name__})"
    if response.is_success:
        try:
            return True, _answered(response.json(), probe.provider)
        except ValueError:
            return True, "ok: answered"
    detail = provider_message(response.text) or response.reason_phrase
    return False, f"failed: HTTP {response.status_code}: {detail}"


async def run_probes(
    checks: list[Probe], *, limit_s: float = CHECK_TIMEOUT_S
) -> list[ProviderCheck]:
    """Run every probe at once; none runs past `limit_s` (the whole check's cap)."""
    async with httpx.AsyncClient(timeout=limit_s, follow_redirects=False) as client:

        async def one(probe: Probe) -> tuple[bool, str]:
            try:
                return await asyncio.wait_for(_run(client, probe), timeout=limit_s)
            except TimeoutError:
                return False, f"failed: no answer within {limit_s:g} s"

        outcomes = await asyncio.gather(*(one(p) for p in checks))
    results = []
    for probe, (ok, message) in zip(checks, outcomes, strict=True):
        label = catalog.info(probe.kind, probe.provider).label
        message = _mask(message, probe.secret)[:MAX_MESSAGE]
        log.info("provider check %s/%s: %s", probe.kind, probe.provider, "ok" if ok else "failed")
        results.append(ProviderCheck(probe.kind, probe.provider, label, probe.server, ok, message))
    return results


async def check_providers(
    settings: Settings, *, limit_s: float = CHECK_TIMEOUT_S
) -> list[ProviderCheck]:
    """Check every configured speech and language provider (empty: none configured)."""
    return await run_probes(probes(settings), limit_s=limit_s)
