"""The /campaigns and /campaigns/[id] states: a viewer reads but every other handler
refuses them by itself (not only through the middleware); a bad CSV keeps the dialog
open with each bad row listed and writes nothing; an admin creates, starts, pauses,
resumes and cancels a campaign, and the progress page counts its contacts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from tests.statetab import Tab, role_tokens
from tests.test_phone_numbers import livekit as livekit
from tests.test_phone_numbers import make_agent
from voxie_app import routes
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import (
    Campaign,
    CampaignContact,
    DoNotCall,
    PhoneNumber,
    SipOutboundTrunk,
)
from voxie_app.services import campaigns as campaigns_svc
from voxie_app.services import e164
from voxie_app.state.campaign_detail import CampaignDetailState, window_note
from voxie_app.state.campaigns import REFUSED, CampaignsState

OURS = "+14155550100"
LISTED = "+14155550177"
GOOD_CSV = "phone,first_name\n+14155550123,Ann\n+14155550124,Bob\n+14155550125,Cy\n"
BAD_CSV = (
    "phone,first_name\n"
    "+14155550123,Ann\n"
    "+1 555,Bob\n"  # line 3: not a number
    f"{LISTED},Cy\n"  # line 4: on the do-not-call list
    "+14155550123,Dee\n"  # line 5: listed twice
    "+14155550126,=SUM(A1)\n"  # line 6: a formula
)
FORM = {
    "name": "March reminders",
    "timezone": "Europe/Paris",
    "window_start": "09:00",
    "window_end": "17:00",
    "max_concurrent": "3",
    "max_attempts": "2",
    "retry_delay_minutes": "30",
}


class FakeUpload:
    """What Reflex hands an upload handler: a name and an async `read`."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    async def read(self, size: int = -1) -> bytes:
        return self._data if size < 0 else self._data[:size]


@pytest.fixture
def tokens(livekit: LiveKitDouble) -> dict[str, str]:
    with role_tokens() as out:
        yield out


@pytest.fixture
def targets(livekit: LiveKitDouble) -> dict[str, str]:
    """An agent and one of our numbers with an outbound trunk LiveKit has."""
    with TestClient(create_api(), headers=admin_headers()) as api:
        agent_id = make_agent(api)
    with session_scope() as s:
        trunk = SipOutboundTrunk(
            name="carrier", address="sip.carrier.example", livekit_trunk_id="ST_state"
        )
        s.add(trunk)
        s.flush()
        number = PhoneNumber(number=OURS, label="Front desk", outbound_trunk_id=trunk.id)
        s.add(number)
        s.add(DoNotCall(number=LISTED, reason="asked"))
        s.flush()
        number_id = str(number.id)
    return {"agent_id": agent_id, "from_number_id": number_id}


def run(tab: Tab, state_cls: type, name: str, *args: Any) -> tuple[Any, Any]:
    return asyncio.run(tab.run(state_cls, name, *args))


def campaigns() -> list[Campaign]:
    with session_scope() as s:
        return list(s.exec(select(Campaign)).all())


def make_campaign(targets: dict[str, str], status: str = "draft") -> str:
    with session_scope() as s:
        campaign = campaigns_svc.create(
            session=s,
            data=campaigns_svc.parse({**targets, "name": "Seeded", "window_days": [1, 2, 3]}),
            csv_text=GOOD_CSV,
        )
        if status == "running":
            campaigns_svc.control(session=s, campaign_id=campaign.id, action="start")
        return str(campaign.id)


def test_viewer_reads_the_list_and_is_refused_by_every_other_handler(
    tokens: dict[str, str], targets: dict[str, str]
) -> None:
    campaign_id = make_campaign(targets)
    tab = Tab("viewer-tab", tokens["viewer"], routes.CAMPAIGNS)
    _, state = run(tab, CampaignsState, "load")
    assert [r["name"] for r in state.rows] == ["Seeded"] and not state.is_admin
    assert state.rows[0]["progress"] == "0 / 3 finished"
    calls = {
        "open_new": (),
        "set_open": (True,),
        "set_agent": (targets["agent_id"],),
        "set_from_number": (targets["from_number_id"],),
        "toggle_day": ("6", True),
        "toggle_retry": ("voicemail", True),
        "set_start_after": (True,),
        "upload_csv": ([FakeUpload("list.csv", GOOD_CSV.encode())],),
        "csv_rejected": (),
        "create": (FORM,),
    }
    assert set(calls) | {"load", "setvar"} >= set(CampaignsState.event_handlers)
    for name, args in calls.items():
        result, state = run(tab, CampaignsState, name, *args)
        assert REFUSED in str(result), name
    assert not state.open and state.agents == [] and state.numbers == []
    assert len(campaigns()) == 1

    detail = Tab("viewer-detail", tokens["viewer"], routes.campaign(campaign_id))
    _, state = run(detail, CampaignDetailState, "load")
    assert state.name == "Seeded" and state.total == 3 and not state.is_admin
    actions = {"start", "pause", "resume", "ask_cancel", "set_confirm_open", "confirm_cancel"}
    readers = {"load", "leave", "watch", "set_status_filter", "next_page", "prev_page", "setvar"}
    assert actions | readers >= set(CampaignDetailState.event_handlers)
    for name in sorted(actions):
        args = (True,) if name == "set_confirm_open" else ()
        result, state = run(detail, CampaignDetailState, name, *args)
        assert REFUSED in str(result), name
    assert not state.confirm_open
    assert [c.status for c in campaigns()] == ["draft"]


