"""The same pages on PostgreSQL (JSONB, UUID, percentile_cont, LISTEN/NOTIFY live updates)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SeededApp, seeded_app
from tests.seed import add_active_call
from voxie_app.db import session_scope
from voxie_app.services import calls as calls_svc

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("browser-pg"), backend="postgresql") as running:
        yield running


def test_pages_render_on_postgresql(site: SeededApp, make_browse) -> None:
    agent_id = site.seeded.agent_ids["Bright Smile Receptionist"]
    browse = make_browse(site.base)
    for path, ready in [
        ("/agents", "[data-testid=agent-card]"),
        (f"/agents/{agent_id}", "[data-testid=agent-instructions]"),
        ("/calls", "[data-testid=call-row]"),
        (f"/calls/{site.seeded.today_call_ids[0]}", "[data-testid=turn]"),
        ("/analytics", "[data-testid=chart-latency] .recharts-surface"),
        ("/settings", "[data-testid=pricing-summary]"),
    ]:
        browse.goto(path, ready=ready)
    browse.shot("analytics-pg")
    browse.assert_clean()


def test_dashboard_live_update_over_listen_notify(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/")
    expect(page.get_by_test_id("live-indicator")).to_be_visible()
    stat = page.get_by_test_id("stat-calls")
    before = int(stat.inner_text().replace(",", ""))
    call_id = add_active_call(
        agent_id=site.seeded.agent_ids["Pizza Roma Orders"],
        agent_name="Pizza Roma Orders",
        url=site.url,
    )
    with session_scope(site.url) as session:
        calls_svc.end_call_record(session=session, call_session_id=call_id, reason="test_hangup")
    expect(stat).to_have_text(str(before + 1), timeout=15_000)
    browse.shot()
    browse.assert_clean()
