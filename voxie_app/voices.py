"""The voices Voxie's TTS providers offer: the one list the form, the spec and the worker use.

OpenAI's TTS takes a voice by name; Cartesia takes a voice id (a UUID): its
plugin's default voice is offered by name, and any other Cartesia voice id
stays valid in the spec (the API accepts it; the form keeps an agent's current
voice). Which voices the form offers depends on which providers are configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxie_app.settings import ProviderStatus

OPENAI_TTS_MODEL = "gpt-4o-mini-tts"
OPENAI_VOICES: frozenset[str] = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
)
# Cartesia voice ids with a name a person can pick (the plugin's default first).
CARTESIA_VOICES: dict[str, str] = {
    "f786b574-daa5-4673-aa0c-cbe3e8534c02": "Katie",
}
# What "Play sample" says: short, so a preview costs a fraction of a cent.
SAMPLE_SENTENCE = "Hello! This is how I will sound when I answer your calls."


@dataclass(frozen=True)
class VoiceChoice:
    value: str
    label: str


def voice_choices(status: ProviderStatus, current: str = "") -> list[VoiceChoice]:
    """The voices the configured TTS providers offer, Cartesia first (it is tried first).

    With no TTS provider configured the OpenAI voices are offered (the default
    `alloy` must stay pickable). An agent's `current` voice that is not in the
    list is kept as a choice, so editing an agent never changes its voice silently.
    """
    choices: list[VoiceChoice] = []
    if status.cartesia:
        choices += [VoiceChoice(v, f"{name} (Cartesia)") for v, name in CARTESIA_VOICES.items()]
    if status.openai or not status.cartesia:
        suffix = " (OpenAI)" if status.cartesia else ""
        choices += [VoiceChoice(v, v.capitalize() + suffix) for v in sorted(OPENAI_VOICES)]
    if current and current not in {c.value for c in choices}:
        choices.insert(0, VoiceChoice(current, f"{current} (current)"))
    return choices


def can_preview(status: ProviderStatus) -> bool:
    """A sample can be spoken only by a configured TTS provider."""
    return status.openai or status.cartesia
