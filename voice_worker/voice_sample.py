"""A short spoken sample of a voice, for the agent form's "Play sample" button.

It is spoken by the TTS a call would use (`providers.build_tts`, the real
plugin clients against the configured provider), so what the admin hears is
what callers will hear. Samples are cached per (voice, language) for the
process: a voice sounds the same every time, and a second click costs nothing.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from livekit.agents.types import APIConnectOptions
from livekit.agents.utils import http_context

from voice_worker.providers import ProviderMissing, build_tts
from voxie_app.models import AgentSpec
from voxie_app.settings import Settings
from voxie_app.voices import SAMPLE_SENTENCE

SAMPLE_TIMEOUT_S = 20.0
_CACHE_SIZE = 32
# A person is waiting on a button: one try, no retry loop behind a spinner.
_ONE_TRY = APIConnectOptions(max_retry=0, timeout=10.0)
_cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()


class SampleFailed(Exception):
    """The provider did not speak the sample; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def voice_sample(*, voice: str, language: str, settings: Settings) -> bytes:
    """WAV bytes of `SAMPLE_SENTENCE` in `voice`. Raises `ProviderMissing` (no TTS
    configured), `SampleFailed` (the provider failed) or `ValueError` (a bad voice)."""
    spec = AgentSpec(name="sample", instructions="sample", voice=voice, language=language)
    key = (spec.voice, spec.language)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    async with http_context.open():  # the Cartesia plugin's HTTP session outside a job
        tts = build_tts(spec, settings)
        try:
            frame = await asyncio.wait_for(
                tts.synthesize(SAMPLE_SENTENCE, conn_options=_ONE_TRY).collect(), SAMPLE_TIMEOUT_S
            )
        except TimeoutError:
            raise SampleFailed("the voice provider did not answer in time") from None
        except Exception as exc:  # noqa: BLE001 - any provider error becomes a message
            raise SampleFailed(f"the voice provider failed: {type(exc).__name__}") from None
        finally:
            await tts.aclose()
    if frame.samples_per_channel == 0:
        raise SampleFailed("the voice provider returned no audio")
    wav = frame.to_wav_bytes()
    _cache[key] = wav
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return wav


def clear_cache() -> None:
    _cache.clear()


__all__ = ["ProviderMissing", "SampleFailed", "clear_cache", "voice_sample"]
