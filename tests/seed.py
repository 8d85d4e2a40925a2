"""Realistic demo data for tests and screenshots, in one place.

Agents are created through `services.agents` (validated specs). Calls and what
the voice worker records for them (turns, token usage, turn metrics, summaries)
are inserted as model rows through a session: when the recording services
land, only this module changes.

Deterministic: the same `seed` and `now` give the same rows.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession, CallSummary, ConversationTurn, TokenUsage, TurnMetric
from voxie_app.services import agents as agents_svc
from voxie_app.services.rollups import local_day, local_day_start
from voxie_app.settings import get_settings

AGENT_SPECS: list[dict] = [
    {
        "name": "Bright Smile Receptionist",
        "description": "Books, moves and cancels cleanings for Bright Smile Dental.",
        "instructions": (
            "You are the receptionist of Bright Smile Dental. Help callers book, move "
            "or cancel cleanings and check-ups. Ask one question at a time, confirm the "
            "date and time back, and collect the caller's name and phone number."
        ),
        "greeting": "Hello, Bright Smile Dental, how can I help you today?",
        "language": "en",
        "voice": "alloy",
        "llm_model": "gpt-4o-mini",
        "temperature": 0.6,
        "tools": ["end_call", "record_caller_details"],
    },
    {
        "name": "Pizza Roma Orders",
        "description": "Takes delivery and pickup orders for Pizza Roma.",
        "instructions": (
            "You take pizza orders for Pizza Roma. Read back every order with prices, "
            "ask for delivery or pickup, and give a time estimate of 30 to 40 minutes."
        ),
        "greeting": "Pizza Roma, what can I get started for you?",
        "language": "en",
        "voice": "verse",
        "llm_model": "gpt-4o-mini",
        "temperature": 0.8,
        "tools": ["end_call"],
    },
    {
        "name": "Acme Support Desk",
        "description": "First-line support for Acme routers; hands billing to another agent.",
        "instructions": (
            "You are first-line technical support for Acme home routers. Walk the "
            "caller through restarting and resetting the router. Billing questions "
            "go to the billing agent."
        ),
        "greeting": "Acme support, what seems to be the problem?",
        "language": "en",
        "voice": "sage",
        "llm_model": "gpt-4o",
        "temperature": 0.4,
        "tools": ["end_call", "transfer_to_agent", "record_caller_details"],
    },
]

CUSTOMERS = [
    "Maria Lopez",
    "James Chen",
    "Aisha Khan",
    "Tom Becker",
    "Sofia Rossi",
    "Liam O'Brien",
    "Yuki Tanaka",
    "Noah Williams",
    "=HYPERLINK(evil)",  # a hostile name, to prove CSV export escapes it
    None,
]

SCRIPTS: dict[str, list[tuple[str, str, str | None]]] = {
    "Bright Smile Receptionist": [
        ("agent", "Hello, Bright Smile Dental, how can I help you today?", None),
        ("user", "Hi, I'd like to book a cleaning next week.", None),
        ("agent", "Of course. Which day works best for you?", None),
        ("user", "Tuesday afternoon if possible.", None),
        ("agent", "Tuesday at 3 pm is free. May I have your name and number?", None),
        ("user", "It's Maria Lopez, 555 0134.", None),
        ("agent", "Thank you Maria, you're booked for Tuesday at 3 pm.", "record_caller_details"),
        ("user", "Great, thanks!", None),
        ("agent", "See you then. Goodbye!", "end_call"),
    ],
    "Pizza Roma Orders": [
        ("agent", "Pizza Roma, what can I get started for you?", None),
        ("user", "A large margherita and a garlic bread, please.", None),
        ("agent", "A large margherita and garlic bread, that's 21 dollars. Delivery?", None),
        ("user", "Pickup, please.", None),
        ("agent", "It will be ready in 30 minutes. Anything else?", None),
        ("user", "No, that's all.", None),
        ("agent", "Thanks for ordering from Pizza Roma!", "end_call"),
    ],
    "Acme Support Desk": [
        ("agent", "Acme support, what seems to be the problem?", None),
        ("user", "My internet keeps dropping every few minutes.", None),
        ("agent", "Let's restart the router. Unplug it for ten seconds.", None),
        ("user", "Okay, done. It's blinking orange.", None),
        ("agent", "Wait a minute for the light to turn green.", None),
        ("user", "It's green now and working. Also, why was my bill higher?", None),
        ("agent", "I'll pass you to billing for that.", "transfer_to_agent"),
    ],
}

OUTCOMES = {
    "Bright Smile Receptionist": ["appointment_booked", "appointment_rescheduled", "info_provided"],
    "Pizza Roma Orders": ["order_placed", "order_placed", "info_provided"],
    "Acme Support Desk": ["issue_fixed", "escalated", "info_provided"],
}
SENTIMENTS = ["positive", "positive", "neutral", "negative"]


@dataclass
class Seeded:
    agent_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    call_ids: list[uuid.UUID] = field(default_factory=list)
    today_call_ids: list[uuid.UUID] = field(default_factory=list)


def create_agents(session: Session) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    for data in AGENT_SPECS:
        spec = agents_svc.parse_spec(data)
        agent = agents_svc.create_agent(
            session=session, user_requirements={"business": data["description"]}, spec=spec
        )
        ids[spec.name] = agent.id
    return ids


def add_call(
    session: Session,
    *,
    agent_id: uuid.UUID | None,
    agent_name: str,
    started_at: datetime,
    rng: random.Random,
    status: str = "completed",
    with_summary: bool = True,
) -> CallSession:
    """One call with its turns, usage, metrics and (optionally) summary."""
    script = SCRIPTS[agent_name]
    duration = rng.uniform(45, 420) if status != "active" else None
    sentiment = rng.choice(SENTIMENTS) if status == "completed" else None
    resolved = None if status != "completed" else sentiment != "negative" or rng.random() < 0.3
    call = CallSession(
        session_id=uuid.uuid4().hex,
        agent_id=agent_id,
        room_name=f"voxie-{uuid.uuid4().hex[:12]}",
        primary_agent_type=agent_name,
        customer_name=rng.choice(CUSTOMERS),
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=duration) if duration else None,
        duration_seconds=round(duration, 1) if duration else None,
        call_status=status,
        call_rating=(
            {"positive": rng.choice([4, 5]), "neutral": 3, "negative": rng.choice([1, 2])}[
                sentiment
            ]
            if sentiment
            else None
        ),
        customer_sentiment=sentiment,
        issue_resolved=resolved,
        end_reason={"completed": "caller_hung_up", "failed": "worker_error"}.get(status),
        last_activity_at=started_at,
    )
    session.add(call)
    session.flush()
    n_turns = len(script) if status == "completed" else rng.randint(1, 3)
    step = (duration or 60) / max(n_turns, 1)
    for i, (speaker, text, tool) in enumerate(script[:n_turns]):
        session.add(
            ConversationTurn(
                call_session_id=call.id,
                turn_number=i,
                speaker=speaker,
                transcript=text,
                agent_name=agent_name if speaker == "agent" else None,
                function_called=tool,
                timestamp=started_at + timedelta(seconds=i * step),
            )
        )
        if speaker == "agent" and i > 0:
            eou = rng.uniform(0.15, 0.6)
            stt = rng.uniform(0.05, 0.3)
            ttft = rng.uniform(0.25, 1.2)
            ttfb = rng.uniform(0.1, 0.45)
            session.add(
                TurnMetric(
                    call_session_id=call.id,
                    turn_number=i,
                    end_of_utterance_delay=round(eou, 3),
                    transcription_delay=round(stt, 3),
                    llm_ttft=round(ttft, 3),
                    tts_ttfb=round(ttfb, 3),
                    e2e_latency=round(eou + ttft + ttfb, 3),
                    # where that gap went (derived, so the seed's random draws stay put)
                    part_silence=round(eou * 0.45, 3),
                    part_stt=round(eou * 0.1, 3),
                    part_end_of_turn=round(eou - round(eou * 0.45, 3) - round(eou * 0.1, 3), 3),
                    part_llm=round(ttft, 3),
                    part_tts=round(ttfb * 0.9, 3),
                    part_playout=round(ttfb - round(ttfb * 0.9, 3), 3),
                    created_at=started_at + timedelta(seconds=i * step),
                )
            )
    minutes = (duration or 30) / 60
    llm_in, llm_out = rng.randint(800, 4000), rng.randint(100, 600)
    session.add_all(
        [
            TokenUsage(
                call_session_id=call.id,
                model_name="gpt-4o-mini",
                usage_type="llm",
                input_tokens=llm_in,
                output_tokens=llm_out,
                total_tokens=llm_in + llm_out,
                cost_per_input_token=Decimal("0.00000015"),
                cost_per_output_token=Decimal("0.0000006"),
                total_cost_usd=Decimal(str(round(llm_in * 0.00000015 + llm_out * 0.0000006, 8))),
                timestamp=started_at,
            ),
            TokenUsage(
                call_session_id=call.id,
                model_name="nova-3",
                usage_type="stt",
                audio_seconds=round(minutes * 60, 1),
                total_cost_usd=Decimal(str(round(minutes * 0.0043, 8))),
                timestamp=started_at,
            ),
            TokenUsage(
                call_session_id=call.id,
                model_name="sonic-2",
                usage_type="tts",
                characters=int(minutes * 600),
                total_cost_usd=Decimal(str(round(minutes * 600 * 0.00003, 8))),
                timestamp=started_at,
            ),
        ]
    )
    if with_summary and status == "completed":
        outcome = rng.choice(OUTCOMES[agent_name])
        session.add(
            CallSummary(
                call_session_id=call.id,
                summary_text=(
                    f"The caller spoke with {agent_name}; outcome: {outcome.replace('_', ' ')}."
                ),
                key_points=["Caller identified", f"Outcome: {outcome.replace('_', ' ')}"],
                action_items=(["Send a confirmation text"] if "booked" in outcome else []),
                call_category={"Bright Smile Receptionist": "booking"}.get(agent_name, "support"),
                business_outcome=outcome,
                sales_value_usd=Decimal("21.00") if outcome == "order_placed" else None,
                generated_by="gpt-4o-mini",
                tokens_used=rng.randint(300, 900),
                generated_at=started_at + timedelta(seconds=duration or 0),
            )
        )
    session.flush()
    return call


def seed_demo(
    *,
    url: str | None = None,
    now: datetime | None = None,
    tz: str | None = None,
    days: int = 14,
    calls_per_day: tuple[int, int] = (1, 5),
    seed: int = 7,
) -> Seeded:
    """Three agents and a fortnight of calls ending `now` (some of them today).

    Day N's calls fall inside local day `today - N` of `tz` (default: the
    configured `VOXIE_TIMEZONE`), placed by fractions of that day, so a range
    of `days` local days ending today holds every one of them at any hour, on
    DST change days too. Today's calls start between local midnight and `now`.
    """
    now = now or utcnow()
    zone = tz or get_settings().timezone
    today = local_day(now, zone)
    rng = random.Random(seed)
    out = Seeded()
    with session_scope(url) as session:
        out.agent_ids = create_agents(session)
        names = list(out.agent_ids)
        for day in range(days - 1, -1, -1):
            # In UTC, so the arithmetic is in real time (a DST day is 23 or 25 hours).
            start = local_day_start(today - timedelta(days=day), zone).astimezone(UTC)
            end = now if day == 0 else local_day_start(today - timedelta(days=day - 1), zone)
            end = end.astimezone(UTC)
            for _ in range(rng.randint(*calls_per_day)):
                name = rng.choice(names)
                started = start + (end - start) * rng.uniform(0.001, 0.999)
                status = rng.choices(["completed", "failed"], weights=[9, 1])[0]
                call = add_call(
                    session,
                    agent_id=out.agent_ids[name],
                    agent_name=name,
                    started_at=started,
                    rng=rng,
                    status=status,
                )
                out.call_ids.append(call.id)
                if day == 0:
                    out.today_call_ids.append(call.id)
    return out


def add_active_call(*, agent_id: uuid.UUID, agent_name: str, url: str | None = None) -> uuid.UUID:
    """A call in progress right now (no end, no summary): end it to see live updates."""
    with session_scope(url) as session:
        call = add_call(
            session,
            agent_id=agent_id,
            agent_name=agent_name,
            started_at=utcnow() - timedelta(seconds=30),
            rng=random.Random(1),
            status="active",
            with_summary=False,
        )
        return call.id
