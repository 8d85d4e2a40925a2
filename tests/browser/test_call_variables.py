"""`/calls/<id>` in Chromium lists the per-call variables the call started with.

The calls are written to the app's database directly, as `POST /api/call/start`
stores them (its own tests are in tests/test_variables_api.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SeededApp, seeded_app
from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import CallSession

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}
VARIABLES = {
    "order_prefix": "VX",
    "customer_id": "C-42",
    "note": "<b>VIP</b> prefers mornings",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("call-variables")) as running:
        yield running


def _call(site: SeededApp, variables: dict[str, str]) -> uuid.UUID:
    now = utcnow()
    with session_scope(site.url) as s:
        call = CallSession(
            session_id=uuid.uuid4().hex,
            agent_id=site.seeded.agent_ids["Pizza Roma Orders"],
            room_name=f"room-{uuid.uuid4().hex[:6]}",
            primary_agent_type="Pizza Roma Orders",
            started_at=now - timedelta(minutes=3),
            ended_at=now,
            duration_seconds=180.0,
            call_status="completed",
            variables=variables,
        )
        s.add(call)
        s.flush()
        return call.id


def test_call_page_lists_variables_and_hides_the_card_without_any(
    site: SeededApp, make_browse
) -> None:
    with_vars = _call(site, VARIABLES)
    without = _call(site, {})
    b = make_browse(site.base, viewport=DESKTOP)
    page = b.goto(f"/calls/{with_vars}")
    card = page.get_by_test_id("call-variables")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("variable-row")).to_have_count(3)
    rows = card.get_by_test_id("variable-row")
    expect(rows.nth(0)).to_contain_text("customer_id")
    expect(rows.nth(0)).to_contain_text("C-42")
    expect(rows.nth(1)).to_contain_text("<b>VIP</b> prefers mornings")  # text, not markup
    expect(rows.nth(2)).to_contain_text("order_prefix")
    card.scroll_into_view_if_needed()
    b.shot("with-variables")
    b.assert_clean()

    page = b.goto(f"/calls/{without}")
    expect(page.get_by_test_id("call-cost")).to_be_visible()
    expect(page.get_by_test_id("call-variables")).to_have_count(0)
    b.assert_clean()
