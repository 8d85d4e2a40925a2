"""Settings for both processes (web app and voice worker).

One place reads configuration: `.env.local`, then `.env`, then the process
environment (the environment wins, so deployments can override files).
`providers()` is the single answer to "which providers are configured"; the UI
and API show its booleans, never the values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{ROOT_DIR / 'data' / 'voxie.db'}"


class Settings(BaseSettings):
    """Every setting Voxie reads, with the conventional environment names."""

    # Later files win in pydantic-settings, so `.env.local` is listed last to
    # take precedence over `.env`; real environment variables beat both.
    model_config = SettingsConfigDict(
        env_file=(ROOT_DIR / ".env", ROOT_DIR / ".env.local"),
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `KEY=` lines (as in .env.example) mean "not set", not "empty string".
        env_ignore_empty=True,
    )

    database_url: str = Field(default=DEFAULT_SQLITE_URL, validation_alias="DATABASE_URL")

    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", validation_alias="OPENAI_MODEL")
    deepgram_api_key: SecretStr | None = Field(default=None, validation_alias="DEEPGRAM_API_KEY")
    cartesia_api_key: SecretStr | None = Field(default=None, validation_alias="CARTESIA_API_KEY")
    # Per-kind providers (issue 17; voxie_app/provider_catalog.py reads them): an
    # OpenAI-compatible speech server for STT and one for TTS (each falls back to the
    # OPENAI_* settings when unset), Anthropic and Google Gemini for the LLM. The two
    # *_BASE_URL of the LLM vendors point them at a proxy or a local double.
    stt_base_url: str | None = Field(default=None, validation_alias="STT_BASE_URL")
    stt_api_key: SecretStr | None = Field(default=None, validation_alias="STT_API_KEY")
    tts_base_url: str | None = Field(default=None, validation_alias="TTS_BASE_URL")
    tts_api_key: SecretStr | None = Field(default=None, validation_alias="TTS_API_KEY")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    google_api_key: SecretStr | None = Field(default=None, validation_alias="GOOGLE_API_KEY")
    google_base_url: str | None = Field(default=None, validation_alias="GOOGLE_BASE_URL")
    ragie_api_key: SecretStr | None = Field(default=None, validation_alias="RAGIE_API_KEY")
    ragie_base_url: str | None = Field(default=None, validation_alias="RAGIE_BASE_URL")

    livekit_url: str | None = Field(default=None, validation_alias="LIVEKIT_URL")
    livekit_api_key: str | None = Field(default=None, validation_alias="LIVEKIT_API_KEY")
    livekit_api_secret: SecretStr | None = Field(
        default=None, validation_alias="LIVEKIT_API_SECRET"
    )
    livekit_public_url: str | None = Field(default=None, validation_alias="LIVEKIT_PUBLIC_URL")
    agent_name: str = Field(default="voxie", validation_alias="VOXIE_AGENT_NAME")
    token_ttl_seconds: int = Field(default=15 * 60, validation_alias="VOXIE_TOKEN_TTL_SECONDS")

    # Voice worker and analysis
    pricing_overrides: dict[str, dict[str, float | str]] = Field(
        default_factory=dict, validation_alias="VOXIE_PRICING"
    )
    # What a minute of a phone call costs on the telephony side (the SIP trunk / carrier,
    # plus LiveKit SIP if it bills), in USD: the "Telephony" line of a phone call's cost.
    # A placeholder default: set it to your carrier's rate (VOXIE_PRICING["telephony"]
    # overrides it too).
    telephony_price_per_minute: float = Field(
        default=0.01, ge=0, le=100, validation_alias="VOXIE_TELEPHONY_PRICE_PER_MINUTE"
    )
    analysis_min_user_turns: int = Field(
        default=2, validation_alias="VOXIE_ANALYSIS_MIN_USER_TURNS"
    )
    analysis_model: str | None = Field(default=None, validation_alias="VOXIE_ANALYSIS_MODEL")
    abandoned_after_seconds: int = Field(
        default=15 * 60, validation_alias="VOXIE_ABANDONED_AFTER_SECONDS"
    )
    reconcile_interval_seconds: int = Field(
        default=60, validation_alias="VOXIE_RECONCILE_INTERVAL_SECONDS"
    )
    # Operator-wide endpointing delays (seconds): unset, each agent's turn preset decides
    # (voice_worker.providers.TURN_PRESETS); an agent's own delays win over these.
    min_endpointing_delay: float | None = Field(
        default=None, validation_alias="VOXIE_MIN_ENDPOINTING_DELAY"
    )
    max_endpointing_delay: float | None = Field(
        default=None, validation_alias="VOXIE_MAX_ENDPOINTING_DELAY"
    )
    provider_retries: int = Field(default=2, validation_alias="VOXIE_PROVIDER_RETRIES")
    provider_retry_interval: float = Field(
        default=1.0, validation_alias="VOXIE_PROVIDER_RETRY_INTERVAL"
    )
    max_context_items: int = Field(default=40, ge=2, validation_alias="VOXIE_MAX_CONTEXT_ITEMS")
    tts_voice: str = Field(default="alloy", validation_alias="VOXIE_TTS_VOICE")
    # How the voice worker runs calls: `thread` (all calls in the worker process, each on
    # its own thread and event loop, sharing the loaded models) or `process` (livekit's
    # default on Linux: one process per call). README "The voice worker" weighs them.
    job_executor: Literal["thread", "process"] = Field(
        default="thread", validation_alias="VOXIE_JOB_EXECUTOR"
    )
    # When the caller's turn ends: `vad` (silence, then the endpointing delay) or `model`
    # (livekit's local end-of-turn model also judges whether the caller has finished;
    # costs ~240 MB of RAM per worker and some CPU per call). README weighs them.
    turn_detection: Literal["vad", "model"] = Field(
        default="vad", validation_alias="VOXIE_TURN_DETECTION"
    )

    # Accounts and limits
    session_hours: float = Field(default=12.0, validation_alias="VOXIE_SESSION_HOURS")
    # How often the web app deletes expired sign-in sessions (0: never; use
    # `python -m voxie_app.manage purge-sessions` from cron instead).
    session_purge_minutes: float = Field(
        default=60.0, ge=0, validation_alias="VOXIE_SESSION_PURGE_MINUTES"
    )
    # Whether this web process runs the campaign scheduler (services.campaign_scheduler).
    # Several may on PostgreSQL; on SQLite only the first process to take its lock does.
    campaign_scheduler: bool = Field(default=True, validation_alias="VOXIE_CAMPAIGN_SCHEDULER")
    # Sign-in (services.signin, ratelimit.LoginThrottle): attempts overall in this
    # process, and the longest wait failures impose on an account or a client address.
    login_global_rate_limit: str = Field(
        default="120/60", validation_alias="VOXIE_LOGIN_GLOBAL_RATE_LIMIT"
    )
    login_max_backoff_seconds: float = Field(
        default=30.0, gt=0, le=3600, validation_alias="VOXIE_LOGIN_MAX_BACKOFF_SECONDS"
    )
    call_start_rate_limit: str = Field(
        default="10/60", validation_alias="VOXIE_CALL_START_RATE_LIMIT"
    )
    allowed_origins: str = Field(default="", validation_alias="VOXIE_ALLOWED_ORIGINS")
    # The address users open (e.g. https://voxie.example.com); https makes the session
    # cookie Secure and adds HSTS. Empty: the first of VOXIE_ALLOWED_ORIGINS, if any.
    public_url: str = Field(default="", validation_alias="VOXIE_PUBLIC_URL")
    webhook_max_age_seconds: int = Field(
        default=300, validation_alias="VOXIE_LIVEKIT_WEBHOOK_MAX_AGE_SECONDS"
    )

    max_body_bytes: int = Field(default=1_000_000, validation_alias="VOXIE_MAX_BODY_BYTES")
    max_upload_bytes: int = Field(default=10_000_000, validation_alias="VOXIE_MAX_UPLOAD_BYTES")
    # Reading one PDF (a child process, killed past this; services.text_extract).
    knowledge_extract_seconds: float = Field(
        default=60.0, gt=0, le=3600, validation_alias="VOXIE_KNOWLEDGE_EXTRACT_SECONDS"
    )
    timezone: str = Field(default="UTC", validation_alias="VOXIE_TIMEZONE")

    # Outbound webhooks: retries with exponential backoff (with jitter), then give up.
    webhook_max_attempts: int = Field(
        default=10, ge=1, validation_alias="VOXIE_WEBHOOK_MAX_ATTEMPTS"
    )
    webhook_backoff_seconds: float = Field(
        default=10.0, gt=0, validation_alias="VOXIE_WEBHOOK_BACKOFF_SECONDS"
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, validation_alias="VOXIE_WEBHOOK_BACKOFF_MAX_SECONDS"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias="VOXIE_WEBHOOK_TIMEOUT_SECONDS"
    )
    webhook_poll_seconds: float = Field(
        default=5.0, gt=0, validation_alias="VOXIE_WEBHOOK_POLL_SECONDS"
    )
    # Outbound requests to user-given URLs (webhooks, later HTTP tools): hosts and
    # IPs/CIDRs the admin permits although they are private, loopback or link-local.
    url_allowlist: str = Field(default="", validation_alias="VOXIE_URL_ALLOWLIST")
    # Secrets store (tool headers and URLs): the Fernet key values are encrypted with.
    # Unset: a key file is created (mode 0600) at `secret_key_file` on first use.
    secret_key: SecretStr | None = Field(default=None, validation_alias="VOXIE_SECRET_KEY")
    secret_key_file: Path = Field(
        default=ROOT_DIR / "data" / "secret.key", validation_alias="VOXIE_SECRET_KEY_FILE"
    )

    @field_validator("job_executor", "turn_detection", mode="before")
    @classmethod
    def _choice_name(cls, value: object) -> object:
        # `Thread` or ` VAD ` in a .env file mean what they say; anything else is refused
        # with pydantic's "Input should be 'thread' or 'process'" under the setting's name.
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def livekit_configured(self) -> bool:
        return not self.missing_livekit_settings()

    def missing_livekit_settings(self) -> list[str]:
        """Names of the LiveKit settings that are not set (empty when complete)."""
        missing = []
        if not self.livekit_url:
            missing.append("LIVEKIT_URL")
        if not self.livekit_api_key:
            missing.append("LIVEKIT_API_KEY")
        if not _secret(self.livekit_api_secret):
            missing.append("LIVEKIT_API_SECRET")
        return missing

    def origins(self, port: int | str | None = None) -> list[str]:
        """Browser origins allowed for CORS and the app's websocket (never `*`)."""
        if self.allowed_origins.strip():
            return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        port = port or "3000"
        return [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]

    @property
    def public_base_url(self) -> str:
        """Where users reach the app: VOXIE_PUBLIC_URL, else the first allowed origin, else ""."""
        if self.public_url.strip():
            return self.public_url.strip().rstrip("/")
        explicit = [o for o in self.allowed_origins.split(",") if o.strip()]
        return explicit[0].strip().rstrip("/") if explicit else ""

    @property
    def public_url_is_https(self) -> bool:
        return self.public_base_url.lower().startswith("https://")

    @property
    def session_seconds(self) -> int:
        """How long a sign-in lasts (VOXIE_SESSION_HOURS), for the server row and the cookie."""
        return max(1, round(self.session_hours * 3600))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def speech_server(settings: Settings, kind: Literal["stt", "tts"]) -> tuple[str | None, str]:
    """The OpenAI-compatible STT or TTS server: (base URL, key; "" when not configured).

    `STT_BASE_URL` / `TTS_BASE_URL` fall back to `OPENAI_BASE_URL`, the key to
    `OPENAI_API_KEY`, but only while the base URL falls back too: the OpenAI key is
    never sent to a separate speech server (give that one its own `*_API_KEY`; any
    value for a server that checks none).
    """
    own_url = settings.stt_base_url if kind == "stt" else settings.tts_base_url
    own_key = _secret(settings.stt_api_key if kind == "stt" else settings.tts_api_key)
    if own_url:
        return own_url, own_key
    return settings.openai_base_url, own_key or _secret(settings.openai_api_key)


