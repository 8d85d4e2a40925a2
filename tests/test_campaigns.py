"""Campaigns on SQLite and PostgreSQL: import, controls, and the scheduler placing real
outbound calls (`outbound_calls.place_call`) against the LiveKit Twirp double, with an
injected clock: the window and the cap hold at every placement, retries wait for
their delay, and a scheduler killed mid-campaign and started again calls every
contact exactly once per attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from tests.test_outbound_calls import make_agent, make_number
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Agent, CallSession, Campaign, CampaignContact
from voxie_app.services import calls as calls_svc
from voxie_app.services import campaign_scheduler as sched_svc
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.services import do_not_call, outbound_calls
from voxie_app.services.errors import Conflict, InvalidInput, InvalidRows
from voxie_app.settings import Settings, get_settings

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture
def client(db: str, livekit_configured: LiveKitDouble, clock) -> Iterator[TestClient]:
    clock(MONDAY_9)
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


@pytest.fixture
def lk(client: TestClient, livekit_configured: LiveKitDouble) -> LiveKitDouble:
    return livekit_configured


def phones(n: int, start: int = 0) -> list[str]:
    return [f"+1415{2_000_000 + start + i}" for i in range(n)]


def csv_of(numbers: list[str]) -> str:
    return "phone,first_name\n" + "".join(f"{p},Name{i}\n" for i, p in enumerate(numbers))


def new_campaign(client: TestClient, numbers: list[str], **settings: Any) -> uuid.UUID:
    agent, number = make_agent(client), make_number()
    data = campaigns_svc.parse(
        {"name": "Reminders", "agent_id": agent, "from_number_id": str(number), **settings}
    )
    with session_scope() as s:
        return campaigns_svc.create(session=s, data=data, csv_text=csv_of(numbers)).id


def act(campaign_id: uuid.UUID, action: str) -> Campaign:
    with session_scope() as s:
        return campaigns_svc.control(session=s, campaign_id=campaign_id, action=action)


def contacts(campaign_id: uuid.UUID) -> list[CampaignContact]:
    with session_scope() as s:
        return list(
            s.exec(
                select(CampaignContact)
                .where(CampaignContact.campaign_id == campaign_id)
                .order_by(col(CampaignContact.row_number))
            ).all()
        )


def campaign_calls(campaign_id: uuid.UUID) -> list[CallSession]:
    with session_scope() as s:
        return list(s.exec(select(CallSession).where(CallSession.campaign_id == campaign_id)).all())


def hang_up_all(campaign_id: uuid.UUID, limit: int | None = None) -> int:
    """The callee hangs up the answered calls still under way (the first `limit`)."""
    with session_scope() as s:
        active = s.exec(
            select(CallSession.id).where(
                CallSession.campaign_id == campaign_id, CallSession.call_status == "active"
            )
        ).all()[:limit]
        for call_id in active:
            calls_svc.end_call_record(session=s, call_session_id=call_id, reason="hangup")
    return len(active)


class CheckedPlace:
    """`place_call` that first checks the window and the cap, as the double is dialled:
    calls in flight are the placements under way plus the answered calls not ended
    yet, counted here from what `place_call` returned, not from the scheduler's books."""

    def __init__(self, campaign_id: uuid.UUID, cap: int, clock: FakeClock) -> None:
        self.campaign_id, self.cap, self.clock = campaign_id, cap, clock
        self.placed = 0
        self.pending = 0
        self.live: set[uuid.UUID] = set()
        self.most_in_flight = 0

    async def __call__(self, **kw: Any) -> Any:
        with session_scope() as s:
            ended = s.exec(
                select(CallSession.id).where(
                    col(CallSession.id).in_(self.live), CallSession.call_status != "active"
                )
            ).all()
            assert campaigns_svc.in_window(s.get(Campaign, self.campaign_id), self.clock())
        self.live -= set(ended)
        in_flight = self.pending + len(self.live)
        assert in_flight < self.cap, f"{in_flight} calls under way before another (cap {self.cap})"
        self.placed += 1
        self.pending += 1
        self.most_in_flight = max(self.most_in_flight, in_flight + 1)
        try:
            result = await outbound_calls.place_call(**kw)
        finally:
            self.pending -= 1
        if result.dial_status == "answered":
            self.live.add(result.call_session_id)
        return result


