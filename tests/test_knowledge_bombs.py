"""Small PDFs that expand into huge text (H6): extraction stops at the character cap or
the page cap, PDFs are read in a child process with a time limit, and ingestion runs a
bounded number of documents at once. Refusals are checked by what was read (pages,
characters), never by how long it took.
"""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
from collections.abc import Callable

import pytest
from pypdf import PageObject, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from tests.test_knowledge import documents, make_agent
from voxie_app.db import session_scope
from voxie_app.services import knowledge, text_extract
from voxie_app.settings import Settings

LINE = b"BT /F1 10 Tf 20 %d Td (The shop opens at nine and closes at five every day) Tj ET\n"


def shared_stream_pdf(pages: int = 200, lines: int = 400) -> bytes:
    """A small PDF whose `pages` pages all draw one compressed content stream of `lines`
    text lines: each page repeats the whole text (the review's 31 KB / 9.2 M chars)."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    resources = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"".join(LINE % (780 - (i % 70) * 11) for i in range(lines)))
    content = writer._add_object(stream.flate_encode())
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Contents")] = content
        page[NameObject("/Resources")] = resources
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def pages_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts pypdf's `extract_text` calls made in this process."""
    calls: list[int] = []
    original = PageObject.extract_text

    def counting(self: PageObject, *args, **kwargs) -> str:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", counting)
    return calls


def test_the_shared_stream_pdf_is_small_and_expands() -> None:
    pdf = shared_stream_pdf(pages=3)
    assert len(pdf) < 10_000
    per_page = len(text_extract.extract("application/pdf", pdf)) / 3
    assert per_page > 15_000  # each page repeats the whole stream's text


def test_pdf_extraction_stops_at_the_character_cap(pages_read: list[int]) -> None:
    pdf = shared_stream_pdf(pages=200)
    assert len(pdf) < 40_000
    with pytest.raises(text_extract.ExtractionFailed, match="more than 100,000 characters"):
        text_extract.extract("application/pdf", pdf, max_chars=100_000)
    # About 21,000 characters a page: the fifth page passes the cap, and reading stops.
    assert len(pages_read) == 5


def test_pdf_past_the_page_cap_is_refused_before_any_page_is_read(
    pages_read: list[int],
) -> None:
    pdf = shared_stream_pdf(pages=30, lines=2)
    with pytest.raises(text_extract.ExtractionFailed, match="more than 20 pages"):
        text_extract.extract("application/pdf", pdf, max_chars=10**6, max_pages=20)
    assert pages_read == []


def test_text_past_the_cap_is_refused() -> None:
    with pytest.raises(text_extract.ExtractionFailed, match="more than 10 characters"):
        text_extract.extract("text/plain", b"eleven char", max_chars=10)


def test_isolated_extraction_reads_a_pdf_in_a_child_process(pages_read: list[int]) -> None:
    pdf = shared_stream_pdf(pages=2, lines=3)
    text = text_extract.extract_isolated("application/pdf", pdf, max_chars=10**6, seconds=60)
    assert text.count("The shop opens at nine") == 6
    assert pages_read == []  # nothing was parsed in this process
    with pytest.raises(text_extract.ExtractionFailed, match="more than 100 characters"):
        text_extract.extract_isolated("application/pdf", pdf, max_chars=100, seconds=60)


def test_isolated_extraction_is_killed_at_its_time_limit() -> None:
    """A limit no interpreter can start within: the child is killed, with that reason."""
    pdf = shared_stream_pdf(pages=2, lines=3)
    with pytest.raises(text_extract.ExtractionFailed, match=r"longer than 0\.001 s"):
        text_extract.extract_isolated("application/pdf", pdf, max_chars=10**6, seconds=0.001)


def _add_pdf(agent_id: uuid.UUID, pdf: bytes, name: str = "bomb.pdf") -> tuple:
    upload = knowledge.check_file(name=name, data=pdf)
    with session_scope() as session:
        doc = knowledge.add_document(session=session, agent_id=agent_id, upload=upload)
    return doc, upload


def test_a_pdf_bomb_ends_failed_with_the_cap_as_reason(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knowledge, "MAX_TEXT_CHARS", 100_000)
    agent_id = make_agent()
    doc, upload = _add_pdf(agent_id, shared_stream_pdf(pages=200))
    knowledge.ingest(document_id=doc.id, upload=upload)
    (shown,) = documents(agent_id)
    assert shown.status == "failed"
    assert shown.error == ("it holds more than 100,000 characters of text; the limit is 100,000")
    assert shown.chunk_count == 0


def test_a_pdf_past_the_time_limit_ends_failed_with_that_reason(
    db: str, configure: Callable[..., Settings]
) -> None:
    settings = configure(DATABASE_URL=db, VOXIE_KNOWLEDGE_EXTRACT_SECONDS="0.001")
    agent_id = make_agent()
    doc, upload = _add_pdf(agent_id, shared_stream_pdf(pages=2, lines=3))
    knowledge.ingest(document_id=doc.id, upload=upload, settings=settings)
    (shown,) = documents(agent_id)
    assert (shown.status, shown.error) == (
        "failed",
        "reading the PDF took longer than 0.001 s (the limit)",
    )


def test_at_most_two_documents_are_ingested_at_once(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five documents at once, from the page (`ingest_later`) and as the API's background
    task (`ingest_in_background`) and direct `ingest` calls: two extract, three wait."""
    release = threading.Event()
    lock = threading.Lock()
    running, most = [0], [0]
    real = text_extract.extract_isolated

    def slow_extract(*args, **kwargs) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(30)
        with lock:
            running[0] -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(text_extract, "extract_isolated", slow_extract)
    agent_id = make_agent()
    threads = []
    for i in range(5):
        upload = knowledge.check_text(name=f"doc{i}.md", text=f"# Doc {i}\n\nOpen at {i}.")
        with session_scope() as session:
            doc = knowledge.add_document(session=session, agent_id=agent_id, upload=upload)
        kw = {"document_id": doc.id, "upload": upload}
        if i < 2:
            threads.append(knowledge.ingest_later(**kw))
        elif i < 4:
            runner = threading.Thread(
                target=asyncio.run, args=(knowledge.ingest_in_background(**kw),)
            )
            runner.start()
            threads.append(runner)
        else:
            threads.append(threading.Thread(target=knowledge.ingest, kwargs=kw))
            threads[-1].start()
    for _ in range(3000):
        if running[0] == knowledge.MAX_CONCURRENT_INGESTS:
            break
        threading.Event().wait(0.01)
    assert running[0] == knowledge.MAX_CONCURRENT_INGESTS == 2
    release.set()
    for t in threads:
        t.join(60)
    assert most[0] == 2
    assert {d.status for d in documents(agent_id)} == {"ready"}
