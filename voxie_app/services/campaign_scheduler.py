"""The campaign scheduler: places campaign calls inside the window, under the cap.

The queue is the `campaign_contacts` table, so it survives restarts. Each `tick`:

1. **settles** contacts whose current attempt's call has ended: reached -> `done`;
   an outcome in the campaign's `retry_on` with attempts left -> back to `queued`
   at the call's end plus the retry delay; otherwise `failed` (a voicemail not
   retried counts as `done`). A claim whose call row never appeared (the process
   died between claiming and placing) is handed back after `stale_claim`, with
   its attempt uncounted: no call was made for it;
2. **claims**, per running campaign whose window is open at `now`, as many queued
   and due contacts as the cap leaves room for (`max_concurrent` minus the contacts
   already `calling`), and no more than the concurrent-call limits leave room for
   (`limit_room`: over them the campaign waits), moving them to `calling` and
   counting the attempt;
3. places each claimed call (`outbound_calls.place_call`) as a task of its own;
4. marks a running campaign with nothing queued or calling `completed`.

Claims are atomic: on PostgreSQL the campaign row is locked (`FOR UPDATE SKIP
LOCKED`: a second scheduler skips a campaign another one is claiming for, rather
than waiting) and contacts are taken with `FOR UPDATE SKIP LOCKED`; so any number of
schedulers (web processes) share the work and the in-flight count each reads is
exact. SQLite has no row locks, so there exactly one scheduler runs: the process
holding an exclusive lock file next to the database (`sqlite_lock`). On top of
both, the call row's unique (contact, attempt) means an attempt is dialled once
even if a claim were ever handed out twice.

The clock is injected (`now`), so tests and the benchmark drive time themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from voxie_app.db import dialect_name, normalize_url, session_scope, sqlite_path, take_write_lock
from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, CallSession, Campaign, CampaignContact
from voxie_app.services import call_limits, outbound_calls
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.services.errors import InvalidInput, ServiceError
from voxie_app.services.phone_outcomes import VOICEMAIL
from voxie_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=2)
BUSY_INTERVAL_S = 0.2  # between ticks while calls are under way
IDLE_INTERVAL_S = 2.0  # between ticks with nothing to do

PlaceCall = Callable[..., Awaitable[Any]]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Claim:
    """One attempt a scheduler took: who to call, how, and which attempt it is."""

    campaign_id: uuid.UUID
    contact_id: uuid.UUID
    attempt: int
    phone: str
    variables: dict[str, str]
    agent_id: uuid.UUID
    from_number_id: uuid.UUID


def outcome_of(call: CallSession) -> str:
    """What a campaign reads from an ended call: answered, voicemail, no_answer, busy
    or failed."""
    if call.dial_status == VOICEMAIL:
        return VOICEMAIL
    if call.dial_status in ("no_answer", "busy", "failed"):
        return call.dial_status
    if call.dial_status == "answered" or call.call_status in ("completed", "transferred"):
        return "answered"
    return "failed"


# ------------------------------------------------------------------ settle


def _attempt_call(contact_id: Any, attempt: Any) -> Any:
    """The condition that a call row is `contact_id`'s attempt `attempt` (columns or values)."""
    return sa.and_(
        col(CallSession.campaign_contact_id) == contact_id,
        col(CallSession.campaign_attempt) == attempt,
    )


def _settle_one(
    session: Session, campaign: Campaign, contact: CampaignContact, call: CallSession, now: datetime
) -> None:
    outcome = outcome_of(call)
    contact.last_outcome = outcome
    contact.last_call_id = call.id
    contact.claimed_at = None
    contact.updated_at = now
    retry = (
        outcome in (campaign.retry_on or [])
        and contact.attempts < campaign.max_attempts
        and campaign.status in ("running", "paused")
    )
    if retry:
        contact.status = "queued"
        contact.next_attempt_at = (call.ended_at or now) + timedelta(
            minutes=campaign.retry_delay_minutes
        )
    elif outcome in ("answered", VOICEMAIL):
        contact.status = "done"
    else:
        contact.status = "failed"
    session.add(contact)


