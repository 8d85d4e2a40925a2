"""Keep what must never reach an agent's spec out of it, whatever the model wrote.

A spec drafted by an LLM from conversation text is untrusted: text in the
conversation can ask the model to copy the builder's own instructions, a
configured secret, or a phone number "to transfer to" into the new agent. The
guard drops every sentence of the drafted text fields that carries one of them.
Transfers happen only between agents (by id, decided by code), so a phone
number in generated instructions has no legitimate use; a business that wants
its number read out can add it by editing the spec by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from voxie_app import prompts
from voxie_app.settings import Settings

TEXT_FIELDS = ("name", "description", "instructions", "greeting", "filler_message")
SHINGLE_WORDS = 6
_PHONE_RE = re.compile(r"(?:\+?\d[\d\s().-]{6,}\d)")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.I)
_WORD_RE = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def protected_texts(extra: Iterable[str] = ()) -> list[str]:
    return [prompts.BUILDER_INSTRUCTIONS, prompts.SPEC_SYSTEM_PROMPT, *extra]


def secret_values(settings: Settings) -> list[str]:
    """Configured secret values (long enough to be meaningful) that must never leak."""
    values = []
    for secret in (
        settings.openai_api_key,
        settings.deepgram_api_key,
        settings.cartesia_api_key,
        settings.ragie_api_key,
        settings.livekit_api_secret,
    ):
        if secret is not None and len(secret.get_secret_value().strip()) >= 6:
            values.append(secret.get_secret_value().strip())
    if settings.livekit_api_key and len(settings.livekit_api_key) >= 6:
        values.append(settings.livekit_api_key)
    password = _db_password(settings.database_url)
    if password and len(password) >= 6:
        values.append(password)
    return values


def _db_password(url: str) -> str | None:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).password
    except Exception:  # noqa: BLE001 - an unparsable URL has no password to protect
        return None


class Guard:
    """Decides, sentence by sentence, what may stay in a drafted spec."""

    def __init__(self, settings: Settings, extra_protected: Iterable[str] = ()) -> None:
        self._secrets = secret_values(settings)
        self._shingles: set[tuple[str, ...]] = set()
        for text in protected_texts(extra_protected):
            self._shingles |= _shingles(text)

    def why_unsafe(self, sentence: str) -> str | None:
        if any(secret in sentence for secret in self._secrets):
            return "a configured secret"
        if _PHONE_RE.search(sentence):
            return "a phone number"
        if _URL_RE.search(sentence):
            return "a link"
        if _shingles(sentence) & self._shingles:
            return "the builder's own instructions"
        return None

    def clean(self, text: str) -> tuple[str, list[str]]:
        """The text without unsafe sentences, and why each dropped one was dropped."""
        lines, dropped = [], []
        for line in text.splitlines():
            kept = []
            for sentence in re.split(r"(?<=[.!?])\s+", line):
                if not sentence.strip():
                    continue
                reason = self.why_unsafe(sentence)
                if reason is None:
                    kept.append(sentence.strip())
                else:
                    dropped.append(reason)
            if kept or not line.strip():
                lines.append(" ".join(kept))
        return "\n".join(lines).strip(), dropped

    def clean_draft(self, draft: dict) -> tuple[dict, list[str]]:
        cleaned = dict(draft)
        reasons: list[str] = []
        for field in TEXT_FIELDS:
            if isinstance(cleaned.get(field), str):
                cleaned[field], dropped = self.clean(cleaned[field])
                reasons.extend(f"{field}: {r}" for r in dropped)
        return cleaned, reasons
