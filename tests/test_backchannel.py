"""Barge-in: "mhm" over the agent is not a turn; a real word stops it.

The rule (`voice_worker.backchannel`), the interruption options per kind of STT
(`providers.turn_handling`), and the three outcomes through a real voice session with
the barge-in probe of `bench/turn_taking.py`: behaviour only, never timings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from livekit.agents import stt
from livekit.plugins import deepgram
from livekit.plugins import openai as lk_openai

from bench import turn_taking
from tests.doubles.audio import have_speech_tools
from voice_worker import providers
from voice_worker.backchannel import drop_backchannels, is_backchannel
from voice_worker.spec_agent import SpecAgent
from voxie_app.models import AgentSpec
from voxie_app.settings import Settings

SPEC = AgentSpec(name="Desk", instructions="Book cleanings.")


@pytest.mark.parametrize(
    "text", ["mhm", "Mm-hmm.", "uh-huh", "Okay.", "yeah yeah", "got it", "I see", "okay, got it"]
)
def test_acknowledgements_are_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    ["", "wait", "no", "yes", "I", "it", "okay but wait", "sure thing", "right right right right"],
)
def test_words_that_take_the_floor_are_not(text: str) -> None:
    assert not is_backchannel(text)


def _event(kind: stt.SpeechEventType, text: str) -> stt.SpeechEvent:
    data = stt.SpeechData(language="en", text=text, confidence=0.9)
    return stt.SpeechEvent(type=kind, request_id="r1", alternatives=[data])


async def _through(events: list[stt.SpeechEvent], speaking: bool) -> list[stt.SpeechEvent]:
    async def source() -> AsyncIterator[stt.SpeechEvent]:
        for ev in events:
            yield ev

    return [ev async for ev in drop_backchannels(source(), lambda: speaking)]  # type: ignore[misc]


async def test_backchannels_are_blanked_only_while_the_agent_speaks() -> None:
    interim = stt.SpeechEventType.INTERIM_TRANSCRIPT
    final = stt.SpeechEventType.FINAL_TRANSCRIPT
    events = [
        _event(stt.SpeechEventType.START_OF_SPEECH, ""),
        _event(interim, "okay"),
        _event(final, "okay"),
        _event(interim, "okay but"),
        _event(final, "okay but wait"),
    ]
    over = await _through(events, speaking=True)
    assert [(e.type, e.alternatives[0].text) for e in over] == [
        (stt.SpeechEventType.START_OF_SPEECH, ""),
        (interim, ""),
        (final, ""),  # still a final: the session learns the segment held no words
        (interim, "okay but"),
        (final, "okay but wait"),
    ]
    assert over[2].request_id == "r1"
    after = await _through(events, speaking=False)  # "okay" is now an answer
    assert [e.alternatives[0].text for e in after] == [e.alternatives[0].text for e in events]


def test_every_voxie_agent_blanks_backchannels() -> None:
    from voice_worker.backchannel import BackchannelAware
    from voice_worker.builder_agent import VoxieBuilder

    assert issubclass(SpecAgent, BackchannelAware)
    assert issubclass(VoxieBuilder, BackchannelAware)


async def test_interruption_follows_the_kind_of_stt(configure: Callable[..., Settings]) -> None:
    from livekit.agents import AgentSession

    settings = configure()
    words = providers.turn_handling(SPEC, settings, word_stt=True)["interruption"]
    segments = providers.turn_handling(SPEC, settings, word_stt=False)["interruption"]
    # 0.2 s of voice pauses the agent whatever the STT; the resume waits for the final
    # transcript, which a segment STT sends only after a request.
    assert words["min_duration"] == segments["min_duration"] == 0.2
    assert words["false_interruption_timeout"] < segments["false_interruption_timeout"]
    for chosen in (words, segments):
        session = AgentSession(turn_handling={"interruption": chosen})
        for key, value in chosen.items():
            assert session.options.interruption[key] == value
        assert session.options.interruption["resume_false_interruption"] is True


def test_streams_words_judges_the_first_choice() -> None:
    from livekit.agents.vad import VAD

    dg = deepgram.STT(api_key="dg-test")
    oa = lk_openai.STT(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert providers.streams_words(dg)
    assert not providers.streams_words(oa)

    class _NoVAD(VAD):  # never run: the adapter only needs one to wrap `oa`
        def __init__(self) -> None:
            super().__init__(capabilities=None)  # type: ignore[arg-type]

        def stream(self):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    assert providers.streams_words(stt.FallbackAdapter([dg, oa], vad=_NoVAD()))
    assert not providers.streams_words(stt.FallbackAdapter([oa, dg], vad=_NoVAD()))


speech = pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and sox")


@speech
@pytest.mark.parametrize("config", ["barge-voxie-words", "barge-voxie-segments"])
async def test_a_backchannel_over_the_agent_does_not_stop_it(config: str) -> None:
    probe = await turn_taking.barge_in_probe(
        "backchannel", "okay", "okay", "en-us", turn_taking.CONFIGS[config]
    )
    assert probe["paused"] and probe["continued"], probe  # paused, then resumed


@speech
async def test_a_real_interruption_stops_the_agent() -> None:
    text = "wait, actually I need Thursday instead"
    probe = await turn_taking.barge_in_probe(
        "interruption", text, None, "en-us", turn_taking.CONFIGS["barge-voxie-words"]
    )
    assert probe["stopped"], probe


@speech
async def test_a_sound_without_words_lets_the_agent_go_on() -> None:
    probe = await turn_taking.barge_in_probe(
        "false", "hmm", "", "en-gb", turn_taking.CONFIGS["barge-voxie-segments"]
    )
    assert probe["paused"] and probe["continued"], probe  # paused, then resumed
