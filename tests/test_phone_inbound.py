"""Inbound phone calls in the worker, proven up to the SIP participant joining.

No LiveKit SIP server runs here, so the room's side is faked at the worker's
`RoomSeams`: the job's room has a participant of kind SIP with the `sip.*`
attributes LiveKit SIP sets, and the session starts without a room (a text
`AgentSession`). Everything else is real: `run_call` from the dispatch metadata a
SIP dispatch rule sends, the call row written by `services.phone_calls`, the
agent built from its stored spec with the real livekit-plugins-openai LLM against
the OpenAI double, the recorder, the telephony cost line, the post-call analysis,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.plugins import openai as lk_openai
from sqlmodel import select

from tests.doubles.openai_server import OpenAIServerDouble, Reply, ToolCall
from voice_worker import phone, spec_agent
from voice_worker.calldata import CallData
from voice_worker.runtime import parse_metadata
from voice_worker.spec_agent import SpecAgent, tool_names
from voice_worker.worker import RoomSeams, run_call
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import (
    AgentSpec,
    CallSession,
    CallSummary,
    ConversationTurn,
    PhoneNumber,
    TokenUsage,
)
from voxie_app.services import (
    agent_creation,
    analytics,
    call_limits,
    phone_calls,
    pricing,
    telephony,
)
from voxie_app.services import calls as calls_svc
from voxie_app.services.reconciler import reconcile
from voxie_app.settings import Settings

T0 = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
OUR_NUMBER = "+14155550100"
CALLER = "+14155550123"
INSTRUCTIONS = (
    "You answer the phone for Bright Smile Dental. "
    "The caller's number is {{caller_number|unknown}}."
)
ANALYSIS = {
    "summary": "The caller chose sales from the menu and keyed in an account number.",
    "key_points": ["pressed 3"],
    "action_items": [],
    "category": "inquiry",
    "business_outcome": "resolved",
    "sales_value_usd": None,
    "sentiment": "neutral",
    "resolved": True,
    "rating": 4,
}


# ----------------------------------------------------------------- the fakes


class FakeLocalParticipant:
    def __init__(self) -> None:
        self.dtmf: list[tuple[int, str]] = []

    async def publish_dtmf(self, *, code: int, digit: str) -> None:
        self.dtmf.append((code, digit))


class FakeRoom(rtc.EventEmitter[str]):
    """The job's room as the worker sees it: a name, events, the local participant."""

    def __init__(self, name: str = "call-+14155550100_abc123") -> None:
        super().__init__()
        self.name = name
        self.local_participant = FakeLocalParticipant()

    def isconnected(self) -> bool:
        return True


def sip_participant(**attributes: str) -> SimpleNamespace:
    """A participant as LiveKit SIP creates it for an inbound call."""
    attrs = {
        "sip.phoneNumber": CALLER,
        "sip.trunkPhoneNumber": OUR_NUMBER,
        "sip.callID": "SCL_abc123",
        "sip.callStatus": "active",
        **attributes,
    }
    return SimpleNamespace(
        identity=f"sip_{attrs['sip.phoneNumber']}",
        kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
        attributes=attrs,
    )


class FakeJobContext:
    """The parts of `JobContext` a phone call's job uses, with its room faked."""

    def __init__(self, metadata: dict[str, Any], room: FakeRoom | None = None) -> None:
        self.job = SimpleNamespace(id="job-1", metadata=json.dumps(metadata))
        self.proc = SimpleNamespace(userdata={"vad": None})
        self.room = room or FakeRoom()
        self.shutdown_reasons: list[str] = []
        self.callbacks: list[Callable[[str], Awaitable[None]]] = []

    def shutdown(self, reason: str = "") -> None:
        self.shutdown_reasons.append(reason)

    def add_shutdown_callback(self, cb: Callable[[str], Awaitable[None]]) -> None:
        self.callbacks.append(cb)

    async def run_shutdown(self) -> None:
        for cb in self.callbacks:
            await cb("session closed")


class Seams:
    """`RoomSeams` with the room's side faked; keeps what the worker did with them."""

    def __init__(self, participant: Any) -> None:
        self.participant = participant
        self.session: AgentSession | None = None
        self.options: Any = None
        self.refused = 0
        self.busy = 0

    async def wait_for_sip_caller(self, _ctx: Any) -> Any:
        return self.participant

    async def not_in_service(self, _ctx: Any, _settings: Settings) -> None:
        self.refused += 1

    async def say_busy(self, _ctx: Any, _settings: Settings) -> None:
        self.busy += 1

    async def start_session(
        self, _ctx: Any, session: AgentSession, agent: Agent, options: Any
    ) -> None:
        self.session, self.options = session, options
        await session.start(agent)  # no room: a text session

    def room_seams(self) -> RoomSeams:
        return RoomSeams(
            wait_for_sip_caller=self.wait_for_sip_caller,
            not_in_service=self.not_in_service,
            busy=self.say_busy,
            start_session=self.start_session,
        )


