"""Providers from settings and spec: choices, fallbacks, and clear errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from livekit.agents import inference
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from livekit.plugins import cartesia, deepgram
from livekit.plugins import openai as lk_openai
from pydantic import ValidationError

from voice_worker import providers
from voxie_app.models import AgentSpec
from voxie_app.settings import Settings

SPEC = AgentSpec(
    name="A",
    instructions="x",
    llm_model="gpt-4.1-mini",
    temperature=0.2,
    voice="nova",
    language="es",
)


def test_llm_uses_spec_model_and_custom_base_url(configure: Callable[..., Settings]) -> None:
    s = configure(OPENAI_API_KEY="k", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    llm = providers.build_llm(SPEC, s)
    assert isinstance(llm, lk_openai.LLM)
    assert llm.model == "gpt-4.1-mini"
    assert str(llm._client.base_url).startswith("http://127.0.0.1:9/v1")
    assert llm._opts.temperature == 0.2


def test_single_providers_are_used_directly(configure: Callable[..., Settings]) -> None:
    s = configure(OPENAI_API_KEY="k")
    assert isinstance(providers.build_stt(SPEC, s, vad=None), lk_openai.STT)
    tts = providers.build_tts(SPEC, s)
    assert isinstance(tts, lk_openai.TTS)


def test_two_providers_of_a_kind_are_wrapped_in_fallback(
    configure: Callable[..., Settings],
) -> None:
    from voice_worker.worker import job_vad

    s = configure(OPENAI_API_KEY="k", DEEPGRAM_API_KEY="dg", CARTESIA_API_KEY="ca")
    # OpenAI STT is not streaming: the adapter wraps it with the session's VAD.
    stt = providers.build_stt(SPEC, s, vad=job_vad())
    assert isinstance(stt, lk_stt.FallbackAdapter)
    assert isinstance(stt._stt_instances[0], deepgram.STT)  # first choice first
    assert len(stt._stt_instances) == 2
    tts = providers.build_tts(SPEC, s)
    assert isinstance(tts, lk_tts.FallbackAdapter)
    assert isinstance(tts._tts_instances[0], cartesia.TTS)


def test_deepgram_only_is_enough_for_stt(configure: Callable[..., Settings]) -> None:
    s = configure(DEEPGRAM_API_KEY="dg")
    assert isinstance(providers.build_stt(SPEC, s, vad=None), deepgram.STT)


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        (lambda s: providers.build_llm(SPEC, s), "OPENAI_API_KEY"),
        (
            lambda s: providers.build_stt(SPEC, s, None),
            r"DEEPGRAM_API_KEY or STT_API_KEY \(or OPENAI_API_KEY\)",
        ),
        (
            lambda s: providers.build_tts(SPEC, s),
            r"CARTESIA_API_KEY or TTS_API_KEY \(or OPENAI_API_KEY\)",
        ),
    ],
)
def test_missing_providers_name_the_settings(
    configure: Callable[..., Settings], builder: Callable, message: str
) -> None:
    with pytest.raises(providers.ProviderMissing, match=message):
        builder(configure())


def test_endpointing_from_spec_else_settings(configure: Callable[..., Settings]) -> None:
    s = configure(VOXIE_MIN_ENDPOINTING_DELAY="0.4", VOXIE_MAX_ENDPOINTING_DELAY="2.5")
    th = providers.turn_handling(SPEC, s)
    assert (th["endpointing"]["min_delay"], th["endpointing"]["max_delay"]) == (0.4, 2.5)
    assert th["interruption"]["enabled"] is True
    spec = SPEC.model_copy(update={"min_endpointing_delay": 0.2})
    assert providers.turn_handling(spec, s)["endpointing"]["min_delay"] == 0.2


def test_turn_detection_is_vad_unless_the_model_is_chosen(
    configure: Callable[..., Settings],
) -> None:
    # Never the session's own default (livekit's end-of-turn model, unpinned).
    assert providers.turn_handling(SPEC, configure())["turn_detection"] == "vad"
    chosen = providers.turn_handling(SPEC, configure(VOXIE_TURN_DETECTION=" Model"))
    detector = chosen["turn_detection"]
    assert isinstance(detector, inference.TurnDetector)
    assert detector.model == "turn-detector-v1-mini"  # local, in dev mode too


def test_bad_turn_detection_is_refused_naming_the_setting(
    configure: Callable[..., Settings],
) -> None:
    with pytest.raises(ValidationError, match=r"VOXIE_TURN_DETECTION\n.*'vad' or 'model'"):
        configure(VOXIE_TURN_DETECTION="semantic")


@pytest.mark.parametrize("preset", sorted(providers.TURN_PRESETS))
async def test_each_turn_preset_reaches_the_session(
    configure: Callable[..., Settings], preset: str
) -> None:
    from livekit.agents import AgentSession

    chosen = providers.TURN_PRESETS[preset]
    spec = SPEC.model_copy(update={"turn_preset": preset})
    handling = providers.turn_handling(spec, configure())
    assert handling["endpointing"] == chosen.endpointing
    assert providers.vad_min_silence(spec) == chosen.vad_min_silence
    # ... and the session resolves it as given (livekit fills in only what is left out).
    session = AgentSession(turn_handling=handling)
    for key, value in chosen.endpointing.items():
        assert session.options.endpointing[key] == value
    for key, value in chosen.preemptive_generation.items():
        assert session.options.preemptive_generation[key] == value


def test_presets_differ_in_patience() -> None:
    fast, default, patient = (providers.TURN_PRESETS[p] for p in ("fast", "default", "patient"))

    def wait(p: providers.TurnPreset) -> float:
        return max(p.vad_min_silence, p.endpointing["min_delay"])

    assert wait(fast) < wait(default) < wait(patient)


def test_explicit_delays_override_the_preset(configure: Callable[..., Settings]) -> None:
    spec = SPEC.model_copy(update={"turn_preset": "patient", "min_endpointing_delay": 0.2})
    handling = providers.turn_handling(spec, configure(VOXIE_MAX_ENDPOINTING_DELAY="2.0"))
    assert handling["endpointing"]["min_delay"] == 0.2
    assert handling["endpointing"]["max_delay"] == 2.0
    assert handling["endpointing"]["mode"] == providers.TURN_PRESETS["patient"].endpointing["mode"]
    # A spec minimum above the preset's (or operator's) maximum still wins.
    spec = SPEC.model_copy(update={"turn_preset": "fast", "min_endpointing_delay": 4.5})
    handling = providers.turn_handling(spec, configure(VOXIE_MAX_ENDPOINTING_DELAY="2.0"))
    assert handling["endpointing"]["min_delay"] == handling["endpointing"]["max_delay"] == 4.5


def test_an_unknown_turn_preset_is_refused() -> None:
    with pytest.raises(ValidationError, match="turn_preset"):
        SPEC.model_validate({**SPEC.model_dump(), "turn_preset": "eager"})
