"""`POST /api/call/outbound` against the LiveKit Twirp double, on SQLite and PostgreSQL.

No SIP service runs here: the double answers `CreateSIPParticipant` as LiveKit's would
(answered, or a Twirp error with the SIP status in its metadata), so these tests prove
what Voxie sends and records up to that protocol boundary.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests import statetab
from tests.conftest import admin_headers
from tests.doubles.livekit_server import DialScript, LiveKitDouble
from tests.statetab import role_tokens
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import CallSession, PhoneNumber, SipOutboundTrunk
from voxie_app.services import do_not_call, outbound_calls, sip_dialer
from voxie_app.settings import Settings

TO = "+14155550123"
OURS = "+14155550100"
TRUNK = "ST_outbound123"
SPEC = {"name": "Reminder Bot", "instructions": "Remind about the visit.", "greeting": "Hi!"}


@pytest.fixture
def client(db: str, livekit_configured: LiveKitDouble) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


@pytest.fixture
def lk(client: TestClient, livekit_configured: LiveKitDouble) -> LiveKitDouble:
    return livekit_configured


def make_agent(client: TestClient) -> str:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {"business": "dental"}, "processed_spec": SPEC},
    )
    assert r.status_code == 201, r.text
    return r.json()["agent_id"]


def make_number(
    number: str = OURS, *, trunk: bool = True, synced: bool = True, sync_error: str | None = None
) -> uuid.UUID:
    with session_scope() as s:
        trunk_row = None
        if trunk:
            trunk_row = SipOutboundTrunk(
                name=f"carrier-{uuid.uuid4().hex[:6]}",
                address="sip.carrier.example",
                numbers=[number],
                livekit_trunk_id=TRUNK if synced else None,
                sync_error=sync_error,
            )
            s.add(trunk_row)
            s.flush()
        row = PhoneNumber(number=number, outbound_trunk_id=trunk_row.id if trunk_row else None)
        s.add(row)
        s.flush()
        return row.id


def rows() -> list[CallSession]:
    with session_scope() as s:
        return list(s.exec(select(CallSession)).all())


def only_row() -> CallSession:
    found = rows()
    assert len(found) == 1, found
    return found[0]


def start(client: TestClient, agent: str, number: uuid.UUID | None, **kw) -> object:
    body = {"agent_id": agent, "to": TO, "from_number_id": str(number) if number else None}
    return client.post("/api/call/outbound", json={**body, **kw})


# ---- answered -----------------------------------------------------------------------


def test_answered_call_sends_room_dispatch_then_dial(client: TestClient, lk: LiveKitDouble) -> None:
    agent, number = make_agent(client), make_number()
    r = start(client, agent, number, to="+1 (415) 555-0123", variables={"patient": "Ann"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dial_status"] == "answered"
    assert (body["sip_status_code"], body["sip_status_reason"]) == (200, "OK")
    assert (body["to"], body["from_number"]) == (TO, OURS)

    # Room, then dispatch, then the dial: the worker is there before the phone rings.
    order = [r.method for r in lk.requests]
    assert order == ["CreateRoom", "CreateDispatch", "CreateSIPParticipant"]
    row = only_row()
    dispatch = lk.calls("CreateDispatch")[0].body
    assert dispatch["room"] == row.room_name
    meta = json.loads(dispatch["metadata"])
    identity = f"phone-{row.id.hex[:12]}"
    assert meta == {
        "call_session_id": str(row.id),
        "agent_id": agent,
        "outbound": {"participant_identity": identity, "ringing_timeout_s": 30},
    }

    dial = lk.calls("CreateSIPParticipant")[0]
    assert dial.claims["sip"]["call"] is True
    sent = dial.body
    assert sent["sip_trunk_id"] == TRUNK
    assert sent["sip_call_to"] == TO
    assert sent["sip_number"] == OURS
    assert sent["room_name"] == row.room_name
    assert sent["participant_identity"] == identity
    assert sent["wait_until_answered"] is True
    assert sent["ringing_timeout"] == "30s"
    assert sent["participant_attributes"] == {"voxie.call_session_id": str(row.id)}

    assert (row.kind, row.direction, row.call_status) == ("phone", "outbound", "active")
    assert (row.customer_phone, row.called_number, row.phone_number_id) == (TO, TO, number)
    assert row.dial_status == "answered" and row.sip_status_code == 200
    assert row.sip_call_id == lk.sip_participants[0].sip_call_id == body["sip_call_id"]
    assert row.variables == {"patient": "Ann"}
    assert lk.deleted_rooms == []


def test_row_says_ringing_while_the_phone_rings(client: TestClient, lk: LiveKitDouble) -> None:
    agent, number = make_agent(client), make_number()
    lk.script_dial(DialScript(delay=1.5))
    answer: dict = {}
    thread = threading.Thread(target=lambda: answer.update(r=start(client, agent, number)))
    thread.start()
    seen = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and seen is None:
        found = rows()
        if found and found[0].dial_status == "ringing":
            seen = found[0]
        time.sleep(0.05)
    thread.join(10)
    assert seen is not None and seen.call_status == "active" and seen.sip_status_code is None
    assert answer["r"].status_code == 200
    assert only_row().dial_status == "answered"


# ---- scripted refusals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "status", "code", "reason"),
    [
        ("busy", "busy", 486, "Busy Here"),
        ("no_answer", "no_answer", 480, "Temporarily Unavailable"),
        ("timeout", "no_answer", 408, "Request Timeout"),
        ("declined", "busy", 603, "Decline"),
        ("failed", "failed", 503, "Service Unavailable"),
    ],
)
def test_sip_outcomes_are_recorded_with_code_and_reason(
    client: TestClient, lk: LiveKitDouble, script: str, status: str, code: int, reason: str
) -> None:
    agent, number = make_agent(client), make_number()
    lk.script_dial(script)
    r = start(client, agent, number)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["dial_status"], body["sip_status_code"], body["sip_status_reason"]) == (
        status,
        code,
        reason,
    )
    row = only_row()
    assert (row.dial_status, row.sip_status_code, row.sip_status_reason) == (status, code, reason)
    assert row.call_status == "failed" and row.ended_at is not None
    assert row.end_reason == f"dial: {status} ({code} {reason})"
    assert lk.deleted_rooms == [row.room_name]  # the worker's job ends with the room


def test_livekit_failure_at_dispatch_marks_the_row_failed(
    client: TestClient, lk: LiveKitDouble
) -> None:
    agent, number = make_agent(client), make_number()
    lk.fail_next("CreateDispatch", status=500, code="internal", msg="boom")
    r = start(client, agent, number)
    assert r.status_code == 502
    assert "boom" in r.json()["detail"]
    row = only_row()
    assert (row.call_status, row.dial_status) == ("failed", "failed")
    assert "boom" in (row.end_reason or "") and "boom" in (row.sip_status_reason or "")
    assert lk.calls("CreateSIPParticipant") == []


def test_livekit_failure_at_dial_marks_the_row_failed(
    client: TestClient, lk: LiveKitDouble
) -> None:
    agent, number = make_agent(client), make_number()
    lk.fail_next("CreateSIPParticipant", status=404, code="not_found", msg="trunk not found")
    r = start(client, agent, number)
    assert r.status_code == 502
    assert "trunk not found" in r.json()["detail"]
    row = only_row()
    assert (row.call_status, row.dial_status, row.sip_status_code) == ("failed", "failed", None)
    assert "trunk not found" in (row.end_reason or "")
    assert lk.deleted_rooms == [row.room_name]


# ---- refused before anything is written or sent -------------------------------------


def test_do_not_call_number_is_refused(client: TestClient, lk: LiveKitDouble) -> None:
    agent, number = make_agent(client), make_number()
    with session_scope() as s:
        do_not_call.add(session=s, number=TO, reason="asked us not to call")
    r = start(client, agent, number, to="+1 415 555 0123")
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "to"]
    assert "do-not-call list" in detail["msg"]
    assert rows() == [] and lk.requests == []


@pytest.mark.parametrize("to", ["4155550123", "+1415", "", "call me"])
def test_bad_number_is_422_naming_to(client: TestClient, lk: LiveKitDouble, to: str) -> None:
    agent, number = make_agent(client), make_number()
    r = start(client, agent, number, to=to)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "to"]
    assert rows() == [] and lk.requests == []


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("no_trunk", "has no outbound trunk"),
        ("not_synced", "not set up in LiveKit yet (auth failed): sync it"),
        ("missing", "there is no phone number"),
        ("none", "choose the number"),
    ],
)
def test_from_number_must_have_a_synced_trunk(
    client: TestClient, lk: LiveKitDouble, kind: str, words: str
) -> None:
    agent = make_agent(client)
    number: uuid.UUID | None = {
        "no_trunk": lambda: make_number(trunk=False),
        "not_synced": lambda: make_number(synced=False, sync_error="auth failed"),
        "missing": uuid.uuid4,
        "none": lambda: None,
    }[kind]()
    r = start(client, agent, number)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "from_number_id"]
    assert words in detail["msg"]
    assert rows() == [] and lk.requests == []


def test_viewer_is_refused(client: TestClient, lk: LiveKitDouble) -> None:
    agent, number = make_agent(client), make_number()
    r = client.post(
        "/api/call/outbound",
        json={"agent_id": agent, "to": TO, "from_number_id": str(number)},
        headers=admin_headers("viewer"),
    )
    assert r.status_code == 403
    assert rows() == [] and lk.requests == []


def test_unknown_agent_is_404_and_bad_variable_422(client: TestClient, lk: LiveKitDouble) -> None:
    number = make_number()
    assert start(client, str(uuid.uuid4()), number).status_code == 404
    agent = make_agent(client)
    r = start(client, agent, number, variables={"bad key": "x"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", "variables"]
    assert rows() == [] and lk.requests == []


def test_outbound_starts_share_the_call_start_rate_limit(
    client: TestClient, lk: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_CALL_START_RATE_LIMIT="1/3600")
    agent, number = make_agent(client), make_number()
    assert start(client, agent, number).status_code == 200
    r = start(client, agent, number)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert len(rows()) == 1


def test_outbound_over_the_concurrent_call_limit_is_429_and_dials_nothing(
    client: TestClient, lk: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_MAX_CONCURRENT_CALLS="1")
    agent, number = make_agent(client), make_number()
    assert start(client, agent, number).status_code == 200  # answered: in progress
    dialled = len(lk.dials)
    r = start(client, agent, number)
    assert r.status_code == 429
    assert "this deployment takes 1 at once (VOXIE_MAX_CONCURRENT_CALLS)" in r.json()["detail"]
    assert len(rows()) == 1 and len(lk.dials) == dialled
    with session_scope() as s:  # the callee hangs up: the slot is free again
        outbound_calls.calls_svc.end_call_record(
            session=s, call_session_id=only_row().id, reason="hangup"
        )
    assert start(client, agent, number).status_code == 200


def test_caller_numbers_lists_only_numbers_with_a_synced_trunk(db: str) -> None:
    good = make_number()
    make_number("+14155550101", trunk=False)
    make_number("+14155550102", synced=False)
    with session_scope() as s:
        found = outbound_calls.caller_numbers(session=s)
        assert [(n.id, t.livekit_trunk_id) for n, t in found] == [(good, TRUNK)]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, "answered"),
        (486, "busy"),
        (600, "busy"),
        (480, "no_answer"),
        (487, "no_answer"),
        (404, "failed"),
        (503, "failed"),
        (None, "failed"),
    ],
)
def test_sip_codes_map_to_dial_statuses(code: int | None, status: str) -> None:
    assert sip_dialer.classify(code) == status


# ---- the "Call a number" dialog's state ----------------------------------------------


@pytest.fixture
def tokens(client: TestClient) -> Iterator[dict[str, str]]:

    with role_tokens() as out:
        yield out


class Tab(statetab.Tab):
    """A tab on an agent's page running `OutboundCallState` handlers (generators drained)."""

    async def run(self, name: str, *args: Any) -> tuple[list[str], Any]:  # type: ignore[override]
        from reflex.istate.manager.token import BaseStateToken
        from reflex.state import State

        from voxie_app.state.outbound_call import OutboundCallState

        with self.ctx:
            async with self.ctx.state_manager.modify_state(
                BaseStateToken(ident=self.ctx.token, cls=State)
            ) as root:
                state = await root.get_state(OutboundCallState)
                result = OutboundCallState.event_handlers[name].fn(state, *args)
                out: list[str] = []
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        out.append(str(item))
                else:
                    out.append(str(result))
                return out, state