# ----------------------------------------------------------------- helpers


@pytest.fixture
def env(
    db: str,
    configure: Callable[..., Settings],
    openai_double: OpenAIServerDouble,
    clock: Callable[[datetime], datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    clock(T0)
    monkeypatch.setattr(phone, "DTMF_ENTRY_GAP_SECONDS", 0.05)
    monkeypatch.setattr(spec_agent, "DTMF_KEY_GAP_SECONDS", 0.0)
    return configure(
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=openai_double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
        VOXIE_TELEPHONY_PRICE_PER_MINUTE="0.03",
    )


def make_agent(**spec: Any) -> uuid.UUID:
    body = {"name": "Front Desk", "instructions": INSTRUCTIONS, "greeting": "", **spec}
    return agent_creation.submit(user_requirements={}, processed_spec=body).id


def make_number(agent_id: uuid.UUID | None, number: str = OUR_NUMBER) -> uuid.UUID:
    with session_scope() as s:
        row = PhoneNumber(number=number, agent_id=agent_id, label="Main line")
        s.add(row)
        s.flush()
        return row.id


def phone_rows() -> list[CallSession]:
    with session_scope() as s:
        return list(s.exec(select(CallSession).where(CallSession.kind == "phone")).all())


def system_prompt(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] in ("system", "developer")
    return first["content"]


def last_user_text(request: dict[str, Any]) -> str:
    users = [m for m in request["messages"] if m["role"] == "user"]
    content = users[-1]["content"]
    return content if isinstance(content, str) else " ".join(p["text"] for p in content)


def replies(session: AgentSession) -> list[str]:
    return [m.text_content or "" for m in session.history.messages() if m.role == "assistant"]


async def wait_for(predicate: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def dtmf(digit: str, participant: Any) -> rtc.SipDTMF:
    code = {"*": 10, "#": 11}.get(digit) or int(digit)
    return rtc.SipDTMF(code=code, digit=digit, participant=participant)


# ------------------------------------------------------------- the whole call


async def test_an_inbound_call_is_recorded_costed_and_ended_by_the_callers_hang_up(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    number_id = make_number(agent_id)
    openai_double.script(
        Reply(content="Bright Smile Dental, how can I help?"),
        Reply(content="You chose sales."),
        Reply(content="Thanks, account 4 5 noted."),
        Reply(json=ANALYSIS),
    )
    caller = sip_participant()
    seams = Seams(caller)
    # What the SIP dispatch rule puts on the dispatch (no call_session_id: no call/start).
    ctx = FakeJobContext({"phone_number_id": str(number_id), "agent_id": str(agent_id)})
    await run_call(ctx, env, seams.room_seams())  # type: ignore[arg-type]

    [row] = phone_rows()
    assert (row.kind, row.direction, row.call_status) == ("phone", "inbound", "active")
    assert (row.customer_phone, row.called_number) == (CALLER, OUR_NUMBER)
    assert (row.phone_number_id, row.agent_id, row.sip_call_id) == (
        number_id,
        agent_id,
        "SCL_abc123",
    )
    assert row.room_name == ctx.room.name and row.primary_agent_type == "Front Desk"
    # The session listens to the SIP participant, not whoever joins first.
    assert seams.options.participant_identity == caller.identity
    session = seams.session
    assert session is not None

    # caller_number reached the instructions the LLM got.
    await wait_for(lambda: len(openai_double.requests) == 1, "the greeting")
    assert "The caller's number is +14155550123." in system_prompt(openai_double.requests[0])
    await wait_for(lambda: len(replies(session)) == 1, "the greeting to be said")

    # A key press reaches the model as the caller's words.
    ctx.room.emit("sip_dtmf_received", dtmf("3", caller))
    await wait_for(lambda: len(openai_double.requests) == 2, "the reply to the key press")
    assert last_user_text(openai_double.requests[1]) == "The caller pressed 3."
    await wait_for(lambda: len(replies(session)) == 2, "the reply to be said")
    # Keys pressed together are one entry; # ends it at once. Another participant's
    # key presses (the agent's own, a supervisor's) are not the caller's.
    ctx.room.emit("sip_dtmf_received", dtmf("9", SimpleNamespace(identity="someone-else")))
    for key in "45#":
        ctx.room.emit("sip_dtmf_received", dtmf(key, caller))
    await wait_for(lambda: len(openai_double.requests) == 3, "the reply to the entry")
    assert last_user_text(openai_double.requests[2]) == "The caller pressed 4 5 #."
    await wait_for(lambda: len(replies(session)) == 3, "the reply to be said")

    # The caller hangs up: the session closes, the job shuts down, the call ends.
    ctx.room.emit("participant_disconnected", caller)
    await wait_for(lambda: "session closed" in ctx.shutdown_reasons, "the session to close")
    await ctx.run_shutdown()

    with session_scope() as s:
        row = s.get(CallSession, row.id)
        assert row is not None
        assert (row.call_status, row.end_reason) == ("completed", "caller_hung_up")
        turns = s.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_session_id == row.id)
            .order_by(ConversationTurn.turn_number)
        ).all()
        usage = {
            u.usage_type: u
            for u in s.exec(select(TokenUsage).where(TokenUsage.call_session_id == row.id))
        }
        summary = s.exec(select(CallSummary).where(CallSummary.call_session_id == row.id)).one()
    assert [(t.speaker, t.transcript) for t in turns] == [
        ("agent", "Bright Smile Dental, how can I help?"),
        ("user", "The caller pressed 3."),
        ("agent", "You chose sales."),
        ("user", "The caller pressed 4 5 #."),
        ("agent", "Thanks, account 4 5 noted."),
    ]
    line = usage["phone"]
    assert line.model_name == pricing.TELEPHONY_MODEL
    assert line.audio_seconds == pytest.approx(row.duration_seconds, abs=0.001)
    per_second = (Decimal("0.03") / 60).quantize(Decimal("0.0000000001"))
    assert line.cost_per_input_token == per_second
    expected = (Decimal("0.03") / 60 * Decimal(str(line.audio_seconds))).quantize(
        Decimal("0.00000001")
    )
    assert line.total_cost_usd == expected
    assert "llm" in usage  # the models' usage is recorded as on a web call
    assert summary.summary_text.startswith("The caller chose sales")


async def test_hang_up_during_the_greeting_ends_the_call(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent(greeting="Hello, Bright Smile Dental.")
    number_id = make_number(agent_id)
    caller = sip_participant()
    seams = Seams(caller)
    ctx = FakeJobContext({"phone_number_id": str(number_id), "agent_id": str(agent_id)})
    await run_call(ctx, env, seams.room_seams())  # type: ignore[arg-type]
    ctx.room.emit("participant_disconnected", SimpleNamespace(identity="not-the-caller"))
    await asyncio.sleep(0.1)
    assert ctx.shutdown_reasons == []  # someone else leaving ends nothing
    ctx.room.emit("participant_disconnected", caller)
    await wait_for(lambda: "session closed" in ctx.shutdown_reasons, "the session to close")
    await ctx.run_shutdown()
    [row] = phone_rows()
    assert (row.call_status, row.end_reason) == ("completed", "caller_hung_up")
    assert openai_double.requests == []  # the greeting is said, not generated


# ------------------------------------------------------------ which agent answers


async def test_the_numbers_current_binding_wins_over_the_dispatch_metadata(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    old = make_agent(name="Old Desk")
    new = make_agent(name="New Desk")
    number_id = make_number(new)  # rebound to New Desk after the rule was written
    openai_double.script(Reply(content="New Desk here."))
    seams = Seams(sip_participant())
    ctx = FakeJobContext({"phone_number_id": str(number_id), "agent_id": str(old)})
    await run_call(ctx, env, seams.room_seams())  # type: ignore[arg-type]
    [row] = phone_rows()
    assert (row.agent_id, row.primary_agent_type) == (new, "New Desk")
    await wait_for(lambda: len(openai_double.requests) == 1, "the greeting")
    assert seams.session is not None
    await seams.session.aclose()


@pytest.mark.parametrize("case", ["unbound", "deleted_agent", "not_ready"])
async def test_a_number_with_no_ready_agent_is_not_in_service(
    env: Settings, openai_double: OpenAIServerDouble, case: str
) -> None:
    agent_id = make_agent()
    number_id = make_number(None if case == "unbound" else agent_id)
    if case == "deleted_agent":
        from voxie_app.models import Agent as AgentRow

        with session_scope() as s:
            s.delete(s.get(AgentRow, agent_id))
    elif case == "not_ready":
        from voxie_app.models import Agent as AgentRow

        with session_scope() as s:
            row = s.get(AgentRow, agent_id)
            row.status = "processing"
            s.add(row)
    seams = Seams(sip_participant())
    ctx = FakeJobContext({"phone_number_id": str(number_id), "agent_id": str(agent_id)})
    await run_call(ctx, env, seams.room_seams())  # type: ignore[arg-type]
    assert seams.refused == 1 and seams.session is None
    assert ctx.shutdown_reasons == ["not_in_service"] and ctx.callbacks == []
    [row] = phone_rows()
    assert (row.call_status, row.end_reason) == ("failed", "not_in_service")
    assert (row.customer_phone, row.called_number) == (CALLER, OUR_NUMBER)
    assert openai_double.requests == []


@pytest.mark.parametrize("limit", ["deployment", "agent"])
async def test_over_a_concurrent_call_limit_the_caller_hears_busy(
    env: Settings,
    openai_double: OpenAIServerDouble,
    configure: Callable[..., Settings],
    limit: str,
) -> None:
    settings = configure(VOXIE_MAX_CONCURRENT_CALLS="1") if limit == "deployment" else env
    agent_id = make_agent(max_concurrent_calls=1) if limit == "agent" else make_agent()
    number_id = make_number(agent_id)
    with session_scope() as s:  # a browser call with the agent is in progress
        s.add(CallSession(session_id="web", agent_id=agent_id, room_name="web-1"))
    seams = Seams(sip_participant())
    ctx = FakeJobContext({"phone_number_id": str(number_id), "agent_id": str(agent_id)})
    await run_call(ctx, settings, seams.room_seams())  # type: ignore[arg-type]
    assert (seams.busy, seams.refused, seams.session) == (1, 0, None)
    assert ctx.shutdown_reasons == [call_limits.BUSY] and ctx.callbacks == []
    [row] = phone_rows()  # the missed call shows on /calls, with why
    assert (row.call_status, row.end_reason) == ("failed", "busy: concurrent call limit reached")
    assert (row.agent_id, row.customer_phone) == (agent_id, CALLER)
    assert openai_double.requests == []


async def test_a_deleted_numbers_lingering_rule_uses_the_metadata_agent(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    agent_id = make_agent()
    openai_double.script(Reply(content="Hello."))
    seams = Seams(sip_participant())
    ctx = FakeJobContext({"phone_number_id": str(uuid.uuid4()), "agent_id": str(agent_id)})
    await run_call(ctx, env, seams.room_seams())  # type: ignore[arg-type]
    [row] = phone_rows()
    assert (row.agent_id, row.phone_number_id, row.called_number) == (agent_id, None, OUR_NUMBER)
    await wait_for(lambda: len(openai_double.requests) == 1, "the greeting")
    assert seams.session is not None
    await seams.session.aclose()


async def test_no_sip_participant_ends_the_job_without_a_row(env: Settings) -> None:
    seams = Seams(None)
    ctx = FakeJobContext({"phone_number_id": str(uuid.uuid4()), "agent_id": None})
    await run_call(ctx, env, seams.room_seams())  # type: ignore[arg-type]
    assert ctx.shutdown_reasons == ["no SIP participant joined"]
    assert phone_rows() == []


# ----------------------------------------------------------- the row's numbers


def test_caller_ids_that_are_not_numbers_leave_customer_phone_empty(env: Settings) -> None:
    agent_id = make_agent()
    number_id = make_number(agent_id)
    with session_scope() as s:
        anonymous = phone_calls.open_inbound_call(
            session=s,
            phone_number_id=number_id,
            metadata_agent_id=agent_id,
            attributes={"sip.phoneNumber": "anonymous", "sip.callID": "SCL_1"},
            room_name="room-1",
        )
        no_plus = phone_calls.open_inbound_call(
            session=s,
            phone_number_id=number_id,
            metadata_agent_id=agent_id,
            attributes={"sip.phoneNumber": "14155550123", "sip.trunkPhoneNumber": "14155550100"},
            room_name="room-2",
        )
    assert (anonymous.caller_number, anonymous.called_number) == (None, OUR_NUMBER)
    assert (no_plus.caller_number, no_plus.called_number) == (CALLER, OUR_NUMBER)
    with session_scope() as s:
        row = s.get(CallSession, anonymous.call_session_id)
        assert row is not None and row.customer_phone is None


def test_a_job_dispatched_again_for_the_same_sip_call_resumes_its_row(env: Settings) -> None:
    agent_id = make_agent()
    number_id = make_number(agent_id)
    attrs = sip_participant().attributes
    with session_scope() as s:
        first = phone_calls.open_inbound_call(
            session=s,
            phone_number_id=number_id,
            metadata_agent_id=agent_id,
            attributes=attrs,
            room_name="room-1",
        )
    with session_scope() as s:
        again = phone_calls.open_inbound_call(
            session=s,
            phone_number_id=number_id,
            metadata_agent_id=agent_id,
            attributes=attrs,
            room_name="room-1",
        )
    assert again.call_session_id == first.call_session_id and again.resumed
    assert again.in_service and again.agent_id == agent_id
    assert len(phone_rows()) == 1


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"phone_number_id": "00000000-0000-0000-0000-000000000001", "agent_id": None}, None),
        (
            {
                "phone_number_id": "00000000-0000-0000-0000-000000000001",
                "agent_id": "00000000-0000-0000-0000-000000000002",
            },
            uuid.UUID("00000000-0000-0000-0000-000000000002"),
        ),
    ],
)
def test_sip_dispatch_metadata_is_parsed(metadata: dict[str, Any], expected: Any) -> None:
    meta = parse_metadata(json.dumps(metadata))
    assert meta.call_session_id is None
    assert meta.phone_number_id == uuid.UUID("00000000-0000-0000-0000-000000000001")
    assert meta.agent_id == expected


async def test_bad_sip_dispatch_metadata_is_refused(env: Settings) -> None:
    ctx = FakeJobContext({"phone_number_id": "nope", "agent_id": None})
    await run_call(ctx, env, Seams(sip_participant()).room_seams())  # type: ignore[arg-type]
    assert ctx.shutdown_reasons[0].startswith("bad job metadata")


# -------------------------------------------------------------- telephony cost


def _ended_phone_call(**kw: Any) -> uuid.UUID:
    with session_scope() as s:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            room_name=f"room-{uuid.uuid4().hex[:6]}",
            kind="phone",
            started_at=T0,
            last_activity_at=T0 + timedelta(minutes=2),
            **kw,
        )
        s.add(call)
        s.flush()
        return call.id


