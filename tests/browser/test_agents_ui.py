"""Agents through the UI: create (with validation errors), edit, duplicate, delete."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import agents as agents_svc

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("browser-agents")) as running:
        yield running


def _field(page: Page, key: str):
    return page.get_by_test_id(f"field-{key}")


def _pick(page: Page, key: str, label: str) -> None:
    """Choose `label` in the form's `key` select (a Radix select: a listbox of options)."""
    _field(page, key).click()
    page.get_by_role("option", name=label, exact=True).click()


def _card(page: Page, name: str):
    return page.get_by_test_id("agent-card").filter(
        has=page.get_by_test_id("agent-name").get_by_text(name, exact=True)
    )


def _stored(url: str, name: str) -> Agent | None:
    with session_scope(url) as session:
        rows = agents_svc.list_agents(session=session, search=name)
        return next((a for a in rows if a.name == name), None)


def test_create_with_validation_errors_then_edit_duplicate_delete(
    site: SeededApp, make_browse
) -> None:
    browse = make_browse(site.base)
    page = browse.goto("/agents")
    expect(page.get_by_test_id("agent-card")).to_have_count(3)

    # ---- create: two bad fields, each with its own message, nothing stored
    page.get_by_test_id("new-agent").click()
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    _field(page, "name").fill("Harbor Hotel Concierge")
    _field(page, "description").fill("Answers guests' questions and books tables.")
    _field(page, "temperature").fill("5")
    page.get_by_test_id("save-agent").click()
    errors = dialog.get_by_test_id("field-error")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_have_text("Required")  # instructions
    expect(errors.nth(1)).to_contain_text("2")  # temperature: at most 2
    browse.shot("validation")
    assert _stored(site.url, "Harbor Hotel Concierge") is None

    _field(page, "instructions").fill(
        "You are the concierge of Harbor Hotel. Answer questions about the hotel "
        "and book restaurant tables. Keep answers short."
    )
    _field(page, "temperature").fill("0.5")
    _field(page, "greeting").fill("Good evening, Harbor Hotel concierge speaking.")
    _pick(page, "language", "English (UK) · en-GB")
    _field(page, "min_endpointing_delay").fill("0.4")
    _field(page, "max_endpointing_delay").fill("2")
    page.get_by_test_id("tool-record_caller_details").click()
    # A transfer target picked from the existing agents turns on the transfer tool.
    dialog.get_by_text("Add transfer target").click()
    dialog.get_by_placeholder("When, e.g. the caller asks about billing").fill(
        "the guest has a dental emergency"
    )
    expect(page.get_by_test_id("tool-transfer_to_agent")).to_be_checked()
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    card = _card(page, "Harbor Hotel Concierge")
    expect(card).to_be_visible()
    created = _stored(site.url, "Harbor Hotel Concierge")
    assert created is not None and created.status == "ready"
    spec = created.processed_spec
    assert spec["temperature"] == 0.5
    assert spec["language"] == "en-GB"
    assert (spec["min_endpointing_delay"], spec["max_endpointing_delay"]) == (0.4, 2.0)
    assert set(spec["tools"]) == {"end_call", "record_caller_details", "transfer_to_agent"}
    assert len(spec["transfer_targets"]) == 1
    assert spec["transfer_targets"][0]["when"] == "the guest has a dental emergency"
    browse.shot("created")

    # ---- edit
    card.get_by_test_id("agent-edit").click()
    expect(dialog).to_be_visible()
    expect(_field(page, "name")).to_have_value("Harbor Hotel Concierge")
    expect(_field(page, "max_endpointing_delay")).to_have_value("2")
    _field(page, "max_endpointing_delay").fill("0.1")  # below the minimum
    page.get_by_test_id("save-agent").click()
    expect(dialog.get_by_test_id("field-error")).to_contain_text("minimum")
    _field(page, "max_endpointing_delay").fill("1.5")
    _field(page, "description").fill("Concierge for Harbor Hotel guests.")
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    expect(card).to_contain_text("Concierge for Harbor Hotel guests.")
    edited = _stored(site.url, "Harbor Hotel Concierge")
    assert edited is not None
    assert edited.processed_spec["max_endpointing_delay"] == 1.5

    # ---- duplicate
    card.get_by_test_id("agent-duplicate").click()
    copy = _card(page, "Harbor Hotel Concierge (copy)")
    expect(copy).to_be_visible()
    duplicated = _stored(site.url, "Harbor Hotel Concierge (copy)")
    assert duplicated is not None and duplicated.id != edited.id
    assert duplicated.processed_spec["instructions"] == edited.processed_spec["instructions"]

    # ---- delete, with a confirmation (cancel first: nothing happens)
    copy.get_by_test_id("agent-delete").click()
    page.get_by_role("alertdialog").get_by_text("Cancel").click()
    expect(copy).to_be_visible()
    copy.get_by_test_id("agent-delete").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Harbor Hotel Concierge (copy)")
    browse.shot("confirm-delete")
    page.get_by_test_id("confirm-delete").click()
    expect(copy).to_have_count(0)
    assert _stored(site.url, "Harbor Hotel Concierge (copy)") is None
    expect(page.get_by_test_id("agent-card")).to_have_count(4)
    browse.assert_clean()


def test_search_links_and_new_agent_route(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base, viewport=PHONE)
    page = browse.goto("/agents")
    page.get_by_test_id("agent-search").fill("pizza")
    expect(page.get_by_test_id("agent-card")).to_have_count(1)
    card = _card(page, "Pizza Roma Orders")
    agent_id = str(site.seeded.agent_ids["Pizza Roma Orders"])
    expect(card.get_by_test_id("agent-chat")).to_have_attribute("href", f"/agents/{agent_id}/chat")
    expect(card.get_by_test_id("agent-call")).to_have_attribute("href", f"/call/{agent_id}")
    page.get_by_test_id("agent-search").fill("no such agent")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No agent matches")
    browse.shot("search")

    page = browse.goto(f"/agents/{agent_id}")
    expect(page.get_by_test_id("agent-instructions")).to_contain_text("Pizza Roma")
    page.get_by_test_id("detail-edit").click()
    expect(page).to_have_url(re.compile(r"/agents\?edit="))
    expect(_field(page, "name")).to_have_value("Pizza Roma Orders")
    browse.shot("edit-from-detail")

    page = browse.goto("/agents/new")
    expect(page.get_by_test_id("agent-dialog")).to_be_visible()
    expect(_field(page, "name")).to_have_value("")
    # No TTS provider is configured here: voices are offered, but no sample to play.
    expect(_field(page, "voice")).to_have_text("Alloy")
    expect(page.get_by_test_id("play-sample")).to_have_count(0)
    browse.shot("new")
    browse.assert_clean()