async def test_dialog_places_the_call_and_opens_its_page(
    client: TestClient, lk: LiveKitDouble, tokens: dict[str, str]
) -> None:
    agent, number = make_agent(client), make_number()
    make_number("+14155550101", trunk=False)  # cannot place calls: not offered
    tab = Tab("call-a", tokens["admin"])
    _, state = await tab.run("open_for", agent)
    assert state.open and state.agent_id == agent
    assert [a["id"] for a in state.agents] == [agent]
    assert [n["id"] for n in state.numbers] == [str(number)]
    assert state.from_number_id == str(number)
    out, state = await tab.run("place", {"to": TO, "variables": "patient = Ann\n"})
    row = only_row()
    assert row.variables == {"patient": "Ann"} and row.dial_status == "answered"
    assert "answered" in out[-1] and f"/calls/{row.id}" in out[-1]
    assert not state.open and not state.dialing


async def test_dialog_not_answered_still_opens_the_call_with_why(
    client: TestClient, lk: LiveKitDouble, tokens: dict[str, str]
) -> None:
    agent, _ = make_agent(client), make_number()
    lk.script_dial("busy")
    tab = Tab("call-b", tokens["admin"])
    await tab.run("open_for", agent)
    out, _ = await tab.run("place", {"to": TO})
    assert "busy (486 Busy Here)" in out[-1] and f"/calls/{only_row().id}" in out[-1]