def test_a_bad_csv_keeps_the_dialog_open_with_every_bad_row(
    tokens: dict[str, str], targets: dict[str, str]
) -> None:
    tab = Tab("admin-tab", tokens["admin"], routes.CAMPAIGNS)
    run(tab, CampaignsState, "load")
    _, state = run(tab, CampaignsState, "open_new")
    assert state.open and state.numbers[0]["id"] == targets["from_number_id"]
    assert (
        "Front desk" in state.numbers[0]["label"] and state.agents[0]["id"] == targets["agent_id"]
    )

    _, state = run(tab, CampaignsState, "upload_csv", [FakeUpload("list.csv", BAD_CSV.encode())])
    problems = list(state.csv_problems)
    assert len(problems) == 4, problems
    assert [p.split(":")[0].split(",")[0] for p in problems] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert "do-not-call" in problems[1] and "already on line 2" in problems[2]
    assert "formula" in problems[3]
    assert state.csv_summary == "" and state.csv_name == "list.csv"

    # Create anyway: nothing is written, the dialog stays, the rows are still listed.
    result, state = run(tab, CampaignsState, "create", FORM)
    assert "CSV has problems" in str(result)
    assert state.open and len(state.csv_problems) == 4
    assert campaigns() == []

    # Not UTF-8, not a .csv: said under the field.
    _, state = run(tab, CampaignsState, "upload_csv", [FakeUpload("list.csv", b"phone\n\xff\xfe")])
    assert "UTF-8" in state.errors["csv"]
    _, state = run(tab, CampaignsState, "upload_csv", [FakeUpload("list.xlsx", b"phone\n")])
    assert "not a .csv" in state.errors["csv"]
    result, state = run(tab, CampaignsState, "create", FORM)
    assert "drop the CSV" in str(result) and state.open


def test_admin_creates_a_draft_and_a_started_campaign(
    tokens: dict[str, str], targets: dict[str, str]
) -> None:
    tab = Tab("admin-tab", tokens["admin"], routes.CAMPAIGNS)
    run(tab, CampaignsState, "load")
    run(tab, CampaignsState, "open_new")
    _, state = run(tab, CampaignsState, "upload_csv", [FakeUpload("list.csv", GOOD_CSV.encode())])
    assert state.csv_problems == []
    assert state.csv_summary.startswith("3 contacts") and "first_name" in state.csv_summary

    # A bad field: under the field, the dialog and the CSV stay.
    result, state = run(tab, CampaignsState, "create", {**FORM, "window_end": "08:00"})
    assert "End time:" in str(result)
    assert "after it starts" in state.errors["window_end"] and state.open
    result, state = run(tab, CampaignsState, "create", {**FORM, "timezone": "Mars/Base"})
    assert "time zone" in state.errors["timezone"]
    result, state = run(tab, CampaignsState, "create", {**FORM, "max_concurrent": "x"})
    assert state.errors["max_concurrent"] and campaigns() == []

    run(tab, CampaignsState, "set_agent", "")
    result, state = run(tab, CampaignsState, "create", FORM)
    assert "Choose the agent" in state.errors["agent_id"] and state.open
    run(tab, CampaignsState, "set_agent", targets["agent_id"])
    run(tab, CampaignsState, "toggle_day", "6", True)
    run(tab, CampaignsState, "toggle_day", "1", False)
    run(tab, CampaignsState, "toggle_retry", "voicemail", True)
    result, state = run(tab, CampaignsState, "create", FORM)
    assert "created as a draft" in str(result) and not state.open
    (draft,) = campaigns()
    assert routes.campaign(str(draft.id)) in str(result)
    assert draft.status == "draft" and draft.window_days == [2, 3, 4, 5, 6]
    assert draft.retry_on == ["busy", "no_answer", "voicemail"]
    assert (draft.timezone, draft.max_concurrent, draft.max_attempts) == ("Europe/Paris", 3, 2)
    assert draft.created_by and draft.variable_names == ["first_name"]

    run(tab, CampaignsState, "open_new")
    assert state.csv_name == ""  # a fresh dialog forgets the last file
    run(tab, CampaignsState, "upload_csv", [FakeUpload("list.csv", GOOD_CSV.encode())])
    run(tab, CampaignsState, "set_start_after", True)
    result, state = run(tab, CampaignsState, "create", {**FORM, "name": "Started"})
    assert "created and started" in str(result)
    assert {c.name: c.status for c in campaigns()} == {
        "March reminders": "draft",
        "Started": "running",
    }
    _, state = run(tab, CampaignsState, "load")
    assert [r["name"] for r in state.rows] == ["Started", "March reminders"]
    assert state.rows[0]["status_color"] == "grass" and state.is_admin