async def tick(scheduler: sched_svc.CampaignScheduler) -> int:
    started = await scheduler.tick()
    await scheduler.drain()
    return started


# ---- import and controls ---------------------------------------------------------------


def test_create_writes_the_campaign_and_every_contact(client: TestClient) -> None:
    campaign_id = new_campaign(client, phones(3), max_concurrent=2, window_days=[5, 1, 1])
    rows = contacts(campaign_id)
    assert [(r.row_number, r.phone, r.variables, r.status) for r in rows] == [
        (2, "+14152000000", {"first_name": "Name0"}, "queued"),
        (3, "+14152000001", {"first_name": "Name1"}, "queued"),
        (4, "+14152000002", {"first_name": "Name2"}, "queued"),
    ]
    with session_scope() as s:
        view = campaigns_svc.view(session=s, campaign_id=campaign_id, now=MONDAY_9)
    assert (view.status, view.contact_count, view.counts["queued"]) == ("draft", 3, 3)
    assert view.window == "Mon, Fri 09:00-17:00 UTC" and view.window_open
    assert view.variable_names == ["first_name"]


def test_a_bad_csv_writes_nothing(client: TestClient) -> None:
    agent, number = make_agent(client), make_number()
    with session_scope() as s:
        do_not_call.add(session=s, number="+14152000001")
    data = campaigns_svc.parse({"name": "X", "agent_id": agent, "from_number_id": str(number)})
    with pytest.raises(InvalidRows) as exc, session_scope() as s:
        campaigns_svc.create(session=s, data=data, csv_text=csv_of(phones(3)))
    assert exc.value.problems == [("csv.3.1", "line 3: +14152000001 is on the do-not-call list")]
    with session_scope() as s:
        assert s.exec(select(Campaign)).all() == []
        assert s.exec(select(CampaignContact)).all() == []


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone"),
        ({"window_start": "18:00", "window_end": "09:00"}, "window_end", "end after it starts"),
        ({"window_days": [0]}, "window_days.0", "greater than or equal to 1"),
        ({"window_days": []}, "window_days", "at least 1"),
        ({"max_concurrent": 51}, "max_concurrent", "50"),
        ({"retry_on": ["answered"]}, "retry_on.0", "no_answer"),
        ({"window_start": "9am"}, "window_start", "pattern"),
    ],
)
def test_bad_settings_name_the_field(settings: dict, field: str, words: str) -> None:
    base = {"name": "X", "agent_id": str(uuid.uuid4()), "from_number_id": str(uuid.uuid4())}
    with pytest.raises(InvalidInput) as exc:
        campaigns_svc.parse({**base, **settings})
    assert exc.value.field == field and words in exc.value.message


def test_a_number_without_an_outbound_trunk_is_refused(client: TestClient) -> None:
    agent, number = make_agent(client), make_number("+14155550111", synced=False)
    data = campaigns_svc.parse({"name": "X", "agent_id": agent, "from_number_id": str(number)})
    with pytest.raises(InvalidInput) as exc, session_scope() as s:
        campaigns_svc.create(session=s, data=data, csv_text=csv_of(phones(1)))
    assert exc.value.field == "from_number_id" and "outbound trunk" in exc.value.message


