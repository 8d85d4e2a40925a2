"""Browser side of the UI benchmarks: the real app, Chromium, and in-page timestamps.

Timestamps are taken inside the page, not by polling from Python: an init script
installs a `MutationObserver` that records, per watched element, the moment it first
appears in the DOM (`performance.timeOrigin + performance.now()`, epoch ms), the next
animation frame after that (roughly "painted"), the arrival of matching websocket
frames, and clicks on a selector. Python compares them with `time.time()` of other
processes on the same machine after measuring the page-clock offset (`clock_offset`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("VOXIE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_INIT_JS = r"""
(() => {
  const CFG = __CFG__;
  const now = () => performance.timeOrigin + performance.now();
  const B = (window.__bench = { dom: {}, frame: {}, counts: {}, ws: {}, clicks: [] });
  for (const m of CFG.marks) { B.dom[m.name] = {}; B.frame[m.name] = {}; }
  for (const c of CFG.counts) { B.counts[c.name] = {}; B.frame[c.name] = {}; }

  const scan = () => {
    const t = now();
    const fresh = [];
    for (const m of CFG.marks) {
      const re = new RegExp(m.pattern);
      for (const el of document.querySelectorAll(m.selector)) {
        const hit = re.exec(el.textContent || "");
        if (hit && !(hit[1] in B.dom[m.name])) {
          B.dom[m.name][hit[1]] = t;
          fresh.push([m.name, hit[1]]);
        }
      }
    }
    for (const c of CFG.counts) {
      const n = document.querySelectorAll(c.selector).length;
      for (let k = 1; k <= n; k++) {
        if (!(k in B.counts[c.name])) { B.counts[c.name][k] = t; fresh.push([c.name, k]); }
      }
    }
    if (fresh.length) {
      requestAnimationFrame(() => {
        const f = now();
        for (const [name, key] of fresh) B.frame[name][key] = f;
      });
    }
  };
  new MutationObserver(scan).observe(document, {
    childList: true, subtree: true, characterData: true,
  });

  if (CFG.ws_pattern) {
    const Orig = window.WebSocket;
    window.WebSocket = class extends Orig {
      constructor(...args) {
        super(...args);
        this.addEventListener("message", (ev) => {
          const t = now();
          if (typeof ev.data !== "string") return;
          for (const hit of ev.data.matchAll(new RegExp(CFG.ws_pattern, "g"))) {
            if (!(hit[1] in B.ws)) B.ws[hit[1]] = t;
          }
        });
      }
    };
  }

  if (CFG.click_selector) {
    document.addEventListener("click", (ev) => {
      if (ev.target instanceof Element && ev.target.closest(CFG.click_selector)) {
        B.clicks.push(now());
      }
    }, true);
  }
})();
"""


@dataclass
class Watch:
    """What the in-page recorder watches.

    marks: (name, css selector, regex with one group) -> first DOM time per group value.
    counts: (name, css selector) -> first time the number of matches reached k.
    """

    marks: list[tuple[str, str, str]] = field(default_factory=list)
    counts: list[tuple[str, str]] = field(default_factory=list)
    ws_pattern: str = ""
    click_selector: str = ""

    def script(self) -> str:
        cfg = {
            "marks": [{"name": n, "selector": s, "pattern": p} for n, s, p in self.marks],
            "counts": [{"name": n, "selector": s} for n, s in self.counts],
            "ws_pattern": self.ws_pattern,
            "click_selector": self.click_selector,
        }
        return _INIT_JS.replace("__CFG__", json.dumps(cfg))


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """Headless Chromium from the system (never a downloaded one)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (set VOXIE_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def signed_in_token(database_url: str) -> str:
    """An admin's session token (the browser tests' helper: users made in the app's
    migrated database, signed in through `services.auth`)."""
    from tests.browser.conftest import sign_in_users

    return sign_in_users(database_url)["admin"]


def open_page(b: Any, watch: Watch, base: str, token: str) -> Any:
    """A new context signed in with `token` (the session cookie), the recorder installed."""
    from tests.browser.conftest import SESSION_COOKIE

    ctx = b.new_context(viewport={"width": 1366, "height": 900})
    ctx.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
    page = ctx.new_page()
    page.add_init_script(script=watch.script())
    return page


def goto_ready(page: Any, url: str) -> None:
    """Load a page and wait until the app's on_load has run (skeletons gone)."""
    page.goto(url)
    page.wait_for_selector("[data-testid=page-title]", timeout=30_000)
    page.wait_for_function("() => !document.querySelector('.rt-Skeleton')", timeout=30_000)


def clock_offset(page: Any, tries: int = 15) -> dict[str, float]:
    """Page clock minus `time.time()`, in ms, from the evaluate with the shortest round trip."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        before = time.time() * 1000
        page_ms = page.evaluate("() => performance.timeOrigin + performance.now()")
        after = time.time() * 1000
        rtt = after - before
        if best is None or rtt < best[1]:
            best = (page_ms - (before + after) / 2, rtt)
    assert best is not None
    return {"offset_ms": round(best[0], 3), "uncertainty_ms": round(best[1] / 2, 3)}


def explain_failure(page: Any, app: Any) -> str:
    """What the page says and the end of the app's log, for an error message."""
    try:
        text = page.inner_text("body", timeout=2_000)
    except Exception as exc:  # noqa: BLE001 - best effort, for the message only
        text = f"(page text unavailable: {exc})"
    return f"page text:\n{text[:1500]}\n\napp log (end):\n{app.log()[-3000:]}"


def bench_recorded(page: Any) -> dict[str, Any]:
    return page.evaluate("() => window.__bench")


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """An empty database: a SQLite file in `workdir`, or a PostgreSQL database created
    for the run (`tests.conftest`, `VOXIE_TEST_PG_URL`'s server) and dropped after.
    The app's start-up migrates it (`manage migrate` in `scripts/run.sh`, as `make run`)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database {kind!r}")
    from tests.conftest import create_pg_database, drop_pg_database

    url = create_pg_database("voxie_bench")
    try:
        yield url
    finally:
        from voxie_app import db

        db.get_engine(url).dispose()
        drop_pg_database(url)


@contextlib.contextmanager
def running_app(database_url: str, env: dict[str, str] | None = None) -> Iterator[Any]:
    """The app as `make run` serves it (`scripts/run.sh`, production build, one port)."""
    from tests.apprunner import run_app

    with tempfile.TemporaryDirectory(prefix="voxie-bench-app-") as tmp:
        started = time.monotonic()
        print("  starting the app (production build; waits for other app runs)...", flush=True)
        with run_app(Path(tmp), database_url=database_url, env=env or {}) as app:
            print(f"  app up at {app.base} after {time.monotonic() - started:.0f} s", flush=True)
            yield app
