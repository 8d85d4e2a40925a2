"""Bulk-load a PostgreSQL database with a year of calls, for the dashboard benchmark.

    .venv/bin/python -m bench.seed_pg postgresql://postgres@127.0.0.1:5432/voxie_bench \
        [--calls 100000] [--turns 2000000] [--agents 20] [--days 365] [--create]

Migrates the database (Alembic, like `make migrate`), empties the call tables,
then loads agents through `services.agents` and everything else with COPY:
calls, turns (about `--turns` in all), token usage (LLM, STT, TTS per call),
per-turn latency metrics (agent turns) and summaries (completed calls).
Deterministic (seeded random), about a minute for the default sizes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from voxie_app.db import normalize_url, session_scope
from voxie_app.services import agents as agents_svc
from voxie_app.settings import ROOT_DIR

SENTIMENTS = ("positive", "positive", "neutral", "negative")
OUTCOMES = (
    "appointment_booked",
    "order_placed",
    "info_provided",
    "issue_fixed",
    "escalated",
    "no_answer",
)
USER_LINES = (
    "Hi, I'd like to book an appointment.",
    "Can you tell me your opening hours?",
    "I want to order a large pizza.",
    "My internet is down again.",
    "Tuesday afternoon works for me.",
    "Thanks, that's all.",
)
AGENT_LINES = (
    "Of course, which day works best for you?",
    "We're open from nine to six, Monday to Saturday.",
    "Sure, what would you like on it?",
    "Let's restart the router together.",
    "You're booked for Tuesday at three.",
    "Thanks for calling, goodbye!",
)
TOOLS = (None, None, None, None, None, "record_caller_details", "end_call")


def _psycopg_url(url: str) -> str:
    return (
        sa.engine.make_url(normalize_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def create_database(url: str) -> None:
    made = sa.engine.make_url(normalize_url(url))
    admin = sa.create_engine(made.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": made.database}
        ).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{made.database}"'))
    admin.dispose()


def migrate(url: str) -> None:
    cfg = Config(str(ROOT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url))
    command.upgrade(cfg, "head")


def _agents(url: str, n: int) -> list[tuple[uuid.UUID, str]]:
    out = []
    with session_scope(url) as session:
        for i in range(n):
            spec = agents_svc.parse_spec(
                {
                    "name": f"Bench Agent {i + 1:02d}",
                    "description": "A benchmark agent.",
                    "instructions": "You answer the phone for a benchmark business.",
                    "tools": ["end_call", "record_caller_details"],
                }
            )
            agent = agents_svc.create_agent(
                session=session, user_requirements={"bench": True}, spec=spec
            )
            out.append((agent.id, spec.name))
    return out


def _rows(
    *, calls: int, turns: int, days: int, agents: list[tuple[uuid.UUID, str]], seed: int
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) for every row to COPY, in an order that respects foreign keys per table."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    mean_turns = max(2, turns // max(calls, 1))
    for _ in range(calls):
        call_id = uuid.uuid4()
        agent_id, agent_name = rng.choice(agents)
        started = now - timedelta(seconds=rng.uniform(0, days * 86400))
        r = rng.random()
        status = "completed" if r < 0.9 else ("failed" if r < 0.98 else "active")
        duration = None if status == "active" else round(rng.uniform(20, 900), 1)
        sentiment = rng.choice(SENTIMENTS) if status == "completed" else None
        rating = (
            {"positive": rng.choice((4, 5)), "neutral": 3, "negative": rng.choice((1, 2))}[
                sentiment
            ]
            if sentiment
            else None
        )
        resolved = None if sentiment is None else (sentiment != "negative" or rng.random() < 0.3)
        ended = started + timedelta(seconds=duration) if duration else None
        yield (
            "call_sessions",
            (
                call_id,
                uuid.uuid4().hex,
                agent_id,
                f"voxie-{call_id.hex[:12]}",
                agent_name,
                f"Caller {rng.randint(1, 5000)}",
                started,
                ended,
                status,
                rating,
                sentiment,
                resolved,
                duration,
                ended or started,
            ),
        )
        n_turns = max(1, round(rng.gauss(mean_turns, mean_turns / 4)))
        step = (duration or 60) / n_turns
        for t in range(n_turns):
            agent_turn = t % 2 == 0
            ts = started + timedelta(seconds=t * step)
            yield (
                "conversation_turns",
                (
                    uuid.uuid4(),
                    call_id,
                    t,
                    "agent" if agent_turn else "user",
                    rng.choice(AGENT_LINES if agent_turn else USER_LINES),
                    agent_name if agent_turn else None,
                    rng.choice(TOOLS) if agent_turn else None,
                    ts,
                ),
            )
            if agent_turn and t > 0:
                eou, stt = rng.uniform(0.1, 0.6), rng.uniform(0.05, 0.3)
                ttft, ttfb = rng.uniform(0.2, 1.5), rng.uniform(0.08, 0.5)
                yield (
                    "turn_metrics",
                    (uuid.uuid4(), call_id, t, eou, stt, ttft, ttfb, eou + ttft + ttfb, ts),
                )
        minutes = (duration or 30) / 60
        tin, tout = rng.randint(500, 6000), rng.randint(50, 900)
        for usage in (
            ("gpt-4o-mini", "llm", tin, tout, tin * 0.00000015 + tout * 0.0000006, 0.0, 0),
            ("nova-3", "stt", 0, 0, minutes * 0.0077, round(minutes * 60, 1), 0),
            ("sonic-2", "tts", 0, 0, minutes * 600 * 0.000038, 0.0, int(minutes * 600)),
        ):
            model, kind, i, o, cost, audio, chars = usage
            yield (
                "token_usage",
                (
                    uuid.uuid4(),
                    call_id,
                    model,
                    i,
                    o,
                    i + o,
                    round(cost, 8),
                    started,
                    kind,
                    audio,
                    chars,
                ),
            )
        if status == "completed":
            outcome = rng.choice(OUTCOMES)
            yield (
                "call_summaries",
                (
                    uuid.uuid4(),
                    call_id,
                    f"The caller talked to {agent_name}; outcome {outcome}.",
                    '["Caller identified"]',
                    "[]",
                    "support",
                    outcome,
                    "gpt-4o-mini",
                    ended or started,
                ),
            )


COLUMNS = {
    "call_sessions": (
        "id, session_id, agent_id, room_name, primary_agent_type, customer_name, started_at, "
        "ended_at, call_status, call_rating, customer_sentiment, issue_resolved, "
        "duration_seconds, last_activity_at"
    ),
    "conversation_turns": (
        "id, call_session_id, turn_number, speaker, transcript, agent_name, function_called, "
        "timestamp"
    ),
    "turn_metrics": (
        "id, call_session_id, turn_number, end_of_utterance_delay, transcription_delay, "
        "llm_ttft, tts_ttfb, e2e_latency, created_at"
    ),
    "token_usage": (
        "id, call_session_id, model_name, input_tokens, output_tokens, total_tokens, "
        "total_cost_usd, timestamp, usage_type, audio_seconds, characters"
    ),
    "call_summaries": (
        "id, call_session_id, summary_text, key_points, action_items, call_category, "
        "business_outcome, generated_by, generated_at"
    ),
}
ORDER = ("call_sessions", "conversation_turns", "turn_metrics", "token_usage", "call_summaries")


def load(url: str, *, calls: int, turns: int, agents: int, days: int, seed: int = 11) -> dict:
    migrate(url)
    with psycopg.connect(_psycopg_url(url)) as conn:
        conn.execute(
            "TRUNCATE call_summaries, token_usage, turn_metrics, conversation_turns, "
            "call_sessions, events, agents, rollup_agent_days, rollup_days CASCADE"
        )
        conn.commit()
    agent_rows = _agents(url, agents)
    counts = dict.fromkeys(ORDER, 0)
    started = time.perf_counter()
    with psycopg.connect(_psycopg_url(url)) as conn:
        # One COPY per table, fed from one pass over the generated rows: rows for the
        # later tables are buffered per batch of calls so parents always land first.
        batch: dict[str, list[tuple]] = {t: [] for t in ORDER}
        batch_calls = 0

        def flush() -> None:
            with conn.cursor() as cur:
                for table in ORDER:
                    if not batch[table]:
                        continue
                    with cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                        for row in batch[table]:
                            copy.write_row(row)
                    counts[table] += len(batch[table])
                    batch[table].clear()
            conn.commit()

        for table, row in _rows(calls=calls, turns=turns, days=days, agents=agent_rows, seed=seed):
            batch[table].append(row)
            if table == "call_sessions":
                batch_calls += 1
                if batch_calls % 10_000 == 0:
                    flush()
                    print(f"  {batch_calls:,} calls loaded", flush=True)
        flush()
        conn.execute("ANALYZE")
    counts["agents"] = len(agent_rows)
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="PostgreSQL URL (the database is emptied)")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=2_000_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--create", action="store_true", help="create the database if missing")
    args = parser.parse_args(argv)
    if not normalize_url(args.url).startswith("postgresql"):
        parser.error("a PostgreSQL URL is required")
    if args.create:
        create_database(args.url)
    counts = load(args.url, calls=args.calls, turns=args.turns, agents=args.agents, days=args.days)
    print("loaded:", ", ".join(f"{k}={v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
