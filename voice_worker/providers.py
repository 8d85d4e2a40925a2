"""Speech and language providers from settings and the agent's spec.

STT: Deepgram nova-3 and/or OpenAI; LLM: OpenAI through livekit-plugins-openai
(honouring OPENAI_BASE_URL, so any OpenAI-compatible server works); TTS:
Cartesia and/or OpenAI. With more than one provider of a kind they are wrapped
in the framework's FallbackAdapter, first choice first.
"""

from __future__ import annotations

import re

from livekit.agents import inference
from livekit.agents import llm as lk_llm
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from livekit.agents import vad as lk_vad
from livekit.agents.types import NOT_GIVEN, APIConnectOptions
from livekit.agents.voice.agent_session import SessionConnectOptions
from livekit.agents.voice.turn import TurnDetectionMode
from livekit.plugins import cartesia, deepgram
from livekit.plugins import openai as lk_openai

from voxie_app.models import OPENAI_VOICES, AgentSpec
from voxie_app.settings import Settings, providers

OPENAI_STT_MODEL = "gpt-4o-mini-transcribe"
OPENAI_TTS_MODEL = "gpt-4o-mini-tts"
DEEPGRAM_MODEL = "nova-3"
CARTESIA_MODEL = "sonic-2"
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class ProviderMissing(Exception):
    """No provider of a needed kind is configured; `message` names the settings."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _key(secret: object) -> str:
    return secret.get_secret_value() if secret is not None else ""  # type: ignore[attr-defined]


def _base_url(settings: Settings) -> object:
    return settings.openai_base_url or NOT_GIVEN


def build_llm(spec: AgentSpec, settings: Settings) -> lk_llm.LLM:
    if not providers(settings).openai:
        raise ProviderMissing(
            "no LLM configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for a local server)"
        )
    return lk_openai.LLM(
        model=spec.llm_model,
        api_key=_key(settings.openai_api_key),
        base_url=_base_url(settings),  # type: ignore[arg-type]
        temperature=spec.temperature,
    )


def build_stt(spec: AgentSpec, settings: Settings, vad: lk_vad.VAD | None) -> lk_stt.STT:
    status = providers(settings)
    choices: list[lk_stt.STT] = []
    if status.deepgram:
        language = "en-US" if spec.language == "en" else spec.language
        choices.append(
            deepgram.STT(
                model=DEEPGRAM_MODEL, language=language, api_key=_key(settings.deepgram_api_key)
            )
        )
    if status.openai:
        choices.append(
            lk_openai.STT(
                model=OPENAI_STT_MODEL,
                language=spec.language.split("-")[0],
                api_key=_key(settings.openai_api_key),
                base_url=_base_url(settings),  # type: ignore[arg-type]
            )
        )
    if not choices:
        raise ProviderMissing(
            "no speech-to-text configured: set DEEPGRAM_API_KEY or OPENAI_API_KEY"
        )
    if len(choices) == 1:
        return choices[0]
    return lk_stt.FallbackAdapter(choices, vad=vad)


def build_tts(spec: AgentSpec, settings: Settings) -> lk_tts.TTS:
    status = providers(settings)
    choices: list[lk_tts.TTS] = []
    if status.cartesia:
        kwargs = {"voice": spec.voice} if _UUID_RE.match(spec.voice) else {}
        choices.append(
            cartesia.TTS(
                model=CARTESIA_MODEL,
                language=spec.language.split("-")[0],
                api_key=_key(settings.cartesia_api_key),
                **kwargs,
            )
        )
    if status.openai:
        voice = spec.voice if spec.voice in OPENAI_VOICES else settings.tts_voice
        choices.append(
            lk_openai.TTS(
                model=OPENAI_TTS_MODEL,
                voice=voice,
                api_key=_key(settings.openai_api_key),
                base_url=_base_url(settings),  # type: ignore[arg-type]
            )
        )
    if not choices:
        raise ProviderMissing(
            "no text-to-speech configured: set CARTESIA_API_KEY or OPENAI_API_KEY"
        )
    if len(choices) == 1:
        return choices[0]
    return lk_tts.FallbackAdapter(choices)


def turn_detection(settings: Settings) -> TurnDetectionMode:
    """How the end of the caller's turn is found (`VOXIE_TURN_DETECTION`).

    `vad`: when the VAD hears silence, then the endpointing delay. `model`: livekit's
    end-of-turn model also judges from the audio whether the caller has finished, and
    waits up to the maximum delay when it thinks not; pinned to the local `v1-mini`
    model, since livekit's unpinned default tries LiveKit Cloud's inference service in
    `dev` mode. Never left to the session's default (that model, unpinned).
    """
    if settings.turn_detection == "model":
        return inference.TurnDetector(version="v1-mini")
    return "vad"


def turn_handling(spec: AgentSpec, settings: Settings) -> dict:
    """Barge-in on; the turn detection from settings; endpointing delays from the spec,
    else from settings."""
    return {
        "turn_detection": turn_detection(settings),
        "endpointing": {
            "min_delay": spec.min_endpointing_delay
            if spec.min_endpointing_delay is not None
            else settings.min_endpointing_delay,
            "max_delay": spec.max_endpointing_delay
            if spec.max_endpointing_delay is not None
            else settings.max_endpointing_delay,
        },
        "interruption": {"enabled": True, "mode": "vad"},
    }


def session_conn_options(settings: Settings) -> SessionConnectOptions:
    """Retries per provider request from settings; after that, a provider error ends the
    call (`max_unrecoverable_errors=0`) so it is marked failed with the reason."""
    conn = APIConnectOptions(
        max_retry=settings.provider_retries,
        retry_interval=settings.provider_retry_interval,
        timeout=15.0,
    )
    return SessionConnectOptions(
        stt_conn_options=conn,
        llm_conn_options=conn,
        tts_conn_options=conn,
        max_unrecoverable_errors=0,
    )
