"""Rate limits (login attempts, call starts): a sliding window per key, in this process.

Each web process keeps its own counters, so behind N processes the effective
limit is up to N times the setting; that still stops brute force and runaway
scripts, which is what these limits are for.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque

_SPEC_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def parse(spec: str) -> tuple[int, float]:
    """`"5/60"` → 5 events per 60 seconds."""
    match = _SPEC_RE.match(spec)
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise ValueError(f"rate limit must look like '5/60' (events/seconds), got {spec!r}")
    return int(match.group(1)), float(match.group(2))


class RateLimiter:
    def __init__(self, limit: int, window: float, *, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str) -> RateLimiter:
        return cls(*parse(spec))

    def hit(self, key: str) -> float | None:
        """Count one event for `key`: None if allowed, else seconds until one is allowed."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.001, hits[0] + self.window - now)
            hits.append(now)
            if len(self._hits) > 10_000:  # drop idle keys now and then
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return None

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


_limiters: dict[tuple[str, str], RateLimiter] = {}


def limiter(name: str, spec: str) -> RateLimiter:
    """The process-wide limiter for `name` (recreated when its setting changes)."""
    key = (name, spec)
    if key not in _limiters:
        _limiters[key] = RateLimiter.from_spec(spec)
    return _limiters[key]
