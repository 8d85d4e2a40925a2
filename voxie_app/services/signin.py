"""Sign-in attempts: throttled, and checked on a small thread pool, never on the event loop.

argon2 is slow on purpose (tens of ms of CPU and 64 MB per check). Run on the
web process's event loop, every attempt stalls every page and `/api/health`
for that long, so a flood of attempts stalls the whole server. Here:

- `ratelimit.LoginThrottle` decides first whether an attempt may run at all
  (per account, per client address, overall), so a refused attempt costs no hash;
- the check (one database read, argon2, the session row) runs on `HASH_THREADS`
  dedicated threads (half the cores); at most `MAX_WAITING` attempts wait for one, the rest are
  refused at once as busy, so the queue (and the memory argon2 takes) stays small.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from voxie_app.db import session_scope
from voxie_app.services import auth, ratelimit
from voxie_app.services.errors import InvalidInput, RateLimited
from voxie_app.settings import Settings

# Half the cores (one on a 2-core machine): argon2 is CPU-bound, and the event loop
# (every page, the API) needs a core of its own while a flood of sign-ins is hashed.
HASH_THREADS = max(1, (os.cpu_count() or 2) // 2)
MAX_WAITING = 8
T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="voxie-signin")
_queued = 0  # attempts handed to the pool and not finished yet
_queued_lock = threading.Lock()


@dataclass(frozen=True)
class SignedIn:
    token: str  # the raw session token, for the browser's cookie
    name: str
    role: str


def throttle_for(settings: Settings) -> ratelimit.LoginThrottle:
    return ratelimit.login_throttle(
        overall=settings.login_global_rate_limit,
        max_backoff=settings.login_max_backoff_seconds,
    )


def _check(email: str, password: str, hours: float) -> SignedIn:
    """On a pool thread: the password check and the new session, in one transaction."""
    with session_scope() as session:
        token, user = auth.login(session=session, email=email, password=password, hours=hours)
        return SignedIn(token=token, name=user.name or user.email, role=user.role)


def _reserve_slot() -> None:
    global _queued
    with _queued_lock:
        if _queued >= HASH_THREADS + MAX_WAITING:
            raise RateLimited("Sign-in is busy right now; try again in 1 s.", retry_after=1.0)
        _queued += 1


def _release_slot() -> None:
    global _queued
    with _queued_lock:
        _queued -= 1


async def on_hash_pool(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on the password-hashing pool, awaited; `RateLimited` when the pool
    and its queue are full. For any work that hashes a password (sign-in, setting or
    changing a password), so none of it runs on the event loop."""
    _reserve_slot()
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)
    finally:
        _release_slot()


async def sign_in(
    *,
    email: str,
    password: str,
    address: str,
    settings: Settings,
    throttle: ratelimit.LoginThrottle | None = None,
) -> SignedIn:
    """Check the password and open a session, or raise.

    `RateLimited` (with the wait) when the throttle or the pool refuses,
    `InvalidInput` for a wrong email or password; database errors propagate.
    """
    throttle = throttle or throttle_for(settings)
    account = email.strip().lower()
    throttle.begin(account=account, address=address)
    ok: bool | None = None
    try:
        signed_in = await on_hash_pool(_check, email, password, settings.session_hours)
    except InvalidInput:
        ok = False
        raise
    else:
        ok = True
        return signed_in
    finally:
        throttle.end(account=account, address=address, ok=ok)
