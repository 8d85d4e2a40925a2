"""The speech and language providers an agent can pick, per kind: the one list.

The spec (`AgentSpec.stt/llm/tts`), the form, save and call-start validation, the
worker's plugin construction (`voice_worker.providers`), the cost lines and the
settings page's "Check providers" all read it, so a provider is added here once.

`auto` (every spec's default) keeps the order Voxie always had: each configured
provider of the kind, in the order below. A named choice comes first and the other
configured providers of its kind follow it, as fallbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from voxie_app.settings import Settings, providers, speech_server

Kind = Literal["stt", "llm", "tts"]
AUTO = "auto"
SttProvider = Literal["auto", "deepgram", "openai"]
LlmProvider = Literal["auto", "openai", "anthropic", "google"]
TtsProvider = Literal["auto", "cartesia", "openai"]
KIND_LABELS: dict[str, str] = {"stt": "Speech-to-text", "llm": "LLM", "tts": "Text-to-speech"}


@dataclass(frozen=True)
class ProviderInfo:
    """One provider of one kind: its label, default model and the setting it needs."""

    kind: Kind
    name: str
    label: str
    default_model: str
    key_setting: str  # the setting whose absence makes it unconfigured
    model_prefixes: tuple[str, ...] = ()  # how its models are named (cost lines)
    model_names: tuple[str, ...] = ()  # what an agent's model must start with (any: empty)


# In each kind, the order `auto` tries them (today's order: the first is the choice).
CATALOG: tuple[ProviderInfo, ...] = (
    ProviderInfo("stt", "deepgram", "Deepgram", "nova-3", "DEEPGRAM_API_KEY", ("nova",)),
    ProviderInfo("stt", "openai", "OpenAI-compatible", "gpt-4o-mini-transcribe", "STT_API_KEY"),
    ProviderInfo("llm", "openai", "OpenAI-compatible", "gpt-4o-mini", "OPENAI_API_KEY"),
    ProviderInfo(
        "llm",
        "anthropic",
        "Anthropic",
        "claude-3-5-haiku-20241022",
        "ANTHROPIC_API_KEY",
        ("claude",),
        ("claude",),
    ),
    ProviderInfo(
        "llm",
        "google",
        "Google Gemini",
        "gemini-2.5-flash",
        "GOOGLE_API_KEY",
        ("gemini",),
        ("gemini", "gemma"),  # the Gemini API serves Gemma too
    ),
    ProviderInfo("tts", "cartesia", "Cartesia", "sonic-2", "CARTESIA_API_KEY", ("sonic",)),
    ProviderInfo("tts", "openai", "OpenAI-compatible", "gpt-4o-mini-tts", "TTS_API_KEY"),
)
_BY_KEY = {(p.kind, p.name): p for p in CATALOG}


def info(kind: Kind, name: str) -> ProviderInfo:
    return _BY_KEY[(kind, name)]


def of_kind(kind: Kind) -> list[ProviderInfo]:
    return [p for p in CATALOG if p.kind == kind]


def default_model(kind: Kind, name: str, settings: Settings | None = None) -> str:
    """The model a provider runs when the spec names none (OPENAI_MODEL for the LLM)."""
    if kind == "llm" and name in ("openai", AUTO) and settings is not None:
        return settings.openai_model
    return info(kind, "openai" if name == AUTO else name).default_model


def configured(settings: Settings, kind: Kind, name: str) -> bool:
    status = providers(settings)
    if name == "openai":
        return {"stt": status.stt_openai, "llm": status.openai, "tts": status.tts_openai}[kind]
    return bool(getattr(status, name))


def missing_setting(settings: Settings, kind: Kind, name: str) -> str:
    """The setting(s) to set so that `name` is configured, as the 422 names them."""
    if name == "openai" and kind in ("stt", "tts"):
        own = f"{kind.upper()}_API_KEY"
        own_url = settings.stt_base_url if kind == "stt" else settings.tts_base_url
        return own if own_url else f"{own} (or OPENAI_API_KEY)"
    return info(kind, name).key_setting


def order(settings: Settings, kind: Kind, chosen: str) -> list[str]:
    """The configured providers of `kind`, the chosen one first (`auto`: catalog order)."""
    names = [p.name for p in of_kind(kind)]
    if chosen != AUTO:
        names = [chosen, *(n for n in names if n != chosen)]
    return [n for n in names if configured(settings, kind, n)]


def choice_problems(spec: object, settings: Settings) -> list[tuple[str, str]]:
    """(field, message) for each kind whose named provider is not configured.

    `auto` is never refused here: with nothing of its kind configured, the call
    itself says which settings are missing (as before per-kind choices existed).
    """
    problems = []
    for kind in ("stt", "llm", "tts"):
        name = getattr(spec, kind).provider
        if name != AUTO and not configured(settings, kind, name):
            problems.append(
                (f"{kind}.provider", f"{missing_setting(settings, kind, name)} is not set")
            )
    return problems


def server(settings: Settings, kind: Kind, name: str) -> tuple[str | None, str]:
    """(base URL or None for the vendor's own, key) a configured provider is called at."""
    if name == "openai" and kind in ("stt", "tts"):
        return speech_server(settings, kind)
    secret, url = {
        "openai": (settings.openai_api_key, settings.openai_base_url),
        "anthropic": (settings.anthropic_api_key, settings.anthropic_base_url),
        "google": (settings.google_api_key, settings.google_base_url),
        "deepgram": (settings.deepgram_api_key, None),
        "cartesia": (settings.cartesia_api_key, None),
    }[name]
    return url, secret.get_secret_value().strip() if secret is not None else ""


def host(url: str | None) -> str:
    """A base URL's host[:port], for display (never its path, query or credentials)."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else ""


def provider_label(kind: str, model: str) -> str:
    """Which provider a metered model belongs to, for a cost line ("Deepgram")."""
    for p in CATALOG:
        if p.kind == kind and (model == p.default_model or model.startswith(p.model_prefixes)):
            return p.label
    return "OpenAI-compatible" if kind in KIND_LABELS else ""
