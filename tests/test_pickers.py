"""The agent form's pickers: voices, languages, LLM models, and the voice sample.

The sample and the model list go through the real clients (livekit-plugins-openai,
`openai`) to the local OpenAI double, as they would to OpenAI.
"""

from __future__ import annotations

import asyncio
import io
import typing
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from livekit.plugins.cartesia.models import TTSLanguages
from livekit.plugins.deepgram.models import DeepgramLanguages

from tests.doubles.livekit_server import closed_port_url
from tests.doubles.openai_server import OpenAIServerDouble
from voice_worker import voice_sample
from voxie_app import languages, voices
from voxie_app.models import AgentSpec
from voxie_app.services import llm_models
from voxie_app.settings import providers

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def openai_double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    llm_models.clear_cache()
    voice_sample.clear_cache()
    yield
    llm_models.clear_cache()
    voice_sample.clear_cache()


# ------------------------------------------------------------------ voices


def test_voices_follow_the_configured_tts(configure) -> None:
    none = [c.value for c in voices.voice_choices(providers(configure()))]
    assert none == sorted(voices.OPENAI_VOICES) and "alloy" in none
    openai_only = voices.voice_choices(providers(configure(OPENAI_API_KEY="k")))
    assert [c.label for c in openai_only][:2] == ["Alloy", "Ash"]
    both = voices.voice_choices(providers(configure(CARTESIA_API_KEY="c")))
    assert both[0].label == "Katie (Cartesia)" and both[1].label == "Alloy (OpenAI)"
    cartesia_only = voices.voice_choices(providers(configure(OPENAI_API_KEY=None)))
    assert [c.label for c in cartesia_only] == ["Katie (Cartesia)"]
    # An agent's current voice is kept, never swapped for the first choice.
    custom = "0b1c2d3e-0000-4000-8000-000000000000"
    kept = voices.voice_choices(providers(configure()), current=custom)
    assert kept[0].value == custom and kept[0].label.endswith("(current)")


def test_every_offered_voice_is_a_valid_spec_voice() -> None:
    for voice in [*voices.OPENAI_VOICES, *voices.CARTESIA_VOICES]:
        assert AgentSpec(name="a", instructions="i", voice=voice).voice == voice


def test_preview_needs_a_tts_provider(configure) -> None:
    assert not voices.can_preview(providers(configure()))
    assert voices.can_preview(providers(configure(OPENAI_API_KEY="k")))
    assert voices.can_preview(providers(configure(OPENAI_API_KEY=None, CARTESIA_API_KEY="c")))


# --------------------------------------------------------------- languages


def test_every_language_is_spoken_by_each_provider() -> None:
    """Deepgram (STT) takes the code as is; Cartesia (TTS) takes its base language."""
    deepgram = set(typing.get_args(DeepgramLanguages))
    cartesia = set(typing.get_args(TTSLanguages))
    for code, _ in languages.LANGUAGES:
        assert code in deepgram, code
        assert code.split("-")[0] in cartesia, code
        assert AgentSpec(name="a", instructions="i", language=code).language == code


def test_language_choices_keep_the_current_code() -> None:
    choices = languages.language_choices("es-MX")
    assert choices[0] == ("es-MX", "es-MX (current)")
    assert ("en", "English · en") in choices
    assert languages.language_choices("en")[0] == ("en", "English · en")


# --------------------------------------------------------------- LLM models


def test_models_come_from_pricing_and_the_provider(configure, openai_double) -> None:
    openai_double.models = ("gpt-4o-mini", "llama3.1:8b", "text-embedding-3-small", "tts-1")
    settings = configure(OPENAI_API_KEY="k", OPENAI_BASE_URL=openai_double.base_url)
    names = llm_models.model_choices(settings, "", now=NOW)
    assert names[0] == "gpt-4o-mini"  # OPENAI_MODEL first
    assert {"gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano", "llama3.1:8b"} <= set(names)
    assert "text-embedding-3-small" not in names and "tts-1" not in names
    assert "nova-3" not in names  # an STT price is not an LLM
    listed = [r for r in openai_double.recorded if r.path == "/v1/models"]
    assert len(listed) == 1 and listed[0].headers["Authorization"] == "Bearer k"

    # Cached: the next form does not ask again, until the cache expires.
    llm_models.model_choices(settings, "", now=NOW + timedelta(minutes=9))
    assert len([r for r in openai_double.recorded if r.path == "/v1/models"]) == 1
    llm_models.model_choices(settings, "", now=NOW + timedelta(minutes=11))
    assert len([r for r in openai_double.recorded if r.path == "/v1/models"]) == 2


def test_an_unreadable_model_list_leaves_the_pricing_table(configure) -> None:
    settings = configure(OPENAI_API_KEY="k", OPENAI_BASE_URL=closed_port_url() + "/v1")
    names = llm_models.model_choices(settings, "my-model", now=NOW)
    assert names[0] == "my-model"  # the agent's current model is kept
    priced = {"gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"}
    assert set(names) == priced | {"my-model"}
    # Without an OpenAI key nothing is asked at all.
    assert set(llm_models.model_choices(configure(OPENAI_API_KEY=None), now=NOW)) == priced


# ------------------------------------------------------------ voice sample


def test_sample_is_spoken_by_the_configured_tts(configure, openai_double) -> None:
    settings = configure(OPENAI_API_KEY="k", OPENAI_BASE_URL=openai_double.base_url)
    wav = asyncio.run(voice_sample.voice_sample(voice="coral", language="en", settings=settings))
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getnchannels() == 1 and w.getframerate() == 24000
        assert w.getnframes() / w.getframerate() > 1.0
    (speech,) = [r for r in openai_double.recorded if r.path == "/v1/audio/speech"]
    assert speech.body["voice"] == "coral"
    assert speech.body["model"] == voices.OPENAI_TTS_MODEL
    assert speech.body["input"] == voices.SAMPLE_SENTENCE
    # The same voice again comes from the cache.
    again = asyncio.run(voice_sample.voice_sample(voice="coral", language="en", settings=settings))
    assert again == wav
    assert len([r for r in openai_double.recorded if r.path == "/v1/audio/speech"]) == 1


def test_sample_failures_are_messages(configure) -> None:
    with pytest.raises(voice_sample.ProviderMissing):
        asyncio.run(voice_sample.voice_sample(voice="alloy", language="en", settings=configure()))
    down = configure(
        OPENAI_API_KEY="k",
        OPENAI_BASE_URL=closed_port_url() + "/v1",
        VOXIE_PROVIDER_RETRIES="0",
    )
    with pytest.raises(voice_sample.SampleFailed) as err:
        asyncio.run(voice_sample.voice_sample(voice="alloy", language="en", settings=down))
    assert "voice provider" in err.value.message
