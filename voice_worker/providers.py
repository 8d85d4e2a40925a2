"""Speech and language providers from settings and the agent's spec.

Per kind the spec names the provider tried first (`AgentSpec.stt/llm/tts`,
`auto` by default; the list is voxie_app/provider_catalog.py): STT Deepgram or
any OpenAI-compatible server (STT_BASE_URL), LLM any OpenAI-compatible server
(OPENAI_BASE_URL), Anthropic or Google Gemini, TTS Cartesia or any
OpenAI-compatible server (TTS_BASE_URL). The other configured providers of the
kind follow it, wrapped in the framework's FallbackAdapter; they run their
default models (the spec's model is the chosen provider's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.genai import types as genai_types
from livekit.agents import inference
from livekit.agents import llm as lk_llm
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from livekit.agents import vad as lk_vad
from livekit.agents.types import NOT_GIVEN, APIConnectOptions
from livekit.agents.voice.agent_session import SessionConnectOptions
from livekit.agents.voice.turn import TurnDetectionMode
from livekit.plugins import anthropic, cartesia, deepgram, google
from livekit.plugins import openai as lk_openai

from voxie_app import provider_catalog as catalog
from voxie_app.models import AgentSpec
from voxie_app.settings import Settings
from voxie_app.voices import OPENAI_VOICES

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class ProviderMissing(Exception):
    """No provider of a needed kind is configured; `message` names the settings."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _chosen(spec: AgentSpec, settings: Settings, kind: catalog.Kind) -> list[str]:
    """The configured providers to build, first choice first; a named choice that is not
    configured stops the call naming its setting (as the 422 at call start does)."""
    chosen = getattr(spec, kind).provider
    if chosen != catalog.AUTO and not catalog.configured(settings, kind, chosen):
        setting = catalog.missing_setting(settings, kind, chosen)
        raise ProviderMissing(f"{kind}.provider: {setting} is not set")
    names = catalog.order(settings, kind, chosen)
    if not names:
        wanted = " or ".join(
            catalog.missing_setting(settings, kind, p.name) for p in catalog.of_kind(kind)
        )
        noun = {"stt": "speech-to-text", "llm": "LLM", "tts": "text-to-speech"}[kind]
        raise ProviderMissing(f"no {noun} configured: set {wanted}")
    return names


def _model(spec: AgentSpec, settings: Settings, kind: catalog.Kind, name: str, first: bool) -> str:
    """The spec's model for its first choice (`auto` names none for STT/TTS, and means
    the OpenAI-compatible server for the LLM); each fallback's default otherwise."""
    if first and kind == "llm":
        wanted = "openai" if spec.llm.provider == catalog.AUTO else spec.llm.provider
        if name == wanted:
            return spec.llm_model
    elif first and getattr(spec, kind).model:
        return getattr(spec, kind).model
    return catalog.default_model(kind, name, settings)


# How one provider is built: (provider name, model, base URL or None, key) -> plugin.
Make = Callable[[str, str, "str | None", str], Any]


def _build(spec: AgentSpec, settings: Settings, kind: catalog.Kind, make: Make) -> list[Any]:
    """The plugins of `kind`, first choice first, each with its model, URL and key."""
    return [
        make(
            name,
            _model(spec, settings, kind, name, first=i == 0),
            *catalog.server(settings, kind, name),
        )
        for i, name in enumerate(_chosen(spec, settings, kind))
    ]


def _one_or_fallback(instances: list, adapter: type, **kwargs: object) -> Any:
    return instances[0] if len(instances) == 1 else adapter(instances, **kwargs)


def build_llm(spec: AgentSpec, settings: Settings) -> lk_llm.LLM:
    def make(name: str, model: str, url: str | None, key: str) -> lk_llm.LLM:
        if name == "anthropic":
            return anthropic.LLM(
                model=model,
                api_key=key,
                base_url=url or NOT_GIVEN,  # type: ignore[arg-type]
                temperature=spec.temperature,
            )
        if name == "google":
            # The plugin takes no base_url: its genai Client is built from the key alone
            # (or GOOGLE_GEMINI_BASE_URL in the environment); `http_options.base_url` is
            # merged into each generate_content request, so that is where it goes.
            return google.LLM(
                model=model,
                api_key=key,
                vertexai=False,
                temperature=spec.temperature,
                http_options=genai_types.HttpOptions(base_url=url) if url else NOT_GIVEN,  # type: ignore[arg-type]
            )
        return lk_openai.LLM(
            model=model,
            api_key=key,
            base_url=url or NOT_GIVEN,  # type: ignore[arg-type]
            temperature=spec.temperature,
        )

    return _one_or_fallback(_build(spec, settings, "llm", make), lk_llm.FallbackAdapter)


def build_stt(spec: AgentSpec, settings: Settings, vad: lk_vad.VAD | None) -> lk_stt.STT:
    def make(name: str, model: str, url: str | None, key: str) -> lk_stt.STT:
        if name == "deepgram":
            language = "en-US" if spec.language == "en" else spec.language
            return deepgram.STT(model=model, language=language, api_key=key)
        return lk_openai.STT(
            model=model,
            language=spec.language.split("-")[0],
            api_key=key,
            base_url=url or NOT_GIVEN,  # type: ignore[arg-type]
        )

    return _one_or_fallback(_build(spec, settings, "stt", make), lk_stt.FallbackAdapter, vad=vad)


