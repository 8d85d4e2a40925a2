"""The turn-taking corpus, reduced: 10 utterances through a real voice session with the
`patient` preset, as `bench/turn_taking.py` runs the full one.

Behaviour only, never timings (the machine may be busy): the agent answers every
utterance once the caller has finished, and never starts while a caller who paused
mid-sentence is still to go on.
"""

from __future__ import annotations

import pytest

from bench import turn_corpus, turn_taking
from tests.doubles.audio import have_speech_tools

pytestmark = pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and sox")

# The longest pauses (they are the ones a preset cuts into first), noisy and clean,
# several voices, and short and full answers.
IDS = (
    "paused-21",
    "paused-20",
    "paused-18",
    "paused-03",
    "short-00",
    "short-07",
    "short-11",
    "full-00",
    "full-03",
    "full-07",
)


def reduced_corpus() -> list[turn_corpus.Utterance]:
    by_id = {u.id: u for u in turn_corpus.load()}
    return [by_id[i] for i in IDS]


def test_the_reduced_corpus_covers_each_kind() -> None:
    corpus = reduced_corpus()
    assert {u.kind for u in corpus} == {"paused", "short", "full"}
    assert any(u.noise for u in corpus)
    assert max(u.pause_ms for u in corpus) == 900


async def test_patient_never_cuts_in_and_always_replies() -> None:
    corpus = reduced_corpus()
    result = await turn_taking.run_config(turn_taking.CONFIGS["patient"], corpus)
    outcomes = {o["id"]: o for o in result["per_utterance"]}
    assert [i for i, o in outcomes.items() if o["gap_ms"] is None] == []
    paused = [u.id for u in corpus if u.kind == "paused"]
    assert [i for i in paused if outcomes[i]["cut_in"]] == []
