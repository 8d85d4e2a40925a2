"""Memory and CPU per concurrent call, with 1, 5 and 10 simulated calls.

    .venv/bin/python -m bench.worker_resources --mode thread      # as the worker ships
    .venv/bin/python -m bench.worker_resources                    # one process per call
    .venv/bin/python -m bench.worker_resources --mode inprocess   # all calls on one loop

Each simulated call is a full Voxie voice session as the worker runs it: the
agent built from a stored spec by `agent_builder`, the real livekit-plugins-openai
LLM (talking to the local OpenAI-compatible double, which runs in this parent
process so its CPU is not charged to the calls), the `CallRecorder` writing to
the database, the worker's VAD (`voice_worker.worker.job_vad`) and turn detection
(`VOXIE_TURN_DETECTION`, `vad` unless `--turn-detection model`) on real espeak-ng
speech arriving in real time in the format the worker asks the room for (16 kHz,
50 ms frames), an STT double, a TTS double speaking 1.5 s per reply, and an audio
output that plays it out in real time. Every call converses continuously: the
caller speaks, the agent answers, a short pause, again, for `--duration` seconds.

`--mode thread` is the worker as it ships (`VOXIE_JOB_EXECUTOR=thread`): a fresh
worker process per level, started like `python -m voice_worker start` (not a
multiprocessing child), runs the worker's own `AgentServer` (`build_server`: thread
executor, the worker's prewarm, one idle job thread) unregistered, with no LiveKit
server. Calls are launched with the framework's `simulate_job(fake_job=True)`, the
same path a dispatched job takes to a `ThreadJobExecutor`: each call gets its own
thread, event loop and `JobProcess`, and runs the simulated call on the VAD its
prewarm made. This parent measures the worker process from outside. Per call:

- memory: the worker's peak RSS (also PSS, USS) divided by the number of calls. This
  is the figure checked against the target: it charges the calls with everything the
  process holds, the interpreter, the framework, the models. Also reported: the growth
  over the idle worker (peak - idle) / N, and the idle worker itself;
- CPU: the worker's user+system time over the steady window, divided by the number of
  calls, as % of one core. It includes the worker's own fixed cost (its event loop,
  the idle job thread, livekit's load monitor), measured alone before the calls as
  `process_idle_cpu_pct_of_one_core`; the CPU split by thread and the threads'
  context switches per second show where it goes.

`--mode process` is livekit-agents' model on Linux and `VOXIE_JOB_EXECUTOR=process`:
one process per job, forked from a forkserver that preloaded the plugins and the
framework's warm-up (`livekit.agents.ipc._preload`, then `_preload_freeze`); each job
process runs the worker's prewarm, then its call. Per call we report the job
process's RSS (as the target is stated) and its PSS and USS: RSS counts the pages
shared with the forkserver and the other jobs in full, PSS shares them out, USS is
what the call alone holds. CPU is the job process's user+system time over the steady
window, as % of one core.

`--mode inprocess` runs all calls as tasks of one event loop in this process (no
framework executor; the OpenAI double's thread is in the same process and charged
too); per call is the growth of the process over its warmed-up baseline / N.

`--repeat R` runs every level R times; a level then reports its median run (by CPU
per call) and every run's figures, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from bench._harness import (
    HEARD,
    REPLY,
    SPOKEN,
    configure,
    count_rows,
    create_agent,
    database,
    ms,
    pct,
    start_rig,
    write_results,
)

TARGET_RSS_MB = 200.0
TARGET_CPU_PCT = 5.0
REPLY_SECONDS = 1.5
PAUSE_SECONDS = 0.5
# The simulated caller checks on the session this often (the harness's default, 5 ms, is
# for latency benchmarks): its polling runs on the call's event loop and would be charged
# to the call, which a real caller on the other end of a room never is.
CALLER_POLL_SECONDS = 0.1
# What `AgentServer.run` gives the forkserver: the plugins the worker imports, then the
# framework's warm-up.
FORKSERVER_PRELOAD = [
    "livekit.plugins.openai",
    "livekit.plugins.deepgram",
    "livekit.plugins.cartesia",
    "livekit.agents.ipc._preload",
    "livekit.agents.ipc._preload_freeze",  # must stay last (freezes what came before)
]
MB = 2**20


def input_format() -> tuple[int, int]:
    """Sample rate and frame length of the caller's audio, as the worker asks the room for
    it (imported late: the worker module reads settings when imported)."""
    from voice_worker.worker import INPUT_FRAME_MS, INPUT_SAMPLE_RATE

    return INPUT_SAMPLE_RATE, INPUT_FRAME_MS


# ------------------------------------------------------------------- one call


async def converse(
    settings: Any,
    agent_id: Any,
    vad: Any,
    speech: bytes,
    duration: float,
    stop_at: float,
    options: dict[str, Any],
) -> dict[str, Any]:
    """One call: keep talking until `duration` has passed (or `stop_at`, a perf_counter).
    Turn detection is the worker's, from settings. `options`: `stt` (`streaming`,
    like Deepgram, or `batch`, like OpenAI's STT, which the session wraps with the VAD),
    `silent` (the caller never speaks: the cost of a call that only listens), `variant`
    (`voxie`, or `bare`: a plain livekit-agents `Agent` with nothing recorded)."""
    from tests.doubles.audio import (
        CapturedAudioOutput,
        ScriptedSTT,
        SpeechInput,
        StreamingSTT,
        ToneTTS,
    )

    rig = await start_rig(
        options["variant"],
        settings=settings,
        agent_id=agent_id,
        vad=vad,
        llm=None,  # the product's provider: livekit-plugins-openai from settings
        mic=SpeechInput(sample_rate=input_format()[0], frame_ms=input_format()[1]),
        out=CapturedAudioOutput(playout_speed=1.0),
        stt=StreamingSTT(HEARD) if options["stt"] == "streaming" else ScriptedSTT(HEARD),
        tts=ToneTTS(duration=REPLY_SECONDS),
        turn_detection=None,  # the worker's choice (VOXIE_TURN_DETECTION)
        poll_interval=CALLER_POLL_SECONDS,
    )
    started = time.perf_counter()
    end = min(started + duration, stop_at)
    latencies = []
    missed = 0
    if options["silent"]:
        await asyncio.sleep(max(end - time.perf_counter(), 0.0))
    while time.perf_counter() < end:
        value = await rig.turn(speech, limit=15.0)  # a turn started may end after `end`
        if value is None:
            missed += 1
        else:
            latencies.append(value.wall)
        await asyncio.sleep(PAUSE_SECONDS)
    await rig.close()
    return {
        "call_id": str(rig.call_id) if rig.call_id else None,
        "turns": len(latencies),
        "turns_not_completed": missed,
        "failed_writes": rig.recorder.failed_writes if rig.recorder else 0,
        "latencies": latencies,
    }


def _job_main(
    index: int,
    env: dict[str, str],
    speech: bytes,
    duration: float,
    options: dict[str, Any],
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """A job process: prewarm (load Silero VAD), report ready, wait, run one call."""
    logging.basicConfig(level=logging.ERROR)
    try:
        settings = configure(**env)
        from types import SimpleNamespace

        from voice_worker.worker import prewarm

        proc = SimpleNamespace(userdata={})
        prewarm(proc)  # type: ignore[arg-type]  # the worker's prewarm step
        vad = proc.userdata["vad"]
        agent_id = env["BENCH_AGENT_ID"]
        ready.put(index)
        go.wait()

        async def run() -> dict[str, Any]:
            return await converse(
                settings,
                uuid.UUID(agent_id),
                vad,
                speech,
                duration,
                time.perf_counter() + 3600,
                options,
            )

        result = asyncio.run(run())
        out.put({"index": index, **result})
    except Exception as exc:  # noqa: BLE001 - report it to the parent instead of hanging
        out.put({"index": index, "error": f"{type(exc).__name__}: {exc}"})


# ------------------------------------------------------------------ sampling


def memory_of(proc: psutil.Process) -> dict[str, float]:
    info = proc.memory_full_info()
    return {"rss": info.rss / MB, "pss": info.pss / MB, "uss": info.uss / MB}


def cpu_of(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class Sampler:
    """Peak memory of some processes, sampled every `interval` seconds."""

    def __init__(self, procs: list[psutil.Process]) -> None:
        self.procs = procs
        self.peak = [{"rss": 0.0, "pss": 0.0, "uss": 0.0} for _ in procs]
        self.samples = 0

    def sample(self) -> None:
        for i, proc in enumerate(self.procs):
            with contextlib.suppress(psutil.Error):
                mem = memory_of(proc)
                for key, value in mem.items():
                    self.peak[i][key] = max(self.peak[i][key], value)
        self.samples += 1


def run_processes(
    n: int, env: dict[str, str], speech: bytes, args: argparse.Namespace
) -> dict[str, Any]:
    ctx = mp.get_context("forkserver")
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(
            target=_job_main,
            args=(i, env, speech, args.duration, _call_options(args), ready, go, results),
            name=f"voxie-bench-job-{i}",
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    handles = [psutil.Process(p.pid) for p in procs]
    idle = [memory_of(h) for h in handles]  # prewarmed, waiting for a job
    go.set()
    started = time.perf_counter()
    sampler = Sampler(handles)
    window_start = started + args.settle
    window_end = started + args.duration - 1.0
    cpu_start: list[float] = []
    cpu_end: list[float] = []
    while time.perf_counter() < window_end:
        sampler.sample()
        if not cpu_start and time.perf_counter() >= window_start:
            cpu_start = [cpu_of(h) for h in handles]
            t_cpu_start = time.perf_counter()
        time.sleep(args.interval)
    cpu_end = [cpu_of(h) for h in handles]
    t_cpu_end = time.perf_counter()
    sampler.sample()
    outs = [results.get(timeout=args.duration + 60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise RuntimeError(f"job processes failed: {errors}")
    wall = t_cpu_end - t_cpu_start
    cpu_pct = [100 * (b - a) / wall for a, b in zip(cpu_start, cpu_end, strict=True)]
    return {
        "per_call_idle_prewarmed_mb": _mean_mem(idle),
        "per_call_peak_mb": _mean_mem(sampler.peak),
        "per_call_peak_max_mb": {
            k: round(max(p[k] for p in sampler.peak), 1) for k in ("rss", "pss", "uss")
        },
        "all_calls_peak_pss_mb": round(sum(p["pss"] for p in sampler.peak), 1),
        "per_call_cpu_pct_of_one_core": round(statistics.fmean(cpu_pct), 2),
        "per_call_cpu_pct_max": round(max(cpu_pct), 2),
        "cpu_window_s": round(wall, 1),
        "memory_samples": sampler.samples,
        "calls": outs,
    }


async def run_inprocess(
    n: int, settings: Any, agent_id: Any, speech: bytes, args: argparse.Namespace
) -> dict[str, Any]:
    from voice_worker.worker import job_vad

    me = psutil.Process()
    baseline = memory_of(me)
    sampler = Sampler([me])
    stop_at = time.perf_counter() + args.duration + 30
    tasks = [
        asyncio.create_task(
            converse(
                settings, agent_id, job_vad(), speech, args.duration, stop_at, _call_options(args)
            )
        )
        for _ in range(n)
    ]
    started = time.perf_counter()
    cpu_start = None
    while time.perf_counter() < started + args.duration - 1.0:
        sampler.sample()
        if cpu_start is None and time.perf_counter() >= started + args.settle:
            cpu_start, t0 = cpu_of(me), time.perf_counter()
        await asyncio.sleep(args.interval)
    cpu_used, wall = cpu_of(me) - cpu_start, time.perf_counter() - t0
    outs = await asyncio.gather(*tasks)
    peak = sampler.peak[0]
    return {
        "process_baseline_mb": {k: round(v, 1) for k, v in baseline.items()},
        "process_peak_mb": {k: round(v, 1) for k, v in peak.items()},
        "per_call_peak_mb": {k: round((peak[k] - baseline[k]) / n, 1) for k in peak},
        "per_call_cpu_pct_of_one_core": round(100 * cpu_used / wall / n, 2),
        "process_cpu_pct_of_one_core": round(100 * cpu_used / wall, 2),
        "cpu_window_s": round(wall, 1),
        "memory_samples": sampler.samples,
        "calls": outs,
    }


# ------------------------------------------------------------ thread executor

MESSAGE = "BENCH "  # prefix of the worker child's messages on its stdout


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(MESSAGE + json.dumps(message) + "\n")
    sys.stdout.flush()


def _receive(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(MESSAGE):
            return json.loads(line[len(MESSAGE) :])
    raise RuntimeError(f"the worker process exited (code {proc.wait()}) before answering")


async def _thread_worker(config: dict[str, Any]) -> None:
    """The worker child of `--mode thread`: the worker's own `AgentServer`
    (`voice_worker.worker.build_server`, thread executor, the worker's prewarm), run
    unregistered (no LiveKit server), with an entrypoint that runs one simulated call
    on the VAD its prewarm loaded. Calls are launched with `simulate_job(fake_job=True)`,
    the framework's own path from a job request to a `ThreadJobExecutor`: each call gets
    its own thread, event loop and `JobProcess`, as a dispatched job would."""
    from livekit.agents import JobContext

    from tests.doubles.audio import synthesize_speech
    from voice_worker.worker import build_server

    settings = configure(**config["env"])
    names: dict[int, str] = {}  # native thread id -> Python thread name, for the parent

    def watch_threads() -> None:
        while True:
            names.update({t.native_id: t.name for t in threading.enumerate() if t.native_id})
            time.sleep(1.0)

    threading.Thread(target=watch_threads, name="bench-thread-names", daemon=True).start()
    speech = synthesize_speech(SPOKEN, sample_rate=input_format()[0])
    agent_id = uuid.UUID(config["agent_id"])
    results: queue.Queue[dict[str, Any]] = queue.Queue()

    async def entrypoint(ctx: JobContext) -> None:
        try:
            result = await converse(
                settings,
                agent_id,
                ctx.proc.userdata["vad"],
                speech,
                config["duration"],
                time.perf_counter() + 3600,
                config["options"],
            )
        except Exception as exc:  # noqa: BLE001 - report it to the parent instead of hanging
            result = {"error": f"{type(exc).__name__}: {exc}"}
        results.put(result)
        ctx.shutdown("bench call finished")

    server = build_server(settings, port=0)  # port 0: any free port for the health check
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    started = asyncio.Event()
    server.on("worker_started", started.set)
    running = asyncio.create_task(server.run(devmode=False, unregistered=True))
    await started.wait()  # `run` warmed the idle executors (prewarm) before this
    _send({"ready": True, "idle_executors": len(server._proc_pool.processes)})
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    for i in range(config["calls"]):
        await server.simulate_job(f"bench-room-{i}", fake_job=True)
    calls = [await asyncio.to_thread(results.get) for _ in range(config["calls"])]
    _send({"calls": calls, "thread_names": {str(k): v for k, v in names.items()}})
    await asyncio.to_thread(sys.stdin.readline)  # stdin closed: shut down
    await server.aclose()
    await running


def run_thread_worker(
    n: int, env: dict[str, str], agent_id: uuid.UUID, args: argparse.Namespace
) -> dict[str, Any]:
    """One level of `--mode thread`: a fresh worker process, measured from here."""
    child_env = {**os.environ, **env, "VOXIE_JOB_EXECUTOR": "thread"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.worker_resources", "--thread-worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdin is not None
    config = {
        "env": env,
        "agent_id": str(agent_id),
        "calls": n,
        "duration": args.duration,
        "options": _call_options(args),
    }
    proc.stdin.write(json.dumps(config) + "\n")
    proc.stdin.flush()
    try:
        ready = _receive(proc)
        handle = psutil.Process(proc.pid)
        # idle: the worker waiting for calls, its executors prewarmed
        time.sleep(1.0)
        idle_cpu_start, t_idle = cpu_of(handle), time.perf_counter()
        time.sleep(args.idle)
        idle_cpu = cpu_of(handle) - idle_cpu_start
        idle_wall = time.perf_counter() - t_idle
        baseline = memory_of(handle)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        started = time.perf_counter()
        sampler = Sampler([handle])
        cpu_start = None
        profiler = None
        while time.perf_counter() < started + args.duration - 1.0:
            sampler.sample()
            if cpu_start is None and time.perf_counter() >= started + args.settle:
                cpu_start, t0 = cpu_of(handle), time.perf_counter()
                threads_start = thread_cpu(proc.pid)
                if args.py_spy:
                    profiler = _py_spy(proc.pid, args.duration - 1.0 - args.settle, args.py_spy)
            time.sleep(args.interval)
        cpu_used, wall = cpu_of(handle) - cpu_start, time.perf_counter() - t0
        threads_end = thread_cpu(proc.pid)
        sampler.sample()
        answer = _receive(proc)
        outs = answer["calls"]
        names = {int(k): v for k, v in answer["thread_names"].items()}
        if profiler is not None:
            profiler.wait(timeout=60)
        hwm = _peak_rss_mb(proc.pid)
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise RuntimeError(f"calls failed: {errors}")
    peak = sampler.peak[0]
    idle_pct = 100 * idle_cpu / idle_wall
    busy_pct = 100 * cpu_used / wall
    return {
        "idle_executors_prewarmed": ready["idle_executors"],
        "process_idle_mb": {k: round(v, 1) for k, v in baseline.items()},
        "process_peak_mb": {k: round(v, 1) for k, v in peak.items()},
        "process_peak_rss_kernel_hwm_mb": hwm,
        "per_call_peak_mb": {k: round(peak[k] / n, 1) for k in peak},
        "per_call_added_mb": {k: round((peak[k] - baseline[k]) / n, 1) for k in peak},
        "per_call_cpu_pct_of_one_core": round(busy_pct / n, 2),
        "per_call_added_cpu_pct_of_one_core": round((busy_pct - idle_pct) / n, 2),
        "process_cpu_pct_of_one_core": round(busy_pct, 2),
        "process_idle_cpu_pct_of_one_core": round(idle_pct, 2),
        "process_cpu_pct_by_thread": _thread_breakdown(threads_start, threads_end, names, wall),
        "cpu_window_s": round(wall, 1),
        "memory_samples": sampler.samples,
        "calls": outs,
    }


def _py_spy(pid: int, seconds: float, out: str) -> subprocess.Popen[bytes]:
    """Sample the worker child's stacks over the CPU window (investigation only: needs
    `pip install py-spy`, and its sampling adds to the CPU figures of that run)."""
    return subprocess.Popen(
        [
            *("py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds))),
            *("--rate", "200", "--format", "raw", "--threads", "--gil", "--output", out),
        ],
        stdout=subprocess.DEVNULL,
    )


def thread_cpu(pid: int) -> dict[int, tuple[str, float, int]]:
    """Per thread of a process: its OS name, CPU seconds (user + system) and context
    switches (voluntary + not: how often it went to sleep or was preempted)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (task / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            switches = sum(
                int(line.split()[1])
                for line in (task / "status").read_text().splitlines()
                if "ctxt_switches" in line
            )
            out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / tick, switches)
    return out