class ProviderStatus(BaseModel):
    """Which external services are configured. Booleans only: safe to show anywhere."""

    openai: bool
    openai_base_url_custom: bool
    deepgram: bool
    cartesia: bool
    anthropic: bool
    google: bool
    stt_openai: bool  # an OpenAI-compatible STT server: STT_* or the OPENAI_* settings
    tts_openai: bool  # the same for TTS
    ragie: bool
    livekit: bool
    database: str

    @property
    def llm(self) -> bool:
        return self.openai


def providers(settings: Settings | None = None) -> ProviderStatus:
    """The one answer to "which providers are configured"."""
    s = settings or get_settings()
    return ProviderStatus(
        openai=bool(_secret(s.openai_api_key)),
        openai_base_url_custom=bool(s.openai_base_url),
        deepgram=bool(_secret(s.deepgram_api_key)),
        cartesia=bool(_secret(s.cartesia_api_key)),
        anthropic=bool(_secret(s.anthropic_api_key)),
        google=bool(_secret(s.google_api_key)),
        stt_openai=bool(speech_server(s, "stt")[1]),
        tts_openai=bool(speech_server(s, "tts")[1]),
        ragie=bool(_secret(s.ragie_api_key)),
        livekit=s.livekit_configured,
        database="sqlite" if s.is_sqlite else "postgresql",
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `get_settings.cache_clear()`."""
    return Settings()
