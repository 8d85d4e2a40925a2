"""What Voxie adds to a custom HTTP tool call, against an instant local service.

    .venv/bin/python -m bench.tool_overhead               # 200 calls per variant, SQLite
    .venv/bin/python -m bench.tool_overhead --calls 5     # a quick run (the smoke test)

A real text `AgentSession` with the livekit openai plugin LLM pointed at the local
OpenAI double (`tests/doubles/openai_server.py`), whose responder answers every
user message with a `check_slots` tool call and every tool result with a short
text. The agent is a `SpecAgent` (the agent every call and chat runs) with a
`CallRecorder` attached and the call's `call_session_id`, so each invocation is
recorded as in a real chat. Two variants, in ABBA blocks of fresh sessions:

- `http`: `check_slots` is a stored HTTP tool (`voice_worker/http_tools.py`) that
  GETs an instant local aiohttp service in its own process (`bench._slot_service`):
  schema check, URL template, URL guard's client, response read, `result_path`,
  invocation record;
- `noop`: `check_slots` is a built-in function tool with the same raw schema and the
  same result, that does nothing (what the framework costs by itself).

Per call, with `time.perf_counter` in one process:

- `pre`: the tool call leaves the LLM node, parsed (the agent's `llm_node` sees the
  chunk that carries it) -> the request arrives at the service (`noop`: the function
  is entered);
- `post`: the service has written its whole response (`noop`: the function returns)
  -> the next chat-completion request arrives at the double.

Reported: `pre + post` for both variants (p50/p95/max), and what the HTTP tool adds
over the framework's own no-op tool (difference of the percentiles). Target (issue
14): the time Voxie adds, at p95, at most 5 ms. The framework's own part (what the
no-op tool costs: livekit-agents finishing the LLM stream, running the tool and
starting the next request, about 50 ms here) is not Voxie's and is subtracted; both
p50 and p95 of the difference must meet the target, so a low p95 difference cannot
hide a high typical cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._harness import configure, database, ms, pct, summary_ms, write_results

TARGET_P95_MS = 5.0
BLOCK = 20
WARMUP = 3
SLOTS = ["09:00", "10:30"]
PARAMETERS = {
    "type": "object",
    "properties": {"date": {"type": "string", "description": "YYYY-MM-DD"}},
    "required": ["date"],
    "additionalProperties": False,
}
SPEC = {
    "name": "Clinic Desk",
    "instructions": "You book appointments for Bright Smile Dental.",
    "greeting": "Hello!",
    "tools": [],
}


@dataclass
class Marks:
    """The instants of the call in flight (calls run one after another)."""

    parsed: list[float] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    next_request: list[float] = field(default_factory=list)
    # CPU time of the agent's event-loop thread: at the parse, and when the LLM node
    # is entered for the reply to the tool's result (both run on that thread)
    parsed_cpu: list[float] = field(default_factory=list)
    reply_cpu: list[float] = field(default_factory=list)
    reply_node: list[float] = field(default_factory=list)  # wall time of the same instant

    def clear(self) -> None:
        for series in (
            self.parsed,
            self.arrived,
            self.answered,
            self.next_request,
            self.parsed_cpu,
            self.reply_cpu,
            self.reply_node,
        ):
            series.clear()


MARKS = Marks()


class SlotService:
    """`bench._slot_service` in a subprocess: its port, and the marks it noted."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._slot_service"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def take_marks(self) -> dict[str, list[float]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/marks", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _responder(body: dict[str, Any]) -> Any:
    """The double: a tool call for a user message, a short answer for a tool result."""
    from tests.doubles.openai_server import Reply, ToolCall

    last = (body.get("messages") or [{}])[-1]
    if last.get("role") == "tool":
        MARKS.next_request.append(time.perf_counter())
        return Reply(content="Nine or half past ten.", prompt_tokens=200)
    return Reply(tool_calls=[ToolCall("check_slots", {"date": "2026-12-03"})], prompt_tokens=200)


def _noop_tool() -> Any:
    from livekit.agents import function_tool

    result = json.dumps(SLOTS)

    async def check_slots(raw_arguments: dict[str, object]) -> str:
        MARKS.arrived.append(time.perf_counter())
        MARKS.answered.append(time.perf_counter())
        return result

    return function_tool(
        check_slots,
        raw_schema={"name": "check_slots", "description": "Free slots.", "parameters": PARAMETERS},
    )


def _timed_agent_class() -> type:
    from livekit.agents import llm

    from voice_worker.spec_agent import SpecAgent

    class TimedAgent(SpecAgent):
        """`SpecAgent`, noting when a parsed tool call leaves the LLM node."""

        async def llm_node(self, chat_ctx, tools, model_settings):  # type: ignore[override]
            if chat_ctx.items and chat_ctx.items[-1].type == "function_call_output":
                MARKS.reply_cpu.append(time.thread_time())
                MARKS.reply_node.append(time.perf_counter())
            async for chunk in super().llm_node(chat_ctx, tools, model_settings):
                if isinstance(chunk, llm.ChatChunk) and chunk.delta and chunk.delta.tool_calls:
                    MARKS.parsed.append(time.perf_counter())
                    MARKS.parsed_cpu.append(time.thread_time())
                yield chunk

    return TimedAgent


@dataclass
class Call:
    pre: float
    post: float
    loop_cpu: float  # the event loop thread's CPU time from the parse to the reply's LLM node
    to_node: float  # post, first part: the response written -> the reply's LLM node entered

    @property
    def total(self) -> float:
        return self.pre + self.post


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from livekit.agents import AgentSession
    from livekit.plugins import openai as lk_openai
    from sqlmodel import select

    from tests.doubles.openai_server import OpenAIServerDouble
    from voice_worker.calldata import CallData
    from voice_worker.recorder import CallRecorder
    from voxie_app.db import session_scope
    from voxie_app.models import AgentSpec, CallSession, ToolInvocation
    from voxie_app.services import agent_creation
    from voxie_app.services import tools as tools_svc

    double = OpenAIServerDouble().start()
    double.responder = _responder
    service = SlotService()
    calls: dict[str, list[Call]] = {"http": [], "noop": []}
    block_p50: dict[str, list[float]] = {"http": [], "noop": []}
    TimedAgent = _timed_agent_class()
    try:
        with database("sqlite", workdir) as url:
            settings = configure(
                DATABASE_URL=url,
                OPENAI_API_KEY="bench",
                OPENAI_BASE_URL=double.base_url,
                VOXIE_URL_ALLOWLIST="127.0.0.1",
                VOXIE_SECRET_KEY_FILE=str(workdir / "secret.key"),
                VOXIE_PROVIDER_RETRIES="0",
            )
            with session_scope() as s:
                tool = tools_svc.create_tool(
                    session=s,
                    body=tools_svc.parse(
                        {
                            "name": "check_slots",
                            "description": "Free slots.",
                            "parameters": PARAMETERS,
                            "url": f"http://127.0.0.1:{service.port}/slots",
                            "result_path": "slots",
                        }
                    ),
                )
                tool_id = tool.id
            specs = {
                "http": AgentSpec.model_validate({**SPEC, "custom_tools": [str(tool_id)]}),
                "noop": AgentSpec.model_validate(SPEC),
            }
            agent_id = agent_creation.submit(user_requirements={}, processed_spec=SPEC).id

            async def block(variant: str, n: int, keep: bool) -> None:
                spec = specs[variant]
                with session_scope() as s:
                    call = CallSession(
                        session_id=uuid.uuid4().hex, agent_id=agent_id, room_name="bench"
                    )
                    s.add(call)
                call_id = call.id
                agent = TimedAgent(spec)
                if variant == "noop":
                    await agent.update_tools([*agent.tools, _noop_tool()])
                model = lk_openai.LLM(
                    model="gpt-4o-mini", api_key="bench", base_url=double.base_url
                )
                data = CallData(settings=settings, spec=spec, call_session_id=call_id)
                recorder = CallRecorder(call_session_id=call_id, settings=settings)
                got: list[Call] = []
                async with AgentSession(llm=model, userdata=data) as session:
                    recorder.attach(session)
                    await session.start(agent)
                    await session.wait_for_idle()
                    for i in range(n):
                        MARKS.clear()
                        await session.run(user_input=f"Anything free on day {i}?")
                        if variant == "http":  # the service's own marks (its process)
                            taken = await asyncio.to_thread(service.take_marks)
                            MARKS.arrived.extend(taken["arrived"])
                            MARKS.answered.extend(taken["answered"])
                        if not (
                            len(MARKS.parsed)
                            == len(MARKS.arrived)
                            == len(MARKS.answered)
                            == len(MARKS.next_request)
                            == len(MARKS.parsed_cpu)
                            == len(MARKS.reply_cpu)
                            == 1
                        ):
                            raise RuntimeError(f"{variant} call {i}: marks {MARKS}")
                        got.append(
                            Call(
                                pre=MARKS.arrived[0] - MARKS.parsed[0],
                                post=MARKS.next_request[0] - MARKS.answered[0],
                                loop_cpu=MARKS.reply_cpu[0] - MARKS.parsed_cpu[0],
                                to_node=MARKS.reply_node[0] - MARKS.answered[0],
                            )
                        )
                        await asyncio.sleep(0.02)
                await recorder.finish(status="completed", reason="bench")
                if keep:
                    calls[variant].extend(got[WARMUP:] if len(got) > WARMUP else got)
                    if got:
                        block_p50[variant].append(pct([c.total for c in got], 50))

            await block("http", WARMUP + 2, keep=False)
            await block("noop", WARMUP + 2, keep=False)
            size = min(BLOCK, args.calls)
            blocks = max(1, -(-args.calls // size))
            order = ["http", "noop", "noop", "http"]
            for i in range(2 * blocks):
                variant = order[i % 4]
                await block(variant, size + WARMUP, keep=True)
                print(
                    f"  block {i + 1}/{2 * blocks} {variant}: "
                    f"{len(calls['http'])} http, {len(calls['noop'])} noop calls timed",
                    flush=True,
                )
            with session_scope() as s:
                recorded = len(
                    s.exec(select(ToolInvocation).where(ToolInvocation.status == "ok")).all()
                )
    finally:
        service.stop()
        double.stop()

    def part(variant: str, name: str) -> dict[str, Any]:
        return summary_ms([getattr(c, name) for c in calls[variant][: args.calls]])

    http = [c.total for c in calls["http"][: args.calls]]
    noop = [c.total for c in calls["noop"][: args.calls]]
    added_p50 = round(ms(pct(http, 50)) - ms(pct(noop, 50)), 3)
    added_p95 = round(ms(pct(http, 95)) - ms(pct(noop, 95)), 3)
    return {
        "calls_per_variant": len(http),
        "http_tool": {
            "total": summary_ms(http),
            "pre": part("http", "pre"),
            "post": part("http", "post"),
            "post_to_reply_llm_node": part("http", "to_node"),
        },
        "noop_tool": {
            "total": summary_ms(noop),
            "pre": part("noop", "pre"),
            "post": part("noop", "post"),
            "post_to_reply_llm_node": part("noop", "to_node"),
        },
        "voxie_part": {
            "p50_ms": added_p50,
            "p95_ms": added_p95,
            "max_ms": round(ms(max(http)) - ms(max(noop)), 3),
            "note": "difference of the HTTP tool's and the no-op tool's percentiles",
        },
        "loop_cpu": {
            "http": part("http", "loop_cpu"),
            "noop": part("noop", "loop_cpu"),
            "voxie_part_p50_ms": round(
                part("http", "loop_cpu")["p50_ms"] - part("noop", "loop_cpu")["p50_ms"], 3
            ),
            "voxie_part_p95_ms": round(
                part("http", "loop_cpu")["p95_ms"] - part("noop", "loop_cpu")["p95_ms"], 3
            ),
            "note": "CPU time of the agent's event-loop thread from the parse to the LLM node "
            "of the reply (not the service's, the double's or worker threads'); much less "
            "sensitive to other load on the machine than wall time",
        },
        "noise": {v: {"block_p50_ms": [ms(x) for x in block_p50[v]]} for v in ("http", "noop")},
        "invocations_recorded_ok": recorded,
        "target": {
            "added_p95_ms_max": TARGET_P95_MS,
            "measured_added_p50_ms": added_p50,
            "measured_added_p95_ms": added_p95,
        },
        "pass": max(added_p50, added_p95) <= TARGET_P95_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per variant")
    parser.add_argument(
        "--out", default="tool_overhead", help="results name (bench/results/<name>.json)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="voxie-bench-tools-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    path = write_results(args.out, result, module="tool_overhead")
    http, noop = result["http_tool"]["total"], result["noop_tool"]["total"]
    print(
        f"http tool: p50 {http['p50_ms']} ms, p95 {http['p95_ms']} ms, max {http['max_ms']} ms\n"
        f"no-op tool: p50 {noop['p50_ms']} ms, p95 {noop['p95_ms']} ms, max {noop['max_ms']} ms\n"
        f"Voxie's part: p50 {result['voxie_part']['p50_ms']} ms, "
        f"p95 {result['voxie_part']['p95_ms']} ms\n"
        f"loop CPU, Voxie's part: p50 {result['loop_cpu']['voxie_part_p50_ms']} ms, "
        f"p95 {result['loop_cpu']['voxie_part_p95_ms']} ms\n"
        f"target: Voxie's part <= {TARGET_P95_MS} ms at p50 and p95: "
        f"{'pass' if result['pass'] else 'FAIL'} -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