def settle(*, session: Session, now: datetime, contact_id: uuid.UUID | None = None) -> int:
    """Settle `calling` contacts whose attempt's call has ended (or only `contact_id`);
    hand back stale claims that never got a call row. Returns how many moved."""
    take_write_lock(session)
    query = (
        select(CampaignContact, CallSession, Campaign)
        .join(CallSession, _attempt_call(col(CampaignContact.id), col(CampaignContact.attempts)))
        .join(Campaign, col(Campaign.id) == col(CampaignContact.campaign_id))
        .where(col(CampaignContact.status) == "calling", col(CallSession.call_status) != "active")
    )
    if contact_id is not None:
        query = query.where(col(CampaignContact.id) == contact_id)
    if dialect_name(session) == "postgresql":
        query = query.with_for_update(of=CampaignContact, skip_locked=True, key_share=True)
    moved = 0
    for contact, call, campaign in session.exec(query).all():
        _settle_one(session, campaign, contact, call, now)
        moved += 1
    if contact_id is None:
        moved += _release_stale(session, now)
    session.flush()
    return moved


def _release_stale(session: Session, now: datetime) -> int:
    has_call = (
        select(CallSession.id)
        .where(_attempt_call(col(CampaignContact.id), col(CampaignContact.attempts)))
        .exists()
    )
    result = session.execute(
        sa.update(CampaignContact)
        .where(
            col(CampaignContact.status) == "calling",
            col(CampaignContact.claimed_at) < now - STALE_CLAIM,
            ~has_call,
        )
        .values(
            status="queued",
            attempts=CampaignContact.attempts - 1,
            claimed_at=None,
            updated_at=now,
        )
    )
    return result.rowcount or 0


# ------------------------------------------------------------------ claim


def in_flight(session: Session, campaign_id: uuid.UUID) -> int:
    return session.exec(
        select(func.count()).where(
            col(CampaignContact.campaign_id) == campaign_id,
            col(CampaignContact.status) == "calling",
        )
    ).one()


def _unplaced(session: Session, agent_id: uuid.UUID | None = None) -> int:
    """Attempts claimed whose call row is not written yet (of `agent_id`'s campaigns, or
    all): they take a call slot the active-call count does not show yet."""
    row_written = (
        select(CallSession.id)
        .where(_attempt_call(col(CampaignContact.id), col(CampaignContact.attempts)))
        .exists()
    )
    query = (
        select(func.count())
        .select_from(CampaignContact)
        .where(col(CampaignContact.status) == "calling", ~row_written)
    )
    if agent_id is not None:
        query = query.join(Campaign, col(Campaign.id) == col(CampaignContact.campaign_id)).where(
            col(Campaign.agent_id) == agent_id
        )
    return session.exec(query).one()


def limit_room(*, session: Session, settings: Settings, agent_id: uuid.UUID) -> int | None:
    """Calls the concurrent-call limits (`services.call_limits`) leave room for now, the
    attempts claimed but not yet placed counted as calls; None: no limit applies."""
    agent = session.get(Agent, agent_id)
    spec = agent.processed_spec if agent is not None else None
    if call_limits.deployment_limit(settings) is None and call_limits.agent_limit(spec) is None:
        return None
    now = call_limits.usage(session=session, settings=settings, agent_id=agent_id, spec=spec)
    return replace(
        now,
        active=now.active + _unplaced(session),
        agent_active=now.agent_active + (_unplaced(session, agent_id) if now.agent_limit else 0),
    ).free()


