"""Knowledge-base pieces that need no database: text extraction, chunking, upload checks,
query terms, the tool's output format, and the migration's full-text objects."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa

from alembic import command
from tests.conftest import alembic_config, create_pg_database, drop_pg_database
from tests.data.kb import corpus
from voxie_app import db as db_module
from voxie_app.services import chunking, knowledge, text_extract
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

# ----------------------------------------------------------------- extraction


def test_html_keeps_the_visible_text_and_the_structure() -> None:
    html = (
        "<html><head><title>Prices</title><style>p{color:red}</style>"
        "<script>alert('x')</script></head><body><h2>Repairs</h2>"
        "<p>Flat fix &amp; tube: <b>$15</b></p><ul><li>One</li><li>Two</li></ul>"
        "<table><tr><td>Tune-up</td><td>$79</td></tr></table><noscript>enable js</noscript>"
        "</body></html>"
    )
    text = text_extract.normalize(text_extract.html_text(html))
    assert text.splitlines()[0] == "# Prices"
    assert "## Repairs" in text and "Flat fix & tube: $15" in text
    assert "- One" in text and "- Two" in text and "Tune-up | $79" in text
    assert "alert" not in text and "color" not in text and "enable js" not in text


def test_pdf_text_is_read_from_every_page() -> None:
    pdf = corpus.file_bytes("warranty-and-returns.pdf")
    assert pdf.startswith(b"%PDF-1.4")
    text = text_extract.extract("application/pdf", pdf)
    source = (corpus.HERE / "warranty-and-returns.pdf-source.txt").read_text()
    assert corpus.squash(text) == corpus.squash(source)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\nnot really", "could not be read"),
        (corpus.make_pdf(""), "no text found (scanned PDFs"),
    ],
)
def test_unreadable_pdfs_fail_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(text_extract.ExtractionFailed, match=re.escape(reason)):
        text_extract.extract("application/pdf", data)


def test_text_encodings() -> None:
    assert text_extract.decode_text("héllo".encode()) == "héllo"
    assert text_extract.decode_text(codecs.BOM_UTF8 + b"bom") == "bom"
    assert text_extract.decode_text("ünï".encode("utf-16")) == "ünï"
    assert text_extract.decode_text("café".encode("cp1252")) == "café"
    with pytest.raises(text_extract.NotThatKind):
        text_extract.decode_text(b"a\x00b")
    assert text_extract.normalize("a\r\nb\x07c\n\n\n\nd  e ") == "a\nb c\n\nd e"


# ------------------------------------------------------------------- chunking


def test_chunks_are_bounded_overlapping_and_cover_the_text() -> None:
    text = "\n\n".join(
        text_extract.extract(text_extract.media_type_for(n) or "", corpus.file_bytes(n))
        for n in corpus.FILES
    )
    chunks = chunking.split_text(text, size=400, overlap=120)
    assert all(len(c) <= 400 for c in chunks)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", corpus.squash(text)) if len(s) < 350]
    joined = [corpus.squash(c) for c in chunks]
    missing = [s for s in sentences if not any(s in c for c in joined)]
    assert not missing, missing[:3]
    overlaps = sum(1 for a, b in pairwise(chunks) if corpus.squash(b)[:40] in corpus.squash(a))
    assert overlaps >= len(chunks) // 2  # most passages start inside the previous one


def test_passages_join_back_into_the_text_with_each_overlap_once() -> None:
    text = "\n\n".join(
        text_extract.extract(text_extract.media_type_for(n) or "", corpus.file_bytes(n))
        for n in corpus.FILES
    )
    chunks = chunking.split_text(text)
    assert len(chunks) > 3
    joined = chunking.join_passages(chunks)
    assert corpus.squash(joined) == corpus.squash(text)
    assert len(joined) < sum(len(c) for c in chunks)  # the overlaps are said once
    assert chunking.join_passages([]) == ""
    assert chunking.join_passages(["One.", "Two."]) == "One.\n\nTwo."


def test_refusals_are_sentences() -> None:
    assert knowledge.accepted_kinds() == "Only .txt, .md, .html and .pdf"
    with pytest.raises(knowledge.UploadRejected) as err:
        knowledge.check_file(name="notes.docx", data=b"PK")
    assert err.value.message == (
        "'notes.docx' was not added. Only .txt, .md, .html and .pdf files can be added."
    )
    with pytest.raises(InvalidInput) as empty:
        knowledge.check_file(name="a.txt", data=b"  ")
    assert empty.value.message == "'a.txt' was not added: the file is empty."
    with pytest.raises(knowledge.UploadRejected) as fake:
        knowledge.check_file(name="fake.pdf", data=b"just text")
    assert fake.value.message.startswith("'fake.pdf' was not added: the file is not a PDF")


def test_long_words_and_headings() -> None:
    chunks = chunking.split_text("x" * 2000, size=900, overlap=100)
    assert [len(c) for c in chunks] == [900, 900, 200]
    text = "# Title\n\n" + "Body sentence here. " * 40 + "\n\n## Next\n\nMore text."
    for chunk in chunking.split_text(text, size=300, overlap=50):
        assert not chunk.rstrip().endswith(("# Title", "## Next"))
    assert chunking.split_text("") == []
    with pytest.raises(ValueError):
        chunking.split_text("x", size=100, overlap=60)


# -------------------------------------------------------------- upload checks


def settings(max_upload: int = 1_000_000) -> Settings:
    return Settings(VOXIE_MAX_UPLOAD_BYTES=max_upload)


@pytest.mark.parametrize(
    "name", ["../a.txt", "a/b.txt", "a\\b.txt", "C:a.txt", ".hidden.md", "~a.txt", "", " "]
)
def test_path_like_or_empty_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        knowledge.check_file(name=name, data=b"hello", settings=settings())


def test_limits_follow_the_upload_limit() -> None:
    s = settings(200_000)
    limit = knowledge.max_upload_bytes(s)
    assert limit == 200_000
    assert len(knowledge.check_file(name="a.md", data=b"a" * limit, settings=s).data) == limit
    with pytest.raises(knowledge.UploadRejected) as exc:
        knowledge.check_file(name="a.md", data=b"a" * (limit + 1), settings=s)
    assert exc.value.status == 413 and "limit" in exc.value.message
    with pytest.raises(knowledge.UploadRejected) as exc:
        knowledge.check_file(name="a.rtf", data=b"{\\rtf1}", settings=s)
    assert exc.value.status == 415 and ".pdf" in exc.value.message
    pasted = knowledge.check_text(name="notes.md", text="# hi", settings=s)
    assert (pasted.media_type, pasted.source) == ("text/markdown", "text")
    assert knowledge.check_text(name="Price list", text="x", settings=s).media_type == "text/plain"


# ------------------------------------------------------------ query and output


def test_query_terms() -> None:
    assert knowledge.query_terms("What time do you OPEN on Saturday?") == [
        "time",
        "open",
        "saturday",
    ]
    assert knowledge.query_terms("e-bike e-bike 9.95 (x) & | ! 'quote'") == [
        "bike",
        "9",
        "95",
        "quote",
    ]
    assert knowledge.query_terms("the and of") == []


def test_format_for_model_quotes_caps_and_names() -> None:
    passages = [knowledge.Passage(f"doc{i}.md", "word " * 400, 1.0) for i in range(5)]
    out = knowledge.format_for_model(passages, note="NOTE", empty="EMPTY")
    assert out.startswith('NOTE\n\n[1] from the document "doc0.md":\n> word')
    assert len(out) <= knowledge.TOTAL_CHARS + 3 * 60
    assert knowledge.format_for_model([], note="NOTE", empty="EMPTY") == "EMPTY"
    one = knowledge.format_for_model(
        [knowledge.Passage('a"b`\nc', "line one\n\nline two", 1.0)], note="N", empty="E"
    )
    assert one == 'N\n\n[1] from the document "abc":\n> line one\n>\n> line two'


# ------------------------------------------------------------------ migration


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.db'}"
        return
    url = create_pg_database("voxie_kbmig")
    yield url
    db_module.get_engine(url).dispose()
    drop_pg_database(url)


def _fulltext_objects(url: str) -> set[str]:
    engine = db_module.get_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE name LIKE 'knowledge_chunks_fts%'")
            )
            return {r[0] for r in rows}
        columns = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'knowledge_chunks' AND data_type = 'tsvector'"
            )
        )
        indexes = conn.execute(
            sa.text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'knowledge_chunks' "
                "AND indexdef LIKE '%USING gin%'"
            )
        )
        return {r[0] for r in columns} | {r[0] for r in indexes}


def test_the_migration_creates_the_full_text_index_of_the_dialect(empty_url: str) -> None:
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "head")
    found = _fulltext_objects(empty_url)
    if empty_url.startswith("sqlite"):
        assert {"knowledge_chunks_fts", "knowledge_chunks_fts_ai", "knowledge_chunks_fts_ad"} <= (
            found
        )
    else:
        assert found == {"tsv", "idx_knowledge_chunks_tsv"}
    command.check(cfg)  # the dialect-specific objects are not drift
    command.downgrade(cfg, "base")
    assert _fulltext_objects(empty_url) == set()
