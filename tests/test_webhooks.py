"""Outbound webhooks on SQLite and PostgreSQL, delivered to a real local HTTP receiver.

The receiver (aiohttp, 127.0.0.1, its own thread) checks each request's
signatures with the registered secret: the Standard Webhooks one with the
`standardwebhooks` package, as a receiver would, and `X-Voxie-Signature` by its
own HMAC code (not Voxie's); it answers 401 unless both pass. It
can answer the next N requests with an error or hang past the timeout. The URL
guard refuses loopback, so the `receiver` fixture allow-lists 127.0.0.1, as an
admin would (`VOXIE_URL_ALLOWLIST`); the guard tests below prove the refusal
without it. Tests
drive `deliver_due` with an explicit scheduling clock, so backoff is checked
without sleeping; one test runs the real `run_deliverer` loop with tiny delays.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import standardwebhooks
import standardwebhooks.webhooks
from aiohttp import web
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from tests.apprunner import api_headers, run_app
from tests.conftest import admin_headers
from tests.doubles.openai_server import OpenAIServerDouble, Reply
from voxie_app.api.app import create_api
from voxie_app.db import get_engine, session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, CallSession, Webhook, WebhookDelivery
from voxie_app.services import agent_creation, url_guard, webhooks
from voxie_app.services.calls import end_call_record
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

SPEC = {"name": "Dental Bot", "instructions": "You answer calls for a dentist.", "greeting": "Hi"}
DRAFT = {
    "name": "Pizza Orders",
    "description": "Takes pizza orders.",
    "instructions": "You take pizza orders for Luigi's. Confirm the address.",
    "greeting": "Luigi's Pizza!",
    "language": "en",
    "tools": ["end_call"],
}


# ------------------------------------------------------------------ receiver


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool  # both signatures verified
    answered: int | None  # None: hung

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def standard_check(secret: str, headers: Any, body: bytes) -> bool:
    """Verify as a Standard Webhooks receiver does: the reference library, nothing of Voxie's."""
    try:
        standardwebhooks.Webhook(secret).verify(body, dict(headers), json_parse=False)
    except standardwebhooks.webhooks.WebhookVerificationError:
        return False
    return True


