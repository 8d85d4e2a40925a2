"""Speech and language providers from settings and the agent's spec.

STT: Deepgram nova-3 and/or OpenAI; LLM: OpenAI through livekit-plugins-openai
(honouring OPENAI_BASE_URL, so any OpenAI-compatible server works); TTS:
Cartesia and/or OpenAI. With more than one provider of a kind they are wrapped
in the framework's FallbackAdapter, first choice first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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

from voxie_app.models import AgentSpec
from voxie_app.settings import Settings, providers
from voxie_app.voices import OPENAI_TTS_MODEL, OPENAI_VOICES

OPENAI_STT_MODEL = "gpt-4o-mini-transcribe"
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
INTERRUPTION_WORDS = {"min_words": 0, "min_duration": 0.2, "false_interruption_timeout": 0.5}
INTERRUPTION_SEGMENTS = {"min_words": 0, "min_duration": 0.2, "false_interruption_timeout": 1.0}


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
            **(INTERRUPTION_WORDS if word_stt else INTERRUPTION_SEGMENTS),
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
