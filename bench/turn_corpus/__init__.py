"""The turn-taking corpus: caller utterances rendered to 16 kHz speech, deterministically.

`corpus.json` is the fixed, committed manifest (text, espeak-ng voice and speed, an
optional mid-sentence pause, a noise flag). The audio is not committed: espeak-ng speaks
each part, sox resamples it and makes the noise, and the result is cached by the hash of
the entry (and the tools' versions), so every run hears the same samples.

An utterance is a list of `Part`s, each speech or not; the benchmark paces speech and
silence differently and needs to know where the caller's last speech sample is, so the
parts' edges are exact: each spoken part is trimmed to its first and last sample above
a low level.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MANIFEST = Path(__file__).with_name("corpus.json")
SAMPLE_RATE = 16000
# Trim level for espeak-ng's own leading/trailing silence (16-bit full scale 32767).
TRIM_LEVEL = 200
# Noise: sox pink noise at this volume under the whole utterance, pauses included, and
# for NOISE_TAIL_S after it (a noisy line stays noisy after the caller stops).
NOISE_VOLUME = 0.03
NOISE_TAIL_S = 1.0


@dataclass(frozen=True)
class Utterance:
    """One manifest entry."""

    id: str
    kind: str  # "paused" | "short" | "full"
    text: str
    voice: str
    speed: int  # words per minute (espeak-ng -s)
    noise: bool
    pause_after_word: int | None
    pause_ms: int

    @property
    def parts_text(self) -> list[str]:
        """What an STT would return for each spoken part."""
        words = self.text.split()
        if self.pause_after_word is None:
            return [self.text]
        return [" ".join(words[: self.pause_after_word]), " ".join(words[self.pause_after_word :])]


@dataclass(frozen=True)
class Part:
    """A stretch of the caller's audio: 16-bit mono PCM; `speech` False for a pause or
    the noisy tail."""

    pcm: bytes
    speech: bool


def load(*, interleaved: bool = False) -> list[Utterance]:
    """The corpus, in manifest order, or `interleaved`: one of each kind in turn (as a
    call mixes them; dynamic endpointing learns from the order it hears them in)."""
    data = json.loads(MANIFEST.read_text())
    utterances = [Utterance(**entry) for entry in data["utterances"]]
    if not interleaved:
        return utterances
    kinds = list(dict.fromkeys(u.kind for u in utterances))
    rank = {
        u.id: (i, kinds.index(u.kind))
        for k in kinds
        for i, u in enumerate(x for x in utterances if x.kind == k)
    }
    return sorted(utterances, key=lambda u: rank[u.id])


def cache_dir() -> Path:
    path = Path(os.environ.get("VOXIE_TURN_CORPUS_CACHE", Path(tempfile.gettempdir())))
    path = path / "voxie-turn-corpus"
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def _tool_versions() -> str:
    out = []
    for cmd in (["espeak-ng", "--version"], ["sox", "--version"]):
        out.append(subprocess.run(cmd, capture_output=True, text=True).stdout.strip())
    return "|".join(out)


def _speak(text: str, voice: str, speed: int) -> np.ndarray:
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    raw = subprocess.run(
        [
            "sox",
            "-t",
            "wav",
            "-",
            *f"-r {SAMPLE_RATE} -c 1 -b 16 -e signed-integer -t raw -".split(),
        ],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout
    pcm = np.frombuffer(raw, dtype=np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > TRIM_LEVEL)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced no speech for {text!r}")
    return pcm[loud[0] : loud[-1] + 1]


def _noise(samples: int) -> np.ndarray:
    """sox pink noise; `-R` makes sox's random generator repeatable."""
    raw = subprocess.run(
        [
            "sox",
            "-R",
            "-n",
            *f"-r {SAMPLE_RATE} -c 1 -b 16 -e signed-integer -t raw -".split(),
            "synth",
            f"{samples / SAMPLE_RATE + 0.05:.3f}",
            "pinknoise",
            "vol",
            str(NOISE_VOLUME),
        ],
        check=True,
        capture_output=True,
    ).stdout
    noise = np.frombuffer(raw, dtype=np.int16)[:samples]
    if len(noise) < samples:
        raise RuntimeError(f"sox made {len(noise)} noise samples, not {samples}")
    return noise


def _render(u: Utterance) -> list[tuple[np.ndarray, bool]]:
    spoken = [_speak(t, u.voice, u.speed) for t in u.parts_text]
    parts: list[tuple[np.ndarray, bool]] = [(spoken[0], True)]
    if len(spoken) > 1:
        parts.append((np.zeros(SAMPLE_RATE * u.pause_ms // 1000, dtype=np.int16), False))
        parts.append((spoken[1], True))
    if u.noise:
        parts.append((np.zeros(int(SAMPLE_RATE * NOISE_TAIL_S), dtype=np.int16), False))
        total = sum(len(p) for p, _ in parts)
        noise = _noise(total).astype(np.int32)
        out, at = [], 0
        for pcm, speech in parts:
            mixed = pcm.astype(np.int32) + noise[at : at + len(pcm)]
            out.append((np.clip(mixed, -32768, 32767).astype(np.int16), speech))
            at += len(pcm)
        parts = out
    return parts


def render(u: Utterance) -> list[Part]:
    """The utterance's audio, from the cache or made now."""
    key = hashlib.sha256(
        json.dumps([u.__dict__, _tool_versions(), NOISE_VOLUME, NOISE_TAIL_S]).encode()
    ).hexdigest()[:16]
    path = cache_dir() / f"{u.id}-{key}.npz"
    if path.exists():
        with np.load(path) as data:
            return [Part(data[f"p{i}"].tobytes(), bool(s)) for i, s in enumerate(data["speech"])]
    parts = _render(u)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        speech=np.array([s for _, s in parts]),
        **{f"p{i}": p for i, (p, _) in enumerate(parts)},
    )
    tmp.replace(path)
    return [Part(p.tobytes(), s) for p, s in parts]