async def test_dialog_refusals_are_toasts_naming_the_field(
    client: TestClient, lk: LiveKitDouble, tokens: dict[str, str]
) -> None:
    agent, _ = make_agent(client), make_number()
    with session_scope() as s:
        do_not_call.add(session=s, number=TO)
    tab = Tab("call-c", tokens["admin"])
    _, state = await tab.run("open_for", agent)
    out, state = await tab.run("place", {"to": TO})
    assert "Number to call: " in out[-1] and "do-not-call" in out[-1]
    assert state.open and not state.dialing
    out, _ = await tab.run("place", {"to": "0415"})
    assert "Number to call: " in out[-1] and "E.164" in out[-1]
    out, _ = await tab.run("place", {"to": "+14155550199", "variables": "no equals sign"})
    assert "Variables: line 1 should look like name=value" in out[-1]
    await tab.run("set_from_number", "")
    out, _ = await tab.run("place", {"to": "+14155550199"})
    assert "Call from: choose the number" in out[-1]
    assert rows() == [] and lk.requests == []


async def test_dialog_is_refused_to_a_viewer(
    client: TestClient, lk: LiveKitDouble, tokens: dict[str, str]
) -> None:
    from voxie_app.state import guard
    from voxie_app.state.outbound_call import OutboundCallState

    agent, _ = make_agent(client), make_number()
    tab = Tab("call-v", tokens["viewer"])
    for name, args in (
        ("open_for", (agent,)),
        ("set_agent", (agent,)),
        ("set_open", (True,)),
        ("place", ({"to": TO},)),
    ):
        assert guard.decide(OutboundCallState, name, tokens["viewer"]) is not None
        out, state = await tab.run(name, *args)
        assert "Only an admin" in out[-1], name
        assert not state.open and state.numbers == []
    assert rows() == [] and lk.requests == []
