"""Shared set-up for the benchmarks: a migrated database, settings, and a voice session
rig (speech in through Silero VAD and an STT double, an LLM, a TTS double, audio out)
built either as Voxie builds a call or as a bare livekit-agents `Agent`.

The doubles are those of the voice-pipeline test (`tests/doubles/audio.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get(
    "VOXIE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DEEPGRAM_API_KEY",
    "CARTESIA_API_KEY",
    "RAGIE_API_KEY",
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
)

_LOAD_AT_START = os.getloadavg()

SPEC = {
    "name": "Dental Bot",
    "instructions": "You are the receptionist of Bright Smile Dental. Book cleanings.",
    "greeting": "Hello, Bright Smile Dental!",
    "tools": ["end_call", "record_caller_details"],
}
SPOKEN = "Can I book a cleaning for Tuesday?"
HEARD = "Can I book a cleaning for Tuesday?"
REPLY = "Sure, Tuesday at ten works. May I have your name?"


# ------------------------------------------------------------------- settings/db


def configure(**env: str) -> Any:
    """Fresh settings from the process environment only (never the developer's .env),
    with no real provider configured unless given here."""
    from voxie_app.settings import Settings, get_settings

    Settings.model_config["env_file"] = None
    for key in PROVIDER_ENV:
        os.environ.pop(key, None)
    os.environ.update(env)
    get_settings.cache_clear()
    return get_settings()


def _upgrade(url: str) -> None:
    import logging

    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "heads")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A migrated, empty database for the run: a SQLite file in `workdir`, or a
    PostgreSQL database created on `VOXIE_BENCH_PG_URL`'s server and dropped after."""
    import sqlalchemy as sa

    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        _upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database {kind!r}")
    name = f"voxie_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _upgrade(url)
        yield url
    finally:
        from voxie_app import db as db_module

        db_module.get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def create_agent() -> uuid.UUID:
    from voxie_app.services import agent_creation

    return agent_creation.submit(user_requirements={}, processed_spec=dict(SPEC)).id


def create_call(agent_id: uuid.UUID) -> uuid.UUID:
    from voxie_app.db import session_scope
    from voxie_app.models import CallSession

    with session_scope() as s:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="bench")
        s.add(call)
    return call.id


def count_rows(call_ids: list[uuid.UUID]) -> dict[str, int]:
    import sqlalchemy as sa

    from voxie_app.db import session_scope
    from voxie_app.models import ConversationTurn, TokenUsage, TurnMetric

    out = {}
    with session_scope() as s:
        for model in (ConversationTurn, TokenUsage, TurnMetric):
            q = (
                sa.select(sa.func.count())
                .select_from(model)
                .where(model.call_session_id.in_(call_ids))
            )
            out[model.__tablename__] = s.execute(q).scalar_one()
    return out


# ------------------------------------------------------------------------- rig


@dataclass
class Turn:
    """One timed turn: wall seconds from the final transcript to the first agent audio
    frame, and the CPU seconds spent meanwhile by the event-loop thread and the process."""

    wall: float
    loop_cpu: float
    process_cpu: float


