"""The web app's registry of open text chats: bounded, idle-closed, serialised."""

from __future__ import annotations

import asyncio

import pytest

from voxie_app.chat_registry import ChatRegistry, RegistryFull


class FakeChat:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_reuses_open_chat_and_reopens_closed_one() -> None:
    reg = ChatRegistry(max_sessions=3)
    first = await reg.get_or_open("tab1", _open)
    again = await reg.get_or_open("tab1", _open)
    assert first is again
    first.chat.closed = True
    reopened = await reg.get_or_open("tab1", _open)
    assert reopened is not first and not reopened.chat.closed


async def test_bounded_evicts_oldest_idle_then_refuses() -> None:
    reg = ChatRegistry(max_sessions=2)
    a = await reg.get_or_open("a", _open)
    await reg.get_or_open("b", _open)
    await reg.get_or_open("c", _open)  # evicts "a", the least recently used
    assert a.chat.closed and len(reg) == 2
    b, c = reg.get("b"), reg.get("c")
    async with b.lock, c.lock:  # both busy: nothing can be evicted
        with pytest.raises(RegistryFull, match="2 chat slots"):
            await reg.get_or_open("d", _open)


async def test_idle_chats_are_closed_by_sweep() -> None:
    reg = ChatRegistry(max_sessions=5, idle_seconds=0.05)
    idle = await reg.get_or_open("idle", _open)
    await asyncio.sleep(0.1)
    busy = await reg.get_or_open("busy", _open)  # opening sweeps first
    assert idle.chat.closed and not busy.chat.closed
    assert reg.get("idle") is None
    await asyncio.sleep(0.1)
    assert await reg.sweep() == 1
    assert busy.chat.closed


async def _open() -> FakeChat:
    return FakeChat()