def _line(call_id: uuid.UUID) -> TokenUsage | None:
    with session_scope() as s:
        return s.exec(
            select(TokenUsage).where(
                TokenUsage.call_session_id == call_id, TokenUsage.usage_type == "phone"
            )
        ).first()


def test_ending_a_phone_call_prices_its_line_per_minute(
    env: Settings, clock: Callable[[datetime], datetime]
) -> None:
    call_id = _ended_phone_call()
    clock(T0 + timedelta(minutes=3))
    with session_scope() as s:
        calls_svc.end_call_record(session=s, call_session_id=call_id, reason="caller_hung_up")
        calls_svc.end_call_record(session=s, call_session_id=call_id, reason="again")  # no-op
    line = _line(call_id)
    assert line is not None
    assert line.audio_seconds == pytest.approx(180, abs=1)
    assert line.total_cost_usd == pytest.approx(Decimal("0.09"), abs=Decimal("0.001"))


def test_an_abandoned_phone_call_is_billed_to_its_last_activity(
    env: Settings, clock: Callable[[datetime], datetime]
) -> None:
    call_id = _ended_phone_call()
    now = clock(T0 + timedelta(hours=1))
    with session_scope() as s:
        reconcile(session=s, idle_seconds=15 * 60, now=now)
    line = _line(call_id)
    assert line is not None and line.audio_seconds == pytest.approx(120)
    assert line.total_cost_usd == Decimal("0.06")