@dataclass
class Rig:
    """One running voice session and the doubles around it."""

    variant: str
    session: Any
    mic: Any
    out: Any
    stt: Any
    recorder: Any = None
    call_id: uuid.UUID | None = None
    # How often the simulated caller checks on the session. Timings come from the doubles'
    # own timestamps, not from this; but each check wakes the call's event loop, so a
    # benchmark that charges the loop's CPU to the call (worker_resources) polls slowly.
    poll_interval: float = 0.005

    async def wait_for(self, predicate: Callable[[], bool], limit: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not predicate():
            if loop.time() > deadline:
                return False
            await asyncio.sleep(self.poll_interval)
        return True

    def idle(self) -> bool:
        return (
            self.session.agent_state == "listening"
            and self.session.user_state != "speaking"
            and not self.mic.speaking
            and not self.out.playing
        )

    async def turn(self, speech: bytes, limit: float = 15.0) -> Turn | None:
        """Say `speech` and time the reply; None if the turn did not complete cleanly
        (no reply, more than one reply, or the reply was interrupted)."""
        segments, finals = len(self.out.segments), len(self.stt.finals)
        self.mic.say(speech)
        if not await self.wait_for(lambda: len(self.out.segments) > segments, limit):
            return None
        segment = self.out.segments[segments]
        heard = [
            i
            for i in range(finals, len(self.stt.finals))
            if self.stt.finals[i] <= segment.first_frame_at
        ]
        done = await self.wait_for(self.idle, limit)
        if not heard or not done or len(self.out.segments) != segments + 1 or segment.interrupted:
            return None
        last = heard[-1]
        loop_cpu, process_cpu = (
            b - a for a, b in zip(self.stt.finals_cpu[last], segment.first_frame_cpu, strict=True)
        )
        return Turn(segment.first_frame_at - self.stt.finals[last], loop_cpu, process_cpu)

    async def close(self) -> None:
        from voice_worker.recorder import close_outcome

        self.mic.close()
        await self.session.aclose()
        if self.recorder is not None:
            status, reason = close_outcome(self.recorder.close_event, None)
            await self.recorder.finish(status=status, reason=reason)


def session_options(settings: Any, spec: Any, turn_detection: str | None) -> dict[str, Any]:
    """The worker's session options (turn handling, connection options)."""
    from voice_worker.providers import session_conn_options, turn_handling

    handling = turn_handling(spec, settings)
    if turn_detection is not None:
        handling["turn_detection"] = turn_detection
    return {"turn_handling": handling, "conn_options": session_conn_options(settings)}


async def start_rig(
    variant: str,
    *,
    settings: Any,
    agent_id: uuid.UUID,
    vad: Any,
    llm: Any | None,
    mic: Any,
    out: Any,
    stt: Any,
    tts: Any,
    turn_detection: str | None,
    close_transcript_timeout: float | None = None,
    poll_interval: float = 0.005,
) -> Rig:
    """`voxie`: the worker's construction (stored spec -> `SpecAgent` via `agent_builder`,
    `call_data` userdata, `CallRecorder` on a new call row). `bare`: a plain `Agent` with
    the same instructions and LLM and the same session options, nothing recorded.
    `llm=None` means the product's own provider from settings (livekit-plugins-openai).
    `close_transcript_timeout` shortens the session's wait for a last transcript on close
    (2 s by default) so that benchmarks do not idle between sessions; `poll_interval`: see
    `Rig.poll_interval`."""
    from livekit.agents import Agent, AgentSession

    from voice_worker.recorder import CallRecorder
    from voice_worker.runtime import agent_builder, call_data, load_spec
    from voice_worker.spec_agent import build_instructions

    spec = await asyncio.to_thread(load_spec, agent_id)
    options = session_options(settings, spec, turn_detection)
    if close_transcript_timeout is not None:
        options["session_close_transcript_timeout"] = close_transcript_timeout
    recorder = None
    call_id = None
    if variant == "voxie":
        build = agent_builder(settings, voice=False, llm_override=llm)
        agent = await asyncio.to_thread(build, spec, agent_id, None, False)
        call_id = await asyncio.to_thread(create_call, agent_id)
        data = call_data(
            settings=settings, spec=spec, agent_id=agent_id, call_session_id=call_id, build=build
        )
        session = AgentSession(stt=stt, vad=vad, tts=tts, userdata=data, **options)
        recorder = CallRecorder(call_session_id=call_id, settings=settings)
        recorder.attach(session)
    elif variant == "bare":
        if llm is None:
            from voice_worker.providers import build_llm

            llm = build_llm(spec, settings)
        agent = Agent(instructions=build_instructions(spec, []), llm=llm)
        session = AgentSession(stt=stt, vad=vad, tts=tts, **options)
    else:
        raise ValueError(variant)
    session.input.audio = mic
    session.output.audio = out
    rig = Rig(variant, session, mic, out, stt, recorder, call_id, poll_interval)
    await session.start(agent)
    # Voxie's agent speaks its greeting first: let it play out before the caller talks
    # (on a busy machine it may start well after `start` returns).
    if variant == "voxie" and spec.greeting:
        await rig.wait_for(lambda: len(out.segments) > 0, 10)
    await rig.wait_for(rig.idle, 10)
    return rig


# ---------------------------------------------------------------------- output


def pct(values: list[float], p: float) -> float:
    """Percentile with linear interpolation (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(value: float) -> float:
    return round(value * 1000, 3)


def summary_ms(values: list[float]) -> dict[str, float | int]:
    return {
        "n": len(values),
        "p50_ms": ms(pct(values, 50)),
        "p95_ms": ms(pct(values, 95)),
        "mean_ms": ms(statistics.fmean(values)) if values else float("nan"),
        "min_ms": ms(min(values)) if values else float("nan"),
        "max_ms": ms(max(values)) if values else float("nan"),
    }


def machine_info() -> dict[str, Any]:
    import livekit.agents

    freq = psutil.cpu_freq()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": platform.processor() or platform.machine(),
        "cpu_count_logical": psutil.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_max_mhz": round(freq.max, 1) if freq else None,
        "memory_total_mb": round(psutil.virtual_memory().total / 2**20),
        "load_avg_1m_at_start": round(_LOAD_AT_START[0], 2),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "note": "load averages include whatever else ran on the machine meanwhile",
        "livekit_agents": livekit.agents.__version__,
    }


def write_results(name: str, payload: dict[str, Any], module: str | None = None) -> Path:
    """Write `bench/results/<name>.json` with the command, date and machine."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(ROOT)
    body = {
        "benchmark": name,
        "command": " ".join([str(python), "-m", f"bench.{module or name}", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **payload,
    }
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def now() -> float:
    return time.perf_counter()