def independent_check(secret: str, header: str, body: bytes) -> bool:
    """The receiver's own check (documented scheme), independent of Voxie's helper."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "v1" not in fields:
        return False
    if abs(time.time() - int(fields["t"])) > 300:
        return False
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


class Receiver:
    """A webhook endpoint at `url`; records requests; can fail or hang on demand."""

    def __init__(self) -> None:
        self.secret = ""
        self.requests: list[Received] = []
        self.fail_next = 0
        self.fail_status = 500
        self.hang_next = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def counts_by_delivery(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.requests:
            key = r.headers["X-Voxie-Delivery"]
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("X-Voxie-Signature", "")
        with self._lock:
            ok = independent_check(self.secret, header, body) and standard_check(
                self.secret, request.headers, body
            )
            if self.hang_next > 0:
                self.hang_next -= 1
                mode = "hang"
            elif self.fail_next > 0:
                self.fail_next -= 1
                mode = "fail"
            else:
                mode = "ok"
            status = None if mode == "hang" else (self.fail_status if mode == "fail" else 200)
            self.requests.append(Received(dict(request.headers), body, ok, status))
        if self.delay:
            await asyncio.sleep(self.delay)
        if mode == "hang":
            await asyncio.sleep(30)
        if mode == "fail":
            return web.Response(status=self.fail_status, text="receiver says boom")
        if not ok:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=200, text="thanks")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def receiver(configure: Callable[..., Settings]) -> Iterator[Receiver]:
    """A running receiver on 127.0.0.1, which the admin allow-list permits."""
    configure(VOXIE_URL_ALLOWLIST="127.0.0.1")
    with Receiver() as r:
        yield r


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


# ------------------------------------------------------------------- helpers


def register(url: str, events: list[str] | None = None) -> Webhook:
    with session_scope() as session:
        return webhooks.register(
            session=session, url=url, events=events or ["call.ended", "agent.created"]
        )


def hook_for(receiver: Receiver, events: list[str] | None = None) -> Webhook:
    hook = register(receiver.url, events)
    receiver.secret = hook.secret
    return hook


def deliveries() -> list[WebhookDelivery]:
    with session_scope() as session:
        return list(
            session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.created_at))).all()
        )


def only_delivery() -> WebhookDelivery:
    rows = deliveries()
    assert len(rows) == 1, rows
    return rows[0]


def new_call(agent_id: uuid.UUID | None = None) -> uuid.UUID:
    with session_scope() as session:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="room-1")
        session.add(call)
    return call.id


def ready_agent() -> Agent:
    return agent_creation.submit(user_requirements={"business": "dental"}, processed_spec=SPEC)


def queue_one(receiver: Receiver) -> WebhookDelivery:
    """A registered webhook with one pending `agent.created` delivery."""
    hook_for(receiver, ["agent.created"])
    ready_agent()
    return only_delivery()


# ----------------------------------------------------------- outbox (enqueue)


def test_call_end_enqueues_call_ended_for_subscribers(db: str) -> None:
    calls_hook = register("https://example.com/calls", ["call.ended"])
    register("https://example.com/agents", ["agent.created"])
    agent = ready_agent()
    agent_deliveries = len(deliveries())
    call_id = new_call(agent.id)
    with session_scope() as session:
        call = end_call_record(session=session, call_session_id=call_id, reason="caller_ended")
    rows = [d for d in deliveries() if d.event_type == "call.ended"]
    assert len(rows) == 1 and len(deliveries()) == agent_deliveries + 1
    row = rows[0]
    assert row.webhook_id == calls_hook.id
    assert row.status == "pending" and row.attempts == 0 and row.next_attempt_at is not None
    assert row.payload == {
        "id": str(call_id),
        "agent_id": str(agent.id),
        "status": "completed",
        "reason": "caller_ended",
        "started_at": call.started_at.isoformat(),
        "ended_at": call.ended_at.isoformat(),
        "duration_seconds": call.duration_seconds,
        "kind": "web",
        "direction": "inbound",
    }
    # Ending an ended call again changes nothing and sends nothing new.
    with session_scope() as session:
        end_call_record(session=session, call_session_id=call_id, reason="again")
    assert len([d for d in deliveries() if d.event_type == "call.ended"]) == 1


def test_nothing_is_enqueued_when_the_write_rolls_back(db: str) -> None:
    register("https://example.com/hook")
    call_id = new_call()
    with pytest.raises(RuntimeError), session_scope() as session:
        end_call_record(session=session, call_session_id=call_id, reason="caller_ended")
        assert len(session.exec(select(WebhookDelivery)).all()) == 1  # queued in this txn
        raise RuntimeError("the caller's transaction fails after the event")
    assert deliveries() == []
    with session_scope() as session:
        assert session.get(CallSession, call_id).ended_at is None  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), session_scope() as session:
        agent = Agent(name="x", processed_spec={}, user_requirements={})
        session.add(agent)
        session.flush()
        webhooks.enqueue_agent_created(session=session, agent=agent)
        raise RuntimeError("rolled back")
    assert deliveries() == []


def test_no_webhooks_no_deliveries_and_inactive_ones_skipped(db: str) -> None:
    ready_agent()
    assert deliveries() == []
    hook = register("https://example.com/hook")
    with session_scope() as session:
        row = session.get(Webhook, hook.id)
        row.active = False  # type: ignore[union-attr]
        session.add(row)
    ready_agent()
    assert deliveries() == []


def test_agent_created_on_submit_with_a_complete_spec(db: str) -> None:
    register("https://example.com/hook", ["agent.created"])
    agent = ready_agent()
    row = only_delivery()
    assert row.event_type == "agent.created"
    assert row.payload == {
        "id": str(agent.id),
        "name": "Dental Bot",
        "created_at": agent.created_at.isoformat(),
    }
    # Requirements only: the agent is not ready yet, so nothing is sent.
    pending = agent_creation.submit(user_requirements={"business": "pizza"}, processed_spec=None)
    assert pending.status == "processing"
    assert len(deliveries()) == 1


async def test_agent_created_when_processing_saves_the_spec(
    db: str, configure: Callable[..., Settings], openai_double: OpenAIServerDouble
) -> None:
    settings = configure(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=openai_double.base_url)
    register("https://example.com/hook", ["agent.created"])
    agent = agent_creation.submit(user_requirements={"business": "pizza"}, processed_spec=None)
    assert deliveries() == []
    openai_double.script(Reply(json=DRAFT))
    done = await agent_creation.process(agent_id=agent.id, settings=settings)
    assert done is not None and done.status == "ready"
    row = only_delivery()
    assert row.payload["id"] == str(agent.id) and row.payload["name"] == "Pizza Orders"

    # A failed generation creates no agent, so no event.
    other = agent_creation.submit(user_requirements={"business": "taxi"}, processed_spec=None)
    openai_double.responder = lambda _: Reply(status=400, error="bad request")
    failed = await agent_creation.process(agent_id=other.id, settings=settings)
    assert failed is not None and failed.status == "failed"
    assert len(deliveries()) == 1


# --------------------------------------------------------------- delivering


async def test_delivery_is_signed_and_carries_the_event(db: str, receiver: Receiver) -> None:
    hook = hook_for(receiver, ["agent.created"])
    agent = ready_agent()
    queued = only_delivery()

    counts = await webhooks.deliver_due()
    assert counts == {"claimed": 1, "delivered": 1, "pending": 0, "failed": 0}
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.signature_ok
    assert webhooks.verify_signature(hook.secret, got.headers["X-Voxie-Signature"], got.body)
    assert got.headers["X-Voxie-Event"] == "agent.created"
    assert got.headers["X-Voxie-Delivery"] == str(queued.id)
    assert got.headers["Content-Type"] == "application/json"
    assert got.json == {
        "id": str(queued.id),
        "type": "agent.created",
        "created_at": queued.created_at.isoformat(),
        "data": {
            "id": str(agent.id),
            "name": "Dental Bot",
            "created_at": queued.payload["created_at"],
        },
    }
    row = only_delivery()
    assert row.status == "delivered" and row.attempts == 1
    assert row.last_status_code == 200 and row.last_error is None
    assert row.delivered_at is not None and row.next_attempt_at is None
    # Delivered once: nothing more to send.
    assert (await webhooks.deliver_due(now=utcnow() + timedelta(days=1)))["claimed"] == 0
    assert len(receiver.requests) == 1


async def test_failures_are_retried_with_backoff_and_logged(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_WEBHOOK_BACKOFF_SECONDS="10", VOXIE_WEBHOOK_MAX_ATTEMPTS="5")
    queue_one(receiver)
    receiver.fail_next = 2
    now = utcnow()

    assert (await webhooks.deliver_due(now=now))["pending"] == 1
    first = only_delivery()
    assert first.status == "pending" and first.attempts == 1
    assert first.last_status_code == 500
    assert first.last_error == "HTTP 500"  # the receiver's body is never logged
    wait = (first.next_attempt_at - now).total_seconds()
    assert 5 <= wait <= 11, wait  # base 10 s, jittered to [5, 10] (+ send time)

    # Not due yet: nothing is sent.
    assert (await webhooks.deliver_due(now=now + timedelta(seconds=4)))["claimed"] == 0

    now = first.next_attempt_at
    assert (await webhooks.deliver_due(now=now))["pending"] == 1
    second = only_delivery()
    assert second.attempts == 2 and second.last_status_code == 500
    wait = (second.next_attempt_at - now).total_seconds()
    assert 10 <= wait <= 21, wait  # doubled

    assert (await webhooks.deliver_due(now=second.next_attempt_at))["delivered"] == 1
    done = only_delivery()
    assert done.status == "delivered" and done.attempts == 3
    assert done.last_status_code == 200 and done.last_error is None
    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert len(set(receiver.counts_by_delivery())) == 1  # the same delivery id each time
    assert all(r.signature_ok for r in receiver.requests)


async def test_timeouts_and_network_errors_are_logged(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_WEBHOOK_TIMEOUT_SECONDS="0.5")
    queue_one(receiver)
    receiver.hang_next = 1
    started = time.monotonic()
    assert (await webhooks.deliver_due())["pending"] == 1
    assert time.monotonic() - started < 5
    row = only_delivery()
    assert row.attempts == 1 and row.last_status_code is None
    assert row.last_error == "timed out after 0.5s"

    with session_scope() as session:
        session.execute(sa.update(Webhook).values(url=closed_port_url()))
    assert (await webhooks.deliver_due(now=row.next_attempt_at))["pending"] == 1
    row = only_delivery()
    assert row.attempts == 2 and row.last_status_code is None
    assert row.last_error == "connection refused"


async def test_gives_up_after_max_attempts(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_WEBHOOK_BACKOFF_SECONDS="0.01", VOXIE_WEBHOOK_MAX_ATTEMPTS="3")
    queue_one(receiver)
    receiver.fail_next = 100
    receiver.fail_status = 503
    now = utcnow()
    for attempt in (1, 2, 3):
        counts = await webhooks.deliver_due(now=now)
        row = only_delivery()
        assert row.attempts == attempt
        if attempt < 3:
            assert counts["pending"] == 1 and row.status == "pending"
            now = row.next_attempt_at
    assert counts["failed"] == 1
    assert row.status == "failed" and row.next_attempt_at is None
    assert row.last_status_code == 503 and "503" in (row.last_error or "")
    assert (await webhooks.deliver_due(now=now + timedelta(days=30)))["claimed"] == 0
    assert len(receiver.requests) == 3


async def test_redirects_are_not_followed(db: str, receiver: Receiver) -> None:
    queue_one(receiver)
    receiver.fail_next = 1
    receiver.fail_status = 307
    assert (await webhooks.deliver_due())["pending"] == 1
    assert only_delivery().last_status_code == 307
    assert only_delivery().last_error == "HTTP 307 (redirects are not followed)"
    assert len(receiver.requests) == 1


# --------------------------------------------------------------- URL guard

INTERNAL_URLS = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.5/hook",
    "http://100.64.0.1/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fd00:ec2::254]/hook",
    "http://localhost:8000/hook",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_register_refuses_internal_addresses(db: str, url: str) -> None:
    with pytest.raises(InvalidInput) as caught, session_scope() as session:
        webhooks.register(session=session, url=url, events=["call.ended"])
    assert caught.value.field == "url"
    assert "VOXIE_URL_ALLOWLIST" in caught.value.message
    assert deliveries() == [] and webhooks_count() == 0


def webhooks_count() -> int:
    with session_scope() as session:
        return len(webhooks.list_webhooks(session=session))


def test_register_refuses_a_name_that_resolves_inside(db: str) -> None:
    resolver = {"hooks.example.com": ["93.184.216.34", "10.0.0.7"]}.__getitem__
    with pytest.raises(InvalidInput) as caught, session_scope() as session:
        webhooks.register(
            session=session,
            url="https://hooks.example.com/x",
            events=["call.ended"],
            resolver=resolver,
        )
    assert "10.0.0.7" in caught.value.message and "private" in caught.value.message


async def test_loopback_is_refused_at_delivery_without_the_allow_list(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    # Registered while an admin allowed it (or before the guard existed), then not allowed.
    queue_one(receiver)
    configure(VOXIE_URL_ALLOWLIST=None)
    assert (await webhooks.deliver_due())["pending"] == 1
    row = only_delivery()
    assert row.last_status_code is None
    assert row.last_error is not None and row.last_error.startswith("refused")
    assert receiver.requests == []  # nothing reached the internal service


async def test_dns_rebinding_is_refused_at_connect_time(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    """The name answers a public address when saved and 127.0.0.1 when connecting."""
    configure(VOXIE_URL_ALLOWLIST=None)
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str) -> list[str]:
        asked.append(host)
        return next(answers)

    url = f"http://rebind.example.com:{receiver.port}/hook"
    with session_scope() as session:
        hook = webhooks.register(
            session=session, url=url, events=["agent.created"], resolver=rebinding
        )
    receiver.secret = hook.secret
    ready_agent()
    async with url_guard.guarded_client(resolver=rebinding) as client:
        assert (await webhooks.deliver_due(client=client))["pending"] == 1
    row = only_delivery()
    assert row.last_error is not None and row.last_error.startswith("refused")
    assert receiver.requests == [] and asked == ["rebind.example.com"] * 2

    # The same name, allow-listed by the admin's CIDR, is delivered through the guard's
    # own resolution (the system resolver does not know rebind.example.com).
    configure(VOXIE_URL_ALLOWLIST="127.0.0.0/8")
    async with url_guard.guarded_client(resolver=rebinding) as client:
        assert (await webhooks.deliver_due(client=client, now=row.next_attempt_at))[
            "delivered"
        ] == 1
    assert len(receiver.requests) == 1 and receiver.requests[0].signature_ok


async def test_run_deliverer_retries_in_real_time(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_WEBHOOK_BACKOFF_SECONDS="0.05", VOXIE_WEBHOOK_MAX_ATTEMPTS="5")
    queue_one(receiver)
    receiver.fail_next = 2
    stop = asyncio.Event()
    task = asyncio.create_task(webhooks.run_deliverer(stop, interval=0.02))
    try:
        for _ in range(500):
            if only_delivery().status != "pending":
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    row = only_delivery()
    assert row.status == "delivered" and row.attempts == 3
    assert [r.answered for r in receiver.requests] == [500, 500, 200]


async def test_deleted_or_disabled_webhooks_get_nothing(db: str, receiver: Receiver) -> None:
    hook = queue_one(receiver).webhook_id
    with session_scope() as session:
        session.execute(sa.update(Webhook).values(active=False))
    assert (await webhooks.deliver_due())["claimed"] == 0
    row = only_delivery()
    assert row.status == "failed" and row.last_error == "the webhook is disabled"

    with session_scope() as session:
        session.execute(sa.update(Webhook).values(active=True))
    ready_agent()
    with session_scope() as session:
        webhooks.delete_webhook(session=session, webhook_id=hook)
    assert deliveries() == []
    assert (await webhooks.deliver_due())["claimed"] == 0
    assert receiver.requests == []


# ----------------------------------------------------------------- claiming


def test_a_claim_leases_the_row_and_a_stale_claim_cannot_record(
    db: str, configure: Callable[..., Settings]
) -> None:
    settings = configure(VOXIE_WEBHOOK_TIMEOUT_SECONDS="10", VOXIE_WEBHOOK_MAX_ATTEMPTS="2")
    register("https://example.com/hook")
    ready_agent()
    now = utcnow()
    [first] = webhooks._claim(now=now, limit=10, settings=settings)
    assert first.attempt == 1
    # Leased: another deliverer finds nothing until the lease runs out.
    assert webhooks._claim(now=now + timedelta(seconds=60), limit=10, settings=settings) == []
    # The first deliverer died; after the lease the row is taken again, as attempt 2.
    later = now + timedelta(seconds=10 + webhooks.LEASE_MARGIN_S + 1)
    [second] = webhooks._claim(now=later, limit=10, settings=settings)
    assert second.id == first.id and second.attempt == 2
    # The stale claim's outcome is ignored; the live one's is kept.
    ok = webhooks._Outcome(ok=True, status_code=200, error=None)
    webhooks._record(first, ok, later, settings)
    assert only_delivery().status == "pending"
    bad = webhooks._Outcome(ok=False, status_code=None, error="x")
    webhooks._record(second, bad, later, settings)
    assert only_delivery().status == "failed"  # max attempts (2) reached


def test_a_deliverer_dying_on_the_last_attempt_ends_as_failed(
    db: str, configure: Callable[..., Settings]
) -> None:
    settings = configure(VOXIE_WEBHOOK_MAX_ATTEMPTS="1")
    register("https://example.com/hook")
    ready_agent()
    now = utcnow()
    assert len(webhooks._claim(now=now, limit=10, settings=settings)) == 1
    later = now + timedelta(days=1)
    assert webhooks._claim(now=later, limit=10, settings=settings) == []
    row = only_delivery()
    assert row.status == "failed" and row.attempts == 1
    assert "stopped during the last attempt" in (row.last_error or "")


def test_postgres_claims_skip_rows_locked_by_another_deliverer(
    db: str, configure: Callable[..., Settings]
) -> None:
    if not db.startswith("postgresql"):
        pytest.skip("FOR UPDATE SKIP LOCKED is the PostgreSQL claim path")
    settings = configure()
    register("https://example.com/hook")
    for _ in range(4):
        ready_agent()
    ids = [d.id for d in deliveries()]
    with Session(get_engine(db)) as other:
        locked = other.exec(
            select(WebhookDelivery.id).where(col(WebhookDelivery.id).in_(ids[:2])).with_for_update()
        ).all()
        assert len(locked) == 2
        claimed = webhooks._claim(now=utcnow(), limit=10, settings=settings)
        assert {c.id for c in claimed} == set(ids[2:])
        other.rollback()
    claimed = webhooks._claim(now=utcnow(), limit=10, settings=settings)
    assert {c.id for c in claimed} == set(ids[:2])


def test_concurrent_deliverers_send_each_delivery_once(db: str, receiver: Receiver) -> None:
    hook_for(receiver, ["agent.created"])
    for _ in range(24):
        ready_agent()
    receiver.delay = 0.02
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def deliverer() -> None:
        async def run() -> None:
            start.wait()
            for _ in range(100):
                counts = await webhooks.deliver_due(limit=3)
                if counts["claimed"] == 0 and not [
                    d for d in deliveries() if d.status == "pending"
                ]:
                    return

        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    counts = receiver.counts_by_delivery()
    assert len(counts) == 24 and set(counts.values()) == {1}, counts
    rows = deliveries()
    assert {d.status for d in rows} == {"delivered"} and {d.attempts for d in rows} == {1}


async def test_deliveries_verify_with_the_standardwebhooks_library(
    db: str, receiver: Receiver
) -> None:
    """A receiver using `standardwebhooks` accepts Voxie's deliveries, old secrets too."""
    hook = hook_for(receiver, ["agent.created"])
    assert base64.b64decode(hook.secret.removeprefix("whsec_"), validate=True)  # spec secret
    ready_agent()
    queued = only_delivery()
    await webhooks.deliver_due()
    got = receiver.requests[0]
    assert got.answered == 200 and got.signature_ok
    assert got.headers["webhook-id"] == got.headers["X-Voxie-Delivery"] == str(queued.id)
    assert got.headers["webhook-signature"].startswith("v1,")
    t = got.headers["X-Voxie-Signature"].split(",")[0].removeprefix("t=")
    assert got.headers["webhook-timestamp"] == t  # one timestamp for both signatures
    payload = standardwebhooks.Webhook(hook.secret).verify(got.body, got.headers)
    assert payload["id"] == str(queued.id) and payload["type"] == "agent.created"
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(hook.secret).verify(got.body + b" ", got.headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        other = "whsec_" + base64.b64encode(b"x" * 32).decode()
        standardwebhooks.Webhook(other).verify(got.body, got.headers)

    # A secret made before this release (whsec_ + 64 hex digits) keeps working.
    old = "whsec_" + "ab12" * 16
    with session_scope() as session:
        row = session.get(Webhook, hook.id)
        assert row is not None
        row.secret = old
        session.add(row)
    receiver.secret = old
    ready_agent()
    await webhooks.deliver_due()
    assert receiver.requests[-1].signature_ok and receiver.requests[-1].answered == 200
    standardwebhooks.Webhook(old).verify(receiver.requests[-1].body, receiver.requests[-1].headers)


# --------------------------------------------------------------- signatures


def test_verify_signature_accepts_only_fresh_valid_signatures() -> None:
    secret, body = "whsec_test", b'{"id":"1","type":"call.ended"}'
    now = int(time.time())
    header = webhooks.sign(secret, now, body)
    assert webhooks.verify_signature(secret, header, body)
    assert webhooks.verify_signature(secret, header, body.decode())
    assert not webhooks.verify_signature("whsec_other", header, body)  # wrong secret
    assert not webhooks.verify_signature(secret, header, body + b" ")  # tampered body
    stale = webhooks.sign(secret, now - 301, body)
    assert not webhooks.verify_signature(secret, stale, body, tolerance=300)  # replayed late
    assert webhooks.verify_signature(secret, stale, body, tolerance=600)
    assert not webhooks.verify_signature(secret, webhooks.sign(secret, now + 301, body), body)
    v1 = header.split("v1=")[1]
    forged_t = f"t={now + 1},v1={v1}"  # a signature moved to another timestamp
    for bad in ("", None, "garbage", f"v1={v1}", f"t={now}", f"t=abc,v1={v1}", forged_t):
        assert not webhooks.verify_signature(secret, bad, body), bad
    # Several v1 values (e.g. while rotating secrets): any valid one is enough.
    assert webhooks.verify_signature(secret, f"t={now},v1={'0' * 64},v1={v1}", body)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "example.com/hook",
        "http://",
        "https://user:pass@example.com/hook",
        "https://token@example.com/hook",
        "https://example.com/ho ok",
        "https://example.com:99999/hook",
        "https://example.com/hook#frag",
        "https://example.com/" + "a" * 2000,
        "javascript:alert(1)",
    ],
)
def test_register_rejects_bad_urls(db: str, url: str) -> None:
    with pytest.raises(InvalidInput) as caught, session_scope() as session:
        webhooks.register(session=session, url=url, events=["call.ended"])
    assert caught.value.field == "url"


