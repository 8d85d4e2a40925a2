"""The LLM model names the agent form offers: the pricing table, plus the provider's list.

The provider's list comes from `GET {OPENAI_BASE_URL}/models` through the
`openai` client, with a short timeout and no retries, and is cached per base
URL (a failure is cached for a shorter time, so a down provider does not slow
every form). When it cannot be read, the pricing table alone is offered; a
model name typed by hand stays possible in the form.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import openai

from voxie_app import clock
from voxie_app import provider_catalog as catalog
from voxie_app.realtime_catalog import REALTIME_MODELS
from voxie_app.services.pricing import prices
from voxie_app.settings import Settings, providers

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 2.0
CACHE_FOR = timedelta(minutes=10)
FAILED_CACHE_FOR = timedelta(minutes=1)
# Models a provider lists that cannot drive a conversation.
_NOT_CHAT = ("embedding", "tts", "whisper", "transcribe", "dall-e", "moderation", "image", "audio")


@dataclass(frozen=True)
class _Listed:
    names: tuple[str, ...]
    until: datetime


_cache: dict[str, _Listed] = {}
_lock = threading.Lock()


def _is_chat(name: str) -> bool:
    lowered = name.lower()
    return not any(word in lowered for word in _NOT_CHAT)


def provider_models(settings: Settings, *, now: datetime | None = None) -> tuple[str, ...]:
    """The chat models the configured OpenAI-compatible server lists (empty if unreadable)."""
    if not providers(settings).openai:
        return ()
    key = settings.openai_base_url or "https://api.openai.com/v1"
    at = now or clock.now()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit.until > at:
            return hit.names
    names: tuple[str, ...] = ()
    ok = False
    try:
        client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),  # type: ignore[union-attr]
            base_url=settings.openai_base_url,
            timeout=LIST_TIMEOUT_S,
            max_retries=0,
        )
        with client:
            names = tuple(sorted({m.id for m in client.models.list() if _is_chat(m.id)}))
        ok = True
    except (openai.OpenAIError, ValueError) as exc:
        log.info("the provider's model list could not be read: %s", type(exc).__name__)
    with _lock:
        _cache[key] = _Listed(names, at + (CACHE_FOR if ok else FAILED_CACHE_FOR))
    return names


def model_choices(
    settings: Settings, current: str = "", *, provider: str = "", now: datetime | None = None
) -> list[str]:
    """Model names to pick from: the default, the priced LLMs, then the provider's others.

    For Anthropic or Gemini (`provider`), that vendor's default and priced models; for
    the OpenAI-compatible server (`auto`, `openai`, empty), the priced models of no
    other vendor and the server's own list. An agent's `current` model is always among
    them (editing never changes it).
    """
    vendor = provider if provider in ("anthropic", "google") else "openai"
    label = catalog.info("llm", vendor).label
    priced = sorted(
        name
        for name, price in prices(settings).items()
        if price.kind == "llm"
        and catalog.provider_label("llm", name) == label
        # a Realtime model's per-token-type entries (`gpt-realtime/audio`) are not text LLMs
        and name.split("/", 1)[0] not in REALTIME_MODELS
    )
    if vendor == "openai":
        names = [settings.openai_model, *priced, *provider_models(settings, now=now)]
    else:
        names = [catalog.default_model("llm", vendor), *priced]
    if current:
        names.insert(0, current)
    return list(dict.fromkeys(n for n in names if n))


def clear_cache() -> None:
    with _lock:
        _cache.clear()
