"""Text-chat turn overhead: click Send -> the agent's reply rendered, with an instant LLM.

    .venv/bin/python -m bench.chat_turn_overhead              # SQLite, 50 turns
    .venv/bin/python -m bench.chat_turn_overhead --db postgresql --n 50

A fresh database (migrated by the app's start-up) with one stored agent, the real
app (`scripts/run.sh`, production build) with `OPENAI_BASE_URL` at the local
OpenAI-compatible double (`tests/doubles/openai_server.py`), whose responder
answers every request at once. `/agents/<id>/chat` in headless Chromium; per
turn: type a message, click Send, wait for the new `msg-agent` bubble, pause
50-150 ms.

Timed in the page (one clock): the click on Send -> the new `msg-agent` element in
the DOM (MutationObserver). Also recorded: click -> the user's own bubble (one
websocket round trip), click -> the chat-completion request reaching the double
(page clock corrected by the measured page/host offset), that request -> reply in
the DOM. Separately, the double's own time to first byte and to the end of the
stream, measured from this process with the very request body the app sent, so
the LLM's share can be subtracted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench._browser import (
    Watch,
    bench_recorded,
    browser,
    clock_offset,
    explain_failure,
    fresh_database,
    goto_ready,
    open_page,
    running_app,
    signed_in_token,
)
from bench._harness import configure, create_agent, pct, summary_ms, write_results

TARGET_P95_MS = 150.0
WARMUP = 3
ASKED = re.compile(r"Message number (-?\d+):")
REPLY = "Sure, noted ({turn}). Anything else?"  # the turn number lets the page tell replies apart


class Arrivals:
    """The double's responder: answers at once and notes when each request arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Any:
        from tests.doubles.openai_server import Reply

        with self._lock:
            self.times.append(time.time())
            self.bodies.append(body)
        asked = ASKED.findall(json.dumps(body.get("messages", [])[-1:]))
        return Reply(content=REPLY.format(turn=asked[-1] if asked else "?"))


def double_ttfb(base_url: str, body: dict[str, Any], n: int) -> dict[str, Any]:
    """Time to first byte and to the end of a streamed completion, straight to the double."""
    ttfb, total = [], []
    with httpx.Client(base_url=base_url, headers={"authorization": "Bearer bench"}) as client:
        for i in range(n + WARMUP):
            start = time.perf_counter()
            with client.stream("POST", "/chat/completions", json=body) as response:
                first = None
                for _chunk in response.iter_bytes():
                    if first is None:
                        first = time.perf_counter()
                end = time.perf_counter()
            response.raise_for_status()
            if i >= WARMUP:
                ttfb.append((first or end) - start)
                total.append(end - start)
    return {"time_to_first_byte": summary_ms(ttfb), "time_to_last_byte": summary_ms(total)}