def _thread_breakdown(
    start: dict[int, tuple[str, float, int]],
    end: dict[int, tuple[str, float, int]],
    names: dict[int, str],
    wall: float,
) -> dict[str, dict[str, float]]:
    """Per thread over the window, by Python thread name (`names`, from the worker), else
    `native:<OS name>` (threads started by native code: livekit-rtc's runtime,
    onnxruntime): % of one core, and context switches per second. Threads that ended
    meanwhile are missing, threads that started count from zero. Digits are dropped so
    that e.g. the `asyncio_N` executor threads of all calls add up under `asyncio`."""
    totals: dict[str, list[float]] = {}
    for tid, (os_name, seconds, switches) in end.items():
        _, seconds0, switches0 = start.get(tid, (os_name, 0.0, 0))
        name = names.get(tid, f"native:{os_name}")
        key = name.rstrip("0123456789_") or name
        total = totals.setdefault(key, [0.0, 0.0])
        total[0] += seconds - seconds0
        total[1] += switches - switches0
    return {
        k: {"cpu_pct": round(100 * cpu / wall, 2), "switches_per_s": round(sw / wall, 1)}
        for k, (cpu, sw) in sorted(totals.items(), key=lambda kv: -kv[1][0])
        if cpu > 0 or sw > 0
    }


