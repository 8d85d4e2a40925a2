"""Split a document's text into overlapping passages (the unit of retrieval).

Passages follow the text's own structure: paragraphs, then sentences, then
words for a sentence too long on its own. Each passage is at most `size`
characters and starts with the last `overlap` characters' worth of whole
sentences of the one before, so a fact that straddles a boundary is whole in
at least one passage. A heading is never left dangling at the end of a
passage: it moves on with the text it introduces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_CHARS = 900
CHUNK_OVERLAP = 200

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")
_HEADING = re.compile(r"^(#{1,6}\s|[A-Z][^.!?]{0,80}:?$)")
_STRUCTURED = re.compile(r"^([-*\u2022]\s|\d{1,3}[.)]\s)|\s\|\s")


@dataclass
class _Unit:
    text: str
    paragraph: int
    heading: bool = False


def _units(text: str, size: int) -> list[_Unit]:
    """Sentences (and structured lines: headings, list items, table rows) in order.

    Hard-wrapped prose (text files, PDF lines) is joined up before it is cut
    into sentences, so a sentence never breaks at a line end.
    """
    units: list[_Unit] = []
    for number, paragraph in enumerate(p.strip() for p in re.split(r"\n\s*\n", text)):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        prose: list[str] = []

        def flush(number: int = number, prose: list[str] = prose) -> None:
            for sentence in _SENTENCE_END.split(" ".join(prose)) if prose else []:
                units.extend(_Unit(piece, number) for piece in _words_within(sentence, size))
            prose.clear()

        for line in lines:
            heading = line.startswith("#") or (len(lines) == 1 and bool(_HEADING.match(line)))
            if heading or _STRUCTURED.search(line):
                flush()
                units.extend(_Unit(piece, number, heading) for piece in _words_within(line, size))
            else:
                prose.append(line)
        flush()
    return units


def _words_within(sentence: str, size: int) -> list[str]:
    """A sentence, or pieces of it on word boundaries when it is longer than `size`."""
    if len(sentence) <= size:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split(" "):
        while len(word) > size:  # a "word" longer than a passage (a URL, a table row)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:size])
            word = word[size:]
        if current and len(current) + 1 + len(word) > size:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _join(units: list[_Unit]) -> str:
    out = ""
    for i, unit in enumerate(units):
        if i == 0:
            out = unit.text
        elif unit.paragraph != units[i - 1].paragraph:
            out += "\n\n" + unit.text
        elif unit.heading or units[i - 1].heading:
            out += "\n" + unit.text
        else:
            out += " " + unit.text
    return out


def split_text(text: str, size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Overlapping passages of `text`, each at most `size` characters."""
    if size < 50 or not 0 <= overlap < size // 2:
        raise ValueError("need size >= 50 and 0 <= overlap < size / 2")
    units = _units(text, size)
    chunks: list[str] = []
    current: list[_Unit] = []
    fresh = 0  # units in `current` not already emitted in the previous passage
    for unit in units:
        if current and len(_join([*current, unit])) > size:
            # Keep trailing headings for the next passage rather than end on them.
            keep: list[_Unit] = []
            while current and current[-1].heading and len(current) > 1:
                keep.insert(0, current.pop())
            if fresh > len(keep):
                chunks.append(_join(current))
            tail: list[_Unit] = []
            for previous in reversed(current):
                if previous.heading or len(_join([previous, *tail])) > overlap:
                    break
                tail.insert(0, previous)
            current = [*tail, *keep]
            fresh = len(keep)
            while current and len(_join([*current, unit])) > size:
                current.pop(0)
            fresh = min(fresh, len(current))
        current.append(unit)
        fresh += 1
    if current and fresh:
        chunks.append(_join(current))
    return chunks


def join_passages(passages: list[str], overlap: int = CHUNK_OVERLAP) -> str:
    """The text the passages were cut from, each overlap said once (to show a document).

    A passage starts with up to `overlap` characters of whole sentences of the one
    before; the longest such start that ends the text so far is dropped. Line
    breaks inside a passage are kept; passages that do not overlap are joined by
    a blank line.
    """
    out = ""
    for passage in passages:
        if not out:
            out = passage
            continue
        cut = 0
        for n in range(min(len(passage), len(out), overlap + 1), 0, -1):
            if out.endswith(passage[:n]) and (n == len(passage) or passage[n] in " \n"):
                cut = n
                break
        rest = passage[cut:].lstrip(" \n") if cut else passage
        if rest:
            out += (passage[cut] if cut and passage[cut] in " \n" else "\n\n") + rest
    return out