def test_web_calls_and_unconnected_dials_have_no_telephony_line(
    env: Settings, clock: Callable[[datetime], datetime]
) -> None:
    no_answer = _ended_phone_call(direction="outbound", dial_status="no_answer")
    with session_scope() as s:
        web = CallSession(session_id="w", room_name="web-room", started_at=T0)
        s.add(web)
        s.flush()
        web_id = web.id
    clock(T0 + timedelta(minutes=1))
    with session_scope() as s:
        for call_id in (no_answer, web_id):
            calls_svc.end_call_record(session=s, call_session_id=call_id, reason="done")
    assert _line(no_answer) is None and _line(web_id) is None
    with session_scope() as s:
        assert telephony.bill_line(session=s, call=s.get(CallSession, web_id)) is None


def test_the_telephony_price_is_in_the_pricing_table(configure: Callable[..., Settings]) -> None:
    settings = configure(VOXIE_TELEPHONY_PRICE_PER_MINUTE="0.015")
    rows = {r["model"]: r for r in pricing.pricing_table(settings)}
    assert rows["telephony"] == {
        "model": "telephony",
        "kind": "phone",
        "unit": "USD per call minute",
        "input": "0.015",
        "output": "",
    }
    default = pricing.find_price("telephony", configure(VOXIE_TELEPHONY_PRICE_PER_MINUTE=None))
    assert default is not None and default.input == Decimal("0.01")
    overridden = configure(VOXIE_PRICING='{"telephony": {"kind": "phone", "input": 0.5}}')
    assert pricing.cost(
        "telephony", "phone", audio_seconds=60, settings=overridden
    ).total == Decimal("0.5")


