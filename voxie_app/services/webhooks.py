"""Outbound webhooks: admins register URLs; `call.ended` and `agent.created` are POSTed to them.

Outbox pattern: `enqueue` inserts one `webhook_deliveries` row per subscribed
webhook in the caller's transaction, so a delivery exists if and only if the
event's own write committed. `deliver_due` (run by `run_deliverer` in the web
app) sends due rows, records every outcome on the row (the delivery log), and
retries failures with exponential backoff and jitter until
`VOXIE_WEBHOOK_MAX_ATTEMPTS`, then marks the delivery `failed`.

Claiming is safe with several deliverers (several web processes): on
PostgreSQL due rows are picked with `FOR UPDATE SKIP LOCKED`, on SQLite with a
conditional UPDATE. A claim counts the attempt and leases the row (pushes
`next_attempt_at` past the request timeout), so a deliverer that dies
mid-request leaves the row to be retried later, and an outcome is written only
by the claim that still holds the row (`attempts` acts as the fencing number).
Delivery is at least once: receivers dedupe on `X-Voxie-Delivery`.

URLs pass `services.url_guard` twice: when registered (`check_url`) and when
each connection is opened (the guarded client re-resolves and re-checks, so DNS
rebinding to an internal address is refused). The log keeps the HTTP status
and a generic reason, never the receiver's body.

Every request is signed twice, with the same timestamp:

- Standard Webhooks (https://www.standardwebhooks.com, what the `standardwebhooks`
  libraries verify): `webhook-id` (the delivery id, the same on every retry),
  `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64>`, the
  HMAC-SHA256 of `f"{id}.{timestamp}.{raw body}"` keyed with the secret's bytes:
  the base64 after the `whsec_` prefix, decoded (`signing_key`). Secrets made
  before this were `whsec_` + 64 hex digits, which is valid base64 too (48 bytes),
  so every existing secret works unchanged with the libraries; new ones are
  `whsec_` + base64 of 32 random bytes.
- `X-Voxie-Signature: t=<unix>,v1=<hex>` (kept for this release): the hex
  HMAC-SHA256 of `f"{t}.{raw body}"` keyed with the whole secret string.
  `verify_signature` is its receiver-side check.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import httpx
import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlmodel import Session, col, select

from voxie_app.db import dialect_name, session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, CallSession, Webhook, WebhookDelivery
from voxie_app.services import url_guard
from voxie_app.services.errors import Conflict, InvalidInput, NotFound
from voxie_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

WebhookEvent = Literal["call.ended", "agent.created"]
EVENT_TYPES: tuple[str, ...] = get_args(WebhookEvent)
DELIVERY_STATUSES = ("pending", "delivered", "failed")

MAX_URL = url_guard.MAX_URL
MAX_WEBHOOKS = 50
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-Voxie-Signature"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
EVENT_HEADER = "X-Voxie-Event"
DELIVERY_HEADER = "X-Voxie-Delivery"
USER_AGENT = "Voxie-Webhooks/1.0"
DEFAULT_TOLERANCE_S = 300
BATCH = 20
MAX_ERROR = 500
# A claimed row is left alone for the request timeout plus this margin.
LEASE_MARGIN_S = 60.0

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


# ------------------------------------------------------------------ registry


def _check_url(url: str, resolver: url_guard.Resolver | None = None) -> str:
    """The URL guard's rules (public addresses only, unless allow-listed), and no #fragment."""
    parts = url_guard.check_url(url, resolver=resolver)
    if parts.fragment:
        raise InvalidInput("the URL must not contain a #fragment", field="url")
    return url.strip()


def _check_events(event_types: list[str]) -> list[str]:
    unknown = [e for e in event_types if e not in EVENT_TYPES]
    if unknown or not event_types:
        raise InvalidInput(f"subscribe to one or more of: {', '.join(EVENT_TYPES)}", field="events")
    return list(dict.fromkeys(event_types))


