"""Speech-to-speech agents: the OpenAI Realtime model a `pipeline: realtime` spec runs on.

One model hears the caller and speaks the reply over a websocket
(`livekit.plugins.openai.realtime.RealtimeModel`): no STT, no TTS, the server's
semantic VAD ends the caller's turn and starts the reply. The agent is the same
`SpecAgent` (instructions, tools, transfers, end of call); only its `llm` differs.

Usage comes from `response.done` split by token type; it is stored as one usage row
per type (`<model>/text`, `<model>/audio`, `<model>/cached-text`,
`<model>/cached-audio`), each priced from its own pricing-table entry, so the call
page shows where a realtime call's money went without a new column.
"""

from __future__ import annotations

import logging
from typing import Any

from livekit.agents import NOT_GIVEN, AgentSession, APIConnectOptions
from livekit.agents import llm as lk_llm
from livekit.agents import vad as lk_vad
from livekit.agents.metrics import LLMModelUsage
from livekit.plugins.openai.realtime import RealtimeModel, RealtimeSession

from voice_worker.providers import ProviderMissing, session_conn_options
from voxie_app.models import AgentSpec
from voxie_app.realtime_catalog import REALTIME_MODELS, REALTIME_SETTING
from voxie_app.settings import Settings, providers

log = logging.getLogger("voxie.realtime")

# How a realtime agent says a fixed text (greeting, voicemail message): the model has no
# `say` (no TTS to read it), so it is asked to speak it word for word.
SAY_EXACTLY = 'Say exactly this to the caller, and nothing else: "{text}"'

# (suffix, input attribute, output attribute) of `LLMModelUsage` per usage row. OpenAI
# counts cached tokens inside the input tokens: they are taken out of the full-price row.
_LINES: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("text", "input_text_tokens", "input_cached_text_tokens", "output_text_tokens"),
    ("audio", "input_audio_tokens", "input_cached_audio_tokens", "output_audio_tokens"),
    ("cached-text", "input_cached_text_tokens", None, None),
    ("cached-audio", "input_cached_audio_tokens", None, None),
)


class _Session(RealtimeSession):
    """The plugin's session, but closing never raises.

    When the websocket is lost for good (a drop and no reconnection), the plugin's main
    task ends with the connection error, reports it as an unrecoverable error (so the
    `AgentSession` starts closing with that error), and raises it again from `aclose`;
    that aborts the `AgentSession`'s close before its `close` event, so the call would
    never end. The error is already the session's close reason: it is dropped here."""

    async def aclose(self) -> None:
        try:
            await super().aclose()
        except Exception as exc:  # noqa: BLE001 - reported already (the close's error)
            log.info("realtime session closed after its error: %s", exc)


class VoxieRealtimeModel(RealtimeModel):
    """`RealtimeModel` whose sessions close cleanly after a fatal error (`_Session`)."""

    def session(self, *, turn_detection_disabled: bool = False) -> RealtimeSession:
        sess = _Session(self, turn_detection_disabled=turn_detection_disabled)
        self._sessions.add(sess)
        return sess


def is_realtime(model: object) -> bool:
    return isinstance(model, lk_llm.RealtimeModel)


def speak(session: AgentSession, text: str, **options: Any) -> Any:
    """Say `text` word for word: `session.say` (the TTS reads it), or, when the current
    agent runs on a Realtime model (no TTS, and the plugin has no `say`), a reply the
    model is told to make of exactly that text. Returns the speech handle."""
    agent = session.current_agent
    if is_realtime(getattr(agent, "llm", None)):
        options.pop("add_to_chat_ctx", None)  # a generated reply is in the context anyway
        return session.generate_reply(instructions=SAY_EXACTLY.format(text=text), **options)
    return session.say(text, **options)


def build_realtime(spec: AgentSpec, settings: Settings) -> VoxieRealtimeModel:
    """The spec's Realtime model and voice, on `OPENAI_BASE_URL` when set.

    Refused (`ProviderMissing`, naming the setting) without an OpenAI key: the call
    then ends `failed` with that reason before anyone is connected."""
    if not providers(settings).openai:
        raise ProviderMissing(f"a realtime agent needs {REALTIME_SETTING} (OpenAI Realtime API)")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    extra: dict[str, Any] = {}
    if settings.openai_base_url:
        extra["base_url"] = settings.openai_base_url
    return VoxieRealtimeModel(
        model=spec.realtime_model,
        voice=spec.realtime_voice,
        api_key=key,
        conn_options=APIConnectOptions(
            max_retry=settings.provider_retries,
            retry_interval=settings.provider_retry_interval,
            timeout=15.0,
        ),
        **extra,
    )


def is_realtime_usage(usage: LLMModelUsage) -> bool:
    """A realtime model's totals (by its name, or by the audio tokens only it reports)."""
    return (
        usage.model in REALTIME_MODELS
        or "realtime" in (usage.model or "")
        or bool(usage.input_audio_tokens or usage.output_audio_tokens)
    )


def usage_lines(usage: LLMModelUsage) -> list[tuple[str, int, int]]:
    """The usage rows of a realtime model's running totals: (model name, input tokens,
    output tokens) per token type, only the types it used."""
    lines: list[tuple[str, int, int]] = []
    for suffix, inp, cached, out in _LINES:
        tin = getattr(usage, inp) - (getattr(usage, cached) if cached else 0)
        tout = getattr(usage, out) if out else 0
        if tin or tout:
            lines.append((f"{usage.model}/{suffix}", max(tin, 0), tout))
    return lines


def realtime_session(data: Any, vad: object, settings: Settings) -> AgentSession:
    """The session of a realtime call: no STT, no TTS (the agent's Realtime model does
    both) and no turn handling of ours: the model's server-side VAD ends the caller's
    turn and starts the reply. The local VAD only tells the session that the caller
    started speaking (interruptions)."""
    return AgentSession(
        vad=vad if isinstance(vad, lk_vad.VAD) else NOT_GIVEN,
        userdata=data,
        conn_options=session_conn_options(settings),
    )
