"""The Knowledge panel of an agent's page, in Chromium against the production build:
upload files, paste text, watch them become ready (in another tab too, without a
reload), see a refused file's reason, delete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app
from tests.data.kb import corpus
from voxie_app.db import session_scope
from voxie_app.services import knowledge, text_extract

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApp]:
    with seeded_app(tmp_path_factory.mktemp("browser-knowledge")) as running:
        yield running


def _file(name: str) -> dict:
    mime = text_extract.media_type_for(name) or "application/octet-stream"
    return {"name": name, "mimeType": mime, "buffer": corpus.file_bytes(name)}


def test_upload_paste_watch_ready_and_delete(site: SeededApp, make_browse) -> None:
    agent_id = next(iter(site.seeded.agent_ids.values()))
    path = f"/agents/{agent_id}"
    browse = make_browse(site.base)
    watcher = make_browse(site.base, "watcher")  # a second tab that only watches
    page = browse.goto(path)
    other = watcher.goto(path)
    panel, watched = page.get_by_test_id("knowledge-panel"), other.get_by_test_id("knowledge-panel")
    expect(panel.get_by_text("No documents yet")).to_be_visible()
    expect(panel.get_by_test_id("knowledge-search-on")).to_have_count(0)

    # Two good files and one that only pretends to be a PDF.
    bad = {"name": "fake.pdf", "mimeType": "application/pdf", "buffer": b"no pdf here"}
    panel.locator("input[type=file]").set_input_files(
        [_file("faq.md"), _file("warranty-and-returns.pdf"), bad]
    )
    refusal = page.locator("[data-sonner-toast]").filter(
        has_text="'fake.pdf' was not added: the file is not a PDF"
    )
    expect(refusal).to_be_visible(timeout=15_000)
    rows = panel.get_by_test_id("knowledge-document")
    expect(rows).to_have_count(2, timeout=15_000)
    # The refusal is shown at the top, clear of the document list.
    toast_box, list_box = refusal.bounding_box(), rows.first.bounding_box()
    assert toast_box is not None and list_box is not None
    assert toast_box["y"] + toast_box["height"] <= list_box["y"]
    browse.shot("refused")
    expect(rows.get_by_test_id("knowledge-status").filter(has_text="ready")).to_have_count(
        2, timeout=20_000
    )
    # The other tab follows the agent's knowledge stream: no reload needed.
    expect(watched.get_by_test_id("knowledge-document")).to_have_count(2, timeout=20_000)
    expect(watched.get_by_test_id("knowledge-status").filter(has_text="ready")).to_have_count(
        2, timeout=20_000
    )

    page.get_by_test_id("knowledge-paste-toggle").click()
    page.get_by_test_id("knowledge-paste-name").fill("Holiday hours")
    page.get_by_test_id("knowledge-paste-text").fill(corpus.pasted_text(corpus.PASTED[0]))
    page.get_by_test_id("knowledge-paste-add").click()
    expect(rows).to_have_count(3, timeout=15_000)
    expect(rows.filter(has_text="Holiday hours")).to_contain_text("Pasted text")
    expect(rows.get_by_test_id("knowledge-status").filter(has_text="ready")).to_have_count(
        3, timeout=20_000
    )
    expect(panel.get_by_test_id("knowledge-search-on")).to_contain_text("3 ready document")
    browse.shot("ready")

    # Open a document: the text it was read as, and its passages.
    rows.filter(has_text="faq.md").get_by_test_id("knowledge-open").click()
    dialog = page.get_by_test_id("knowledge-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("knowledge-text")).to_contain_text(
        "Alder & Finch Cycles is an independent bicycle shop at 41 Quarry Lane"
    )
    browse.shot("opened")
    dialog.get_by_role("tab").filter(has_text="passage").click()
    passages = dialog.get_by_test_id("knowledge-passage")
    expect(passages.first).to_contain_text("Passage 1")
    assert passages.count() >= 2
    browse.shot("passages")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Delete asks first: Cancel keeps it, Delete removes it.
    rows.filter(has_text="faq.md").get_by_test_id("knowledge-delete").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Delete faq.md?")
    browse.shot("confirm-delete")
    confirm.get_by_role("button", name="Cancel").click()
    expect(rows).to_have_count(3)
    rows.filter(has_text="faq.md").get_by_test_id("knowledge-delete").click()
    page.get_by_test_id("knowledge-confirm-delete").click()
    expect(rows).to_have_count(2, timeout=15_000)
    expect(watched.get_by_test_id("knowledge-document")).to_have_count(2, timeout=20_000)

    with session_scope(site.url) as session:
        stored = knowledge.list_documents(session=session, agent_id=agent_id)
    assert sorted(d.name for d in stored) == ["Holiday hours", "warranty-and-returns.pdf"]
    assert {d.status for d in stored} == {"ready"}
    browse.assert_clean()
    watcher.assert_clean()


def test_a_viewer_sees_the_documents_but_cannot_upload(
    site: SeededApp, make_browse, configure
) -> None:
    configure(DATABASE_URL=site.url)
    agent_id = list(site.seeded.agent_ids.values())[1]
    upload = knowledge.check_text(name="menu.txt", text="Soup of the day: tomato.")
    with session_scope(site.url) as session:
        doc = knowledge.add_document(session=session, agent_id=agent_id, upload=upload)
    knowledge.ingest(document_id=doc.id, upload=upload)
    browse = make_browse(site.base, role="viewer", viewport=PHONE)
    page = browse.goto(f"/agents/{agent_id}")
    rows = page.get_by_test_id("knowledge-document")
    expect(rows).to_have_count(1, timeout=15_000)
    expect(rows).to_contain_text("menu.txt")
    expect(rows.get_by_test_id("knowledge-delete")).to_have_count(0)
    rows.get_by_test_id("knowledge-open").click()  # reading is for every role
    expect(page.get_by_test_id("knowledge-text")).to_contain_text("Soup of the day: tomato.")
    browse.shot("opened-phone", full_page=False)
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_test_id("knowledge-paste-toggle")).to_have_count(0)  # editors only


def test_a_file_over_1_mb_uploads_and_one_over_the_limit_gets_a_toast(
    site: SeededApp, make_browse
) -> None:
    """The panel states the real limit; a 1.7 MB file (over the 1 MB body limit that
    `/_upload` used to get) is stored; a file over the upload limit is refused in the
    browser with a toast naming the limit, and nothing is uploaded."""
    agent_id = list(site.seeded.agent_ids.values())[2]
    browse = make_browse(site.base)
    page = browse.goto(f"/agents/{agent_id}")
    panel = page.get_by_test_id("knowledge-panel")
    expect(panel).to_contain_text("up to 10.0 MB per file, 10 files at once")
    text = ("Our shop opens at nine and closes at five. " * 40_000).encode()
    assert 1_500_000 < len(text) < 2_000_000
    drop = panel.locator("input[type=file]")
    drop.set_input_files([{"name": "hours.txt", "mimeType": "text/plain", "buffer": text}])
    rows = panel.get_by_test_id("knowledge-document")
    expect(rows.filter(has_text="hours.txt")).to_have_count(1, timeout=30_000)
    expect(rows.filter(has_text="hours.txt")).to_contain_text("1.7 MB")

    big = b"%PDF-1.4\n" + b"0" * 10_000_000
    drop.set_input_files([{"name": "manual.pdf", "mimeType": "application/pdf", "buffer": big}])
    expect(page.get_by_text("'manual.pdf': larger than 10.0 MB, the upload limit")).to_be_visible(
        timeout=15_000
    )
    expect(rows).to_have_count(1)
    with session_scope(site.url) as session:
        stored = knowledge.list_documents(session=session, agent_id=agent_id)
    assert [d.name for d in stored] == ["hours.txt"]
    browse.assert_clean()