def test_a_negative_telephony_price_is_refused(configure: Callable[..., Settings]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="VOXIE_TELEPHONY_PRICE_PER_MINUTE"):
        configure(VOXIE_TELEPHONY_PRICE_PER_MINUTE="-1")


# ------------------------------------------------------------------- send_dtmf


def menu_agent(openai_double: OpenAIServerDouble, *, phone_call: bool) -> SpecAgent:
    spec = AgentSpec.model_validate(
        {
            "name": "Caller Bot",
            "instructions": "You call the pharmacy to check an order.",
            "tools": ["end_call", "send_dtmf"],
        }
    )
    model = lk_openai.LLM(model="gpt-4o-mini", api_key="k", base_url=openai_double.base_url)
    return SpecAgent(
        spec, llm=model, custom_tools=[], mcp_servers=[], knowledge=False, phone_call=phone_call
    )


async def test_send_dtmf_presses_the_keys_on_the_line(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    room = FakeRoom()
    agent = menu_agent(openai_double, phone_call=True)
    assert "send_dtmf" in [t.info.name for t in agent.tools]  # type: ignore[attr-defined]
    openai_double.script(
        Reply(content="Hello."),
        Reply(tool_calls=[ToolCall("send_dtmf", {"keys": "2*0#"})]),
    )
    data = CallData(settings=env, spec=agent.spec, room=room)
    async with AgentSession(userdata=data) as session:
        await session.start(agent)
        await session.wait_for_idle()
        result = await session.run(
            user_input="For pharmacy orders, press 2, then star, 0 and pound."
        )
        result.expect.next_event().is_function_call(name="send_dtmf", arguments={"keys": "2*0#"})
        out = result.expect.next_event().is_function_call_output()
        result.expect.no_more_events()  # no reply: the menu speaks next
    assert room.local_participant.dtmf == [(2, "2"), (10, "*"), (0, "0"), (11, "#")]
    assert "Pressed 2 * 0 #" in out.event().item.output
    assert "send_dtmf" in system_prompt(openai_double.requests[-1])


async def test_send_dtmf_refuses_keys_a_keypad_does_not_have(
    env: Settings, openai_double: OpenAIServerDouble
) -> None:
    room = FakeRoom()
    agent = menu_agent(openai_double, phone_call=True)
    openai_double.script(
        Reply(content="Hello."),
        Reply(tool_calls=[ToolCall("send_dtmf", {"keys": "12; DROP"})]),
        Reply(content="Let me try again."),
    )
    data = CallData(settings=env, spec=agent.spec, room=room)
    async with AgentSession(userdata=data) as session:
        await session.start(agent)
        await session.wait_for_idle()
        result = await session.run(user_input="Press 1 2.")
        result.expect.next_event().is_function_call(name="send_dtmf")
        out = result.expect.next_event().is_function_call_output()
        assert out.event().item.is_error
    assert room.local_participant.dtmf == []


def test_send_dtmf_is_offered_on_phone_calls_only(openai_double: OpenAIServerDouble) -> None:
    web = menu_agent(openai_double, phone_call=False)
    assert "send_dtmf" not in [t.info.name for t in web.tools]  # type: ignore[attr-defined]
    assert "send_dtmf" not in web.instructions
    spec = AgentSpec.model_validate({"name": "A", "instructions": "x", "tools": ["send_dtmf"]})
    assert tool_names(spec, phone_call=True) == ["send_dtmf"]
    assert tool_names(spec) == []
    with pytest.raises(ValueError, match="tools"):
        AgentSpec.model_validate({"name": "A", "instructions": "x", "tools": ["send_dtmff"]})


# ------------------------------------------------- call list, call page, dashboard


def _seed_calls() -> dict[str, uuid.UUID]:
    """An inbound and an outbound phone call on our number, a web call, a chat."""
    agent_id = make_agent()
    number_id = make_number(agent_id)
    start = utcnow() - timedelta(minutes=30)  # the product's clock, at T0
    made: dict[str, uuid.UUID] = {}
    with session_scope() as s:
        for key, kw in {
            "inbound": {
                "kind": "phone",
                "direction": "inbound",
                "customer_phone": CALLER,
                "called_number": OUR_NUMBER,
                "phone_number_id": number_id,
                "sip_call_id": "SCL_in",
            },
            "outbound": {
                "kind": "phone",
                "direction": "outbound",
                "customer_phone": "+14155550199",
                "called_number": OUR_NUMBER,
            },
            "web": {"kind": "web"},
            "chat": {"kind": "chat"},
        }.items():
            call = CallSession(
                session_id=uuid.uuid4().hex,
                agent_id=agent_id,
                room_name=f"room-{key}",
                started_at=start,
                **kw,
            )
            s.add(call)
            s.flush()
            made[key] = call.id
    with session_scope() as s:
        for key in ("inbound", "outbound", "web"):
            calls_svc.end_call_record(session=s, call_session_id=made[key], reason="caller_hung_up")
    return made


@pytest.fixture
def client(env: Settings):
    from fastapi.testclient import TestClient

    from tests.conftest import admin_headers
    from voxie_app.api.app import create_api

    with TestClient(create_api(), headers=admin_headers("viewer")) as c:
        yield c


def _listed(client: Any, **params: str) -> set[uuid.UUID]:
    r = client.get("/api/calls", params=params)
    assert r.status_code == 200, r.text
    return {uuid.UUID(i["id"]) for i in r.json()["items"]}


def test_calls_api_filters_by_kind_direction_and_number(client: Any) -> None:
    ids = _seed_calls()
    phone = {ids["inbound"], ids["outbound"]}
    assert _listed(client, kind="phone") == phone
    assert _listed(client, kind="web") == {ids["web"]}
    assert _listed(client, kind="phone", direction="inbound") == {ids["inbound"]}
    assert _listed(client, direction="outbound") == {ids["outbound"]}
    assert _listed(client, number=OUR_NUMBER) == phone  # ours, both ways
    assert _listed(client, number=CALLER) == {ids["inbound"]}
    assert _listed(client, number="+1 (415) 555-0123") == {ids["inbound"]}  # any E.164 spelling
    assert _listed(client, number="+14155550111") == set()
    assert _listed(client, number=OUR_NUMBER, direction="outbound") == {ids["outbound"]}
    items = {i["id"]: i for i in client.get("/api/calls", params={"kind": "phone"}).json()["items"]}
    inbound = items[str(ids["inbound"])]
    assert (inbound["direction"], inbound["customer_phone"], inbound["called_number"]) == (
        "inbound",
        CALLER,
        OUR_NUMBER,
    )
    csv_rows = client.get("/api/calls/export.csv", params={"number": CALLER}).text
    assert str(ids["inbound"]) in csv_rows and str(ids["outbound"]) not in csv_rows

    detail = client.get(f"/api/calls/{ids['inbound']}").json()
    assert (detail["kind"], detail["direction"], detail["called_number"]) == (
        "phone",
        "inbound",
        OUR_NUMBER,
    )
    assert detail["variables"]["customer_phone"] == CALLER and detail["sip_call_id"] == "SCL_in"
    lines = {c["usage_type"]: c for c in detail["costs"]}
    assert Decimal(str(lines["phone"]["cost_usd"])) > 0
    web = client.get(f"/api/calls/{ids['web']}").json()
    assert "phone" not in {c["usage_type"] for c in web["costs"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"number": "4155550123"}, "number"),  # no + and country code
        ({"number": "+1 555"}, "number"),
        ({"number": "call me"}, "number"),
        ({"number": "+" + "1" * 40}, "number"),
        ({"direction": "both"}, "direction"),
        ({"kind": "sip"}, "kind"),
    ],
)
def test_bad_phone_filters_answer_422_naming_the_field(
    client: Any, params: dict[str, str], field: str
) -> None:
    for path in ("/api/calls", "/api/calls/export.csv"):
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert field in {e["loc"][-1] for e in r.json()["detail"]}


