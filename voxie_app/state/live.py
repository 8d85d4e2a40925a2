"""Follow an event stream from a Reflex background task without leaking it.

A background task outlives the browser tab that started it, so a watcher must
stop by itself: when the tab's websocket is gone, or when the page no longer
wants that stream. `follow` checks both every `check_every` seconds while it
waits for events; the subscription runs in its own task feeding a queue, so
waiting can time out without breaking the subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from voxie_app.services import events

# Watchers running in this process, by key: a reload (same tab, same token)
# finds its watcher still running instead of starting a second one; a backend
# restart forgets them, so the next page load starts a fresh one.
_running: set[str] = set()


@contextlib.contextmanager
def claim(key: str) -> Iterator[bool]:
    """True (and held until exit) if no watcher with this key runs in this process."""
    if key in _running:
        yield False
        return
    _running.add(key)
    try:
        yield True
    finally:
        _running.discard(key)


# The served Reflex app, registered by the app module (`register_app`), so this
# lower layer never imports the module that imports every page and state.
_served: list[Any] = []


def register_app(app: Any) -> None:
    """Remember the app whose websocket namespace says which tabs are connected."""
    _served[:] = [app]


def client_connected(token: str) -> bool:
    """Whether a browser tab with this client token still has a live websocket."""
    namespace = getattr(_served[0], "event_namespace", None) if _served else None
    if namespace is None:  # not served (tests that drive states directly)
        return True
    return token in namespace.token_to_sid


async def follow(
    stream: str,
    after: int,
    *,
    still_wanted: Callable[[], Awaitable[bool]],
    check_every: float = 2.0,
) -> AsyncIterator[events.EventOut]:
    """Yield events of `stream` after `after` until `await still_wanted()` turns false."""
    queue: asyncio.Queue[events.EventOut] = asyncio.Queue()

    async def feed() -> None:
        async for event in events.subscribe(stream, after):
            await queue.put(event)

    feeder = asyncio.create_task(feed())
    try:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), check_every)
            except TimeoutError:
                if feeder.done():
                    feeder.result()  # re-raise what stopped the subscription
                    return
                if not await still_wanted():
                    return
    finally:
        feeder.cancel()
        with contextlib.suppress(BaseException):
            await feeder
