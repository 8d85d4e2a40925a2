"""How fast the campaign scheduler places calls, and that it never exceeds the cap.

    .venv/bin/python -m bench.campaign_dispatch                       # PostgreSQL, 10,000 x 50
    .venv/bin/python -m bench.campaign_dispatch --db both             # then SQLite
    .venv/bin/python -m bench.campaign_dispatch --contacts 2000 --hold-ms 100

One campaign of `--contacts` contacts, `--concurrency` calls at once, window always
open. The real scheduler (`CampaignScheduler.run`, as the web app runs it) places
each call with the real `outbound_calls.place_call`: the call row, then LiveKit's
CreateRoom, CreateDispatch and CreateSIPParticipant over HTTP to the LiveKit Twirp
double (`tests/doubles/livekit_server.py`), which runs in a process of its own so
its CPU is not counted as the scheduler's. Every dial is answered; a simulated
callee hangs up each call `--hold-ms` after it was answered (`end_call_record`, as
the worker does when a call ends), which frees its slot.

Reported:
- dispatch rate: calls placed per second, first placement to last (target >= 50/s
  on PostgreSQL);
- the most calls in flight ever seen (must be <= the concurrency): counted from the
  moment the scheduler hands a call to `place_call` (before its row exists) until
  the callee hung up, so it can only over-count;
- exactly once: calls per (contact, attempt) and dials the double received;
- CPU of this process (scheduler + simulated hang-ups + database client), busy and
  idle (a running campaign outside its window, then no campaign), as % of one core;
- import time of the CSV (check and insert).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from bench._harness import configure, create_agent, database, summary_ms, write_results

TARGET_RATE = 50.0
IDLE_SECONDS = 10.0


def _serve_double(conn: Any) -> None:
    """The LiveKit double in its own process: reports its URL, then its dial count."""
    from tests.doubles.livekit_server import LiveKitDouble

    double = LiveKitDouble().start()
    conn.send((double.url, double.api_key, double.api_secret))
    while True:
        msg = conn.recv()
        if msg == "dials":
            conn.send(Counter(d.sip_call_to for d in double.dials))
        elif msg == "stop":
            double.stop()
            conn.send("stopped")
            return


class Probe:
    """Wraps `place_call`: when each placement started (wall clock) and which call it
    made; the calls in flight are computed afterwards from these and the calls' ends."""

    def __init__(self, place: Any) -> None:
        self._place = place
        self.placed: list[float] = []
        self.latencies: list[float] = []
        self.started: dict[uuid.UUID, float] = {}  # call id -> wall-clock start
        self.failed: list[tuple[float, float]] = []  # placements that made no call
        self.errors = 0

    async def __call__(self, **kw: Any) -> Any:
        wall, started = time.time(), time.perf_counter()
        self.placed.append(started)
        try:
            result = await self._place(**kw)
        except BaseException:
            self.errors += 1
            self.failed.append((wall, time.time()))
            raise
        self.latencies.append(time.perf_counter() - started)
        self.started[result.call_session_id] = wall
        return result


def most_in_flight(probe: Probe, ends: dict[uuid.UUID, float]) -> int:
    """The most calls at once: each from its placement's start to its call's end."""
    edges = [(t, 1) for t in probe.started.values()]
    edges += [(ends.get(call_id, float("inf")), -1) for call_id in probe.started]
    for began, stopped in probe.failed:
        edges += [(began, 1), (stopped, -1)]
    most = current = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # an end before a start
        current += step
        most = max(most, current)
    return most


def _hang_up_due(campaign_id: uuid.UUID, hold_s: float) -> int:
    from datetime import timedelta

    from sqlmodel import col, select

    from voxie_app.db import session_scope
    from voxie_app.dbtypes import utcnow
    from voxie_app.models import CallSession
    from voxie_app.services import calls as calls_svc

    cutoff = utcnow() - timedelta(seconds=hold_s)
    with session_scope() as s:
        due = s.exec(
            select(CallSession.id).where(
                col(CallSession.campaign_id) == campaign_id,
                col(CallSession.call_status) == "active",
                col(CallSession.dial_status) == "answered",
                col(CallSession.last_activity_at) <= cutoff,
            )
        ).all()
        for call_id in due:
            calls_svc.end_call_record(session=s, call_session_id=call_id, reason="hangup")
    return len(due)


def _callee(
    database_url: str, campaign_id: uuid.UUID, hold_s: float, stop: Any, ready: Any
) -> None:
    """The people called, in a process of their own (in production the worker ends a
    call): each answered call is hung up `hold_s` after it was answered."""
    import os

    os.environ["DATABASE_URL"] = database_url
    configure(DATABASE_URL=database_url)
    _hang_up_due(campaign_id, hold_s)  # imports done, connection open
    ready.set()
    while not stop.is_set():
        if not _hang_up_due(campaign_id, hold_s):
            time.sleep(min(0.02, hold_s / 4))