def build_tts(spec: AgentSpec, settings: Settings) -> lk_tts.TTS:
    def make(name: str, model: str, url: str | None, key: str) -> lk_tts.TTS:
        if name == "cartesia":
            kwargs = {"voice": spec.voice} if _UUID_RE.match(spec.voice) else {}
            language = spec.language.split("-")[0]
            return cartesia.TTS(model=model, language=language, api_key=key, **kwargs)
        voice = spec.voice if spec.voice in OPENAI_VOICES else settings.tts_voice
        return lk_openai.TTS(
            model=model,
            voice=voice,
            api_key=key,
            base_url=url or NOT_GIVEN,  # type: ignore[arg-type]
        )

    return _one_or_fallback(_build(spec, settings, "tts", make), lk_tts.FallbackAdapter)


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


@dataclass(frozen=True)
class TurnPreset:
    """One way of taking turns, chosen per agent (`AgentSpec.turn_preset`).

    The figures come from `bench/turn_taking.py` (README "Turn-taking"): how long the
    VAD must hear silence before the caller's speech ends (`vad_min_silence`), then the
    session's endpointing (the wait after the caller's last speech before the turn is
    committed; the larger of the two is what the caller feels) and preemptive generation.
    """

    vad_min_silence: float
    endpointing: dict = field(default_factory=dict)
    preemptive_generation: dict = field(default_factory=dict)


# Chosen on `bench/turn_taking.py`'s corpus (README "Turn-taking"). With VAD turn
# detection the caller waits max(VAD silence, min_delay) after their last word, and a
# mid-sentence pause longer than that is taken for the end of the turn: `default` is the
# shortest wait that cut into at most 5% of the corpus's 300-900 ms pauses (none at 1.0 s,
# 9% at 0.9 s); `fast` answers in about a third of that and cuts into any pause of 0.3 s
# or more; `patient` leaves half a second more than the corpus's longest pause.
TURN_PRESETS: dict[str, TurnPreset] = {
    "default": TurnPreset(
        vad_min_silence=0.25,
        endpointing={"mode": "fixed", "min_delay": 1.0, "max_delay": 3.0},
    ),
    "fast": TurnPreset(
        vad_min_silence=0.25,
        endpointing={"mode": "fixed", "min_delay": 0.3, "max_delay": 3.0},
    ),
    "patient": TurnPreset(
        vad_min_silence=0.25,
        endpointing={"mode": "fixed", "min_delay": 1.5, "max_delay": 3.0},
    ),
}


def turn_preset(spec: AgentSpec) -> TurnPreset:
    return TURN_PRESETS[spec.turn_preset]


def vad_min_silence(spec: AgentSpec) -> float:
    """The VAD silence (s) that ends the caller's speech for this agent's preset (the
    worker sets it on the job's VAD once the spec is loaded)."""
    return turn_preset(spec).vad_min_silence


# Barge-in, chosen on `bench/turn_taking.py --barge-in` (README "Turn-taking"): 0.2 s of
# the caller's voice pauses the agent (livekit's default is 0.5 s); a transcript with
# words then stops it, and one with none, or only a backchannel (blanked by
# `backchannel.BackchannelAware`), lets it resume `false_interruption_timeout` after the
# caller's speech ended. That wait must outlast the STT's final transcript: an STT that
# streams words has it as the caller stops, one that transcribes whole VAD segments
# (OpenAI's) only after a request. (`min_words=1`, which lets only a real word pause
# the agent, was measured too: backchannels then do not pause it at all, but a real
# interruption waits for its first word, 0.3-0.4 s here and more with a real STT.)
INTERRUPTION = {"min_words": 0, "min_duration": 0.2}
RESUME_AFTER_WORD_STT_S = 0.5
RESUME_AFTER_SEGMENT_STT_S = 1.0


def streams_words(stt: lk_stt.STT) -> bool:
    """Whether the STT the call uses first sends interim words (a FallbackAdapter is
    judged by its first choice, the one a healthy call uses)."""
    if isinstance(stt, lk_stt.FallbackAdapter) and stt._stt_instances:
        stt = stt._stt_instances[0]  # no public accessor in livekit-agents 1.8.9
    # A VAD-wrapped segment STT (`StreamAdapter`) streams, but has no interim results.
    return stt.capabilities.streaming and stt.capabilities.interim_results


def turn_handling(spec: AgentSpec, settings: Settings, *, word_stt: bool = False) -> dict:
    """Barge-in on, tuned for the STT's kind (`word_stt`: it streams interim words);
    the turn detection from settings; endpointing and preemptive generation from the
    agent's turn preset, where the spec's own delays, else the operator's
    `VOXIE_MIN/MAX_ENDPOINTING_DELAY`, override the preset's."""
    preset = turn_preset(spec)
    endpointing = dict(preset.endpointing)
    rank = {"min_delay": 0, "max_delay": 0}  # who set it: 0 the preset, 1 operator, 2 spec
    for key, own, operator in (
        ("min_delay", spec.min_endpointing_delay, settings.min_endpointing_delay),
        ("max_delay", spec.max_endpointing_delay, settings.max_endpointing_delay),
    ):
        if own is not None:
            endpointing[key], rank[key] = own, 2
        elif operator is not None:
            endpointing[key], rank[key] = operator, 1
    # A minimum above the maximum: the more explicit of the two wins (the minimum on a tie).
    if endpointing["min_delay"] > endpointing["max_delay"]:
        if rank["max_delay"] > rank["min_delay"]:
            endpointing["min_delay"] = endpointing["max_delay"]
        else:
            endpointing["max_delay"] = endpointing["min_delay"]
    handling: dict = {
        "turn_detection": turn_detection(settings),
        "endpointing": endpointing,
        "interruption": {
            "enabled": True,
            "mode": "vad",
            "resume_false_interruption": True,
            **INTERRUPTION,
            "false_interruption_timeout": (
                RESUME_AFTER_WORD_STT_S if word_stt else RESUME_AFTER_SEGMENT_STT_S
            ),
        },
    }
    if preset.preemptive_generation:
        handling["preemptive_generation"] = dict(preset.preemptive_generation)
    return handling


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