def decile_p50(values: list[float]) -> list[float]:
    """Median of each tenth of the turns, in order: shows growth with the conversation."""
    size = max(1, len(values) // 10)
    chunks = [values[i : i + size] for i in range(0, len(values), size)]
    return [round(pct(c, 50) * 1000, 1) for c in chunks if c]


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from tests.doubles.openai_server import OpenAIServerDouble

    rng = random.Random(args.seed)
    arrivals = Arrivals()
    watch = Watch(
        marks=[
            ("agent", '[data-testid="msg-agent"]', r"noted \((-?\d+)\)"),
            ("user", '[data-testid="msg-user"]', r"Message number (-?\d+):"),
        ],
        click_selector='[data-testid="chat-send"]',
    )
    with OpenAIServerDouble() as double, fresh_database(args.db, workdir) as url:
        double.responder = arrivals
        env = {
            "OPENAI_API_KEY": "bench",
            "OPENAI_BASE_URL": double.base_url,
            "VOXIE_PROVIDER_RETRIES": "0",
        }
        with running_app(url, env) as app, browser() as b:
            configure(DATABASE_URL=url)
            agent_id = create_agent()  # the app has migrated the database by now
            page = open_page(b, watch, app.base, signed_in_token(url))
            goto_ready(page, f"{app.base}/agents/{agent_id}/chat")
            try:
                page.wait_for_function(
                    "() => document.querySelectorAll('[data-testid=msg-agent]').length >= 1",
                    timeout=30_000,
                )
            except PlaywrightTimeout as exc:
                raise SystemExit("no greeting shown\n" + explain_failure(page, app)) from exc
            print(f"  [{args.db}] chat open, greeting shown; {args.n} turns...", flush=True)
            offsets = [clock_offset(page)]
            turns: list[dict[str, Any]] = []
            send = page.get_by_test_id("chat-send")
            box = page.get_by_test_id("chat-input")
            for i in range(-WARMUP, args.n):
                requests_before = len(arrivals.times)
                box.fill(f"Message number {i}: can I book a table for two?")
                send.click()
                page.wait_for_function(
                    "k => window.__bench.dom.agent[k] !== undefined", arg=str(i), timeout=15_000
                )
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=chat-send]').disabled",
                    timeout=15_000,
                )
                if i >= 0:
                    turns.append(
                        {
                            "i": i,
                            "requests": arrivals.times[requests_before:],
                        }
                    )
                time.sleep(rng.uniform(0.05, 0.15))
            page.wait_for_timeout(100)
            offsets.append(clock_offset(page))
            recorded = bench_recorded(page)
            body = arrivals.bodies[-1]
        llm = double_ttfb(double.base_url, body, args.n)

    offset = sum(o["offset_ms"] for o in offsets) / len(offsets)
    clicks = recorded["clicks"][WARMUP:]
    total, user_echo, to_llm, llm_to_dom, requests_per_turn = [], [], [], [], []
    for click, turn in zip(clicks, turns, strict=True):
        reply = recorded["dom"]["agent"][str(turn["i"])]
        total.append((reply - click) / 1000)
        user_echo.append((recorded["dom"]["user"][str(turn["i"])] - click) / 1000)
        requests_per_turn.append(len(turn["requests"]))
        if turn["requests"]:
            first = turn["requests"][0] * 1000 + offset
            last = turn["requests"][-1] * 1000 + offset
            to_llm.append((first - click) / 1000)
            llm_to_dom.append((reply - last) / 1000)
    result = summary_ms(total)
    ttfb_p50 = llm["time_to_first_byte"]["p50_ms"]
    return {
        "database": args.db,
        "click_to_reply_in_dom": result,
        "breakdown": {
            "click_to_user_bubble": summary_ms(user_echo),
            "click_to_llm_request_at_double": summary_ms(to_llm),
            "llm_request_at_double_to_reply_in_dom": summary_ms(llm_to_dom),
            "llm_requests_per_turn": sorted(set(requests_per_turn)),
        },
        "llm_double_direct": llm,
        "overhead_excluding_llm_ttlb_p50_ms": round(
            result["p50_ms"] - llm["time_to_last_byte"]["p50_ms"], 3
        ),
        "overhead_excluding_llm_ttfb_p50_ms": round(result["p50_ms"] - ttfb_p50, 3),
        "raw_ms_in_turn_order": {
            "click_to_reply_in_dom": [round(x * 1000, 1) for x in total],
            "click_to_user_bubble": [round(x * 1000, 1) for x in user_echo],
            "click_to_llm_request_at_double": [round(x * 1000, 1) for x in to_llm],
            "llm_request_at_double_to_reply_in_dom": [round(x * 1000, 1) for x in llm_to_dom],
        },
        "by_turn_decile_p50_ms": decile_p50(total),
        "clock": {"page_minus_host": offsets, "applied_offset_ms": round(offset, 3)},
        "target": f"p95 <= {TARGET_P95_MS:.0f} ms",
        "pass": result["p95_ms"] <= TARGET_P95_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--n", type=int, default=50, help="timed turns")
    parser.add_argument("--seed", type=int, default=7, help="seed of the pause between turns")
    parser.add_argument("--out", default="chat_turn_overhead", help="results file name")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="voxie-bench-") as tmp:
        result = run(args, Path(tmp))
    payload = {
        "measures": "click Send -> the agent's reply bubble in the DOM, instant LLM double",
        "parameters": {
            "n": args.n,
            "warm_up_turns": WARMUP,
            "pause_between_turns_s": [0.05, 0.15],
            "seed": args.seed,
            "page": "/agents/<id>/chat (a stored agent; livekit-plugins-openai -> the double)",
            "llm": "tests/doubles/openai_server.py, responder answering at once, streamed",
            "app": "scripts/run.sh (reflex run --env prod --single-port)",
            "browser": "Chromium headless via Playwright",
        },
        "results": [result],
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "pass": result["pass"],
    }
    path = write_results(args.out, payload, module="chat_turn_overhead")
    t, br, llm = result["click_to_reply_in_dom"], result["breakdown"], result["llm_double_direct"]
    print(
        f"{args.db}: click -> reply in DOM p50 {t['p50_ms']} ms p95 {t['p95_ms']} ms"
        f" max {t['max_ms']} ms ({result['target']}: {'PASS' if result['pass'] else 'FAIL'})"
        f" | click -> user bubble p50 {br['click_to_user_bubble']['p50_ms']} ms"
        f" | click -> LLM request p50 {br['click_to_llm_request_at_double']['p50_ms']} ms"
        f" | LLM request -> DOM p50 {br['llm_request_at_double_to_reply_in_dom']['p50_ms']} ms"
        f" | double TTFB p50 {llm['time_to_first_byte']['p50_ms']} ms"
        f" p95 {llm['time_to_first_byte']['p95_ms']} ms"
    )
    print(f"written {path}")
    return 0 if payload["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
