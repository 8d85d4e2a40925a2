"""Every page in Chromium against the production build on a seeded SQLite database."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app
from tests.seed import add_active_call
from voxie_app.db import session_scope
from voxie_app.models import TurnMetric
from voxie_app.services import calls as calls_svc
from voxie_app.services import reports
from voxie_app.state import fmt

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("browser-sqlite")) as running:
        yield running


def _pages(site: SeededApp) -> list[tuple[str, str, str]]:
    """(screenshot label, path, text the page must show) for every page."""
    agent_id = site.seeded.agent_ids["Pizza Roma Orders"]
    call_id = site.seeded.today_call_ids[0]
    return [
        ("dashboard", "/", "Calls today"),
        ("dashboard-alias", "/dashboard", "Recent calls"),
        ("agents", "/agents", "Pizza Roma Orders"),
        ("agents-new", "/agents/new", "Create an agent"),
        ("agent-detail", f"/agents/{agent_id}", "Configuration"),
        ("calls", "/calls", "Acme Support Desk"),
        ("call-detail", f"/calls/{call_id}", "Transcript"),
        ("campaigns", "/campaigns", "No campaigns yet"),
        ("analytics", "/analytics", "Calls per day"),
        ("settings", "/settings", "Pricing in use"),
    ]


def test_every_page_renders_without_console_errors(site: SeededApp, make_browse) -> None:
    laptop = make_browse(site.base, "laptop")
    phone = make_browse(site.base, "phone", viewport=PHONE, color_scheme="dark")
    for label, path, text in _pages(site):
        for browse in (laptop, phone):
            page = browse.goto(path)
            expect(page.get_by_text(text, exact=False).first).to_be_visible()
            browse.shot(label)
        # Phones get the top bar instead of the sidebar, and no horizontal scrolling.
        overflow = phone.page.evaluate(
            "() => document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways on a phone by {overflow}px"
    laptop.assert_clean()
    phone.assert_clean()


def test_navigation_theme_and_phone_drawer(site: SeededApp, make_browse) -> None:
    laptop = make_browse(site.base, "laptop")
    page = laptop.goto("/")
    page.get_by_test_id("nav-analytics").first.click()
    expect(page).to_have_url(re.compile(r"/analytics$"))
    expect(page.get_by_test_id("page-title")).to_have_text("Analytics")
    html = page.locator("html")
    before = html.get_attribute("class") or ""
    page.get_by_test_id("theme-toggle").first.click()
    expect(html).not_to_have_class(before)
    laptop.shot("toggled-theme")

    phone = make_browse(site.base, "phone", viewport=PHONE)
    page = phone.goto("/")
    expect(page.get_by_test_id("nav-calls").first).to_be_hidden()
    page.get_by_test_id("menu-button").click()
    drawer_link = page.get_by_role("dialog").get_by_test_id("nav-calls")
    expect(drawer_link).to_be_visible()
    phone.shot("drawer")
    drawer_link.click()
    expect(page.get_by_test_id("page-title")).to_have_text("Calls")
    laptop.assert_clean()
    phone.assert_clean()


def test_dashboard_updates_live_when_a_call_ends(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/")
    expect(page.get_by_test_id("live-indicator")).to_be_visible()
    stat = page.get_by_test_id("stat-calls")
    before = int(stat.inner_text().replace(",", ""))
    # A call that started after the page loaded, ended by the "worker" in another process.
    call_id = add_active_call(
        agent_id=site.seeded.agent_ids["Acme Support Desk"],
        agent_name="Acme Support Desk",
        url=site.url,
    )
    with session_scope(site.url) as session:
        calls_svc.end_call_record(session=session, call_session_id=call_id, reason="test_hangup")
    expect(stat).to_have_text(str(before + 1), timeout=15_000)
    recent = page.get_by_test_id("recent-call").first
    expect(recent).to_have_attribute("href", f"/calls/{call_id}")
    browse.shot()
    browse.assert_clean()


def _total(page) -> int:
    text = page.get_by_test_id("calls-range").inner_text()
    if text == "No calls":
        return 0
    return int(text.rsplit(" of ", 1)[1].split()[0].replace(",", ""))


def _pick(page, testid: str, option: str) -> None:
    page.get_by_test_id(testid).click()
    page.get_by_role("option", name=option, exact=True).click()


def _expected(site: SeededApp, **kw) -> int:
    with session_scope(site.url) as session:
        return reports.list_calls(session=session, filters=reports.CallFilter(**kw), limit=1).total


def _calls(n: int) -> str:
    return f"{n:,} call" if n == 1 else f"{n:,} calls"


def test_calls_filters_and_paging(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/calls")
    everything = _expected(site)
    expect(page.get_by_test_id("calls-range")).to_contain_text("of " + _calls(everything))
    assert page.get_by_test_id("call-row").count() == min(20, everything)

    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("calls-range")).to_contain_text("21 to ")

    pizza = site.seeded.agent_ids["Pizza Roma Orders"]
    _pick(page, "filter-agent", "Pizza Roma Orders")
    expect(page.get_by_test_id("calls-range")).to_contain_text(
        "of " + _calls(_expected(site, agent_id=pizza))
    )
    _pick(page, "filter-status", "Failed")
    n = _expected(site, agent_id=pizza, status="failed")
    if n:
        expect(page.get_by_test_id("calls-range")).to_contain_text("of " + _calls(n))
    else:
        expect(page.get_by_test_id("empty-state")).to_contain_text("No call matches")
    browse.shot("agent-and-status")

    page.get_by_test_id("clear-filters").click()
    expect(page.get_by_test_id("calls-range")).to_contain_text("of " + _calls(everything))
    _pick(page, "filter-sentiment", "Negative")
    expect(page.get_by_test_id("calls-range")).to_contain_text(
        "of " + _calls(_expected(site, sentiment="negative"))
    )
    _pick(page, "filter-outcome", "Order placed")
    expect(page.get_by_test_id("calls-range")).to_contain_text(
        "of " + _calls(_expected(site, sentiment="negative", outcome="order_placed"))
    )
    page.get_by_test_id("clear-filters").click()

    today = reports.today("UTC")
    start = today - timedelta(days=2)
    page.get_by_test_id("filter-start").fill(start.isoformat())
    expect(page.get_by_test_id("calls-range")).to_contain_text(
        "of " + _calls(_expected(site, start=start))
    )
    page.get_by_test_id("filter-end").fill(start.isoformat())
    expect(page.get_by_test_id("calls-range")).to_contain_text(
        "of " + _calls(_expected(site, start=start, end=start))
    )
    browse.shot("dates")

    page.get_by_test_id("clear-filters").click()
    expect(page.get_by_test_id("calls-range")).to_contain_text("of " + _calls(everything))
    first = page.get_by_test_id("call-link").first
    href = first.get_attribute("href")
    first.click()
    expect(page).to_have_url(re.compile(re.escape(href or "/calls/")))
    expect(page.get_by_text("Transcript").first).to_be_visible()
    browse.assert_clean()


def test_call_page_shows_transcript_summary_cost_and_latency(site: SeededApp, make_browse) -> None:
    with session_scope(site.url) as session:
        details = [
            reports.call_detail(session=session, call_id=i) for i in site.seeded.today_call_ids
        ]
    detail = next(d for d in details if d and d.summary and d.call.call_status == "completed")
    # A reply whose parts were only partly measured (the silence): the rest is unknown
    last = max(m.turn_number for m in detail.latency) + 1
    with session_scope(site.url) as session:
        session.add(
            TurnMetric(
                call_session_id=detail.call.id, turn_number=last, e2e_latency=0.9, part_silence=0.25
            )
        )
    browse = make_browse(site.base)
    page = browse.goto(f"/calls/{detail.call.id}")
    expect(page.get_by_test_id("turn")).to_have_count(len(detail.turns))
    tools = [t.function_called for t in detail.turns if t.function_called]
    expect(page.get_by_test_id("tool-chip")).to_have_count(len(tools))
    expect(page.get_by_test_id("cost-row")).to_have_count(3)
    expect(page.get_by_test_id("call-cost")).to_have_text(f"${detail.total_cost_usd:.4f}")
    assert detail.summary is not None
    expect(page.get_by_test_id("call-summary")).to_have_text(detail.summary.summary_text)
    # Where each reply's time went: a stacked bar of the six parts per measured turn,
    # with the end-to-end line over it; hovering a bar names every part of that turn.
    chart = page.get_by_test_id("latency-chart")
    expect(chart.locator(".recharts-line").first).to_be_visible()
    bars = chart.locator(".recharts-bar-rectangle")
    measured = [m for m in detail.latency if m.part_llm is not None]
    expect(bars).to_have_count(6 * len(measured) + 1)
    for name in ("Caller's silence", "End-of-turn decision", "LLM first token", "Playout"):
        expect(chart.locator(".recharts-legend-item-text", has_text=name)).to_be_visible()
    bars.first.hover()
    tip = chart.locator(".recharts-tooltip-wrapper")
    expect(tip).to_contain_text("Transcript (STT)")
    expect(tip).to_contain_text(f"{round(measured[0].part_llm * 1000)} ms")
    silences = chart.locator(".recharts-bar").first.locator(".recharts-bar-rectangle")
    silences.last.hover()
    expect(tip).to_contain_text(f"#{last}")
    expect(tip).to_contain_text("Caller's silence : 250 ms")
    expect(tip).to_contain_text("LLM first token : unknown")
    browse.shot()
    phone = make_browse(site.base, "phone", viewport=PHONE)
    expect(phone.goto(f"/calls/{detail.call.id}").locator(".recharts-bar-rectangle")).to_have_count(
        6 * len(measured) + 1
    )
    phone.page.get_by_test_id("latency-chart").scroll_into_view_if_needed()
    phone.shot("phone")
    missing = browse.goto("/calls/00000000-0000-0000-0000-000000000000")
    expect(missing.get_by_text("Call not found")).to_be_visible()
    browse.assert_clean()


def test_analytics_charts_range_and_csv_export(
    site: SeededApp, make_browse, tmp_path: Path
) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/analytics")
    for chart in ("calls", "minutes", "cost", "sentiment", "outcomes", "latency"):
        expect(page.locator(f"[data-testid=chart-{chart}] .recharts-surface").first).to_be_visible()
    expect(page.get_by_test_id("agent-stats-row")).to_have_count(3)
    # Where the time goes: p50 / p95 of each part per agent, over the range on screen
    today = reports.today("UTC")
    with session_scope(site.url) as session:
        parts = reports.turn_parts_by_agent(
            session=session,
            filters=reports.CallFilter(start=today - timedelta(days=29), end=today),
        )
    assert parts, "the seed records turn parts"
    rows = page.get_by_test_id("turn-parts-row")
    expect(rows).to_have_count(len(parts))
    p50, p95 = parts[0].parts["part_end_of_turn"]
    expect(rows.first).to_contain_text(fmt.p50_p95_ms(p50, p95))
    rows.first.scroll_into_view_if_needed()
    browse.shot("30-days")

    page.get_by_role("radio", name="7 days").click()
    with session_scope(site.url) as session:
        week = reports.call_stats(
            session=session,
            filters=reports.CallFilter(
                start=reports.today("UTC") - timedelta(days=6), end=reports.today("UTC")
            ),
        )
    expect(page.get_by_test_id("an-calls")).to_have_text(str(week.calls))

    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    path = tmp_path / "calls.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == week.calls
    assert "customer_name" in rows[0]
    names = {r["customer_name"] for r in rows}
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    browse.assert_clean()


def test_settings_shows_providers_and_livekit_check(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/settings")
    for key in ("openai", "deepgram", "cartesia", "livekit", "ragie"):
        expect(page.get_by_test_id(f"provider-{key}")).to_contain_text("not set")
    expect(page.get_by_test_id("livekit-missing")).to_contain_text("LIVEKIT_URL")
    page.get_by_test_id("check-livekit").click()
    expect(page.get_by_test_id("livekit-result")).to_contain_text("not configured")
    assert page.get_by_test_id("price-row").count() > 5
    body = page.content()
    assert "sk-" not in body
    browse.shot()
    browse.assert_clean()