def _setup(contacts: int, concurrency: int) -> tuple[uuid.UUID, float]:
    from voxie_app.db import session_scope
    from voxie_app.models import PhoneNumber, SipOutboundTrunk
    from voxie_app.services import campaigns as campaigns_svc

    agent_id = create_agent()
    with session_scope() as s:
        trunk = SipOutboundTrunk(name="bench", address="sip.example.com", livekit_trunk_id="ST_b")
        s.add(trunk)
        s.flush()
        number = PhoneNumber(number="+14155550100", outbound_trunk_id=trunk.id)
        s.add(number)
        s.flush()
        number_id = number.id
    csv_text = "phone,first_name\n" + "".join(
        f"+1415{2_000_000 + i},Caller{i}\n" for i in range(contacts)
    )
    data = campaigns_svc.parse(
        {
            "name": "Bench",
            "agent_id": str(agent_id),
            "from_number_id": str(number_id),
            "window_days": [1, 2, 3, 4, 5, 6, 7],
            "window_start": "00:00",
            "window_end": "24:00",
            "max_concurrent": concurrency,
        }
    )
    started = time.perf_counter()
    with session_scope() as s:
        campaign = campaigns_svc.create(session=s, data=data, csv_text=csv_text)
        campaigns_svc.control(session=s, campaign_id=campaign.id, action="start")
        campaign_id = campaign.id
    return campaign_id, time.perf_counter() - started


def _status(campaign_id: uuid.UUID) -> str:
    from voxie_app.db import session_scope
    from voxie_app.models import Campaign

    with session_scope() as s:
        return s.get(Campaign, campaign_id).status


def _calls_per_attempt(campaign_id: uuid.UUID) -> Counter:
    from sqlmodel import col, select

    from voxie_app.db import session_scope
    from voxie_app.models import CallSession

    with session_scope() as s:
        rows = s.exec(
            select(CallSession.campaign_contact_id, CallSession.campaign_attempt).where(
                col(CallSession.campaign_id) == campaign_id
            )
        ).all()
    return Counter(rows)


def _call_ends(campaign_id: uuid.UUID) -> dict[uuid.UUID, float]:
    from sqlmodel import col, select

    from voxie_app.db import session_scope
    from voxie_app.models import CallSession

    with session_scope() as s:
        rows = s.exec(
            select(CallSession.id, CallSession.ended_at).where(
                col(CallSession.campaign_id) == campaign_id
            )
        ).all()
    return {call_id: ended.timestamp() for call_id, ended in rows if ended is not None}


def _cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def _others_cpu(double_pid: int, callee_pid: int) -> dict[str, float]:
    """CPU seconds so far of the LiveKit double's process, the simulated callees' and
    PostgreSQL's."""
    out = {"double": 0.0, "callee": 0.0, "postgres": 0.0}
    names = {double_pid: "double", callee_pid: "callee"}
    for proc in psutil.process_iter(["name", "pid"]):
        key = names.get(proc.info["pid"])
        if key is None and proc.info["name"] == "postgres":
            key = "postgres"
        if key:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            out[key] += t.user + t.system
    return out


async def _idle_cpu(scheduler: Any, seconds: float) -> float:
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    cpu0, t0 = _cpu(), time.perf_counter()
    await asyncio.sleep(seconds)
    used = (_cpu() - cpu0) / (time.perf_counter() - t0)
    stop.set()
    await task
    return round(100 * used, 2)