def test_register_checks_events_and_makes_a_secret(db: str) -> None:
    for events in ([], ["call.started"], ["call.ended", "nope"]):
        with pytest.raises(InvalidInput) as caught, session_scope() as session:
            webhooks.register(session=session, url="https://example.com/h", events=events)
        assert caught.value.field == "events"
    a = register("https://example.com/h", ["call.ended", "call.ended"])
    b = register("https://example.com/h", ["call.ended"])
    assert a.events == ["call.ended"]
    assert a.secret.startswith("whsec_") and len(a.secret) > 40 and a.secret != b.secret


# ---------------------------------------------------------------------- API


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def test_api_create_list_delete(client: TestClient) -> None:
    r = client.post(
        "/api/webhooks", json={"url": "https://example.com/hook", "events": ["call.ended"]}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["url"] == "https://example.com/hook" and created["events"] == ["call.ended"]

    r = client.get("/api/webhooks")
    assert r.status_code == 200
    assert [h["id"] for h in r.json()] == [created["id"]]
    assert "secret" not in r.json()[0] and secret not in r.text

    assert client.delete(f"/api/webhooks/{created['id']}").status_code == 204
    assert client.get("/api/webhooks").json() == []
    assert client.delete(f"/api/webhooks/{created['id']}").status_code == 404
    assert client.get(f"/api/webhooks/{created['id']}/deliveries").status_code == 404


def test_api_delivery_log_is_newest_first_and_paged(client: TestClient) -> None:
    r = client.post(
        "/api/webhooks", json={"url": "https://example.com/hook", "events": ["agent.created"]}
    )
    hook_id = r.json()["id"]
    secret = r.json()["secret"]
    base = utcnow()
    for n in range(5):
        with session_scope() as session:
            [row] = webhooks.enqueue(session=session, event_type="agent.created", payload={"n": n})
            row.created_at = base + timedelta(seconds=n)
            session.add(row)
    page = client.get(f"/api/webhooks/{hook_id}/deliveries", params={"limit": 2})
    assert page.status_code == 200, page.text
    assert [d["payload"]["n"] for d in page.json()] == [4, 3]
    page2 = client.get(f"/api/webhooks/{hook_id}/deliveries", params={"limit": 2, "offset": 2})
    assert [d["payload"]["n"] for d in page2.json()] == [2, 1]
    first = page.json()[0]
    assert first["status"] == "pending" and first["attempts"] == 0
    assert set(first) >= {"last_status_code", "last_error", "next_attempt_at", "delivered_at"}
    assert secret not in page.text
    failed = client.get(f"/api/webhooks/{hook_id}/deliveries", params={"status": "failed"})
    assert failed.json() == []
    assert client.get(f"/api/webhooks/{hook_id}/deliveries", params={"limit": 0}).status_code == 422


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "https://u:p@example.com/x", "nope", "https://x.com/" + "a" * 2000],
)
def test_api_invalid_url_is_422_naming_url(client: TestClient, url: str) -> None:
    r = client.post("/api/webhooks", json={"url": url, "events": ["call.ended"]})
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == "url" for e in r.json()["detail"]), r.json()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://[::1]/x", "http://0x7f000001/"])
def test_api_internal_url_is_422_naming_url(client: TestClient, url: str) -> None:
    r = client.post("/api/webhooks", json={"url": url, "events": ["call.ended"]})
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == "url" for e in r.json()["detail"]), r.json()
    assert "VOXIE_URL_ALLOWLIST" in r.text


