"""Text chats the web app keeps open: one per browser tab and target, bounded, closed when idle.

A chat is a live `AgentSession` in this process, so the number is capped
(`max_sessions`) and a chat unused for `idle_seconds` is closed on the next
sweep. Sends to one chat are serialised so turns never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Closable(Protocol):
    closed: bool

    async def aclose(self) -> None: ...


class RegistryFull(Exception):
    """Every chat slot is in use by an active chat."""


@dataclass
class _Entry:
    chat: Closable
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)


class ChatRegistry:
    def __init__(self, *, max_sessions: int = 50, idle_seconds: float = 600.0) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._entries: dict[str, _Entry] = {}
        self._opening = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    async def get_or_open(self, key: str, opener: Callable[[], Awaitable[Closable]]) -> _Entry:
        """The open chat for `key`, opening one (after sweeping idle chats) if needed."""
        async with self._opening:
            entry = self._entries.get(key)
            if entry is not None and not entry.chat.closed:
                entry.last_used = time.monotonic()
                return entry
            if entry is not None:
                self._entries.pop(key, None)
            await self.sweep()
            if len(self._entries) >= self.max_sessions:
                await self._evict_oldest_idle()
            if len(self._entries) >= self.max_sessions:
                raise RegistryFull(
                    f"all {self.max_sessions} chat slots are busy; try again in a minute"
                )
            entry = _Entry(chat=await opener())
            self._entries[key] = entry
            return entry

    def get(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_used = time.monotonic()
        return entry

    async def close(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            await self._close(entry)

    async def sweep(self) -> int:
        """Close chats idle for longer than `idle_seconds`; returns how many."""
        now = time.monotonic()
        stale = [
            k
            for k, e in self._entries.items()
            if e.chat.closed or (now - e.last_used > self.idle_seconds and not e.lock.locked())
        ]
        for key in stale:
            await self.close(key)
        return len(stale)

    async def _evict_oldest_idle(self) -> None:
        idle = [(e.last_used, k) for k, e in self._entries.items() if not e.lock.locked()]
        if idle:
            await self.close(min(idle)[1])

    async def _close(self, entry: _Entry) -> None:
        with contextlib.suppress(Exception):
            await entry.chat.aclose()


registry = ChatRegistry()