def test_controls_follow_the_status(client: TestClient) -> None:
    campaign_id = new_campaign(client, phones(3))
    with pytest.raises(Conflict, match="a draft campaign cannot pause"):
        act(campaign_id, "pause")
    assert act(campaign_id, "start").status == "running"
    assert act(campaign_id, "pause").status == "paused"
    with pytest.raises(Conflict):
        act(campaign_id, "start")
    assert act(campaign_id, "resume").status == "running"
    with pytest.raises(Conflict, match="pause or cancel"), session_scope() as s:
        campaigns_svc.delete(session=s, campaign_id=campaign_id)
    cancelled = act(campaign_id, "cancel")
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert {c.status for c in contacts(campaign_id)} == {"cancelled"}
    with session_scope() as s:
        campaigns_svc.delete(session=s, campaign_id=campaign_id)
    assert contacts(campaign_id) == []


# ---- the scheduler ---------------------------------------------------------------------


async def test_window_and_cap_hold_at_every_placement(
    client: TestClient, lk: LiveKitDouble
) -> None:
    campaign_id = new_campaign(client, phones(8), max_concurrent=3)
    act(campaign_id, "start")
    clock = FakeClock(MONDAY_9 - timedelta(days=2))  # Saturday 09:00: closed
    place = CheckedPlace(campaign_id, 3, clock)
    scheduler = sched_svc.CampaignScheduler(get_settings(), now=clock, place=place)

    assert await tick(scheduler) == 0
    clock.at = MONDAY_9 - timedelta(minutes=1)  # Monday 08:59: not yet
    assert await tick(scheduler) == 0
    clock.at = MONDAY_9
    assert await tick(scheduler) == 3  # three answered calls under way
    assert await tick(scheduler) == 0  # the cap
    hang_up_all(campaign_id, limit=2)
    assert await tick(scheduler) == 2
    clock.at = MONDAY_9.replace(hour=17)  # the window closed with room under the cap
    hang_up_all(campaign_id)
    assert await tick(scheduler) == 0
    assert len(lk.dials) == 5
    clock.at = MONDAY_9 + timedelta(days=1)  # Tuesday 09:00
    while await tick(scheduler):
        hang_up_all(campaign_id)
    hang_up_all(campaign_id)
    await tick(scheduler)
    assert place.placed == 8 and place.most_in_flight == 3
    assert {c.status for c in contacts(campaign_id)} == {"done"}
    with session_scope() as s:
        assert s.get(Campaign, campaign_id).status == "completed"
    assert sorted(d.sip_call_to for d in lk.dials) == phones(8)
    assert all(d.participant_attributes for d in lk.dials)


async def test_retries_wait_for_the_delay_then_give_up(
    client: TestClient, lk: LiveKitDouble
) -> None:
    campaign_id = new_campaign(
        client,
        phones(2),
        max_attempts=3,
        retry_delay_minutes=30,
        retry_on=["busy", "no_answer"],
        max_concurrent=1,
    )
    act(campaign_id, "start")
    clock = FakeClock(MONDAY_9)
    scheduler = sched_svc.CampaignScheduler(get_settings(), now=clock)
    lk.script_dial("busy")  # contact 1 busy
    assert await tick(scheduler) == 1
    lk.script_dial("failed")  # contact 2: a 503, not retried (contact 1 is not due yet)
    assert await tick(scheduler) == 1
    first, second = contacts(campaign_id)
    assert (first.status, first.attempts, first.last_outcome) == ("queued", 1, "busy")
    assert first.next_attempt_at is not None
    assert first.next_attempt_at - MONDAY_9 >= timedelta(minutes=30)
    assert (second.status, second.last_outcome) == ("failed", "failed")

    clock.advance(minutes=29)
    assert await tick(scheduler) == 0
    clock.advance(minutes=2)
    lk.script_dial("no_answer")
    assert await tick(scheduler) == 1
    clock.advance(minutes=31)
    lk.script_dial("busy")
    assert await tick(scheduler) == 1
    clock.advance(minutes=31)
    assert await tick(scheduler) == 0  # three attempts used
    first = contacts(campaign_id)[0]
    assert (first.status, first.attempts, first.last_outcome) == ("failed", 3, "busy")
    calls = sorted(
        (c.campaign_attempt, c.dial_status)
        for c in campaign_calls(campaign_id)
        if c.campaign_contact_id == first.id
    )
    assert calls == [(1, "busy"), (2, "no_answer"), (3, "busy")]
    with session_scope() as s:
        assert s.get(Campaign, campaign_id).status == "completed"


