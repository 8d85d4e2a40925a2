"""The dashboard's "Active now" figure: calls in progress against
`VOXIE_MAX_CONCURRENT_CALLS`, updated live when a call starts. The app starts with
`scripts/run.sh`, whose headless bootstrap creates the admin from
`VOXIE_ADMIN_EMAIL` / `VOXIE_ADMIN_PASSWORD`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import PASSWORD, SeededApp, seeded_app
from tests.seed import add_active_call
from voxie_app.db import session_scope
from voxie_app.models import User
from voxie_app.services import call_limits, events
from voxie_app.services.calls import CALLS_STREAM

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LIMIT = 40
OWNER = "owner@voxie.test"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(
        tmp_path_factory.mktemp("call-limits"),
        VOXIE_MAX_CONCURRENT_CALLS=str(LIMIT),
        VOXIE_ADMIN_EMAIL=OWNER,
        VOXIE_ADMIN_PASSWORD=PASSWORD,
    ) as running:
        yield running


def _active(url: str) -> int:
    with session_scope(url) as s:
        return call_limits.active_calls(session=s)


def test_the_dashboard_shows_active_calls_against_the_limit(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/")
    expect(page.get_by_test_id("live-indicator")).to_be_visible()
    figure = page.get_by_test_id("stat-active")
    before = _active(site.url)
    expect(figure).to_have_text(f"{before} / {LIMIT}")
    expect(page.get_by_text(f"calls in progress, at most {LIMIT}")).to_be_visible()
    call_id = add_active_call(
        agent_id=site.seeded.agent_ids["Acme Support Desk"],
        agent_name="Acme Support Desk",
        url=site.url,
    )
    with session_scope(site.url) as s:
        events.publish(
            CALLS_STREAM, "call_started", "test", {"call_session_id": str(call_id)}, session=s
        )
    expect(figure).to_have_text(f"{before + 1} / {LIMIT}")
    browse.shot()
    browse.assert_clean()


def test_run_sh_bootstrapped_the_admin(site: SeededApp) -> None:
    with session_scope(site.url) as s:
        owner = s.exec(select(User).where(User.email == OWNER)).one()
    assert owner.role == "admin"