@pytest.mark.parametrize("events", [["call.started"], [], ["agent.created", "x"]])
def test_api_unknown_or_missing_event_type_is_422(client: TestClient, events: list[str]) -> None:
    r = client.post("/api/webhooks", json={"url": "https://example.com/x", "events": events})
    assert r.status_code == 422, r.text
    assert any("events" in e["loc"] for e in r.json()["detail"]), r.json()


def test_api_is_admin_only(client: TestClient) -> None:
    hook_id = client.post(
        "/api/webhooks", json={"url": "https://example.com/x", "events": ["call.ended"]}
    ).json()["id"]
    viewer = TestClient(create_api(), headers=admin_headers("viewer"))
    anonymous = TestClient(create_api())
    for c, expected in ((viewer, 403), (anonymous, 401)):
        assert c.get("/api/webhooks").status_code == expected
        assert c.get(f"/api/webhooks/{hook_id}/deliveries").status_code == expected
        r = c.post("/api/webhooks", json={"url": "https://example.com/y", "events": ["call.ended"]})
        assert r.status_code == expected
        assert c.delete(f"/api/webhooks/{hook_id}").status_code == expected
    assert len(client.get("/api/webhooks").json()) == 1


# ------------------------------------------------------------ in the web app


async def test_the_lifespan_deliverer_sends_and_stops(
    db: str, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    import voxie_app.voxie_app as web

    assert webhooks.deliverer_lifespan in web.app.get_lifespan_tasks()
    configure(VOXIE_WEBHOOK_POLL_SECONDS="0.05")
    queue_one(receiver)
    async with webhooks.deliverer_lifespan():
        for _ in range(200):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
    assert only_delivery().status == "delivered"


@pytest.mark.slow
def test_the_running_web_app_delivers_webhooks(
    tmp_path: Path, receiver: Receiver, configure: Callable[..., Settings]
) -> None:
    """`make run`'s app: an agent created over the API reaches the receiver, signed."""
    url = f"sqlite:///{tmp_path / 'voxie.db'}"
    configure(DATABASE_URL=url)
    env = {"VOXIE_WEBHOOK_POLL_SECONDS": "0.2", "VOXIE_URL_ALLOWLIST": "127.0.0.1"}
    with run_app(tmp_path, database_url=url, env=env) as app:
        headers = api_headers(url)
        r = httpx.post(
            f"{app.base}/api/webhooks",
            json={"url": receiver.url, "events": ["agent.created"]},
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        receiver.secret = hook["secret"]
        r = httpx.post(
            f"{app.base}/api/agents/create",
            json={"user_requirements": {"business": "dental"}, "processed_spec": SPEC},
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(receiver.requests) == 1, app.log()[-3000:]
        got = receiver.requests[0]
        assert got.signature_ok and got.json["data"]["id"] == r.json()["agent_id"]
        for _ in range(50):  # the deliverer records the outcome just after the response
            logged = httpx.get(
                f"{app.base}/api/webhooks/{hook['id']}/deliveries", headers=headers, timeout=10
            ).json()
            if logged[0]["status"] == "delivered":
                break
            time.sleep(0.1)
        assert logged[0]["id"] == got.headers["X-Voxie-Delivery"]
        assert logged[0]["status"] == "delivered" and logged[0]["last_status_code"] == 200