def test_dashboard_counts_web_and_phone_calls_apart(client: Any) -> None:
    _seed_calls()
    from voxie_app.state.dashboard import fetch_dashboard

    today = client.get("/api/analytics/summary").json()
    assert (today["total_calls"], today["web_calls"], today["phone_calls"]) == (3, 1, 2)
    stats = fetch_dashboard("UTC")["stats"]
    assert (stats["calls"], stats["web"], stats["phone"]) == ("3", "1", "2")


def test_calls_page_filters_and_rows_show_direction_and_numbers(env: Settings) -> None:
    from voxie_app.services import reports
    from voxie_app.state import calls as calls_state
    from voxie_app.state.agent_detail import call_rows
    from voxie_app.state.call_detail import detail_view

    ids = _seed_calls()
    filters, _ = calls_state.filters_from_query(
        {"kind": "phone", "direction": "inbound", "number": "+1 415 555 0123"}
    )
    assert (filters["direction"], filters["number"]) == ("inbound", CALLER)
    bad, _ = calls_state.filters_from_query({"direction": "up", "number": "nope"})
    assert (bad["direction"], bad["number"]) == ("all", "")
    assert calls_state.query_for(filters, 0) == (
        "/calls?kind=phone&direction=inbound&number=%2B14155550123"
    )
    report_filter = calls_state.build_filter(filters, "UTC")
    assert (report_filter.direction, report_filter.number) == ("inbound", CALLER)
    with session_scope() as s:
        page = reports.list_calls(session=s, filters=report_filter)
        detail = reports.call_detail(session=s, call_id=ids["inbound"])
        outbound = reports.list_calls(
            session=s, filters=reports.CallFilter(kind="phone", direction="outbound")
        )
    [row] = call_rows(page.rows, "UTC")
    assert (row["type"], row["line"]) == ("Phone, inbound", "+1 415-555-0123 → +1 415-555-0100")
    assert row["customer"] == "+1 415-555-0123"  # the caller's number, not "Unknown caller"
    [out] = call_rows(outbound.rows, "UTC")
    assert (out["type"], out["line"]) == ("Phone, outbound", "+1 415-555-0100 → +1 415-555-0199")
    assert out["customer"] == "+1 415-555-0199"
    with session_scope() as s:
        recent = {c.id: c for c in analytics.recent_calls(session=s)}
    assert recent[ids["inbound"]].customer_phone == CALLER
    assert detail is not None
    view = detail_view(detail, "UTC")
    assert view["call"]["line"] == "+1 415-555-0123 → +1 415-555-0100"
    telephony_line = next(c for c in view["costs"] if c["kind"] == "Telephony")
    assert telephony_line["detail"].endswith("on the line, per minute")


