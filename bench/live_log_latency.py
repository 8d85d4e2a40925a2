"""Live-log latency: an event published by another process -> its line in the browser.

    .venv/bin/python -m bench.live_log_latency --db sqlite
    .venv/bin/python -m bench.live_log_latency --db postgresql
    .venv/bin/python -m bench.live_log_latency --db both --n 50

Per database: a fresh database (a SQLite file, or a PostgreSQL database created on
`VOXIE_TEST_PG_URL`'s server and dropped after), the real app started as `make run`
starts it (`scripts/run.sh`: migrates, then serves the production build), `/builder` in
headless Chromium. No LLM is configured: the builder's log watcher
(`BuilderState.watch_log`) runs without one.

The page's builder session id is read from the Reflex state delta the page
receives over its websocket (the page shows no id); the log follows
`agent-create:<session_id>`.

A long-running publisher subprocess (started once, driven over stdin, so process
start-up is not timed) calls `services.events.publish(stream, "bench", "ping i")`
N times. Timed: from `time.time()` just before `publish` in the publisher to the
moment the line is in the DOM (a MutationObserver in the page, page clock
corrected by the measured page/host clock offset). Each publish waits for the
previous line, then a random 0-250 ms pause so publishes do not lock in phase
with SQLite's 200 ms poll. Also recorded: the publish call itself (commit), the
websocket frame carrying the line (server-side share), and the next animation
frame after the DOM change.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._browser import (
    Watch,
    bench_recorded,
    browser,
    clock_offset,
    fresh_database,
    goto_ready,
    open_page,
    running_app,
    signed_in_token,
)
from bench._harness import ROOT, summary_ms, write_results

TARGET_P95_MS = {"postgresql": 150.0, "sqlite": 500.0}
PROVIDER_PREFIXES = ("LIVEKIT_", "OPENAI_", "DEEPGRAM_", "CARTESIA_", "RAGIE_", "VOXIE_")
WARMUP = 3
SESSION_ID = re.compile(r'session_id[a-z_]*\\?"\s*:\s*\\?"([0-9a-f]{32})')


# ------------------------------------------------------------------ publisher


def publisher_loop() -> int:
    """Child process: for each stdin line `stream<TAB>i`, publish and report the times."""
    from voxie_app.services import events

    for line in sys.stdin:
        stream, i = line.rstrip("\n").split("\t")
        t0 = time.time()
        event = events.publish(stream, "bench", f"ping {i}")
        t1 = time.time()
        print(json.dumps({"i": int(i), "t0": t0, "t1": t1, "id": event.id}), flush=True)
    return 0


class Publisher:
    def __init__(self, database_url: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_PREFIXES)}
        env["DATABASE_URL"] = database_url
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.live_log_latency", "--publisher"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def publish(self, stream: str, i: int) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{stream}\t{i}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the publisher process exited")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# ----------------------------------------------------------------- one backend


def session_id_from_frames(frames: list[str]) -> str:
    for payload in frames:
        if hit := SESSION_ID.search(payload):
            return hit.group(1)
    return ""


def run_db(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from voxie_app.services.agent_creation import stream_name

    rng = random.Random(args.seed)
    watch = Watch(
        marks=[("log", '[data-testid="log-line"]', r"ping (-?\d+)")],
        ws_pattern=r"ping (-?\d+)",
    )
    with fresh_database(kind, workdir) as url, running_app(url) as app, browser() as b:
        page = open_page(b, watch, app.base, signed_in_token(url))
        frames: list[str] = []
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived", lambda p: frames.append(p if isinstance(p, str) else "")
            ),
        )
        goto_ready(page, app.base + "/builder")
        page.wait_for_selector('[data-testid="log-console"]')
        deadline = time.monotonic() + 15
        while not (session_id := session_id_from_frames(frames)):
            if time.monotonic() > deadline:
                raise SystemExit("could not read the builder session id from the page's state")
            page.wait_for_timeout(50)
        stream = stream_name(session_id)
        print(f"  [{kind}] page follows {stream}", flush=True)

        publisher = Publisher(url)
        samples: list[dict[str, Any]] = []
        offsets = [clock_offset(page)]
        try:
            for i in range(-WARMUP, args.n):  # negative i: warm-up, not timed
                sent = publisher.publish(stream, i)
                page.wait_for_function(
                    "i => window.__bench.dom.log[i] !== undefined", arg=str(i), timeout=10_000
                )
                if i >= 0:
                    samples.append(sent)
                time.sleep(rng.uniform(0.0, 0.25))
            page.wait_for_timeout(100)  # let the last animation frame land
            offsets.append(clock_offset(page))
            recorded = bench_recorded(page)
            count = page.locator('[data-testid="log-line"]').count()
        finally:
            publisher.close()

    # page clock -> host clock (ms); the offset is measured before and after the run
    offset = sum(o["offset_ms"] for o in offsets) / len(offsets)
    total, ws_share, dom_share, publish_call, frame = [], [], [], [], []
    for s in samples:
        key, t0 = str(s["i"]), s["t0"] * 1000
        dom = recorded["dom"]["log"][key] - offset
        total.append((dom - t0) / 1000)
        publish_call.append(s["t1"] - s["t0"])
        if key in recorded["ws"]:
            ws = recorded["ws"][key] - offset
            ws_share.append((ws - t0) / 1000)
            dom_share.append((dom - ws) / 1000)
        if key in recorded["frame"]["log"]:
            frame.append((recorded["frame"]["log"][key] - offset - t0) / 1000)
    result = summary_ms(total)
    target = TARGET_P95_MS[kind]
    return {
        "database": kind,
        "publish_to_dom": result,
        "breakdown": {
            "publish_call_commit": summary_ms(publish_call),
            "publish_to_websocket_frame": summary_ms(ws_share),
            "websocket_frame_to_dom": summary_ms(dom_share),
            "publish_to_next_animation_frame": summary_ms(frame),
        },
        "raw_publish_to_dom_ms": [round(x * 1000, 2) for x in total],
        "clock": {"page_minus_host": offsets, "applied_offset_ms": round(offset, 3)},
        "log_lines_on_page": count,
        "target": f"p95 <= {target:.0f} ms",
        "pass": result["p95_ms"] <= target,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--n", type=int, default=50, help="timed events per database")
    parser.add_argument("--seed", type=int, default=7, help="seed of the pause between events")
    parser.add_argument("--out", default="", help="results file name (default from --db)")
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publisher:
        return publisher_loop()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="voxie-bench-") as tmp:
        for kind in kinds:
            results.append(run_db(kind, args, Path(tmp)))
    payload = {
        "measures": "publish() in another process -> the log line in the browser DOM",
        "parameters": {
            "n": args.n,
            "warm_up_events": WARMUP,
            "pause_between_events_s": [0.0, 0.25],
            "seed": args.seed,
            "page": "/builder (no LLM configured)",
            "sqlite_poll_interval_s": 0.2,
            "app": "scripts/run.sh (reflex run --env prod --single-port)",
            "browser": "Chromium headless via Playwright",
        },
        "results": results,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "pass": all(r["pass"] for r in results),
    }
    name = args.out or ("live_log_latency" if args.db == "both" else f"live_log_latency_{args.db}")
    path = write_results(name, payload, module="live_log_latency")
    for r in results:
        t, br = r["publish_to_dom"], r["breakdown"]
        print(
            f"{r['database']}: publish -> DOM p50 {t['p50_ms']} ms p95 {t['p95_ms']} ms"
            f" max {t['max_ms']} ms ({r['target']}: {'PASS' if r['pass'] else 'FAIL'})"
            f" | publish -> ws frame p95 {br['publish_to_websocket_frame']['p95_ms']} ms"
            f" | ws frame -> DOM p95 {br['websocket_frame_to_dom']['p95_ms']} ms"
        )
    print(f"written {path}")
    return 0 if payload["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