async def _run(args: argparse.Namespace, kind: str, lk: tuple[str, str, str]) -> dict[str, Any]:
    from voxie_app.db import session_scope
    from voxie_app.services import campaign_scheduler as sched_svc
    from voxie_app.services import campaigns as campaigns_svc
    from voxie_app.services import outbound_calls

    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        settings = configure(
            DATABASE_URL=url,
            LIVEKIT_URL=lk[0],
            LIVEKIT_API_KEY=lk[1],
            LIVEKIT_API_SECRET=lk[2],
            VOXIE_LOG_LEVEL="WARNING",
        )
        campaign_id, import_s = _setup(args.contacts, args.concurrency)
        probe = Probe(outbound_calls.place_call)
        scheduler = sched_svc.CampaignScheduler(settings, place=probe)
        stop = asyncio.Event()
        spawn = mp.get_context("spawn")
        callee_stop, callee_ready = spawn.Event(), spawn.Event()
        callee = spawn.Process(
            target=_callee,
            args=(url, campaign_id, args.hold_ms / 1000, callee_stop, callee_ready),
            daemon=True,
        )
        callee.start()
        await asyncio.to_thread(callee_ready.wait, 120)
        cpu0, others0, t0 = _cpu(), _others_cpu(args.double_pid, callee.pid), time.perf_counter()
        runner = asyncio.create_task(scheduler.run(stop))
        while time.perf_counter() - t0 < args.timeout:
            if await asyncio.to_thread(_status, campaign_id) != "running":
                break
            await asyncio.sleep(0.25)
        wall = time.perf_counter() - t0
        busy_cpu = (_cpu() - cpu0) / wall
        others = {
            k: (v - others0[k]) / wall for k, v in _others_cpu(args.double_pid, callee.pid).items()
        }
        stop.set()
        await runner
        callee_stop.set()
        callee.join(30)
        per_attempt = _calls_per_attempt(campaign_id)
        most = most_in_flight(probe, _call_ends(campaign_id))

        # Idle: a running campaign whose window is closed today, then no campaign at all.
        with session_scope() as s:
            closed = campaigns_svc.create(
                session=s,
                data=campaigns_svc.parse(
                    {
                        "name": "Closed",
                        "agent_id": str(create_agent()),
                        "from_number_id": str(_number_id()),
                        "window_days": [1],
                        "window_start": "00:00",
                        "window_end": "00:01",
                    }
                ),
                csv_text="phone\n+14155550199\n",
            )
            campaigns_svc.control(session=s, campaign_id=closed.id, action="start")
        idle_open = await _idle_cpu(sched_svc.CampaignScheduler(settings), IDLE_SECONDS)
        with session_scope() as s:
            campaigns_svc.control(session=s, campaign_id=closed.id, action="cancel")
        idle_none = await _idle_cpu(sched_svc.CampaignScheduler(settings), IDLE_SECONDS)

    placed = probe.placed
    span = (placed[-1] - placed[0]) if len(placed) > 1 else 0.0
    rate = (len(placed) - 1) / span if span else 0.0
    return {
        "database": kind,
        "contacts": args.contacts,
        "concurrency": args.concurrency,
        "hold_ms": args.hold_ms,
        "campaign_status": "completed" if len(per_attempt) == args.contacts else "incomplete",
        "import_seconds": round(import_s, 2),
        "placements": len(placed),
        "placement_errors": probe.errors,
        "dispatch_rate_per_s": round(rate, 1),
        "wall_seconds": round(wall, 1),
        "most_in_flight": most,
        "place_call_ms": summary_ms(probe.latencies),
        "calls_per_attempt_max": max(per_attempt.values(), default=0),
        "attempts_with_a_call": len(per_attempt),
        "cpu_busy_pct_of_one_core": round(100 * busy_cpu, 1),
        "cpu_busy_pct_simulated_callees": round(100 * others["callee"], 1),
        "cpu_busy_pct_livekit_double": round(100 * others["double"], 1),
        "cpu_busy_pct_postgres_server": round(100 * others["postgres"], 1),
        "cpu_idle_pct_closed_window": idle_open,
        "cpu_idle_pct_no_campaign": idle_none,
    }


def _number_id() -> uuid.UUID:
    from sqlmodel import select

    from voxie_app.db import session_scope
    from voxie_app.models import PhoneNumber

    with session_scope() as s:
        return s.exec(select(PhoneNumber.id)).first()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="postgresql")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--hold-ms", type=float, default=200.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", default="campaign_dispatch")
    args = parser.parse_args(argv)

    parent, child = mp.get_context("spawn").Pipe()
    server = mp.get_context("spawn").Process(target=_serve_double, args=(child,), daemon=True)
    server.start()
    lk = parent.recv()
    args.double_pid = server.pid
    runs = []
    try:
        for kind in ("postgresql", "sqlite") if args.db == "both" else (args.db,):
            before = sum(_ask(parent, "dials").values())
            run = asyncio.run(_run(args, kind, lk))
            dials = _ask(parent, "dials")
            run["double_dials"] = sum(dials.values()) - before
            run["double_numbers_dialled_more_than_once"] = sum(1 for n in dials.values() if n > 1)
            runs.append(run)
            print(run, flush=True)
    finally:
        _ask(parent, "stop")
        server.join(10)
    ok = all(
        r["most_in_flight"] <= r["concurrency"]
        and r["calls_per_attempt_max"] == 1
        and r["attempts_with_a_call"] == r["contacts"]
        for r in runs
    )
    pg = [r for r in runs if r["database"] == "postgresql"]
    rate_ok = all(r["dispatch_rate_per_s"] >= TARGET_RATE for r in pg)
    path = write_results(
        args.out,
        {
            "target": {
                "dispatch_rate_per_s_postgresql": f">= {TARGET_RATE}",
                "most_in_flight": "<= concurrency",
                "calls_per_attempt": "exactly 1",
            },
            "passed": ok and rate_ok,
            "runs": runs,
        },
        module="campaign_dispatch",
    )
    print(f"wrote {path}")
    return 0 if ok and rate_ok else 1


def _ask(conn: Any, msg: str) -> Any:
    conn.send(msg)
    return conn.recv()


if __name__ == "__main__":
    sys.exit(main())