def test_progress_page_counts_filters_and_controls(
    tokens: dict[str, str], targets: dict[str, str]
) -> None:
    campaign_id = make_campaign(targets)
    with session_scope() as s:
        first = s.exec(select(CampaignContact).where(CampaignContact.row_number == 2)).one()
        first.status, first.attempts, first.last_outcome = "done", 1, "answered"
        s.add(first)
    tab = Tab("admin-detail", tokens["admin"], routes.campaign(campaign_id))
    result, state = run(tab, CampaignDetailState, "load")
    assert "watch" in str(result)
    assert state.is_admin and state.status == "draft"
    assert state.progress == "1 / 3 finished" and state.percent == 33
    assert {c["status"]: c["count"] for c in state.counts} == {
        "queued": "2",
        "calling": "0",
        "done": "1",
        "failed": "0",
        "cancelled": "0",
        "skipped": "0",
    }
    assert [c["phone"] for c in state.contacts] == [
        e164.display(n) for n in ("+14155550123", "+14155550124", "+14155550125")
    ]
    assert state.contacts[0]["variables"] == "first_name=Ann"
    assert state.contacts[0]["outcome"] == "Answered" and state.range_text == "1 to 3 of 3 contacts"
    assert any(s["label"] == "Window" and "Mon-Wed" in s["value"] for s in state.settings)

    _, state = run(tab, CampaignDetailState, "set_status_filter", "done")
    assert state.total == 1 and state.contacts[0]["row"] == "2"
    _, state = run(tab, CampaignDetailState, "set_status_filter", "nonsense")
    assert state.status_filter == "all" and state.total == 3

    result, state = run(tab, CampaignDetailState, "start")
    assert "started" in str(result) and state.status == "running"
    result, state = run(tab, CampaignDetailState, "pause")
    assert state.status == "paused"
    result, state = run(tab, CampaignDetailState, "resume")
    assert state.status == "running"
    _, state = run(tab, CampaignDetailState, "ask_cancel")
    assert state.confirm_open
    result, state = run(tab, CampaignDetailState, "confirm_cancel")
    assert "cancelled" in str(result) and state.status == "cancelled" and not state.confirm_open
    assert {c["status"]: c["count"] for c in state.counts}["cancelled"] == "2"
    assert state.window_note == "The campaign is cancelled: it places no more calls."
    result, state = run(tab, CampaignDetailState, "start")  # not allowed: a toast
    assert "cannot start" in str(result) and state.status == "cancelled"

    with session_scope() as s:
        row = s.get(Campaign, uuid.UUID(campaign_id))
        row.last_error = "paused: the agent is not ready"
        s.add(row)
    _, state = run(tab, CampaignDetailState, "load")
    assert state.last_error == "paused: the agent is not ready"

    missing = Tab("admin-missing", tokens["admin"], routes.campaign(str(uuid.uuid4())))
    _, state = run(missing, CampaignDetailState, "load")
    assert state.missing and state.loaded


def test_window_note_says_when_a_closed_window_opens(targets: dict[str, str]) -> None:
    campaign_id = make_campaign(targets, status="running")
    with session_scope() as s:
        view = campaigns_svc.view(session=s, campaign_id=uuid.UUID(campaign_id))
    opens = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    closed = dataclasses.replace(view, window_open=False, next_opening=opens)
    assert window_note(closed, "Europe/Paris") == (
        "The calling window is closed; it opens Dec 7, 10:00 (Europe/Paris)."
    )
    assert window_note(dataclasses.replace(view, window_open=True), "UTC") == (
        "The calling window is open now."
    )
