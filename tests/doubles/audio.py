"""Audio-side doubles for driving a voice `AgentSession` with no room.

- `synthesize_speech`: real speech from espeak-ng, converted by sox to 16-bit
  mono PCM at the rate asked for (so Silero VAD hears an actual voice).
- `SpeechInput`: an `AudioInput` that behaves like a caller's microphone: one
  frame every `frame_ms` in real time (or `speed` times faster), silence when
  nothing is being said, the queued speech when `say()` was called.
- `ScriptedSTT`: a non-streaming `stt.STT` (the session wraps it with the VAD,
  as it does for any non-streaming STT) that returns the next scripted
  transcript for each utterance the VAD cut out.
- `StreamingSTT`: a streaming `stt.STT` (as Deepgram's client is): it gets every
  frame, an energy gate stands in for the provider's endpointing, and it sends
  the next scripted final transcript once the caller has been quiet a moment.
- `ToneTTS`: a non-streaming `tts.TTS` that "speaks" a sine tone through the
  framework's `AudioEmitter` (so TTS metrics are the framework's own).
- `CapturedAudioOutput`: an `AudioOutput` that keeps every frame and reports
  playback started/finished like a real sink (without that the session waits
  for playout forever).
- `InstantLLM`: an in-process `llm.LLM` that streams a fixed reply at once
  (benchmarks use it to keep HTTP noise out of what they measure).

Timestamps are `time.perf_counter()` values so benchmarks can measure spans
across these doubles; `cpu_marks()` pairs (event-loop thread CPU time, process
CPU time) are kept beside them.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import llm, stt, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities

TTS_SAMPLE_RATE = 24000


# --------------------------------------------------------------------- speech


def cpu_marks() -> tuple[float, float]:
    """CPU seconds used so far by this thread and by the whole process."""
    return time.thread_time(), time.process_time()


def have_speech_tools() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def synthesize_speech(text: str, *, sample_rate: int = 16000, wav_path: Any = None) -> bytes:
    """Raw 16-bit mono PCM of `text` spoken by espeak-ng, resampled by sox.

    With `wav_path` the espeak-ng WAV is kept there (handy when a test fails).
    """
    if wav_path is not None:
        subprocess.run(["espeak-ng", "-w", str(wav_path), text], check=True, capture_output=True)
        source: list[str] = [str(wav_path)]
        wav_bytes = None
    else:
        wav_bytes = subprocess.run(
            ["espeak-ng", "--stdout", text], check=True, capture_output=True
        ).stdout
        source = ["-t", "wav", "-"]
    to_raw = f"-r {sample_rate} -c 1 -b 16 -e signed-integer -t raw -".split()
    out = subprocess.run(
        ["sox", *source, *to_raw], input=wav_bytes, check=True, capture_output=True
    ).stdout
    if not out:
        raise RuntimeError(f"espeak-ng/sox produced no audio for {text!r}")
    return out


def tone_pcm(duration: float, *, sample_rate: int = TTS_SAMPLE_RATE, freq: float = 440.0) -> bytes:
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    return (np.sin(2 * math.pi * freq * t) * 0.3 * 32767).astype(np.int16).tobytes()


def rms(frames: list[rtc.AudioFrame]) -> float:
    """Root-mean-square level of some 16-bit frames, 0..32767."""
    if not frames:
        return 0.0
    data = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    return float(np.sqrt(np.mean(data.astype(np.float64) ** 2))) if data.size else 0.0


async def wait_for(predicate: Callable[[], object], limit: float, what: str) -> None:
    """Poll `predicate` on the event loop until it is true; fail naming `what` after
    `limit` seconds (a bound against hanging, never a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------------- input


class SpeechInput(AudioInput):
    """A caller's microphone: a frame every `frame_ms`, speech when told, else silence.

    Pacing is by the event loop's clock; `speed` > 1 delivers audio faster than
    real time (the VAD measures speech and silence in samples, so it still works).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        frame_ms: int = 20,
        speed: float = 1.0,
        label: str = "SpeechInput",
    ) -> None:
        super().__init__(label=label)
        self.sample_rate = sample_rate
        self.samples_per_frame = sample_rate * frame_ms // 1000
        self.frame_seconds = self.samples_per_frame / sample_rate
        self.speed = speed
        self._frame_bytes = self.samples_per_frame * 2
        self._silence = bytes(self._frame_bytes)
        self._pending: deque[bytes] = deque()
        self._done: deque[tuple[int, asyncio.Future[float]]] = deque()
        self._next_at: float | None = None
        self._closed = False
        self.frames_sent = 0
        self.speech_frames_sent = 0

    def say(self, pcm: bytes) -> asyncio.Future[float]:
        """Queue speech (16-bit mono PCM at `sample_rate`); the future resolves with the
        `perf_counter()` time its last frame was delivered."""
        step = self._frame_bytes
        for i in range(0, len(pcm), step):
            self._pending.append(pcm[i : i + step].ljust(step, b"\0"))
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._done.append((self.speech_frames_sent + len(self._pending), fut))
        return fut

    @property
    def speaking(self) -> bool:
        return bool(self._pending)

    def close(self) -> None:
        self._closed = True

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next_at is None or now - self._next_at > 0.25:
            self._next_at = now  # start, or the loop stalled: do not burst to catch up
        if self._next_at > now:
            await asyncio.sleep(self._next_at - now)
        self._next_at += self.frame_seconds / self.speed
        if self._closed:
            raise StopAsyncIteration
        if self._pending:
            data = self._pending.popleft()
            self.speech_frames_sent += 1
            while self._done and self._done[0][0] <= self.speech_frames_sent:
                _, fut = self._done.popleft()
                if not fut.done():
                    fut.set_result(time.perf_counter())
        else:
            data = self._silence
        self.frames_sent += 1
        return rtc.AudioFrame(data, self.sample_rate, 1, self.samples_per_frame)


# ------------------------------------------------------------------------ STT


class ScriptedSTT(stt.STT):
    """Non-streaming STT: each recognised utterance gets the next scripted transcript
    (the last one repeats). `finals` keeps when each transcript was returned."""

    def __init__(self, transcripts: list[str] | str, *, language: str = "en") -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self.transcripts = [transcripts] if isinstance(transcripts, str) else list(transcripts)
        self.language = language
        self.audio_seconds: list[float] = []
        self.finals: list[float] = []
        self.finals_cpu: list[tuple[float, float]] = []
        self.on_final: Callable[[str], None] | None = None

    @property
    def model(self) -> str:
        return "stt-double"

    @property
    def provider(self) -> str:
        return "voxie-tests"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: Any = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer) if isinstance(buffer, list) else buffer
        self.audio_seconds.append(frame.duration)
        index = min(len(self.finals), len(self.transcripts) - 1)
        text = self.transcripts[index]
        self.finals.append(time.perf_counter())
        self.finals_cpu.append(cpu_marks())
        if self.on_final is not None:
            self.on_final(text)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex,
            alternatives=[stt.SpeechData(language=self.language, text=text, confidence=1.0)],
        )


class StreamingSTT(ScriptedSTT):
    """Streaming STT: every frame goes to the stream; `silence` seconds after the level
    drops below `threshold` the next scripted transcript is sent as final."""

    def __init__(
        self,
        transcripts: list[str] | str,
        *,
        language: str = "en",
        silence: float = 0.3,
        threshold: float = 300.0,
    ) -> None:
        super().__init__(transcripts, language=language)
        self._capabilities = stt.STTCapabilities(streaming=True, interim_results=False)
        self.silence = silence
        self.threshold = threshold

    def stream(
        self,
        *,
        language: Any = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return _EnergyGateStream(stt=self, conn_options=conn_options)


class _EnergyGateStream(stt.RecognizeStream):
    async def _run(self) -> None:
        owner: StreamingSTT = self._stt  # type: ignore[assignment]
        heard = quiet = 0.0
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                if heard:
                    self._final(owner, heard)
                    heard = quiet = 0.0
                continue
            samples = np.frombuffer(item.data, dtype=np.int16).astype(np.float32)
            level = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
            if level >= owner.threshold:
                heard += item.duration
                quiet = 0.0
            elif heard:
                heard += item.duration
                quiet += item.duration
                if quiet >= owner.silence:
                    self._final(owner, heard)
                    heard = quiet = 0.0

    def _final(self, owner: StreamingSTT, seconds: float) -> None:
        index = min(len(owner.finals), len(owner.transcripts) - 1)
        text = owner.transcripts[index]
        owner.audio_seconds.append(seconds)
        owner.finals.append(time.perf_counter())
        owner.finals_cpu.append(cpu_marks())
        request_id = uuid.uuid4().hex
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                request_id=request_id,
                alternatives=[stt.SpeechData(language=owner.language, text=text, confidence=1.0)],
            )
        )
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=stt.SpeechEventType.RECOGNITION_USAGE,
                request_id=request_id,
                recognition_usage=stt.RecognitionUsage(audio_duration=seconds),
            )
        )


# ------------------------------------------------------------------------ TTS


class ToneTTS(tts.TTS):
    """Non-streaming TTS: `duration` seconds of a sine tone for every request."""

    def __init__(self, *, duration: float = 0.2, sample_rate: int = TTS_SAMPLE_RATE) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self.duration = duration
        self.pcm = tone_pcm(duration, sample_rate=sample_rate)
        self.requests: list[str] = []

    @property
    def model(self) -> str:
        return "tts-double"

    @property
    def provider(self) -> str:
        return "voxie-tests"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        self.requests.append(text)
        return _ToneStream(tts=self, input_text=text, conn_options=conn_options)


class _ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        tone: ToneTTS = self._tts  # type: ignore[assignment]
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=tone.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            frame_size_ms=20,
        )
        output_emitter.push(tone.pcm)
        output_emitter.flush()


# ------------------------------------------------------------------------ LLM


class InstantLLM(llm.LLM):
    """In-process LLM: streams `reply` at once, in a few chunks, with usage."""

    def __init__(self, reply: str = "Sure, I can help with that.", *, model: str = "gpt-4o-mini"):
        super().__init__()
        self.reply = reply
        self._model = model
        self.requests = 0

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "voxie-tests"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[Any] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> llm.LLMStream:
        self.requests += 1
        return _InstantStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _InstantStream(llm.LLMStream):
    async def _run(self) -> None:
        model: InstantLLM = self._llm  # type: ignore[assignment]
        request_id = f"instant-{uuid.uuid4().hex[:8]}"
        words = model.reply.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=piece))
            )
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                usage=llm.CompletionUsage(
                    prompt_tokens=100, completion_tokens=len(words), total_tokens=100 + len(words)
                ),
            )
        )


# --------------------------------------------------------------------- output


@dataclass
class Segment:
    """One stretch of agent audio, from its first frame to flush/clear."""

    frames: list[rtc.AudioFrame] = field(default_factory=list)
    first_frame_at: float = 0.0
    first_frame_cpu: tuple[float, float] = (0.0, 0.0)
    interrupted: bool = False

    @property
    def duration(self) -> float:
        return sum(f.duration for f in self.frames)


class CapturedAudioOutput(AudioOutput):
    """Keeps the agent's audio and reports playback like a real sink.

    Playback "starts" at the first frame of a segment and "finishes" when the
    segment is flushed: at once, or after its duration / `playout_speed` when a
    playout speed is given (to keep the agent speaking as long as a room would).
    It can pause (the framework pauses on a possible false interruption).
    """

    def __init__(
        self, *, sample_rate: int | None = None, playout_speed: float | None = None
    ) -> None:
        super().__init__(
            label="CapturedAudioOutput",
            capabilities=AudioOutputCapabilities(pause=True),
            sample_rate=sample_rate,
        )
        self.playout_speed = playout_speed
        self.segments: list[Segment] = []
        self.on_first_frame: Callable[[float], None] | None = None
        self._current: Segment | None = None  # being written by the framework
        self._queued: deque[list[Any]] = deque()  # flushed: [segment, playout left (s)]
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False

    @property
    def frames(self) -> list[rtc.AudioFrame]:
        return [f for s in self.segments for f in s.frames]

    @property
    def playing(self) -> bool:
        """A segment is being written or has not finished playing out."""
        return self._current is not None or bool(self._queued)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._current is None:
            self._current = Segment(first_frame_at=time.perf_counter(), first_frame_cpu=cpu_marks())
            self.segments.append(self._current)
            if self.on_first_frame is not None:
                self.on_first_frame(self._current.first_frame_at)
            self.on_playback_started(created_at=time.time())
        self._current.frames.append(frame)

    def flush(self) -> None:
        super().flush()
        segment, self._current = self._current, None
        if segment is None:
            return
        playout = segment.duration / self.playout_speed if self.playout_speed else 0.0
        self._queued.append([segment, playout])
        self._arm()

    def pause(self) -> None:
        self._paused = True
        if self._timer is not None:
            left = self._timer.when() - asyncio.get_running_loop().time()
            self._queued[0][1] = max(left, 0.0)
            self._timer.cancel()
            self._timer = None

    def resume(self) -> None:
        self._paused = False
        self._arm()

    def clear_buffer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        stopped = [segment for segment, _ in self._queued]
        self._queued.clear()
        if self._current is not None:
            super().flush()  # close the segment the framework is still writing
            stopped.append(self._current)
            self._current = None
        for segment in stopped:
            self._report(segment, interrupted=True)

    def _arm(self) -> None:
        if self._paused or self._timer is not None or not self._queued:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._queued[0][1], self._played)

    def _played(self) -> None:
        self._timer = None
        segment, _ = self._queued.popleft()
        self._report(segment, interrupted=False)
        self._arm()

    def _report(self, segment: Segment, *, interrupted: bool) -> None:
        segment.interrupted = interrupted
        self.on_playback_finished(playback_position=segment.duration, interrupted=interrupted)