def claim(
    *,
    session: Session,
    campaign_id: uuid.UUID,
    now: datetime,
    settings: Settings | None = None,
) -> list[Claim]:
    """Take the queued, due contacts the cap leaves room for (see the module docstring),
    and no more than the concurrent-call limits allow (the campaign waits for a slot);
    nothing when the campaign is not running or its window is closed at `now`."""
    postgres = dialect_name(session) == "postgresql"
    take_write_lock(session)
    query = select(Campaign).where(Campaign.id == campaign_id)
    if postgres:
        query = query.with_for_update(skip_locked=True, key_share=True)
    campaign = session.exec(query.execution_options(populate_existing=True)).first()
    if campaign is None or campaign.status != "running":
        return []
    if not (campaign.agent_id and campaign.from_number_id):
        return []  # its agent or number was deleted: nothing can be placed
    if not campaigns_svc.in_window(campaign, now):
        return []
    room = campaign.max_concurrent - in_flight(session, campaign.id)
    limited = limit_room(
        session=session, settings=settings or get_settings(), agent_id=campaign.agent_id
    )
    if limited is not None:
        room = min(room, limited)
    if room <= 0:
        return []
    due = (
        select(CampaignContact)
        .where(
            col(CampaignContact.campaign_id) == campaign.id,
            col(CampaignContact.status) == "queued",
            sa.or_(
                col(CampaignContact.next_attempt_at).is_(None),
                col(CampaignContact.next_attempt_at) <= now,
            ),
        )
        .order_by(
            col(CampaignContact.next_attempt_at).nulls_first(), col(CampaignContact.row_number)
        )
        .limit(room)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True, key_share=True)
    claims: list[Claim] = []
    for contact in session.exec(due).all():
        contact.status = "calling"
        contact.attempts += 1
        contact.claimed_at = now
        contact.next_attempt_at = None
        contact.updated_at = now
        session.add(contact)
        claims.append(
            Claim(
                campaign_id=campaign.id,
                contact_id=contact.id,
                attempt=contact.attempts,
                phone=contact.phone,
                variables=dict(contact.variables or {}),
                agent_id=campaign.agent_id,
                from_number_id=campaign.from_number_id,
            )
        )
    session.flush()
    return claims


def complete_finished(*, session: Session, now: datetime) -> list[uuid.UUID]:
    """Mark running campaigns with no contact queued or calling `completed`."""
    open_contacts = (
        select(CampaignContact.id)
        .where(
            col(CampaignContact.campaign_id) == col(Campaign.id),
            col(CampaignContact.status).in_(("queued", "calling")),
        )
        .exists()
    )
    done = session.exec(
        select(Campaign).where(col(Campaign.status) == "running", ~open_contacts)
    ).all()
    for campaign in done:
        campaign.status = "completed"
        campaign.finished_at = now
        campaign.updated_at = now
        session.add(campaign)
    session.flush()
    return [c.id for c in done]


def running_campaigns(session: Session) -> list[uuid.UUID]:
    return list(session.exec(select(Campaign.id).where(col(Campaign.status) == "running")).all())


# ------------------------------------------------------------------ placing


def _refused(claim_: Claim, error: ServiceError, now: datetime) -> None:
    """A placement refused before any call row was written: the number went on the
    do-not-call list (the contact is skipped), or the agent or number cannot call
    now (the attempt is handed back and the campaign paused with the reason)."""
    with session_scope() as session:
        take_write_lock(session)
        contact = session.get(CampaignContact, claim_.contact_id)
        campaign = session.get(Campaign, claim_.campaign_id)
        if contact is None or campaign is None or contact.status != "calling":
            return
        has_call = session.exec(
            select(CallSession.id).where(_attempt_call(contact.id, claim_.attempt))
        ).first()
        if has_call is not None:
            return  # the row was written: `settle` reads the outcome from it
        contact.updated_at = now
        contact.claimed_at = None
        if isinstance(error, InvalidInput) and error.field == "to":
            contact.status = "skipped"
            contact.last_outcome = "refused"
        else:
            contact.status = "queued"
            contact.attempts -= 1
            if isinstance(error, call_limits.CallLimitReached):
                pass  # another call took the slot meanwhile: the campaign waits for one
            elif campaign.status == "running":
                campaign.status = "paused"
                campaign.last_error = error.message[:500]
                campaign.updated_at = now
                session.add(campaign)
                log.warning("campaign %s paused: %s", campaign.id, error.message)
        session.add(contact)


