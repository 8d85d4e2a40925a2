"""Turn-taking: how soon the agent answers, and how often it cuts the caller off.

    .venv/bin/python -m bench.turn_taking                     # every configuration
    .venv/bin/python -m bench.turn_taking --configs today,default,fast,patient
    .venv/bin/python -m bench.turn_taking --limit 20          # the first 20 utterances

The fixed corpus (`bench/turn_corpus/corpus.json`, 66 utterances: a third with a
300-900 ms pause mid-sentence, a third short answers, a quarter over pink noise) goes
through a real livekit-agents `AgentSession` with no room, one session per
configuration, one utterance after another like one long call: the worker's VAD
(livekit's built-in Silero, inline), an instant STT double that returns the text of
the parts it was handed audio for, an instant LLM, an instant TTS (a 200 ms tone) and
an audio output that plays out in real time and reports playback.

Measured per utterance:

- response gap: the delivery of the frame holding the caller's last speech sample ->
  the first agent audio frame after it;
- cut-in: an agent audio frame started after the caller began and before that last
  speech sample (on paused utterances: in the pause);
- CPU: the process's CPU time over the configuration's run, as a share of one core
  and per utterance.

Speech frames arrive `--speech-speed` times faster than real time (the VAD counts
speech and silence in samples); pauses, the noisy tail and the silence after the
caller stops arrive in real time, because the endpointing delays are wall-clock timers
that race them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import turn_corpus
from bench._harness import configure, ms, pct, write_results

FRAME_MS = 50  # what the worker asks the room for (voice_worker.worker.INPUT_FRAME_MS)
INSTRUCTIONS = "You are the receptionist of Bright Smile Dental. Book cleanings."
REPLY = "Sure, I can help with that."
TARGET = {"gap_p50_ms": 350, "gap_p95_ms": 700, "cut_in_rate": 0.05}


# ------------------------------------------------------------------ configurations


@dataclass(frozen=True)
class Config:
    """One way of taking turns: session `turn_handling` overrides (merged over the
    worker's own `providers.turn_handling`), the VAD's silence, or a Voxie preset."""

    name: str
    about: str
    overrides: dict[str, Any] = field(default_factory=dict)
    vad_silence: float | None = None  # None: the worker's VAD_MIN_SILENCE_SECONDS
    preset: str | None = None  # a `turn_preset` for the spec: the worker's own path
    # The STT double: "segments" (VAD-cut, one final per segment, like OpenAI's) or
    # "words" (streaming, an interim per word, like Deepgram's).
    stt: str = "segments"
    # Voxie's agent class (backchannels blanked while it speaks) instead of a bare Agent.
    voxie_agent: bool = False


def _model() -> Any:
    from livekit.agents import inference

    return inference.TurnDetector(version="v1-mini")


# What the worker did before the presets (0.55 s of VAD silence, livekit's fixed 0.5-3.0 s).
# Barge-in as livekit ships it (what the worker left at its defaults before it was tuned).
LIVEKIT_INTERRUPTION: dict[str, Any] = {
    "min_words": 0,
    "min_duration": 0.5,
    "false_interruption_timeout": 2.0,
}
TODAY: dict[str, Any] = {
    "endpointing": {"mode": "fixed", "min_delay": 0.5, "max_delay": 3.0},
    "interruption": LIVEKIT_INTERRUPTION,
}

CONFIGS: dict[str, Config] = {
    c.name: c
    for c in [
        Config(
            "today",
            "before this benchmark: VAD 0.55 s, fixed 0.5-3.0 s, preemptive on",
            TODAY,
            0.55,
        ),
        Config(
            "no-preemptive",
            "today, preemptive generation off",
            {**TODAY, "preemptive_generation": {"enabled": False}},
            0.55,
        ),
        Config(
            "preemptive-tts",
            "today, preemptive TTS too",
            {**TODAY, "preemptive_generation": {"preemptive_tts": True}},
            0.55,
        ),
        Config(
            "vad0.25-min0.3",
            "VAD 0.25 s, fixed min 0.3 s",
            {"endpointing": {"min_delay": 0.3}},
            0.25,
        ),
        Config(
            "vad0.25-min0.6",
            "VAD 0.25 s, fixed min 0.6 s",
            {"endpointing": {"min_delay": 0.6}},
            0.25,
        ),
        Config(
            "vad0.25-min0.9",
            "VAD 0.25 s, fixed min 0.9 s",
            {"endpointing": {"min_delay": 0.9}},
            0.25,
        ),
        Config(
            "vad0.25-min1.0",
            "VAD 0.25 s, fixed min 1.0 s",
            {"endpointing": {"min_delay": 1.0}},
            0.25,
        ),
        Config(
            "vad0.25-min1.1",
            "VAD 0.25 s, fixed min 1.1 s",
            {"endpointing": {"min_delay": 1.1}},
            0.25,
        ),
        Config(
            "dynamic-0.3-1.5",
            "VAD 0.25 s, dynamic 0.3-1.5 s, alpha 0.9",
            {"endpointing": {"mode": "dynamic", "min_delay": 0.3, "max_delay": 1.5, "alpha": 0.9}},
            0.25,
        ),
        Config(
            "dynamic-0.3-1.5-a0.5",
            "VAD 0.25 s, dynamic 0.3-1.5 s, alpha 0.5",
            {"endpointing": {"mode": "dynamic", "min_delay": 0.3, "max_delay": 1.5, "alpha": 0.5}},
            0.25,
        ),
        Config(
            "model-today",
            "end-of-turn model v1-mini, today's delays",
            {**TODAY, "turn_detection": _model},
            0.55,
        ),
        Config(
            "model-0.3-1.5",
            "VAD 0.25 s, model v1-mini, fixed 0.3-1.5 s",
            {"turn_detection": _model, "endpointing": {"min_delay": 0.3, "max_delay": 1.5}},
            0.25,
        ),
        Config(
            "model-0.2-2.0",
            "VAD 0.2 s, model v1-mini, fixed 0.2-2.0 s",
            {"turn_detection": _model, "endpointing": {"min_delay": 0.2, "max_delay": 2.0}},
            0.2,
        ),
        Config("default", "Voxie's preset `default`", preset="default"),
        Config("fast", "Voxie's preset `fast`", preset="fast"),
        Config("patient", "Voxie's preset `patient`", preset="patient"),
        # Barge-in (`--barge-in`): livekit's interruption defaults with a bare Agent,
        # then Voxie's tuned options and agent class, for each kind of STT.
        Config(
            "barge-livekit-segments",
            "livekit's barge-in defaults, bare Agent, segment STT",
            {"interruption": LIVEKIT_INTERRUPTION},
            preset="default",
        ),
        Config(
            "barge-livekit-words",
            "livekit's barge-in defaults, bare Agent, streaming word STT",
            {"interruption": LIVEKIT_INTERRUPTION},
            preset="default",
            stt="words",
        ),
        Config(
            "barge-voxie-segments",
            "Voxie: segment STT, pause at 0.2 s, backchannels blanked, resume after 1 s",
            preset="default",
            voxie_agent=True,
        ),
        Config(
            "barge-voxie-words",
            "Voxie: word STT, pause at 0.2 s, backchannels blanked, resume after 0.5 s",
            preset="default",
            stt="words",
            voxie_agent=True,
        ),
        Config(
            "barge-voxie-words-first-word",
            "word STT, min_words 1: only a real word pauses the agent, backchannels blanked",
            {"interruption": {"min_words": 1}},
            preset="default",
            stt="words",
            voxie_agent=True,
        ),
    ]
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if callable(value):
            value = value()
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def session_setup(config: Config, settings: Any) -> tuple[dict[str, Any], float]:
    """The session's `turn_handling` and the VAD's silence for `config`, built from
    the worker's own functions."""
    from voice_worker import providers, worker
    from voxie_app.models import AgentSpec

    spec_fields: dict[str, Any] = {"name": "Bench", "instructions": INSTRUCTIONS}
    if config.preset is not None:
        spec_fields["turn_preset"] = config.preset
    spec = AgentSpec(**spec_fields)
    handling = _merge(
        providers.turn_handling(spec, settings, word_stt=config.stt == "words"),
        config.overrides,
    )
    silence = config.vad_silence
    if silence is None:
        silence = getattr(providers, "vad_min_silence", lambda _s: None)(spec)
    if silence is None:
        silence = worker.VAD_MIN_SILENCE_SECONDS
    return handling, silence


# ------------------------------------------------------------------------ doubles


@dataclass
class Played:
    """When each part of one utterance reached the session (`perf_counter`)."""

    speech_starts: list[float] = field(default_factory=list)
    speech_ends: list[float] = field(default_factory=list)
    done: asyncio.Future[None] | None = None


class CorpusInput:
    """A caller's microphone for the corpus: 50 ms frames; speech frames `speech_speed`
    times faster than real time, everything else (pauses, noise, the silence between
    utterances) in real time; `heard` is the text of every spoken part started so far."""

    def __init__(self, *, speech_speed: float) -> None:
        from livekit.agents.voice.io import AudioInput

        self._base = AudioInput
        self.samples = turn_corpus.SAMPLE_RATE * FRAME_MS // 1000
        self.speech_speed = speech_speed
        self._frames: deque[tuple[bytes, bool, Callable[[float], None] | None]] = deque()
        self.heard: list[str] = []
        # Streaming STT doubles listening for words: (words heard so far, final?).
        self.word_listeners: list[Callable[[str, bool], None]] = []

    def _words(self, text: str, n_chunks: int) -> dict[int, tuple[str, bool]]:
        """Chunk index -> the transcript so far once that chunk is heard: each word
        "ends" in proportion to its letters, the whole text is final at the last chunk
        (an STT that transcribes each word as soon as it is spoken, and ends the
        segment with the speech)."""
        words = text.split()
        if not words:
            return {}
        total = sum(len(w) for w in words)
        marks: dict[int, tuple[str, bool]] = {}
        done = 0
        for k, word in enumerate(words, start=1):
            done += len(word)
            at = min(n_chunks - 1, max(0, round(n_chunks * done / total) - 1))
            marks[at] = (" ".join(words[:k]), False)
        marks[n_chunks - 1] = (text, True)
        return marks

    def _say_words(self, text: str, final: bool) -> None:
        for listener in self.word_listeners:
            listener(text, final)

    def play(self, parts: list[turn_corpus.Part], texts: list[str]) -> Played:
        played = Played(done=asyncio.get_running_loop().create_future())
        step = self.samples * 2
        spoken = iter(texts)
        for part in parts:
            chunks = [
                part.pcm[i : i + step].ljust(step, b"\0") for i in range(0, len(part.pcm), step)
            ]
            text = next(spoken) if part.speech else ""
            words = self._words(text, len(chunks)) if part.speech else {}
            for i, chunk in enumerate(chunks):
                first = part.speech and i == 0
                last = part.speech and i == len(chunks) - 1
                word = words.get(i)
                mark = None
                if first or last or word:

                    def mark(
                        t: float,
                        first: bool = first,
                        last: bool = last,
                        text: str = text,
                        word: tuple[str, bool] | None = word,
                    ) -> None:
                        if first:
                            played.speech_starts.append(t)
                            self.heard.append(text)
                        if last:
                            played.speech_ends.append(t)
                        if word is not None:
                            self._say_words(*word)

                self._frames.append((chunk, part.speech, mark))

        def finish(_t: float) -> None:
            if not played.done.done():
                played.done.set_result(None)

        self._frames.append((bytes(step), False, finish))
        return played

    def build(self) -> Any:
        owner = self

        class _Input(self._base):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                super().__init__(label="CorpusInput")
                self._next_at: float | None = None
                self._closed = False

            def close(self) -> None:
                self._closed = True

            async def __anext__(self) -> Any:
                from livekit import rtc

                if self._closed:
                    raise StopAsyncIteration
                loop = asyncio.get_running_loop()
                now = loop.time()
                if self._next_at is None or now - self._next_at > 0.25:
                    self._next_at = now
                if self._next_at > now:
                    await asyncio.sleep(self._next_at - now)
                if self._closed:
                    raise StopAsyncIteration
                if owner._frames:
                    data, speech, mark = owner._frames.popleft()
                else:
                    data, speech, mark = bytes(owner.samples * 2), False, None
                self._next_at += FRAME_MS / 1000 / (owner.speech_speed if speech else 1.0)
                if mark is not None:
                    mark(time.perf_counter())
                return rtc.AudioFrame(data, turn_corpus.SAMPLE_RATE, 1, owner.samples)

        return _Input()


def corpus_stt(mic: CorpusInput) -> Any:
    """A non-streaming STT double (the session runs it on each stretch of speech the VAD
    cut out) that answers at once with the text of the spoken parts started since its
    last answer."""
    import uuid

    from livekit.agents import stt

    class CorpusSTT(stt.STT):
        def __init__(self) -> None:
            super().__init__(
                capabilities=stt.STTCapabilities(streaming=False, interim_results=False)
            )
            self.taken = 0

        @property
        def model(self) -> str:
            return "stt-double"

        @property
        def provider(self) -> str:
            return "voxie-bench"

        async def _recognize_impl(
            self, buffer: Any, *, language: Any = None, conn_options: Any = None
        ) -> Any:
            text = " ".join(mic.heard[self.taken :])
            self.taken = len(mic.heard)
            return stt.SpeechEvent(
                type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                request_id=uuid.uuid4().hex,
                alternatives=[stt.SpeechData(language="en", text=text, confidence=1.0)],
            )

    return CorpusSTT()


def word_stt(mic: CorpusInput) -> Any:
    """A streaming STT double with interim results, like Deepgram's: an interim
    transcript as each word is spoken, the final one with the segment's last speech
    sample (no recognition delay: the instant double of the word-by-word kind)."""
    import uuid

    from livekit.agents import stt
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

    class WordStream(stt.RecognizeStream):
        def __init__(self, owner: stt.STT, conn_options: Any) -> None:
            super().__init__(stt=owner, conn_options=conn_options)
            self._request = uuid.uuid4().hex
            mic.word_listeners.append(self._on_words)

        def _on_words(self, text: str, final: bool) -> None:
            kind = stt.SpeechEventType.FINAL_TRANSCRIPT if final else None
            kind = kind or stt.SpeechEventType.INTERIM_TRANSCRIPT
            data = stt.SpeechData(language="en", text=text, confidence=1.0)
            with contextlib.suppress(Exception):  # the stream closed meanwhile
                self._event_ch.send_nowait(
                    stt.SpeechEvent(type=kind, request_id=self._request, alternatives=[data])
                )

        async def _run(self) -> None:
            try:
                async for _frame in self._input_ch:
                    pass
            finally:
                with contextlib.suppress(ValueError):
                    mic.word_listeners.remove(self._on_words)

    class WordSTT(stt.STT):
        def __init__(self) -> None:
            super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))

        @property
        def model(self) -> str:
            return "stt-words-double"

        @property
        def provider(self) -> str:
            return "voxie-bench"

        async def _recognize_impl(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("streaming only")

        def stream(self, *, language: Any = None, conn_options: Any = None) -> Any:
            return WordStream(self, conn_options or DEFAULT_API_CONNECT_OPTIONS)

    return WordSTT()


# ------------------------------------------------------------------------- runner


@dataclass
class Outcome:
    """One utterance's result."""

    id: str
    kind: str
    gap: float | None  # seconds; None: no reply after the caller's last speech
    cut_in: bool
    replies: int


async def run_config(
    config: Config,
    utterances: list[turn_corpus.Utterance],
    *,
    speech_speed: float = 3.0,
    settle: float = 0.3,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> dict[str, Any]:
    """Every utterance through one session taking turns as `config` says."""
    from livekit import local_inference
    from livekit.agents import Agent, AgentSession, inference

    from tests.doubles.audio import CapturedAudioOutput, InstantLLM, ToneTTS
    from voice_worker import worker
    from voice_worker.providers import session_conn_options

    settings = configure(VOXIE_PROVIDER_RETRIES="0")
    handling, silence = session_setup(config, settings)
    local_inference.init_vad()
    vad = inference.VAD(min_silence_duration=silence, executor=worker._INLINE)
    mic = CorpusInput(speech_speed=speech_speed)
    out = CapturedAudioOutput(playout_speed=1.0)
    session = AgentSession(
        stt=corpus_stt(mic),
        vad=vad,
        tts=ToneTTS(duration=0.2),
        turn_handling=handling,
        conn_options=session_conn_options(settings),
        session_close_transcript_timeout=0.2,
    )
    audio_in = mic.build()
    session.input.audio = audio_in
    session.output.audio = out
    await session.start(Agent(instructions=INSTRUCTIONS, llm=InstantLLM(REPLY)))
    max_delay = handling.get("endpointing", {}).get("max_delay", 3.0)

    async def wait_for(predicate: Callable[[], bool], limit: float) -> bool:
        deadline = time.perf_counter() + limit
        while not predicate():
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def idle() -> bool:
        return (
            session.agent_state == "listening"
            and session.user_state != "speaking"
            and not out.playing
        )

    await wait_for(idle, 5)
    outcomes: list[Outcome] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for u in utterances:
        parts = turn_corpus.render(u)
        before = len(out.segments)
        played = mic.play(parts, u.parts_text)
        await played.done
        start = played.speech_starts[0]
        end = played.speech_ends[-1]

        def after(before: int = before, end: float = end) -> list[Any]:
            return [s for s in out.segments[before:] if s.first_frame_at >= end]

        await wait_for(lambda after=after: bool(after()), max_delay + 2.0)
        await wait_for(idle, 5)
        await asyncio.sleep(settle)
        segments = out.segments[before:]
        replies = after()
        outcome = Outcome(
            id=u.id,
            kind=u.kind,
            gap=replies[0].first_frame_at - end if replies else None,
            cut_in=any(start < s.first_frame_at < end for s in segments),
            replies=len(segments),
        )
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    audio_in.close()
    await session.aclose()
    return summarise(config, outcomes, wall=wall, cpu=cpu, handling=handling, silence=silence)


def _describe(handling: dict[str, Any]) -> dict[str, Any]:
    out = copy.copy(handling)
    td = out.get("turn_detection")
    if not isinstance(td, str):
        out["turn_detection"] = getattr(td, "model", repr(td))
    return out


def summarise(
    config: Config,
    outcomes: list[Outcome],
    *,
    wall: float,
    cpu: float,
    handling: dict[str, Any],
    silence: float,
) -> dict[str, Any]:
    gaps = [o.gap for o in outcomes if o.gap is not None]
    paused = [o for o in outcomes if o.kind == "paused"]
    by_kind = {
        kind: {
            "n": len(group),
            "gap_p50_ms": ms(pct([o.gap for o in group if o.gap is not None], 50)),
            "cut_ins": sum(o.cut_in for o in group),
        }
        for kind in ("paused", "short", "full")
        if (group := [o for o in outcomes if o.kind == kind])
    }
    return {
        "config": config.name,
        "about": config.about,
        "turn_handling": _describe(handling),
        "vad_min_silence_s": silence,
        "utterances": len(outcomes),
        "replied": len(gaps),
        "gap_p50_ms": ms(pct(gaps, 50)),
        "gap_p95_ms": ms(pct(gaps, 95)),
        "gap_max_ms": ms(max(gaps)) if gaps else None,
        "cut_in_rate_paused": round(sum(o.cut_in for o in paused) / len(paused), 3)
        if paused
        else None,
        "cut_ins_all": sum(o.cut_in for o in outcomes),
        "by_kind": by_kind,
        "cpu_pct_of_core": round(100 * cpu / wall, 2),
        "cpu_ms_per_utterance": ms(cpu / len(outcomes)),
        "wall_s": round(wall, 1),
        "per_utterance": [
            {
                "id": o.id,
                "gap_ms": ms(o.gap) if o.gap is not None else None,
                "cut_in": o.cut_in,
                "replies": o.replies,
            }
            for o in outcomes
        ],
    }


def table(results: list[dict[str, Any]]) -> str:
    """The README's table."""
    today = next((r for r in results if r["config"] == "today"), None)
    rows = [
        "| configuration | gap p50 | gap p95 | cut-in (paused) | replied | CPU (core)"
        " | p50 vs today |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        ratio = f"{r['gap_p50_ms'] / today['gap_p50_ms']:.2f}" if today else ""
        rows.append(
            f"| `{r['config']}`: {r['about']} | {r['gap_p50_ms']:.0f} ms | {r['gap_p95_ms']:.0f} ms"
            f" | {100 * r['cut_in_rate_paused']:.0f}% | {r['replied']}/{r['utterances']}"
            f" | {r['cpu_pct_of_core']:.1f}% | {ratio} |"
        )
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    utterances = turn_corpus.load(interleaved=True)
    if args.limit:
        utterances = utterances[: args.limit]
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    # warm-up: imports, the VAD model, the corpus cache
    await run_config(CONFIGS["today"], utterances[:3], speech_speed=args.speech_speed)
    results = []
    for name in names:
        t0 = time.perf_counter()
        try:
            result = await run_config(CONFIGS[name], utterances, speech_speed=args.speech_speed)
        except Exception as exc:  # noqa: BLE001 - e.g. the end-of-turn model will not load
            print(f"{name}: failed: {exc!r}", flush=True)
            results.append({"config": name, "error": repr(exc)})
            continue
        results.append(result)
        print(
            f"{name}: gap p50 {result['gap_p50_ms']:.0f} p95 {result['gap_p95_ms']:.0f} ms,"
            f" cut-in {result['cut_in_rate_paused']:.2f}, replied {result['replied']}/"
            f"{result['utterances']}, cpu {result['cpu_pct_of_core']}%"
            f" ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    ok = [r for r in results if "error" not in r]
    return {
        "measures": "caller's last speech frame -> first agent audio frame; agent audio before it",
        "setup": {
            "corpus": f"bench/turn_corpus/corpus.json, {len(utterances)} utterances",
            "speech_speed": args.speech_speed,
            "frame_ms": FRAME_MS,
            "stt": "instant non-streaming double (the session runs it on the VAD's segments)",
            "llm": "InstantLLM",
            "tts": "ToneTTS 200 ms, played out in real time",
            "vad": "livekit inference.VAD (built-in Silero), inline, as the worker",
        },
        "target": TARGET,
        "results": results,
        "table": table(ok),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="all", help=f"comma-separated: {', '.join(CONFIGS)}")
    parser.add_argument("--limit", type=int, default=0, help="only the first N utterances")
    parser.add_argument("--speech-speed", type=float, default=3.0)
    parser.add_argument("--out", default="turn_taking")
    parser.add_argument("--barge-in", action="store_true", help="the barge-in probes instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.barge_in:
        names = ["default"] if args.configs == "all" else args.configs.split(",")
        results = [asyncio.run(barge_in(CONFIGS[n])) for n in names]
        path = write_results(args.out, {"barge_in": results}, module="turn_taking")
        for r in results:
            print({k: v for k, v in r.items() if k != "probes"})
        print(f"written {path}")
        return 0
    payload = asyncio.run(main_async(args))
    path = write_results(args.out, payload, module="turn_taking")
    print(payload["table"])
    print(f"written {path}")
    return 0


# ------------------------------------------------------------------------ barge-in

# Caller audio over the agent's reply (issue 16, part 3): a backchannel must not stop the
# agent, an interruption must stop it within 300 ms, a false interruption (a sound with
# no words: the STT returns nothing) must let it resume.
BARGE_IN = {
    "backchannel": [("mhm", "mhm"), ("okay", "okay"), ("yeah", "yeah")],
    "interruption": [
        ("wait, actually I need Thursday instead", None),
        ("no no, that is not what I asked", None),
        ("sorry, can I change the time", None),
    ],
    "false": [("uh", ""), ("hmm", ""), ("ah", "")],
}
BARGE_IN_VOICES = ("en-us", "en-gb")
BARGE_IN_AT = 0.8  # seconds into the agent's reply


async def barge_in_probe(
    kind: str, text: str, heard: str | None, voice: str, config: Config
) -> dict[str, Any]:
    """One session: the caller asks, the agent answers with 4 s of tone played out in
    real time, and `BARGE_IN_AT` s into it the caller says `text` (the STT hears `heard`:
    the text itself when None, nothing when empty)."""
    from livekit import local_inference
    from livekit.agents import Agent, AgentSession, inference

    from tests.doubles.audio import CapturedAudioOutput, InstantLLM, ToneTTS
    from voice_worker import worker
    from voice_worker.backchannel import BackchannelAware
    from voice_worker.providers import session_conn_options

    class Output(CapturedAudioOutput):
        def __init__(self) -> None:
            super().__init__(playout_speed=1.0)
            self.events: list[tuple[str, float]] = []

        def pause(self) -> None:
            self.events.append(("pause", time.perf_counter()))
            super().pause()

        def resume(self) -> None:
            self.events.append(("resume", time.perf_counter()))
            super().resume()

        def clear_buffer(self) -> None:
            self.events.append(("clear", time.perf_counter()))
            super().clear_buffer()

    settings = configure(VOXIE_PROVIDER_RETRIES="0")
    handling, silence = session_setup(config, settings)
    local_inference.init_vad()
    vad = inference.VAD(min_silence_duration=silence, executor=worker._INLINE)
    mic = CorpusInput(speech_speed=1.0)
    out = Output()
    session = AgentSession(
        stt=word_stt(mic) if config.stt == "words" else corpus_stt(mic),
        vad=vad,
        tts=ToneTTS(duration=4.0),
        turn_handling=handling,
        conn_options=session_conn_options(settings),
        session_close_transcript_timeout=0.2,
        # livekit ignores interruptions for the first 3 s of the session's first agent
        # speech (echo before AEC settles): this reply stands for one later in the call.
        aec_warmup_duration=None,
    )
    audio_in = mic.build()
    session.input.audio = audio_in
    session.output.audio = out
    agent_class = BackchannelAware if config.voxie_agent else Agent
    await session.start(agent_class(instructions=INSTRUCTIONS, llm=InstantLLM(REPLY)))
    ask = turn_corpus.Utterance("ask", "full", "Can I book a cleaning?", voice, 175, False, None, 0)
    mic.play(turn_corpus.render(ask), ask.parts_text)
    deadline = time.perf_counter() + 8
    while not out.segments and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    result: dict[str, Any] = {"kind": kind, "text": text, "voice": voice}
    if not out.segments:
        result["outcome"] = "no reply to the question"
    else:
        await asyncio.sleep(
            max(0.0, out.segments[0].first_frame_at + BARGE_IN_AT - time.perf_counter())
        )
        probe = turn_corpus.Utterance("probe", "short", text, voice, 175, False, None, 0)
        played = mic.play(turn_corpus.render(probe), [heard if heard is not None else text])
        await played.done
        await asyncio.sleep(4.5)  # the tone's rest, the false-interruption timeout (2 s)
        start = played.speech_starts[0]
        first = out.segments[0]
        events = [(name, t) for name, t in out.events if t >= start]
        cleared = next((t for name, t in events if name == "clear"), None)
        paused = next((t for name, t in events if name == "pause"), None)
        resumed_at = next((t for name, t in events if name == "resume"), None)
        resumed = resumed_at is not None
        silent = min((t for t in (cleared, paused) if t is not None), default=None)
        result |= {
            "stopped": first.interrupted,
            "silent_after_ms": ms(silent - start) if silent is not None else None,
            "stop_after_ms": ms(cleared - start) if cleared is not None else None,
            "paused": paused is not None,
            "pause_after_ms": ms(paused - start) if paused is not None else None,
            # How long a pause that ended in a resume kept the agent silent.
            "paused_for_ms": ms(resumed_at - paused)
            if paused is not None and resumed_at is not None and not first.interrupted
            else None,
            "resumed": resumed and not first.interrupted,
            "continued": not first.interrupted,
            "played_ms": ms(first.duration),
        }
    audio_in.close()
    await session.aclose()
    return result


async def barge_in(config: Config) -> dict[str, Any]:
    probes = []
    for kind, items in BARGE_IN.items():
        for voice in BARGE_IN_VOICES:
            for text, heard in items:
                probes.append(await barge_in_probe(kind, text, heard, voice, config))
                print(f"  {probes[-1]}", flush=True)
    done = [p for p in probes if "stopped" in p]

    def rate(kind: str, key: str) -> float:
        group = [p for p in done if p["kind"] == kind]
        return round(sum(bool(p[key]) for p in group) / len(group), 3) if group else float("nan")

    stops = [p["stop_after_ms"] for p in done if p["kind"] == "interruption" and p["stopped"]]
    silent = [p["silent_after_ms"] for p in done if p["kind"] == "interruption" and p["stopped"]]
    held = [p["paused_for_ms"] for p in done if p["kind"] == "backchannel" and p["paused_for_ms"]]
    return {
        "config": config.name,
        "about": config.about,
        "stt": config.stt,
        "probes": probes,
        "backchannel_stopped_rate": rate("backchannel", "stopped"),
        "backchannel_paused_rate": rate("backchannel", "paused"),
        "interruption_silent_p50_ms": pct(silent, 50) if silent else None,
        "interruption_silent_max_ms": max(silent) if silent else None,
        "interruption_stopped_rate": rate("interruption", "stopped"),
        "interruption_stop_p50_ms": pct(stops, 50) if stops else None,
        "interruption_stop_max_ms": max(stops) if stops else None,
        "false_resumed_rate": rate("false", "resumed"),
        # The agent's reply played to its end: never paused, or paused and resumed.
        "backchannel_continued_rate": rate("backchannel", "continued"),
        "backchannel_paused_for_p50_ms": pct(held, 50) if held else None,
        "false_continued_rate": rate("false", "continued"),
        "false_stopped_rate": rate("false", "stopped"),
    }


if __name__ == "__main__":
    sys.exit(main())
