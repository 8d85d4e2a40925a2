"""Dashboard and analytics speed on a large PostgreSQL database.

    .venv/bin/python -m bench.seed_pg postgresql://postgres@127.0.0.1:5432/voxie_bench --create
    .venv/bin/python -m bench.bench_dashboard postgresql://postgres@127.0.0.1:5432/voxie_bench \
        [--runs 30] [--page-runs 15] [--no-pages]

1. Every query behind the dashboard, agents, calls and analytics pages
   (`services.reports` and `services.analytics`), `--runs` times each after a
   warm-up: p50/p95 in ms. Target: p95 <= 100 ms each.
2. Page interactive time in Chromium against the production build on the same
   database: from navigation start to the charts drawn, for `/` and
   `/analytics`, `--page-runs` times each. Target: p95 <= 1.5 s.

3. The daily rollups (`services.rollups`, migration 0005) behind every
   date-range report: the timed queries above read them warm, as a page
   view does once a day has been computed. Reported apart, for information:
   the first 90-day view after every rollup is dropped (all 89 settled days
   computed and stored) and a view after one day was invalidated by a late
   write (an analysis landing on an old call).

Writes `bench/results/dashboard.json` (with the indexes in place).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench._harness import summary_ms, write_results
from voxie_app.db import get_engine, normalize_url, session_scope
from voxie_app.services import analytics, reports
from voxie_app.services.calls import CALLS_STREAM
from voxie_app.services.reports import CallFilter

QUERY_TARGET_MS = 100.0
PAGE_TARGET_MS = 1500.0
TZ = "UTC"


def _report(fn: Callable[..., Any], filters: CallFilter, session: Any) -> Any:
    return fn(session=session, filters=filters)


def _queries(url: str) -> dict[str, Callable[[Any], Any]]:
    today = reports.today(TZ)
    with session_scope(url) as s:
        agents = reports.agent_choices(session=s)
        agent_id = agents[0][0]
        call_id = reports.list_calls(session=s, filters=CallFilter(), limit=1).rows[0].id
    last30 = CallFilter(start=today - timedelta(days=29), end=today, tz=TZ)
    last90 = CallFilter(start=today - timedelta(days=89), end=today, tz=TZ)
    last14 = CallFilter(start=today - timedelta(days=13), end=today, tz=TZ)
    agent_all = CallFilter(agent_id=agent_id, tz=TZ)
    return {
        # dashboard
        "dashboard.summary_today": lambda s: analytics.summary(session=s, tz=TZ),
        "dashboard.series_14d": lambda s: reports.daily_series(session=s, filters=last14),
        "dashboard.recent_calls": lambda s: analytics.recent_calls(session=s, limit=8),
        "dashboard.agent_count": lambda s: reports.agent_choices(session=s),
        "dashboard.latest_event": lambda s: reports.latest_event_id(session=s, stream=CALLS_STREAM),
        # agents
        "agents.overview": lambda s: reports.agents_overview(session=s),
        "agents.overview_search": lambda s: reports.agents_overview(session=s, search="agent 1"),
        "agent.stats_all_time": lambda s: reports.call_stats(session=s, filters=agent_all),
        "agent.recent_calls": lambda s: reports.list_calls(session=s, filters=agent_all, limit=10),
        "agent.series_30d": lambda s: reports.daily_series(
            session=s,
            filters=CallFilter(agent_id=agent_id, start=last30.start, end=last30.end, tz=TZ),
        ),
        # calls
        "calls.filter_options": lambda s: reports.filter_options(session=s),
        "calls.page_1": lambda s: reports.list_calls(session=s, filters=CallFilter(), limit=20),
        "calls.page_250": lambda s: reports.list_calls(
            session=s, filters=CallFilter(), limit=20, offset=5000
        ),
        "calls.filtered": lambda s: reports.list_calls(
            session=s,
            filters=CallFilter(agent_id=agent_id, status="completed", sentiment="negative", tz=TZ),
            limit=20,
        ),
        "calls.outcome_30d": lambda s: reports.list_calls(
            session=s,
            filters=CallFilter(start=last30.start, end=last30.end, outcome="order_placed", tz=TZ),
            limit=20,
        ),
        "call.detail": lambda s: reports.call_detail(session=s, call_id=call_id),
        # analytics (default range: 30 days; and 90 days): the page makes one call,
        # `analytics_overview`; the single reports serve the API and other pages.
        "analytics.overview_30d": lambda s: reports.analytics_overview(session=s, filters=last30),
        "analytics.overview_90d": lambda s: reports.analytics_overview(session=s, filters=last90),
        **{
            f"analytics.{name}_{label}": functools.partial(_report, fn, f)
            for label, f in (("30d", last30), ("90d", last90))
            for name, fn in (
                ("stats", reports.call_stats),
                ("series", reports.daily_series),
                ("sentiment", reports.sentiment_mix),
                ("outcomes", reports.outcome_mix),
                ("agent_table", reports.agent_table),
                ("latency_p50_p95", reports.latency_by_agent),
            )
        },
    }


def bench_queries(url: str, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, fn in _queries(url).items():
        times = []
        with session_scope(url) as session:
            for _ in range(3):
                fn(session)
            for _ in range(runs):
                t = time.perf_counter()
                fn(session)
                times.append(time.perf_counter() - t)
        results[name] = summary_ms(times)
        ok = results[name]["p95_ms"] <= QUERY_TARGET_MS
        print(
            f"  {name:34s} p50 {results[name]['p50_ms']:8.2f} ms  "
            f"p95 {results[name]['p95_ms']:8.2f} ms  {'ok' if ok else 'SLOW'}",
            flush=True,
        )
    # Not a page query (a download), reported for information.
    today = reports.today(TZ)
    f = CallFilter(start=today - timedelta(days=29), end=today, tz=TZ)
    with session_scope(url) as session:
        t = time.perf_counter()
        text = reports.calls_csv(session=session, filters=f)
        results["export.csv_30d (info)"] = {
            "n": 1,
            "ms": round((time.perf_counter() - t) * 1000, 1),
            "rows": text.count("\n") - 1,
        }
    return results


DRAWN = {
    "/": "() => document.querySelector('[data-testid=calls-chart] .recharts-area-area')"
    " && document.querySelectorAll('[data-testid=recent-call]').length > 0",
    "/analytics": "() => ['calls','minutes','cost','sentiment','outcomes','latency'].every("
    "c => document.querySelector(`[data-testid=chart-${c}] .recharts-surface`))"
    " && document.querySelector('[data-testid=chart-calls] .recharts-bar-rectangle')"
    " && document.querySelectorAll('[data-testid=agent-stats-row]').length > 0",
}


def bench_rollup_fill(url: str, runs: int) -> dict[str, Any]:
    """The 90-day overview when its days must be computed: all of them, or one."""
    today = reports.today(TZ)
    last90 = CallFilter(start=today - timedelta(days=89), end=today, tz=TZ)
    cold, one_day = [], []
    engine = get_engine(normalize_url(url))
    for _ in range(runs):
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM rollup_days")
        with session_scope(url) as s:
            t = time.perf_counter()
            reports.analytics_overview(session=s, filters=last90)
            cold.append(time.perf_counter() - t)
        with engine.begin() as conn:  # what a late write to a call 40 days ago does
            conn.exec_driver_sql(
                "DELETE FROM rollup_days WHERE day = %(d)s", {"d": today - timedelta(days=40)}
            )
        with session_scope(url) as s:
            t = time.perf_counter()
            reports.analytics_overview(session=s, filters=last90)
            one_day.append(time.perf_counter() - t)
    out = {
        "overview_90d_all_days_computed (info)": summary_ms(cold),
        "overview_90d_one_day_recomputed": summary_ms(one_day),
    }
    for name, r in out.items():
        print(f"  {name:40s} p50 {r['p50_ms']:8.2f} ms  p95 {r['p95_ms']:8.2f} ms", flush=True)
    return out


def _sign_in(url: str) -> str:
    """A session token for a benchmark admin (created once) in the bench database."""
    from voxie_app.services import auth
    from voxie_app.services.errors import InvalidInput

    email, password = "bench-admin@voxie.test", "bench password 123"
    with session_scope(url) as session:
        try:
            auth.create_user(session=session, email=email, password=password, role="admin")
        except InvalidInput:  # exists from an earlier run
            session.rollback()
    with session_scope(url) as session:
        token, _ = auth.login(session=session, email=email, password=password, hours=2)
    return token


def bench_pages(url: str, runs: int) -> dict[str, Any]:
    from bench._browser import browser, running_app

    results: dict[str, Any] = {}
    token = _sign_in(url)
    with running_app(normalize_url(url)) as app, browser() as b:
        context = b.new_context(viewport={"width": 1366, "height": 900})
        context.add_cookies([{"name": "voxie_session", "value": token, "url": app.base}])
        for path, drawn in DRAWN.items():
            warm = context.new_page()  # first visit loads the JS bundles into the cache
            warm.goto(app.base + path)
            warm.wait_for_function(drawn, timeout=30_000)
            warm.close()
            times = []
            for _ in range(runs):
                page = context.new_page()
                page.goto(app.base + path, wait_until="commit")
                handle = page.wait_for_function(
                    f"() => ({drawn})() ? performance.now() : false", timeout=30_000
                )
                times.append(float(handle.json_value()) / 1000)
                page.close()
            results[path] = summary_ms(times)
            ok = results[path]["p95_ms"] <= PAGE_TARGET_MS
            print(
                f"  page {path:12s} p50 {results[path]['p50_ms']:8.1f} ms  "
                f"p95 {results[path]['p95_ms']:8.1f} ms  {'ok' if ok else 'SLOW'}",
                flush=True,
            )
        context.close()
    return results


def _sizes(url: str) -> dict[str, int]:
    with get_engine(normalize_url(url)).connect() as conn:
        return {
            t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
            for t in (
                "agents",
                "call_sessions",
                "conversation_turns",
                "token_usage",
                "turn_metrics",
                "call_summaries",
            )
        }


def _indexes(url: str) -> list[str]:
    """The indexes in place (the numbers depend on them; see the module docstring)."""
    with get_engine(normalize_url(url)).connect() as conn:
        return [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN "
                "('call_sessions','token_usage','turn_metrics','call_summaries') ORDER BY 1"
            )
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL loaded by bench.seed_pg")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--page-runs", type=int, default=15)
    parser.add_argument("--no-pages", action="store_true")
    args = parser.parse_args(argv)
    sizes = _sizes(args.url)
    print("database:", ", ".join(f"{k}={v:,}" for k, v in sizes.items()))
    print(f"queries ({args.runs} runs each):")
    queries = bench_queries(args.url, args.runs)
    print("rollup fills:")
    fills = bench_rollup_fill(args.url, max(3, args.runs // 5))
    pages = {} if args.no_pages else bench_pages(args.url, args.page_runs)
    timed = {k: v for k, v in queries.items() if "p95_ms" in v}
    payload = {
        "database_rows": sizes,
        "indexes": _indexes(args.url),
        "targets": {"query_p95_ms": QUERY_TARGET_MS, "page_interactive_p95_ms": PAGE_TARGET_MS},
        "queries": queries,
        "rollup_fills": fills,
        "pages_interactive": pages,
        "all_queries_within_target": all(v["p95_ms"] <= QUERY_TARGET_MS for v in timed.values()),
        "slowest_query": max(timed, key=lambda k: timed[k]["p95_ms"]),
        "all_pages_within_target": all(v["p95_ms"] <= PAGE_TARGET_MS for v in pages.values())
        if pages
        else None,
    }
    path = write_results("dashboard", payload, module="bench_dashboard")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