@dataclass
class CampaignScheduler:
    """Runs ticks; one per process (the web app's lifespan, `scheduler_lifespan`)."""

    settings: Settings
    now: Clock = utcnow
    place: PlaceCall = outbound_calls.place_call
    tasks: set[asyncio.Task] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # The ticks' database work has a thread of its own, so it never queues behind the
    # placements' (which use the loop's default pool).
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="campaign-tick")
    )

    async def _own_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def tick(self) -> int:
        """One pass (see the module docstring); returns how many calls it started."""
        now = self.now()
        claims = await self._own_thread(self._claim_all, now)
        for claim_ in claims:
            task = asyncio.create_task(
                self._place(claim_), name=f"campaign-call-{claim_.contact_id}"
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(claims)

    def _claim_all(self, now: datetime) -> list[Claim]:
        with session_scope() as session:
            settle(session=session, now=now)
        claims: list[Claim] = []
        with session_scope() as session:
            ids = running_campaigns(session)
        for campaign_id in ids:
            with session_scope() as session:
                claims.extend(
                    claim(session=session, campaign_id=campaign_id, now=now, settings=self.settings)
                )
        with session_scope() as session:
            for campaign_id in complete_finished(session=session, now=now):
                log.info("campaign %s completed", campaign_id)
        return claims

    async def _place(self, claim_: Claim) -> None:
        ended = True  # whether the call is over when `place` returns (settle it now)
        try:
            placed = await self.place(
                agent_id=claim_.agent_id,
                to=claim_.phone,
                from_number_id=claim_.from_number_id,
                settings=self.settings,
                variables=claim_.variables,
                campaign=outbound_calls.CampaignAttempt(
                    campaign_id=claim_.campaign_id,
                    contact_id=claim_.contact_id,
                    attempt=claim_.attempt,
                ),
            )
            ended = getattr(placed, "dial_status", "") != "answered"
        except outbound_calls.AlreadyPlaced:
            pass
        except ServiceError as exc:
            await asyncio.to_thread(_refused, claim_, exc, self.now())
        except Exception:
            log.exception("campaign call to contact %s failed", claim_.contact_id)
        finally:
            # An answered call is settled by a later tick, once it has ended; one that
            # was not (busy, no answer, failed) frees its slot at once.
            if ended:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._settle_contact, claim_.contact_id)
            self.wake.set()

    def _settle_contact(self, contact_id: uuid.UUID) -> None:
        with session_scope() as session:
            settle(session=session, now=self.now(), contact_id=contact_id)

    async def drain(self) -> None:
        """Wait for the placements under way (tests and shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        busy_interval: float = BUSY_INTERVAL_S,
        idle_interval: float = IDLE_INTERVAL_S,
    ) -> None:
        """Tick until `stop` is set: often while calls are under way, rarely when idle;
        a finished placement wakes it at once. A failing tick is logged and retried."""
        failing = False
        while not stop.is_set():
            busy = False
            try:
                busy = (
                    await self.tick() > 0
                    or bool(self.tasks)
                    or await self._own_thread(self._any_calling)
                )
                failing = False
            except Exception:
                if not failing:
                    log.exception("campaign scheduler tick failed; retrying")
                failing = True
            self.wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(
                waits,
                timeout=busy_interval if busy else idle_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for w in waits:
                w.cancel()
        await self.drain()
        self.executor.shutdown(wait=False)

    def _any_calling(self) -> bool:
        with session_scope() as session:
            return (
                session.exec(
                    select(CampaignContact.id)
                    .where(col(CampaignContact.status) == "calling")
                    .limit(1)
                ).first()
                is not None
            )


# ------------------------------------------------------------------ one per SQLite


@contextlib.contextmanager
def sqlite_lock(database_url: str) -> Iterator[bool]:
    """On a SQLite file, whether this process holds the scheduler lock (a lock file
    next to the database, released when the process ends); always True elsewhere."""
    db_file = sqlite_path(normalize_url(database_url))
    if db_file is None:
        yield True
        return
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with db_file.with_name(db_file.name + ".campaigns.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    """Run the scheduler for the life of the web app (a Reflex lifespan task), unless
    `VOXIE_CAMPAIGN_SCHEDULER` is off or another process holds SQLite's lock."""
    settings = get_settings()
    if not settings.campaign_scheduler:
        yield
        return
    with sqlite_lock(settings.database_url) as mine:
        if not mine:
            log.info("campaign scheduler: another process runs it for this SQLite database")
            yield
            return
        stop = asyncio.Event()
        scheduler = CampaignScheduler(settings)
        task = asyncio.create_task(scheduler.run(stop), name="voxie-campaign-scheduler")
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 30)
            except TimeoutError:
                log.warning("campaign scheduler did not stop in time; cancelled")