async def test_killed_and_restarted_every_contact_is_called_once_per_attempt(
    client: TestClient, lk: LiveKitDouble
) -> None:
    campaign_id = new_campaign(client, phones(20), max_concurrent=5)
    act(campaign_id, "start")
    clock = FakeClock(MONDAY_9)
    first = sched_svc.CampaignScheduler(get_settings(), now=clock)
    assert await tick(first) == 5
    hang_up_all(campaign_id, limit=3)
    # The process dies after claiming three more but before placing them.
    with session_scope() as s:
        sched_svc.settle(session=s, now=clock())
    with session_scope() as s:
        orphans = sched_svc.claim(session=s, campaign_id=campaign_id, now=clock())
    assert len(orphans) == 3 and not campaign_calls_for(orphans)

    second = sched_svc.CampaignScheduler(get_settings(), now=clock)
    assert await tick(second) == 0  # the orphans still hold their slots (not stale yet)
    clock.advance(minutes=3)
    for _ in range(30):
        hang_up_all(campaign_id)
        await tick(second)
        clock.advance(seconds=5)
        with session_scope() as s:
            if s.get(Campaign, campaign_id).status == "completed":
                break
    rows = contacts(campaign_id)
    assert {r.status for r in rows} == {"done"} and {r.attempts for r in rows} == {1}
    per_attempt = Counter(
        (c.campaign_contact_id, c.campaign_attempt) for c in campaign_calls(campaign_id)
    )
    assert len(per_attempt) == 20 and set(per_attempt.values()) == {1}
    dialled = Counter(d.sip_call_to for d in lk.dials)
    assert sorted(dialled) == phones(20) and set(dialled.values()) == {1}


def campaign_calls_for(claims: list[sched_svc.Claim]) -> list[CallSession]:
    with session_scope() as s:
        return list(
            s.exec(
                select(CallSession).where(
                    col(CallSession.campaign_contact_id).in_([c.contact_id for c in claims])
                )
            ).all()
        )


async def test_one_attempt_is_dialled_once_even_if_placed_twice(
    client: TestClient, lk: LiveKitDouble
) -> None:
    campaign_id = new_campaign(client, phones(1))
    act(campaign_id, "start")
    with session_scope() as s:
        [claim] = sched_svc.claim(session=s, campaign_id=campaign_id, now=MONDAY_9)
    attempt = outbound_calls.CampaignAttempt(campaign_id, claim.contact_id, claim.attempt)
    kw = {
        "agent_id": claim.agent_id,
        "to": claim.phone,
        "from_number_id": claim.from_number_id,
        "settings": get_settings(),
        "campaign": attempt,
    }
    await outbound_calls.place_call(**kw)
    with pytest.raises(outbound_calls.AlreadyPlaced):
        await outbound_calls.place_call(**kw)
    assert len(lk.dials) == 1 and len(campaign_calls(campaign_id)) == 1


async def test_a_number_listed_after_import_is_skipped_and_a_broken_agent_pauses(
    client: TestClient, lk: LiveKitDouble
) -> None:
    campaign_id = new_campaign(client, phones(2), max_concurrent=1)
    act(campaign_id, "start")
    with session_scope() as s:
        do_not_call.add(session=s, number=phones(1)[0])
    clock = FakeClock(MONDAY_9)
    scheduler = sched_svc.CampaignScheduler(get_settings(), now=clock)
    assert await tick(scheduler) == 1
    first, second = contacts(campaign_id)
    assert (first.status, first.last_outcome, first.attempts) == ("skipped", "refused", 1)
    assert lk.dials == []

    with session_scope() as s:  # the agent is being rebuilt: it cannot take calls
        s.get(Agent, s.get(Campaign, campaign_id).agent_id).status = "processing"
    assert await tick(scheduler) == 1
    second = contacts(campaign_id)[1]
    assert (second.status, second.attempts) == ("queued", 0)
    with session_scope() as s:
        campaign = s.get(Campaign, campaign_id)
    assert campaign.status == "paused" and "not ready" in (campaign.last_error or "")
    assert lk.dials == []