def test_the_call_page_heading_names_the_number_not_unknown_caller(env: Settings) -> None:
    """Outbound: the number dialled; inbound: the caller's; a name always wins."""
    from voxie_app.services import reports
    from voxie_app.state import fmt
    from voxie_app.state.call_detail import detail_view

    ids = _seed_calls()
    with session_scope() as s:
        views = {
            key: detail_view(reports.call_detail(session=s, call_id=ids[key]), "UTC")["call"]
            for key in ("inbound", "outbound", "web", "chat")
        }
    assert views["outbound"]["customer"] == "+1 415-555-0199"
    assert views["inbound"]["customer"] == "+1 415-555-0123"
    assert views["web"]["customer"] == "Unknown caller"
    assert views["chat"]["customer"] == "Text chat"
    # A call Voxie placed stores the callee in both fields; the name, once known, wins.
    to = "+14155550177"
    assert fmt.call_title(None, "phone", "outbound", to, to) == "+1 415-555-0177"
    assert fmt.call_title(None, "phone", "outbound", None, to) == "+1 415-555-0177"
    assert fmt.call_title("Ana", "phone", "outbound", to, to) == "Ana"
    assert fmt.call_title(None, "phone", "inbound", None, OUR_NUMBER) == "Unknown caller"
    assert fmt.call_title(None, "phone", "outbound", None, None) == "Unknown number"
    # Its line does not read "callee → callee" either.
    assert fmt.phone_line("phone", "outbound", to, to) == "our number → +1 415-555-0177"


