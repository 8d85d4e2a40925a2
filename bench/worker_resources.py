"""Memory and CPU per concurrent call, with 1, 5 and 10 simulated calls.

    .venv/bin/python -m bench.worker_resources                    # one process per call
    .venv/bin/python -m bench.worker_resources --mode inprocess   # all calls in one process

Each simulated call is a full Voxie voice session as the worker runs it: the
agent built from a stored spec by `agent_builder`, the real livekit-plugins-openai
LLM (talking to the local OpenAI-compatible double, which runs in this parent
process so its CPU is not charged to the calls), the `CallRecorder` writing to
the database, Silero VAD and the session's default end-of-turn model on real
espeak-ng speech arriving in real time as a room delivers it (24 kHz, 50 ms
frames), an STT double, a TTS double speaking 1.5 s per reply, and an audio
output that plays it out in real time. Every call converses continuously: the
caller speaks, the agent answers, a short pause, again, for `--duration` seconds.

`--mode process` (default) is livekit-agents' own model on Linux: one process
per job, forked from a forkserver that preloaded the plugins and the framework's
warm-up (`livekit.agents.ipc._preload`, which shares the end-of-turn model's
weights copy-on-write, then `_preload_freeze`); each job process loads Silero VAD
in its prewarm step, then runs its call. Per call we report the job process's
RSS (as the target is stated) and its PSS and USS: RSS counts the pages shared
with the forkserver and the other jobs in full, PSS shares them out, USS is what
the call alone holds. CPU is the job process's user+system time over the steady
window, as % of one core.

`--mode inprocess` runs all calls as tasks of one process (livekit's thread
executor is similar); per call is then the growth of that process over its
prewarmed baseline divided by the number of calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
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
SAMPLE_RATE = 24000  # RoomIO's input defaults
FRAME_MS = 50
REPLY_SECONDS = 1.5
PAUSE_SECONDS = 0.5
FORKSERVER_PRELOAD = [
    "livekit.plugins.openai",
    "livekit.plugins.deepgram",
    "livekit.plugins.cartesia",
    "livekit.plugins.silero",
    "livekit.agents.ipc._preload",
    "livekit.agents.ipc._preload_freeze",  # must stay last (freezes what came before)
]
MB = 2**20


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
    `options`: `turn_detection` (None = the session's default), `stt` (`streaming`,
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
        mic=SpeechInput(sample_rate=SAMPLE_RATE, frame_ms=FRAME_MS),
        out=CapturedAudioOutput(playout_speed=1.0),
        stt=StreamingSTT(HEARD) if options["stt"] == "streaming" else ScriptedSTT(HEARD),
        tts=ToneTTS(duration=REPLY_SECONDS),
        turn_detection=options["turn_detection"],
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
        from livekit.plugins import silero

        vad = silero.VAD.load()  # the worker's prewarm step
        settings = configure(**env)
        agent_id = env["BENCH_AGENT_ID"]
        import uuid

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
    n: int, settings: Any, agent_id: Any, vad: Any, speech: bytes, args: argparse.Namespace
) -> dict[str, Any]:
    me = psutil.Process()
    baseline = memory_of(me)
    sampler = Sampler([me])
    stop_at = time.perf_counter() + args.duration + 30
    tasks = [
        asyncio.create_task(
            converse(settings, agent_id, vad, speech, args.duration, stop_at, _call_options(args))
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


def _call_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "turn_detection": None if args.turn_detection == "default" else args.turn_detection,
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

    speech = synthesize_speech(SPOKEN, sample_rate=SAMPLE_RATE)
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
            settings = configure(**env)
            agent_id = await asyncio.to_thread(create_agent)
            env["BENCH_AGENT_ID"] = str(agent_id)
            vad = None
            if args.mode == "inprocess":
                from livekit.plugins import silero

                vad = silero.VAD.load()
                # warm-up call: lazy imports and the end-of-turn model load before the baseline
                await converse(
                    settings,
                    agent_id,
                    vad,
                    speech,
                    6,
                    time.perf_counter() + 60,
                    _call_options(args),
                )
            for n in args.calls:
                print(f"  {n} concurrent call(s), {args.duration:.0f} s ...", flush=True)
                if args.mode == "process":
                    level = await asyncio.to_thread(run_processes, n, env, speech, args)
                else:
                    level = await run_inprocess(n, settings, agent_id, vad, speech, args)
                calls = level.pop("calls")
                level = {"concurrent_calls": n, **level, **_turn_summary(calls)}
                ids = [c["call_id"] for c in calls if c["call_id"]]
                import uuid

                level["recorded_rows"] = await asyncio.to_thread(
                    count_rows, [uuid.UUID(i) for i in ids]
                )
                rss = level["per_call_peak_mb"]["rss"]
                level["pass"] = {
                    "rss": rss <= TARGET_RSS_MB,
                    "cpu": level["per_call_cpu_pct_of_one_core"] <= TARGET_CPU_PCT,
                }
                levels.append(level)
                print(
                    f"    per call: RSS {rss} MB (PSS {level['per_call_peak_mb']['pss']}, USS "
                    f"{level['per_call_peak_mb']['uss']}), CPU "
                    f"{level['per_call_cpu_pct_of_one_core']}% of one core, "
                    f"{level['turns_completed']} turns",
                    flush=True,
                )
    finally:
        server.stop()
    return {
        "measures": "peak memory and CPU (% of one core) per concurrent simulated call",
        "setup": {
            "mode": args.mode,
            "database": args.db,
            "duration_s_per_level": args.duration,
            "cpu_window": f"from {args.settle} s after the calls start to 1 s before the end",
            "caller_audio": f"espeak-ng speech, real time, {SAMPLE_RATE} Hz {FRAME_MS} ms frames",
            "reply_audio_s": REPLY_SECONDS,
            "caller": "silent (only listens)" if args.silent else "talking continuously",
            "agent": {
                "voxie": "SpecAgent via agent_builder + CallRecorder (the worker's own)",
                "bare": "plain livekit-agents Agent, same LLM/options, nothing recorded",
            }[args.variant],
            "llm": "livekit-plugins-openai -> OpenAI-compatible HTTP double in the parent",
            "stt": {
                "streaming": "StreamingSTT double (streaming, as the Deepgram plugin is)",
                "batch": "ScriptedSTT double (non-streaming, as OpenAI's STT is; the session "
                "wraps it with a second Silero VAD stream)",
            }[args.stt],
            "tts": "ToneTTS",
            "turn_detection": {
                "default": "session default, as in the worker (livekit inference.TurnDetector)",
                "vad": "VAD only (--turn-detection vad)",
            }[args.turn_detection],
        },
        "target": {"rss_mb_per_call": TARGET_RSS_MB, "cpu_pct_of_one_core_per_call": 5.0},
        "levels": levels,
        "pass": all(all(level["pass"].values()) for level in levels),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["process", "inprocess"], default="process")
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before CPU counts")
    parser.add_argument("--interval", type=float, default=0.5, help="memory sampling period")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--turn-detection", choices=["default", "vad"], default="default")
    parser.add_argument("--stt", choices=["streaming", "batch"], default="streaming")
    parser.add_argument("--silent", action="store_true", help="callers only listen")
    parser.add_argument(
        "--variant", choices=["voxie", "bare"], default="voxie", help="bare: no Voxie code"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.mode == "process":
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
    payload = asyncio.run(main_async(args))
    # the default run is `worker_resources.json`; variants get their own file
    name = "worker_resources" + "".join(
        suffix
        for suffix, on in (
            ("_inprocess", args.mode == "inprocess"),
            ("_bare", args.variant == "bare"),
            ("_silent", args.silent),
            ("_batch_stt", args.stt == "batch"),
            ("_vad_only", args.turn_detection == "vad"),
            ("_postgresql", args.db == "postgresql"),
        )
        if on
    )
    path = write_results(name, payload, module="worker_resources")
    print(f"{'PASS' if payload['pass'] else 'FAIL'}; written {path}")
    return 0 if payload["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
