"""The OpenAI Realtime (speech-to-speech) models and voices a spec may name.

One list for the spec's validation, the agent form and the builder's schema. The
voices are the Realtime API's own (`marin` and `cedar` exist only there; `fable`,
`nova` and `onyx` only in the TTS API), so a realtime agent keeps a voice field of
its own (`AgentSpec.realtime_voice`) beside the cascade's `voice`.
"""

from __future__ import annotations

REALTIME_MODELS: tuple[str, ...] = (
    "gpt-realtime",
    "gpt-realtime-mini",
    "gpt-4o-realtime-preview",
    "gpt-4o-mini-realtime-preview",
)
REALTIME_VOICES: tuple[str, ...] = (
    "marin",
    "cedar",
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
)
DEFAULT_REALTIME_MODEL = REALTIME_MODELS[0]
DEFAULT_REALTIME_VOICE = REALTIME_VOICES[0]
# What a realtime agent needs configured; named in the 422 at save and the refusal at
# call start.
REALTIME_SETTING = "OPENAI_API_KEY"
