"""The language codes an agent can speak: the one list the form offers.

Each code is understood by every speech provider Voxie drives: Deepgram nova-3
and OpenAI transcription (STT), Cartesia sonic and OpenAI TTS. Regional codes
(`en-GB`, `es-MX`, `pt-BR`) go to Deepgram as they are and to the others as
their base language (voice_worker/providers.py). `AgentSpec` still accepts any
well-formed code, so an API client can go beyond this list.
"""

from __future__ import annotations

LANGUAGES: tuple[tuple[str, str], ...] = (
    ("en", "English"),
    ("en-US", "English (US)"),
    ("en-GB", "English (UK)"),
    ("en-AU", "English (Australia)"),
    ("en-IN", "English (India)"),
    ("es", "Spanish"),
    ("es-419", "Spanish (Latin America)"),
    ("fr", "French"),
    ("fr-CA", "French (Canada)"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("pt-BR", "Portuguese (Brazil)"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("sv", "Swedish"),
    ("da", "Danish"),
    ("no", "Norwegian"),
    ("tr", "Turkish"),
    ("ru", "Russian"),
    ("uk", "Ukrainian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("zh", "Chinese"),
    ("hi", "Hindi"),
)
LANGUAGE_CODES: frozenset[str] = frozenset(code for code, _ in LANGUAGES)


def language_choices(current: str = "") -> list[tuple[str, str]]:
    """(code, label) pairs; an agent's `current` code not in the list is kept first."""
    choices = [(code, f"{name} · {code}") for code, name in LANGUAGES]
    if current and current not in LANGUAGE_CODES:
        choices.insert(0, (current, f"{current} (current)"))
    return choices