async def test_campaigns_wait_under_the_concurrent_call_limits(
    client: TestClient, lk: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    """The scheduler claims no more than the free slots (a browser call takes one), the
    campaign waits (still running, contacts queued) and goes on when a call ends; an
    agent's own limit holds the same way."""
    settings = configure(VOXIE_MAX_CONCURRENT_CALLS="3")
    campaign_id = new_campaign(client, phones(6), max_concurrent=5)
    act(campaign_id, "start")
    with session_scope() as s:
        s.add(CallSession(session_id="web", room_name="web-1", kind="web"))
    scheduler = sched_svc.CampaignScheduler(settings, now=FakeClock(MONDAY_9))
    assert await tick(scheduler) == 2
    assert await tick(scheduler) == 0  # full: nothing claimed
    with session_scope() as s:
        assert s.get(Campaign, campaign_id).status == "running"
    assert Counter(c.status for c in contacts(campaign_id)) == {"calling": 2, "queued": 4}
    hang_up_all(campaign_id, limit=1)
    assert await tick(scheduler) == 1
    with session_scope() as s:  # the agent's own limit, lower than what is left
        agent = s.get(Agent, s.get(Campaign, campaign_id).agent_id)
        agent.processed_spec = {**agent.processed_spec, "max_concurrent_calls": 1}
        s.add(agent)
    hang_up_all(campaign_id)
    assert await tick(scheduler) == 1
    assert await tick(scheduler) == 0
    assert len(lk.dials) == 4


def test_claimed_attempts_not_yet_placed_count_against_the_limit(
    client: TestClient, lk: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    """Two campaigns, one tick: the second's claim counts the first's claims, whose call
    rows are not written yet, so together they claim no more than the limit."""
    settings = configure(VOXIE_MAX_CONCURRENT_CALLS="3")
    first = new_campaign(client, phones(4), max_concurrent=4)
    agent = make_agent(client)
    data = campaigns_svc.parse(
        {
            "name": "Other",
            "agent_id": agent,
            "from_number_id": str(make_number("+14155550111")),
            "max_concurrent": 4,
        }
    )
    with session_scope() as s:
        second = campaigns_svc.create(session=s, data=data, csv_text=csv_of(phones(4, 10))).id
    act(first, "start")
    act(second, "start")
    with session_scope() as s:
        taken = sched_svc.claim(session=s, campaign_id=first, now=MONDAY_9, settings=settings)
    with session_scope() as s:
        more = sched_svc.claim(session=s, campaign_id=second, now=MONDAY_9, settings=settings)
    assert (len(taken), len(more)) == (3, 0)


async def test_a_placement_refused_by_the_limit_waits_without_pausing(
    client: TestClient, lk: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    """A slot taken between the claim and the placement (a browser call started
    meanwhile): the attempt is handed back uncounted and the campaign is not paused."""
    settings = configure(VOXIE_MAX_CONCURRENT_CALLS="1")
    campaign_id = new_campaign(client, phones(1), max_concurrent=1)
    act(campaign_id, "start")
    scheduler = sched_svc.CampaignScheduler(settings, now=FakeClock(MONDAY_9))
    (claimed,) = await asyncio.to_thread(scheduler._claim_all, MONDAY_9)
    with session_scope() as s:
        s.add(CallSession(session_id="web", room_name="web-1", kind="web"))
    await scheduler._place(claimed)
    (contact,) = contacts(campaign_id)
    assert (contact.status, contact.attempts) == ("queued", 0)
    with session_scope() as s:
        campaign = s.get(Campaign, campaign_id)
        assert (campaign.status, campaign.last_error) == ("running", None)
    assert lk.dials == []


@pytest.mark.parametrize(
    ("dial_status", "call_status", "outcome"),
    [
        ("answered", "completed", "answered"),
        ("voicemail", "completed", "voicemail"),
        ("busy", "failed", "busy"),
        ("no_answer", "failed", "no_answer"),
        ("ringing", "failed", "failed"),
        (None, "transferred", "answered"),
    ],
)
def test_outcome_of_an_ended_call(dial_status: str | None, call_status: str, outcome: str) -> None:
    call = CallSession(
        session_id="s", room_name="r", dial_status=dial_status, call_status=call_status
    )
    assert sched_svc.outcome_of(call) == outcome


def test_an_end_of_00_00_is_midnight() -> None:
    base = {"name": "X", "agent_id": str(uuid.uuid4()), "from_number_id": str(uuid.uuid4())}
    parsed = campaigns_svc.parse({**base, "window_start": "00:00", "window_end": "00:00"})
    assert parsed.window_end == "24:00"


def test_a_window_to_24_00_includes_the_last_minute() -> None:
    campaign = Campaign(name="x", window_days=[1], window_start="00:00", window_end="24:00")
    assert campaigns_svc.in_window(campaign, MONDAY_9.replace(hour=23, minute=59, second=59))
    assert campaigns_svc.in_window(campaign, MONDAY_9.replace(hour=0, minute=0))
    assert not campaigns_svc.in_window(campaign, MONDAY_9 + timedelta(days=1))


def test_next_opening_is_in_the_campaigns_zone() -> None:
    campaign = Campaign(
        name="x", timezone="America/New_York", window_days=[1, 2], window_start="09:00"
    )
    # Monday 09:00 UTC is 04:00 in New York: opens at 09:00 local (14:00 UTC) that day.
    assert campaigns_svc.next_window_opening(campaign, MONDAY_9) == datetime(
        2026, 11, 30, 14, 0, tzinfo=UTC
    )
    assert not campaigns_svc.in_window(campaign, MONDAY_9)
    assert campaigns_svc.in_window(campaign, datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
    # Tuesday after 17:00 local: next Monday.
    late = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert campaigns_svc.next_window_opening(campaign, late) == datetime(
        2026, 12, 7, 14, 0, tzinfo=UTC
    )


# ---- the API ---------------------------------------------------------------------------


def api_body(client: TestClient, numbers: list[str], **extra: Any) -> dict[str, Any]:
    agent, number = make_agent(client), make_number()
    return {
        "name": "Flu shots",
        "agent_id": agent,
        "from_number_id": str(number),
        "timezone": "Europe/Paris",
        "window_days": [1, 2, 3, 4, 5],
        "window_start": "09:30",
        "window_end": "18:00",
        "max_concurrent": 2,
        "csv": csv_of(numbers),
        **extra,
    }


def test_api_creates_lists_controls_and_deletes(client: TestClient) -> None:
    r = client.post("/api/campaigns", json=api_body(client, phones(3), start=True))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "running" and body["contact_count"] == 3
    assert body["counts"]["queued"] == 3 and body["from_number"] == "+14155550100"
    assert body["window"] == "Mon-Fri 09:30-18:00 Europe/Paris"
    campaign_id = body["id"]

    assert [c["id"] for c in client.get("/api/campaigns").json()] == [campaign_id]
    assert client.get(f"/api/campaigns/{campaign_id}").json()["agent_name"] == "Reminder Bot"
    page = client.get(f"/api/campaigns/{campaign_id}/contacts", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["items"][0] | {"id": None} == {
        "id": None,
        "row_number": 2,
        "phone": "+14152000000",
        "variables": {"first_name": "Name0"},
        "status": "queued",
        "attempts": 0,
        "last_outcome": None,
        "next_attempt_at": None,
        "calls": [],
    }
    searched = client.get(
        f"/api/campaigns/{campaign_id}/contacts", params={"search": "2000002"}
    ).json()
    assert [c["phone"] for c in searched["items"]] == ["+14152000002"]

    assert client.post(f"/api/campaigns/{campaign_id}/pause").json()["status"] == "paused"
    r = client.post(f"/api/campaigns/{campaign_id}/pause")
    assert r.status_code == 409 and "paused campaign cannot pause" in r.json()["detail"]
    assert client.post(f"/api/campaigns/{campaign_id}/resume").json()["status"] == "running"
    assert client.delete(f"/api/campaigns/{campaign_id}").status_code == 409
    assert client.post(f"/api/campaigns/{campaign_id}/cancel").json()["counts"]["cancelled"] == 3
    assert client.delete(f"/api/campaigns/{campaign_id}").status_code == 204
    assert client.get(f"/api/campaigns/{campaign_id}").status_code == 404


def test_api_lists_every_bad_cell_and_writes_nothing(client: TestClient) -> None:
    body = api_body(client, [])
    body["csv"] = "phone,first_name\n+14152000000,Ann\nnope,Bob\n+14152000000,=1+1\n"
    r = client.post("/api/campaigns", json=body)
    assert r.status_code == 422
    assert [(d["loc"], d["msg"]) for d in r.json()["detail"]] == [
        (
            ["body", "csv", "3", "1"],
            "line 3: 'nope' is not in E.164 form: start with + and "
            "the country code, e.g. +14155550123",
        ),
        (
            ["body", "csv", "4", "2"],
            "line 4, column 2: '=1+1' looks like a spreadsheet "
            "formula; remove the leading character",
        ),
        (["body", "csv", "4", "1"], "line 4: +14152000000 is already on line 2"),
    ]
    assert client.get("/api/campaigns").json() == []
    bad_zone = client.post("/api/campaigns", json={**body, "timezone": "Nowhere/Town"})
    assert bad_zone.status_code == 422
    assert bad_zone.json()["detail"][0]["loc"] == ["body", "timezone"]


def test_api_a_large_list_fits_the_body_limit(client: TestClient) -> None:
    body = api_body(client, phones(50_000))
    assert len(body["csv"]) > get_settings().max_body_bytes
    r = client.post("/api/campaigns", json=body)
    assert r.status_code == 201, r.text[:300]
    assert r.json()["contact_count"] == 50_000


def test_api_viewers_read_but_do_not_write(client: TestClient) -> None:
    created = client.post("/api/campaigns", json=api_body(client, phones(1))).json()
    viewer = admin_headers("viewer")
    assert client.get("/api/campaigns", headers=viewer).status_code == 200
    assert client.get(f"/api/campaigns/{created['id']}/contacts", headers=viewer).status_code == 200
    for method, path in [
        ("post", "/api/campaigns"),
        ("post", f"/api/campaigns/{created['id']}/start"),
        ("delete", f"/api/campaigns/{created['id']}"),
    ]:
        r = getattr(client, method)(
            path, headers=viewer, **({"json": {}} if method == "post" else {})
        )
        assert r.status_code == 403, (method, path, r.text)


def test_one_scheduler_per_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'voxie.db'}"
    with sched_svc.sqlite_lock(url) as first:
        with sched_svc.sqlite_lock(url) as second:
            assert (first, second) == (True, False)
        assert (tmp_path / "voxie.db.campaigns.lock").exists()
    with sched_svc.sqlite_lock(url) as again:
        assert again
    with sched_svc.sqlite_lock("postgresql://postgres@127.0.0.1/x") as pg:
        assert pg  # row locks share the work there