def test_calls_csv_has_the_phone_columns(env: Settings) -> None:
    """Who called whom (E.164, not formula-escaped), and how dialling went."""
    import csv
    import io

    from voxie_app.services import reports

    ids = _seed_calls()
    with session_scope() as s:
        inbound = s.get(CallSession, ids["inbound"])
        busy = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=inbound.agent_id,
            room_name="room-busy",
            kind="phone",
            direction="outbound",
            customer_phone="+14155550177",
            called_number="+14155550177",  # as outbound_calls stores a call it places
            phone_number_id=inbound.phone_number_id,
            dial_status="busy",
            sip_status_code=486,
            sip_status_reason="=Busy Here",
            call_status="failed",
        )
        s.add(busy)
        s.flush()
        ids["busy"] = busy.id
        text = reports.calls_csv(session=s, filters=reports.CallFilter())
    rows = {r["call_id"]: r for r in csv.DictReader(io.StringIO(text))}
    phone_cols = ("kind", "direction", "caller_number", "called_number", "dial_status")
    assert [tuple(rows[str(ids["inbound"])][c] for c in phone_cols)] == [
        ("phone", "inbound", CALLER, OUR_NUMBER, "")
    ]
    out = rows[str(ids["busy"])]
    assert tuple(out[c] for c in phone_cols) == (
        "phone",
        "outbound",
        OUR_NUMBER,
        "+14155550177",
        "busy",
    )
    assert (out["sip_status_code"], out["sip_status_reason"]) == ("486", "'=Busy Here")
    web = rows[str(ids["web"])]
    assert (web["kind"], web["caller_number"], web["called_number"], web["dial_status"]) == (
        "web",
        "",
        "",
        "",
    )
    assert reports.phone_cell("+1=2") == "'+1=2"  # not a stored number: escaped
