"""Sign-in attempts (H2): throttled per account, per client address and overall; the
password check runs on a small thread pool, off the event loop; a flood of wrong
passwords delays the account's owner for at most the backoff cap.

Clocks are injected: no test depends on the wall clock. Latency under a flood is
measured in `bench/login_flood.py`, not here.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable

import pytest
from argon2.exceptions import VerifyMismatchError
from reflex.istate.data import RouterData
from reflex.state import State

from voxie_app.services import auth, signin
from voxie_app.services.errors import InvalidInput, RateLimited
from voxie_app.services.ratelimit import Backoff, LoginThrottle, RateLimiter
from voxie_app.settings import Settings
from voxie_app.state.session import SessionState  # at import: Reflex registers its states

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(
    clock: Clock, *, overall: str = "1000/60", cap: float = 30.0, address_free: int = 10
) -> LoginThrottle:
    return LoginThrottle(
        per_account=Backoff(free=3, cap=cap, clock=clock),
        per_address=Backoff(free=address_free, cap=cap, clock=clock),
        overall=RateLimiter.from_spec(overall, clock=clock),
    )


def test_backoff_doubles_after_the_free_failures_and_is_capped() -> None:
    clock = Clock()
    b = Backoff(free=3, base=1.0, cap=8.0, reset_after=900.0, clock=clock)
    waits = []
    for _ in range(8):
        b.failed("a")
        waits.append(b.wait("a"))
    assert waits == [None, None, None, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert b.wait("b") is None  # per key
    clock.now += 8.0
    assert b.wait("a") is None  # the wait is over: one more try
    b.succeeded("a")
    b.failed("a")
    assert b.wait("a") is None  # a success cleared the failures
    for _ in range(5):
        b.failed("c")
    clock.now += 901
    b.failed("c")
    assert b.wait("c") is None  # failures long ago are forgotten


def test_random_emails_from_one_address_back_off_per_address() -> None:
    clock = Clock()
    t = throttle(clock, address_free=3, cap=8.0)

    def fail(address: str) -> None:
        email = f"{uuid.uuid4().hex}@example.com"
        t.begin(account=email, address=address)
        t.end(account=email, address=address, ok=False)

    for _ in range(4):
        fail("10.0.0.1")
    with pytest.raises(RateLimited, match="from your address; try again in 1 s") as refused:
        t.begin(account="another@example.com", address="10.0.0.1")
    assert refused.value.retry_after_seconds == 1
    t.begin(account="another@example.com", address="10.0.0.2")  # another client is fine
    t.end(account="another@example.com", address="10.0.0.2", ok=True)
    waits = []
    for _ in range(6):  # the attacker waits each time, then fails again
        clock.now += t.per_address.wait("10.0.0.1") or 0.0
        fail("10.0.0.1")
        waits.append(t.per_address.wait("10.0.0.1"))
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0, 8.0]  # never longer than the cap
    clock.now += 8.0
    t.begin(account="owner@example.com", address="10.0.0.1")  # the owner gets a turn


def test_one_address_checks_two_sign_ins_at_a_time() -> None:
    t = throttle(Clock())
    t.begin(account="a@example.com", address="10.0.0.1")
    t.begin(account="b@example.com", address="10.0.0.1")
    with pytest.raises(RateLimited, match="from your address are already being checked"):
        t.begin(account="c@example.com", address="10.0.0.1")
    t.end(account="a@example.com", address="10.0.0.1", ok=False)
    t.begin(account="c@example.com", address="10.0.0.1")


def test_attempts_from_many_addresses_are_limited_overall() -> None:
    t = throttle(Clock(), overall="4/10")
    for i in range(4):
        t.begin(account=f"u{i}@example.com", address=f"10.0.1.{i}")
        t.end(account=f"u{i}@example.com", address=f"10.0.1.{i}", ok=False)
    with pytest.raises(RateLimited, match="right now"):
        t.begin(account="u9@example.com", address="10.0.1.9")


def test_parallel_attempts_for_one_account_run_one_at_a_time() -> None:
    t = throttle(Clock())
    t.begin(account="owner@example.com", address="10.0.0.1")
    with pytest.raises(RateLimited, match="already being checked"):
        t.begin(account="owner@example.com", address="10.0.0.2")
    t.end(account="owner@example.com", address="10.0.0.1", ok=False)
    t.begin(account="owner@example.com", address="10.0.0.2")


@pytest.fixture
def owner(db: str) -> str:
    from voxie_app.db import session_scope

    with session_scope() as s:
        auth.create_user(session=s, email="owner@example.com", password=PASSWORD, role="admin")
    return "owner@example.com"


async def test_wrong_passwords_delay_the_owner_by_at_most_the_cap(
    owner: str, configure: Callable[..., Settings]
) -> None:
    """Ten wrong passwords from ten addresses: the owner waits at most the cap (8 s here),
    then signs in with the right password; five wrong ones used to lock them out."""
    settings = configure()
    clock = Clock()
    t = throttle(clock, cap=8.0)
    for i in range(10):
        wait = t.per_account.wait(owner)
        assert wait is None or wait <= 8.0
        clock.now += wait or 0.0
        with pytest.raises(InvalidInput, match="wrong email or password"):
            await signin.sign_in(
                email=owner, password="guess", address=f"10.9.0.{i}", settings=settings, throttle=t
            )
    with pytest.raises(RateLimited, match="for this account") as refused:
        await signin.sign_in(
            email=owner, password=PASSWORD, address="10.0.0.1", settings=settings, throttle=t
        )
    assert refused.value.retry_after <= 8.0
    clock.now += refused.value.retry_after
    done = await signin.sign_in(
        email=" Owner@Example.com ",
        password=PASSWORD,
        address="10.0.0.1",
        settings=settings,
        throttle=t,
    )
    assert done.role == "admin" and done.token
    assert t.per_account.wait(owner) is None  # the success cleared the failures


class BlockingHasher:
    """Stands in for argon2: each verify waits until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()

    def verify(self, hash_: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            # On the event loop this would never be released (the test's loop is stuck);
            # the bound only turns such a deadlock into a failure instead of a hang.
            if not self.release.wait(30):
                raise RuntimeError("never released: the check ran on the event loop")
        finally:
            with self.lock:
                self.running -= 1
        raise VerifyMismatchError


async def _until(predicate: Callable[[], bool]) -> None:
    for _ in range(3000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_checks_run_on_the_pool_off_the_loop_hash_threads_at_a_time(
    db: str, configure: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configure()
    hasher = BlockingHasher()
    monkeypatch.setattr(auth, "_hasher", hasher)
    t = throttle(Clock())
    n = signin.HASH_THREADS + signin.MAX_WAITING
    attempts = [
        asyncio.create_task(
            signin.sign_in(
                email=f"u{i}@example.com",
                password="x",
                address=f"10.1.0.{i}",
                settings=settings,
                throttle=t,
            )
        )
        for i in range(n)
    ]
    await _until(lambda: hasher.running == signin.HASH_THREADS)  # the loop keeps running
    # Pool and queue are full: one more attempt is refused at once, without a hash.
    with pytest.raises(RateLimited, match="busy"):
        await signin.sign_in(
            email="late@example.com",
            password="x",
            address="10.2.0.1",
            settings=settings,
            throttle=t,
        )
    assert not any(a.done() for a in attempts)
    hasher.release.set()
    results = await asyncio.gather(*attempts, return_exceptions=True)
    assert all(isinstance(r, InvalidInput) for r in results), results
    assert hasher.most == signin.HASH_THREADS
    assert all(name.startswith("voxie-signin") for name in hasher.threads), hasher.threads
    assert threading.current_thread().name not in hasher.threads
    # The refused attempt took no slot: the next one runs.
    with pytest.raises(InvalidInput):
        await signin.sign_in(
            email="late@example.com",
            password="x",
            address="10.2.0.1",
            settings=settings,
            throttle=t,
        )


async def test_the_sign_in_form_limits_one_address_spraying_emails(
    owner: str, configure: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SessionState.login` (the /login form): wrong-password messages, then the
    address's backoff after 10 failures with random emails (it used to be per email
    only, so random emails were never limited)."""
    shared = signin.throttle_for(configure())  # the one the form uses; its time stands still
    for part in (shared.per_account, shared.per_address, shared.overall):
        monkeypatch.setattr(part, "_clock", Clock())
    state = State(_reflex_internal_init=True).get_substate(
        SessionState.get_full_name().split(".")[1:]
    )
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    state.router = RouterData.from_router_data({"ip": address})
    login = SessionState.event_handlers["login"].fn
    errors = []
    for _ in range(12):
        form = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "guess"}
        await login(state, form)
        errors.append(state.error)
    assert errors[:11] == ["wrong email or password"] * 11
    assert errors[11] == "Too many failed sign-ins from your address; try again in 1 s."
    state.error = ""
    await login(state, {"email": "elsewhere@example.com", "password": "guess"})
    assert state.error.startswith("Too many failed sign-ins from your address")