def register(
    *, session: Session, url: str, events: list[str], resolver: url_guard.Resolver | None = None
) -> Webhook:
    """Register a webhook. The returned row carries the new secret: show it once.

    Blocking (the URL guard may resolve the host): call it from a thread.
    """
    url = _check_url(url, resolver)
    events = _check_events(events)
    count = session.exec(select(sa.func.count()).select_from(Webhook)).one()
    if count >= MAX_WEBHOOKS:
        # A full list is the state of the server, not bad input: 409.
        raise Conflict(f"at most {MAX_WEBHOOKS} webhooks can be registered; delete one first")
    hook = Webhook(url=url, events=events, secret=new_secret())
    session.add(hook)
    session.flush()
    return hook


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def list_webhooks(*, session: Session) -> list[Webhook]:
    return list(session.exec(select(Webhook).order_by(col(Webhook.created_at))).all())


def get_webhook(*, session: Session, webhook_id: uuid.UUID) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def delete_webhook(*, session: Session, webhook_id: uuid.UUID) -> None:
    """Delete a webhook and its delivery log (pending deliveries are dropped)."""
    hook = get_webhook(session=session, webhook_id=webhook_id)
    session.execute(sa.delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id))
    session.delete(hook)
    session.flush()


def list_deliveries(
    *,
    session: Session,
    webhook_id: uuid.UUID,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[WebhookDelivery]:
    """A webhook's delivery log, newest first."""
    get_webhook(session=session, webhook_id=webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


# -------------------------------------------------------------------- outbox


def enqueue(*, session: Session, event_type: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue `event_type` for every active webhook subscribed to it, in the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    hooks = session.exec(select(Webhook).where(col(Webhook.active).is_(True))).all()
    targets = [h for h in hooks if event_type in (h.events or [])]
    if not targets:
        return []
    data = to_jsonable_python(payload)
    now = utcnow()
    rows = [
        WebhookDelivery(
            webhook_id=h.id,
            event_type=event_type,
            payload=data,
            status="pending",
            next_attempt_at=now,
            created_at=now,
        )
        for h in targets
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def enqueue_call_ended(*, session: Session, call: CallSession) -> list[WebhookDelivery]:
    return enqueue(
        session=session,
        event_type="call.ended",
        payload={
            "id": str(call.id),
            "agent_id": str(call.agent_id) if call.agent_id else None,
            "status": call.call_status,
            "reason": call.end_reason,
            "started_at": _iso(call.started_at),
            "ended_at": _iso(call.ended_at),
            "duration_seconds": call.duration_seconds,
            "kind": call.kind,
            "direction": call.direction,
        },
    )


def enqueue_agent_created(*, session: Session, agent: Agent) -> list[WebhookDelivery]:
    return enqueue(
        session=session,
        event_type="agent.created",
        payload={"id": str(agent.id), "name": agent.name, "created_at": _iso(agent.created_at)},
    )


# ---------------------------------------------------------------- signatures


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Voxie-Signature` value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signing_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature: the secret's base64 part, decoded.

    Decoded as the reference libraries do (prefix dropped, padding added), so a
    receiver handing the secret to `standardwebhooks.Webhook` gets the same key.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value (Standard Webhooks v1) for `body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both signatures of one request: Standard Webhooks and `X-Voxie-Signature`."""
    return {
        STANDARD_ID_HEADER: msg_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: sign_standard(secret, msg_id, timestamp, body),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """Receiver side: True if `header` signs `body` with `secret` within `tolerance` seconds.

    Compares in constant time; rejects a missing or malformed header, a wrong
    signature, and a timestamp more than `tolerance` seconds away from `now`.
    """
    if not header or len(header) > 1000:
        return False
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, raw).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, c) for c in candidates)


# ---------------------------------------------------------------- delivering


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    attempt: int
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    url: str
    secret: str


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """Delay after failed attempt number `attempt` (1-based): exponential, capped, jittered."""
    base = settings.webhook_backoff_seconds * (2 ** min(attempt - 1, 30))
    delay = min(base, settings.webhook_backoff_max_seconds)
    return delay / 2 + random.uniform(0, delay / 2)


def _due(now: datetime, max_attempts: int) -> list[Any]:
    return [
        WebhookDelivery.status == "pending",
        col(WebhookDelivery.next_attempt_at) <= now,
        col(WebhookDelivery.attempts) < max_attempts,
    ]


def _claim(*, now: datetime, limit: int, settings: Settings) -> list[_Claimed]:
    """Take up to `limit` due deliveries for this deliverer; each claim counts an attempt."""
    lease_until = now + timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_S)
    due = _due(now, settings.webhook_max_attempts)
    claimed: list[tuple[uuid.UUID, int]] = []
    with session_scope() as session:
        # A deliverer that died during a last attempt leaves a row no one may retry.
        stuck = session.exec(
            select(WebhookDelivery.id).where(
                WebhookDelivery.status == "pending",
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookDelivery.attempts) >= settings.webhook_max_attempts,
            )
        ).all()
        if stuck:
            _fail(session, list(stuck), "gave up: the deliverer stopped during the last attempt")
        query = (
            select(WebhookDelivery.id, WebhookDelivery.attempts)
            .where(*due)
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(limit)
        )
        if dialect_name(session) == "postgresql":
            rows = session.exec(query.with_for_update(skip_locked=True)).all()
            for delivery_id, attempts in rows:
                session.execute(
                    sa.update(WebhookDelivery)
                    .where(col(WebhookDelivery.id) == delivery_id)
                    .values(attempts=attempts + 1, next_attempt_at=lease_until)
                )
                claimed.append((delivery_id, attempts + 1))
        else:
            for delivery_id, attempts in session.exec(query).all():
                # Compare-and-set: only one deliverer's UPDATE matches.
                result = session.execute(
                    sa.update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.id) == delivery_id,
                        col(WebhookDelivery.attempts) == attempts,
                        *due,
                    )
                    .values(attempts=attempts + 1, next_attempt_at=lease_until)
                )
                if result.rowcount == 1:
                    claimed.append((delivery_id, attempts + 1))
        if not claimed:
            return []
        ids = [delivery_id for delivery_id, _ in claimed]
        rows = session.exec(
            select(WebhookDelivery, Webhook)
            .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
            .where(col(WebhookDelivery.id).in_(ids))
        ).all()
        disabled = [d.id for d, h in rows if not h.active]
        if disabled:
            _fail(session, disabled, "the webhook is disabled")
        attempt_of = dict(claimed)
        return [
            _Claimed(
                id=d.id,
                attempt=attempt_of[d.id],
                event_type=d.event_type,
                payload=d.payload or {},
                created_at=d.created_at,
                url=h.url,
                secret=h.secret,
            )
            for d, h in rows
            if h.active
        ]


def _fail(session: Session, ids: list[uuid.UUID], reason: str) -> None:
    session.execute(
        sa.update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(ids))
        .values(status="failed", next_attempt_at=None, last_error=reason)
    )


def _body(item: _Claimed) -> bytes:
    message = {
        "id": str(item.id),
        "type": item.event_type,
        "created_at": item.created_at.isoformat(),
        "data": item.payload,
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


async def _send(item: _Claimed, client: httpx.AsyncClient, limit_s: float) -> _Outcome:
    """POST one delivery; the outcome holds the status and a generic reason, never the body.

    The remote body is not read: a receiver (or an internal service an attacker
    pointed a webhook at) must not be able to echo anything into the delivery log.
    """
    body = _body(item)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: item.event_type,
        DELIVERY_HEADER: str(item.id),
        **signed_headers(item.secret, str(item.id), int(time.time()), body),
    }
    try:
        async with asyncio.timeout(limit_s):
            async with client.stream(
                "POST",
                item.url,
                content=body,
                headers=headers,
                follow_redirects=False,
                timeout=limit_s,
            ) as response:
                code = response.status_code
                if 200 <= code < 300:
                    return _Outcome(ok=True, status_code=code, error=None)
                note = " (redirects are not followed)" if 300 <= code < 400 else ""
                return _Outcome(ok=False, status_code=code, error=f"HTTP {code}{note}")
    except (TimeoutError, httpx.TimeoutException):
        return _Outcome(ok=False, status_code=None, error=f"timed out after {limit_s:g}s")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _Outcome(ok=False, status_code=None, error=failure_reason(exc))


def failure_reason(exc: BaseException) -> str:
    """A generic reason for a failed request, safe for the delivery log.

    No remote text and no addresses: "connection refused", "connection failed",
    "TLS error", "connection lost", "protocol error", or the guard's refusal.
    """
    if isinstance(exc, url_guard.AddressRefused):
        return "refused: the address is not allowed (an admin can set VOXIE_URL_ALLOWLIST)"
    if isinstance(exc, httpx.ConnectError):
        chain = _causes(exc)
        if any(isinstance(e, ssl.SSLError) for e in chain):
            return "TLS error"
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in str(exc):
            return "connection refused"
        return "connection failed"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "connection lost"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError)):
        return "protocol error"
    if isinstance(exc, httpx.InvalidURL):
        return "invalid URL"
    return "request failed"


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _record(item: _Claimed, outcome: _Outcome, now: datetime, settings: Settings) -> str:
    """Write the outcome, only if this claim still holds the row; returns the new status."""
    values: dict[str, Any] = {"last_status_code": outcome.status_code}
    if outcome.ok:
        values |= {"status": "delivered", "delivered_at": utcnow(), "next_attempt_at": None}
        values["last_error"] = None
    elif item.attempt >= settings.webhook_max_attempts:
        values |= {"status": "failed", "next_attempt_at": None}
        values["last_error"] = (outcome.error or "")[:MAX_ERROR]
    else:
        delay = backoff_seconds(item.attempt, settings)
        values |= {"status": "pending", "next_attempt_at": now + timedelta(seconds=delay)}
        values["last_error"] = (outcome.error or "")[:MAX_ERROR]
    with session_scope() as session:
        result = session.execute(
            sa.update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == item.id,
                WebhookDelivery.status == "pending",
                col(WebhookDelivery.attempts) == item.attempt,
            )
            .values(**values)
        )
    if result.rowcount != 1:
        log.info("webhook delivery %s was taken over or removed; outcome not recorded", item.id)
    return values["status"]


async def deliver_due(
    *,
    now: datetime | None = None,
    client: httpx.AsyncClient | None = None,
    limit: int = BATCH,
    settings: Settings | None = None,
) -> dict[str, int]:
    """Send up to `limit` due deliveries concurrently; returns counts by resulting status.

    `now` is the scheduling clock (tests move it forward); signatures always
    carry the real time, which is what receivers check. `client`, if given, must
    be a `url_guard.guarded_client()` (the default): it re-checks each address at
    connect time.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    items = await asyncio.to_thread(_claim, now=now, limit=limit, settings=settings)
    counts = {"claimed": len(items), "delivered": 0, "pending": 0, "failed": 0}
    if not items:
        return counts
    own_client = client is None
    client = client or url_guard.guarded_client()
    started = time.monotonic()
    try:
        results = await asyncio.gather(
            *(_send(item, client, settings.webhook_timeout_seconds) for item in items),
            return_exceptions=True,
        )
    finally:
        if own_client:
            await client.aclose()
    # Backoff counts from when the attempts finished, on the caller's clock.
    finished = now + timedelta(seconds=time.monotonic() - started)
    for item, result in zip(items, results, strict=True):
        if isinstance(result, asyncio.CancelledError):
            raise result
        if isinstance(result, BaseException):
            log.error("webhook delivery %s: unexpected error", item.id, exc_info=result)
            result = _Outcome(ok=False, status_code=None, error=f"{result.__class__.__name__}")
        outcome = result
        status = await asyncio.to_thread(_record, item, outcome, finished, settings)
        counts[status] += 1
        if not outcome.ok:
            log.info(
                "webhook delivery %s attempt %d failed: %s", item.id, item.attempt, outcome.error
            )
    return counts


async def run_deliverer(stop_event: asyncio.Event, interval: float | None = None) -> None:
    """Deliver due webhooks until `stop_event` is set; polls every `interval` seconds."""
    interval = interval if interval is not None else get_settings().webhook_poll_seconds
    failing = False
    async with url_guard.guarded_client() as client:
        while not stop_event.is_set():
            busy = False
            try:
                counts = await deliver_due(client=client)
                busy = counts["claimed"] >= BATCH
                failing = False
            except Exception:
                # Log the first failure of a run in full, then quietly keep trying.
                if not failing:
                    log.exception("webhook deliverer failed; retrying every %ss", interval)
                failing = True
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), interval)


@contextlib.asynccontextmanager
async def deliverer_lifespan() -> AsyncIterator[None]:
    """Run `run_deliverer` for the life of the web app (a Reflex lifespan task)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_deliverer(stop), name="voxie-webhook-deliverer")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, get_settings().webhook_timeout_seconds + 5)
        except TimeoutError:
            log.warning("webhook deliverer did not stop in time; cancelled")
        except Exception:
            log.exception("webhook deliverer ended with an error")
