"""`/settings`: which providers are configured (booleans only), LiveKit and provider
checks, pricing."""

from __future__ import annotations

import reflex as rx

from voxie_app import provider_catalog as catalog
from voxie_app.services import provider_check
from voxie_app.services.livekit_check import check_livekit
from voxie_app.settings import get_settings, providers
from voxie_app.state import guard
from voxie_app.state.base import AppState

PROVIDERS = (
    (
        "openai",
        "OpenAI-compatible LLM",
        "OPENAI_API_KEY",
        "Agent replies, spec drafting, call summaries",
    ),
    ("anthropic", "Anthropic", "ANTHROPIC_API_KEY", "Agent replies, for agents that pick it"),
    ("google", "Google Gemini", "GOOGLE_API_KEY", "Agent replies, for agents that pick it"),
    ("deepgram", "Deepgram", "DEEPGRAM_API_KEY", "Speech-to-text on calls"),
    (
        "stt_openai",
        "OpenAI-compatible speech-to-text",
        "STT_BASE_URL, STT_API_KEY (else OPENAI_*)",
        "Speech-to-text on calls",
    ),
    ("cartesia", "Cartesia", "CARTESIA_API_KEY", "Text-to-speech on calls"),
    (
        "tts_openai",
        "OpenAI-compatible text-to-speech",
        "TTS_BASE_URL, TTS_API_KEY (else OPENAI_*)",
        "Text-to-speech on calls",
    ),
    (
        "livekit",
        "LiveKit",
        "LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET",
        "Browser calls and the voice worker",
    ),
    ("ragie", "Ragie", "RAGIE_API_KEY", "Hosted knowledge base"),
)


def provider_rows() -> list[dict[str, str | bool]]:
    status = providers().model_dump()
    return [
        {"key": key, "name": name, "settings": names, "purpose": purpose, "ok": bool(status[key])}
        for key, name, names, purpose in PROVIDERS
    ]


def pricing_rows() -> tuple[list[dict[str, str]], str]:
    """The pricing table in use, or why it is not available."""
    try:
        from voxie_app.services.pricing import pricing_table
    except ImportError:
        return [], "Pricing is not available yet in this build."
    try:
        return pricing_table(), ""
    except ValueError as exc:  # a bad VOXIE_PRICING override
        return [], f"The pricing settings are invalid: {exc}"


class SettingsState(AppState):
    providers: list[dict[str, str | bool]] = []
    database: str = ""
    timezone: str = ""
    custom_llm_url: bool = False
    missing_livekit: list[str] = []
    check_status: str = ""  # "", "ok", "error"
    check_message: str = ""
    checking: bool = False
    pricing: list[dict[str, str]] = []
    pricing_note: str = ""
    # "Check providers": one row per configured provider (kind, label, server, ok, message).
    provider_checks: list[dict[str, str | bool]] = []
    checking_providers: bool = False

    @rx.event
    @guard.viewer
    def load(self):
        settings = get_settings()
        status = providers(settings)
        self.providers = provider_rows()
        self.database = "PostgreSQL" if status.database == "postgresql" else "SQLite"
        self.timezone = settings.timezone
        self.custom_llm_url = status.openai_base_url_custom
        self.missing_livekit = settings.missing_livekit_settings()
        self.check_status, self.check_message = "", ""
        self.provider_checks = []
        self.pricing, self.pricing_note = pricing_rows()

    @rx.event
    async def check(self):
        self.checking = True
        yield
        result = await check_livekit(get_settings())
        self.checking = False
        self.check_status = "ok" if result.ok else "error"
        self.check_message = result.message
        if not result.ok and not result.missing:
            yield self._toast_error(result.message)

    @rx.event
    async def check_providers(self):
        """One live request per configured provider (admins only: it spends their keys)."""
        if not self._is_editor():
            yield self._toast_error("Only admins can check providers.")
            return
        if self.checking_providers:
            return
        self.checking_providers = True
        yield
        results = await provider_check.check_providers(get_settings())
        self.checking_providers = False
        self.provider_checks = [
            {
                "kind": catalog.KIND_LABELS[r.kind],
                "label": r.label,
                "server": r.server,
                "ok": r.ok,
                "message": r.message,
                "key": f"{r.kind}-{r.provider}",
            }
            for r in results
        ]
        if not results:
            yield self._toast_error("No speech or language provider is configured.")
