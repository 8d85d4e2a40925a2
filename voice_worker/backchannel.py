"""Backchannels: the caller's "mhm", "okay", "yeah" while the agent speaks.

A person who says "mhm" while someone talks is listening, not taking the floor. The
framework cannot tell: any transcript that arrives while the agent speaks stops it,
and the agent then answers "mhm" (livekit's model that tells them apart runs only on
LiveKit Cloud). So each agent's `stt_node` blanks a transcript made only of
backchannel words *while the agent's speech is under way* (playing or paused by the
caller's sound). To the session that is speech without words: the sound paused the
agent (0.2 s of it, `providers.turn_handling`), and a transcript without words makes it
a false interruption, so the agent resumes where it paused instead of stopping and
answering "mhm".

Once the agent has finished, "okay" is an answer and passes unchanged.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable

from livekit import rtc
from livekit.agents import Agent, ModelSettings, stt

# Words that only acknowledge. "yes" and "no" are left out: said over the agent they
# are often answers to what it is asking, and stopping for them is the safer mistake.
BACKCHANNEL_WORDS = frozenset(
    {
        "mhm", "mm", "mmhm", "mmhmm", "mhmm", "hm", "uh", "um", "uhhuh",
        "ok", "okay", "yeah", "yep", "yup", "right", "alright", "sure", "cool", "great",
        "fine", "gotit", "isee",
    }
)  # fmt: skip
# Two-word acknowledgements, read as one word ("got it" -> "gotit").
_JOINED = frozenset({("got", "it"), ("i", "see"), ("uh", "huh")})
_WORD = re.compile(r"[a-z]+")


def is_backchannel(text: str) -> bool:
    """True for a short acknowledgement ("mhm", "okay", "yeah yeah", "got it"): at most
    three words, every one of them an acknowledgement."""
    words = _WORD.findall(text.lower().replace("-", ""))
    if not words or len(words) > 3:
        return False
    tokens: list[str] = []
    i = 0
    while i < len(words):
        if tuple(words[i : i + 2]) in _JOINED:
            tokens.append(words[i] + words[i + 1])
            i += 2
        else:
            tokens.append(words[i])
            i += 1
    return all(t in BACKCHANNEL_WORDS for t in tokens)


def _blank(ev: stt.SpeechEvent) -> stt.SpeechEvent:
    """The same event with no words: the session still learns the segment ended."""
    alternatives = [
        stt.SpeechData(language=a.language, text="", confidence=a.confidence)
        for a in ev.alternatives[:1]
    ]
    return stt.SpeechEvent(type=ev.type, request_id=ev.request_id, alternatives=alternatives)


async def drop_backchannels(
    events: AsyncIterable[stt.SpeechEvent | str], agent_speaking: Callable[[], bool]
) -> AsyncIterator[stt.SpeechEvent | str]:
    """Pass `events` on, blanking interim and final transcripts that are only
    backchannel words while `agent_speaking()`."""
    async for ev in events:
        if (
            isinstance(ev, stt.SpeechEvent)
            and ev.type
            in (stt.SpeechEventType.INTERIM_TRANSCRIPT, stt.SpeechEventType.FINAL_TRANSCRIPT)
            and ev.alternatives
            and agent_speaking()
            and is_backchannel(ev.alternatives[0].text)
        ):
            yield _blank(ev)
        else:
            yield ev


class BackchannelAware(Agent):
    """An agent that is not stopped by "mhm" (see the module's docstring)."""

    def _speech_under_way(self) -> bool:
        speech = self.session.current_speech
        return speech is not None and not speech.done() and not speech.interrupted

    async def stt_node(  # type: ignore[override]
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterator[stt.SpeechEvent | str]:
        events = Agent.default.stt_node(self, audio, model_settings)
        async for ev in drop_backchannels(events, self._speech_under_way):
            yield ev
