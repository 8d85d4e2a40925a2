"""Rate limits (sign-in attempts, call starts), in this process.

`RateLimiter` is a sliding window per key; `Backoff` makes a key wait longer
after each failure in a row; `LoginThrottle` combines them for sign-in.

Each web process keeps its own counters, so behind N processes the effective
limit is up to N times the setting; that still stops brute force and runaway
scripts, which is what these limits are for.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from voxie_app.services.errors import RateLimited

_SPEC_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def parse(spec: str) -> tuple[int, float]:
    """`"5/60"` → 5 events per 60 seconds."""
    match = _SPEC_RE.match(spec)
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise ValueError(f"rate limit must look like '5/60' (events/seconds), got {spec!r}")
    return int(match.group(1)), float(match.group(2))


Clock = Callable[[], float]


class RateLimiter:
    def __init__(self, limit: int, window: float, *, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str, *, clock: Clock = time.monotonic) -> RateLimiter:
        return cls(*parse(spec), clock=clock)

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


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class Backoff:
    """Per key: after `free` failures in a row, each further failure makes the key wait
    `base`, 2·`base`, 4·`base`, ... seconds, never more than `cap`, before its next try.

    A success clears the key, and so do `reset_after` seconds without a failure. The
    wait is short on purpose: it stops guessing (one guess per `cap` at worst) without
    locking the owner of an attacked account out for long.
    """

    def __init__(
        self,
        *,
        free: int = 3,
        base: float = 1.0,
        cap: float = 30.0,
        reset_after: float = 900.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.free, self.base, self.cap, self.reset_after = free, base, cap, reset_after
        self._clock = clock
        self._keys: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float | None:
        """Seconds until `key` may try again, or None if it may now."""
        now = self._clock()
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                return None
            if now - state.last > self.reset_after:
                del self._keys[key]
                return None
            return state.blocked_until - now if state.blocked_until > now else None

    def failed(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            state = self._keys.get(key)
            if state is None or now - state.last > self.reset_after:
                state = self._keys[key] = _Failures()
            state.count += 1
            state.last = now
            over = state.count - self.free
            if over > 0:
                state.blocked_until = now + min(self.cap, self.base * 2 ** min(over - 1, 30))
            if len(self._keys) > 10_000:  # drop keys idle past reset_after now and then
                for k in [k for k, v in self._keys.items() if now - v.last > self.reset_after]:
                    del self._keys[k]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class LoginThrottle:
    """Who may attempt a sign-in now: per account, per client address and overall.

    - per account (the email, normalised): after 3 failures in a row each failure
      doubles the wait before the next try (`Backoff`), and only one attempt per
      account runs at a time, so parallel guesses cannot slip past the backoff;
    - per client address: the same after 10 failures in a row (with any emails),
      and at most `address_parallel` attempts at a time, which stops one client
      from spraying random emails;
    - overall: a sliding window of all attempts in this process
      (`VOXIE_LOGIN_GLOBAL_RATE_LIMIT`), which bounds the password hashing a
      distributed attack can cause.

    Every wait is capped (`VOXIE_LOGIN_MAX_BACKOFF_SECONDS`): a flood of wrong
    passwords delays the real owner, from the attacker's address or for the
    attacked account, by at most that long, and never locks them out.
    `begin` raises `RateLimited` (with the wait) or reserves the attempt until `end`.
    """

    def __init__(
        self,
        *,
        per_account: Backoff,
        per_address: Backoff,
        overall: RateLimiter,
        address_parallel: int = 2,
    ) -> None:
        self.per_account, self.per_address, self.overall = per_account, per_address, overall
        self.address_parallel = address_parallel
        self._accounts: set[str] = set()
        self._addresses: dict[str, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _refuse(why: str, wait: float) -> RateLimited:
        return RateLimited(f"{why}; try again in {max(1, math.ceil(wait))} s.", retry_after=wait)

    def begin(self, *, account: str, address: str) -> None:
        with self._lock:
            if account in self._accounts:
                raise self._refuse("A sign-in for this account is already being checked", 1.0)
            if self._addresses.get(address, 0) >= self.address_parallel:
                raise self._refuse("Sign-ins from your address are already being checked", 1.0)
            if (wait := self.per_account.wait(account)) is not None:
                raise self._refuse("Too many failed sign-ins for this account", wait)
            if (wait := self.per_address.wait(address)) is not None:
                raise self._refuse("Too many failed sign-ins from your address", wait)
            if (wait := self.overall.hit("*")) is not None:
                raise self._refuse("Too many sign-in attempts right now", wait)
            self._accounts.add(account)
            self._addresses[address] = self._addresses.get(address, 0) + 1

    def end(self, *, account: str, address: str, ok: bool | None) -> None:
        """The attempt is over: `ok` True/False, None if it was not judged (busy, error).

        A success clears the account's failures, not the address's: signing in to
        one's own account must not reset the count of guesses at others.
        """
        with self._lock:
            self._accounts.discard(account)
            left = self._addresses.get(address, 1) - 1
            if left > 0:
                self._addresses[address] = left
            else:
                self._addresses.pop(address, None)
        if ok is True:
            self.per_account.succeeded(account)
        elif ok is False:
            self.per_account.failed(account)
            self.per_address.failed(address)


ACCOUNT_FREE_FAILURES = 3
ADDRESS_FREE_FAILURES = 10
_throttles: dict[tuple[str, float], LoginThrottle] = {}


def login_throttle(*, overall: str, max_backoff: float) -> LoginThrottle:
    """The process-wide sign-in throttle for these settings (recreated when they change)."""
    key = (overall, max_backoff)
    if key not in _throttles:
        _throttles[key] = LoginThrottle(
            per_account=Backoff(free=ACCOUNT_FREE_FAILURES, cap=max_backoff),
            per_address=Backoff(free=ADDRESS_FREE_FAILURES, cap=max_backoff),
            overall=RateLimiter.from_spec(overall),
        )
    return _throttles[key]