def _peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of the process's RSS (VmHWM), whole lifetime."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


async def run_level(
    n: int,
    env: dict[str, str],
    settings: Any,
    agent_id: uuid.UUID,
    speech: bytes,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One run of `n` concurrent calls in the chosen mode, with its calls' turn summary
    and the rows they recorded."""
    load = round(os.getloadavg()[0], 2)
    if args.mode == "process":
        level = await asyncio.to_thread(run_processes, n, env, speech, args)
    elif args.mode == "thread":
        level = await asyncio.to_thread(run_thread_worker, n, env, agent_id, args)
    else:
        level = await run_inprocess(n, settings, agent_id, speech, args)
    calls = level.pop("calls")
    level = {"concurrent_calls": n, "load_avg_1m_at_start": load, **level}
    level.update(_turn_summary(calls))
    ids = [uuid.UUID(c["call_id"]) for c in calls if c["call_id"]]
    level["recorded_rows"] = await asyncio.to_thread(count_rows, ids)
    return level


def _call_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "stt": args.stt,
        "silent": args.silent,
        "variant": args.variant,
    }


def _mean_mem(values: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.fmean(v[k] for v in values), 1) for k in ("rss", "pss", "uss")}


def _turn_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [x for c in calls for x in c["latencies"]]
    for c in calls:
        c.pop("latencies")
    return {
        "turns_completed": sum(c["turns"] for c in calls),
        "turns_not_completed": sum(c["turns_not_completed"] for c in calls),
        "recorder_failed_writes": sum(c["failed_writes"] for c in calls),
        "final_transcript_to_first_audio_p50_ms": ms(pct(lat, 50)) if lat else None,
        "final_transcript_to_first_audio_p95_ms": ms(pct(lat, 95)) if lat else None,
    }


# ---------------------------------------------------------------------- main


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from tests.doubles.audio import synthesize_speech
    from tests.doubles.openai_server import OpenAIServerDouble, Reply

    server = OpenAIServerDouble().start()
    server.responder = lambda _body: Reply(content=REPLY, prompt_tokens=150)
    levels = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="voxie-bench-") as tmp,
            database(args.db, Path(tmp)) as url,
        ):
            env = {
                "DATABASE_URL": url,
                "OPENAI_API_KEY": "bench",
                "OPENAI_BASE_URL": server.base_url,
                "VOXIE_PROVIDER_RETRIES": "0",
            }
            if args.turn_detection != "setting":
                env["VOXIE_TURN_DETECTION"] = args.turn_detection
            settings = configure(**env)
            from voice_worker.worker import framework_defaults

            # as the worker does before it starts (the forkserver inherits them)
            framework_defaults(settings)
            rate, frame_ms = input_format()
            speech = synthesize_speech(SPOKEN, sample_rate=rate)
            agent_id = await asyncio.to_thread(create_agent)
            env["BENCH_AGENT_ID"] = str(agent_id)
            if args.mode == "inprocess":
                from voice_worker.worker import job_vad

                # warm-up call: lazy imports and the end-of-turn model load before the baseline
                await converse(
                    settings,
                    agent_id,
                    job_vad(),
                    speech,
                    6,
                    time.perf_counter() + 60,
                    _call_options(args),
                )
            for n in args.calls:
                runs = []
                for r in range(args.repeat):
                    print(
                        f"  {n} concurrent call(s), {args.duration:.0f} s, "
                        f"run {r + 1}/{args.repeat} (load {os.getloadavg()[0]:.2f}) ...",
                        flush=True,
                    )
                    run = await run_level(n, env, settings, agent_id, speech, args)
                    runs.append(run)
                    print(
                        f"    per call: RSS {run['per_call_peak_mb']['rss']} MB, CPU "
                        f"{run['per_call_cpu_pct_of_one_core']}% of one core",
                        flush=True,
                    )
                level = sorted(runs, key=lambda x: x["per_call_cpu_pct_of_one_core"])[
                    (len(runs) - 1) // 2
                ]
                if args.repeat > 1:
                    level["runs"] = [
                        {
                            "per_call_peak_rss_mb": x["per_call_peak_mb"]["rss"],
                            "per_call_cpu_pct_of_one_core": x["per_call_cpu_pct_of_one_core"],
                            "load_avg_1m_at_start": x["load_avg_1m_at_start"],
                            "turns_completed": x["turns_completed"],
                        }
                        for x in runs
                    ]
                rss = level["per_call_peak_mb"]["rss"]
                level["pass"] = {
                    "rss": rss <= TARGET_RSS_MB,
                    "cpu": level["per_call_cpu_pct_of_one_core"] <= TARGET_CPU_PCT,
                }
                levels.append(level)
    finally:
        server.stop()
    return {
        "measures": "peak memory and CPU (% of one core) per concurrent simulated call",
        "setup": {
            "mode": args.mode,
            "per_call": {
                "thread": "memory: worker process peak / N (and (peak - idle) / N); CPU: worker "
                "process CPU / N, its idle cost included",
                "process": "memory and CPU of each call's own job process (mean over calls)",
                "inprocess": "growth of this process over its warmed-up baseline / N; CPU / N",
            }[args.mode],
            "repeat": args.repeat,
            "database": args.db,
            "duration_s_per_level": args.duration,
            "cpu_window": f"from {args.settle} s after the calls start to 1 s before the end",
            "caller_audio": f"espeak-ng speech, real time, {rate} Hz {frame_ms} ms frames "
            "(the format the worker asks the room for)",
            "reply_audio_s": REPLY_SECONDS,
            "caller": "silent (only listens)" if args.silent else "talking continuously",
            "agent": {
                "voxie": "SpecAgent via agent_builder + CallRecorder (the worker's own)",
                "bare": "plain livekit-agents Agent, same LLM/options, nothing recorded",
            }[args.variant],
            "llm": "livekit-plugins-openai -> OpenAI-compatible HTTP double in the parent",
            "vad": "the worker's (voice_worker.worker.job_vad: livekit's built-in Silero)",
            "stt": {
                "streaming": "StreamingSTT double (streaming, as the Deepgram plugin is)",
                "batch": "ScriptedSTT double (non-streaming, as OpenAI's STT is; the session "
                "wraps it with a second VAD stream)",
            }[args.stt],
            "tts": "ToneTTS",
            "turn_detection": f"VOXIE_TURN_DETECTION={settings.turn_detection} "
            "(voice_worker.providers.turn_detection)",
            "caller_poll_interval_s": CALLER_POLL_SECONDS,
        },
        "target": {"rss_mb_per_call": TARGET_RSS_MB, "cpu_pct_of_one_core_per_call": 5.0},
        "levels": levels,
        "pass": all(all(level["pass"].values()) for level in levels),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["process", "thread", "inprocess"], default="process")
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before CPU counts")
    parser.add_argument("--interval", type=float, default=0.5, help="memory sampling period")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--turn-detection",
        choices=["setting", "vad", "model"],
        default="setting",
        help="VOXIE_TURN_DETECTION for the calls (default: the setting's default, vad)",
    )
    parser.add_argument("--stt", choices=["streaming", "batch"], default="streaming")
    parser.add_argument("--silent", action="store_true", help="callers only listen")
    parser.add_argument(
        "--variant", choices=["voxie", "bare"], default="voxie", help="bare: no Voxie code"
    )
    parser.add_argument("--idle", type=float, default=5.0, help="thread: idle seconds measured")
    parser.add_argument("--repeat", type=int, default=1, help="runs per level (median kept)")
    parser.add_argument("--out", help="results name (default: from the options)")
    parser.add_argument(
        "--py-spy", metavar="FILE", help="thread: profile the worker's CPU window into FILE"
    )
    parser.add_argument("--thread-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.thread_worker:  # the worker child of --mode thread
        asyncio.run(_thread_worker(json.loads(sys.stdin.readline())))
        return 0
    if args.mode == "process":
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
    payload = asyncio.run(main_async(args))
    # the default run is `worker_resources.json`; variants get their own file
    name = args.out or "worker_resources" + "".join(
        suffix
        for suffix, on in (
            ("_inprocess", args.mode == "inprocess"),
            ("_thread", args.mode == "thread"),
            ("_bare", args.variant == "bare"),
            ("_silent", args.silent),
            ("_batch_stt", args.stt == "batch"),
            ("_eot_model", args.turn_detection == "model"),
            ("_postgresql", args.db == "postgresql"),
        )
        if on
    )
    path = write_results(name, payload, module="worker_resources")
    print(f"{'PASS' if payload['pass'] else 'FAIL'}; written {path}")
    return 0 if payload["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
