"""The knowledge base: per-agent documents, their ingestion, and retrieval during calls.

A document is an uploaded file (`.txt`, `.md`, `.html`, `.pdf`) or pasted text.
Accepting it (`check_file` / `check_text`, then `add_document`) is quick and
all-or-nothing: a bad upload raises before anything is stored. Ingestion
(`ingest`) runs afterwards, in the background: extract the text, split it into
overlapping passages, store them in `knowledge_chunks`, and either mark the
document ready (built-in index) or upload it to the agent's Ragie partition
and wait until Ragie has indexed it. Each step is published on the event
stream `knowledge:<agent_id>`, which the agent page follows live.

Retrieval (`KnowledgeRetriever.search`) always names one agent: the built-in
index filters by `agent_id` in SQL (PostgreSQL full text with a GIN index,
ranked with `ts_rank_cd`; SQLite FTS5 ranked with `bm25`), Ragie is asked for
the agent's partition only. `format_for_model` turns passages into the text
the voice agent's tool returns: quoted, length-capped, and labelled as
reference data, never as instructions.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
import unicodedata
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from itertools import zip_longest

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import KnowledgeChunk, KnowledgeDocument
from voxie_app.services import agents as agents_svc
from voxie_app.services import chunking, events, ragie_store, text_extract
from voxie_app.services.errors import InvalidInput, NotFound, ServiceError
from voxie_app.settings import Settings, get_settings, providers

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 200
MAX_FILES_PER_UPLOAD = 10  # files in one drop on the Knowledge panel (one /_upload request)
MAX_TEXT_CHARS = 2_000_000
SEARCH_LIMIT = 3
# PostgreSQL ranking: a query term held by this share of the agent's passages
# (or at least MIN_COMMON_CAP of them) is "common" (see `_pg_term_counts`).
COMMON_SHARE = 0.05
MIN_COMMON_CAP = 50
CANDIDATE_BUDGET = 300
MAX_QUERY_CHARS = 300
MAX_QUERY_TERMS = 24
PASSAGE_CHARS = 1000
TOTAL_CHARS = 3200
# A document still `processing` this long after its last step was interrupted
# (the process ingesting it stopped); it is shown as failed.
STALE_AFTER = timedelta(seconds=ragie_store.POLL_TIMEOUT_S + 300)

LOCAL, RAGIE = "local", "ragie"
TERMINAL_KINDS = ("document_ready", "document_failed", "document_deleted")

_PATHLIKE = re.compile(r"[/\\:]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"[^\W_]+")
_STOPWORDS_TEXT = """a about after all also am an and any are as at be been before being but by
can could did do does doing for from get got had has have having he her here hers him his how
i if in into is it its just me more most my no nor not of off on once only or other our ours
out over own please same she should so some such than that the their theirs them then there
these they this those through to too under until up us very was we were what when where which
while who whom why will with would you your yours"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def stream_name(agent_id: uuid.UUID | str) -> str:
    """The event stream of an agent's knowledge base (document status changes)."""
    return f"knowledge:{agent_id}"


# ------------------------------------------------------------------ accepting


class UploadRejected(ServiceError):
    """An upload refused before anything is stored; `status` is 413 or 415."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """A checked upload, ready to store: the bytes of the file or of the pasted text."""

    name: str
    media_type: str
    source: str  # "file" or "text"
    data: bytes


def max_upload_bytes(settings: Settings | None = None) -> int:
    """The largest file (or pasted text, in UTF-8 bytes) the knowledge base accepts."""
    return max(1024, (settings or get_settings()).max_upload_bytes)


def max_ui_upload_bytes(settings: Settings | None = None) -> int:
    """The most one drop on the Knowledge panel may hold: every file at the upload limit."""
    return MAX_FILES_PER_UPLOAD * max_upload_bytes(settings)


def accepted_extensions() -> list[str]:
    return sorted(text_extract.MEDIA_TYPES)


# One spelling per kind, in the order people think of them (`.text`, `.htm`,
# `.markdown` are accepted too, but are not worth a word).
_KIND_WORDS = (".txt", ".md", ".html", ".pdf")


def accepted_kinds() -> str:
    """ "Only .txt, .md, .html and .pdf": the kinds of file, as a sentence says them."""
    kinds = [k for k in _KIND_WORDS if k in text_extract.MEDIA_TYPES]
    return "Only " + (", ".join(kinds[:-1]) + " and " + kinds[-1] if len(kinds) > 1 else kinds[0])


def clean_name(raw: str | None, *, field: str) -> str:
    """A document name: a plain file name, never a path."""
    name = unicodedata.normalize("NFC", raw or "").strip()
    if not name:
        raise InvalidInput("the document needs a name", field=field)
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"the name is longer than {MAX_NAME_CHARS} characters", field=field)
    if _CONTROL.search(name):
        raise InvalidInput("the name must not contain control characters", field=field)
    if _PATHLIKE.search(name) or name.startswith((".", "~")):
        raise InvalidInput(
            "the name must be a plain file name such as 'prices.pdf', not a path", field=field
        )
    return name


def _human_bytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} KB"


def check_file(
    *, name: str | None, data: bytes, settings: Settings | None = None, field: str = "file"
) -> Upload:
    """Check an uploaded file; raises `InvalidInput` (422) or `UploadRejected` (413/415)."""
    clean = clean_name(name, field=field)
    media_type = text_extract.media_type_for(clean)
    if media_type is None:
        raise UploadRejected(
            f"'{clean}' was not added. {accepted_kinds()} files can be added.",
            status=415,
        )
    limit = max_upload_bytes(settings)
    if len(data) > limit:
        raise UploadRejected(
            f"'{clean}' was not added: it is {_human_bytes(len(data))}, "
            f"larger than the {_human_bytes(limit)} limit.",
            status=413,
        )
    if not data.strip():
        raise InvalidInput(f"'{clean}' was not added: the file is empty.", field=field)
    try:
        text_extract.sniff(media_type, data)
    except text_extract.NotThatKind as exc:
        raise UploadRejected(f"'{clean}' was not added: {exc}.", status=415) from None
    return Upload(name=clean, media_type=media_type, source="file", data=data)


def check_text(*, name: str | None, text: str, settings: Settings | None = None) -> Upload:
    """Check pasted text (named like a file; `.md` names are read as Markdown)."""
    clean = clean_name(name or "Pasted text", field="name")
    if not (text or "").strip():
        raise InvalidInput("the text is empty", field="text")
    data = text.encode("utf-8")
    limit = max_upload_bytes(settings)
    if len(data) > limit:
        raise UploadRejected(
            f"the text is {_human_bytes(len(data))}, larger than the {_human_bytes(limit)} limit",
            status=413,
        )
    media_type = text_extract.media_type_for(clean)
    if media_type not in ("text/plain", "text/markdown"):
        media_type = "text/plain"
    return Upload(name=clean, media_type=media_type, source="text", data=data)


def add_document(
    *, session: Session, agent_id: uuid.UUID, upload: Upload, settings: Settings | None = None
) -> KnowledgeDocument:
    """Store a checked upload as a `processing` document; `ingest` does the rest.

    The agent stays locked until the document is in (a concurrent delete is a 404)."""
    agents_svc.lock_agent(session=session, agent_id=agent_id, shared=True)
    doc = KnowledgeDocument(
        agent_id=agent_id,
        name=upload.name,
        media_type=upload.media_type,
        source=upload.source,
        size_bytes=len(upload.data),
        status="processing",
        backend=RAGIE if providers(settings or get_settings()).ragie else LOCAL,
    )
    session.add(doc)
    session.flush()
    _publish(session, doc, "document_added", f"{doc.name}: processing")
    return doc


def _publish(session: Session, doc: KnowledgeDocument, kind: str, message: str) -> None:
    events.publish(
        stream_name(doc.agent_id),
        kind,
        message,
        {"document_id": str(doc.id), "name": doc.name, "status": doc.status},
        level="error" if kind == "document_failed" else "info",
        session=session,
    )


# ------------------------------------------------------------------ ingesting


# At most this many documents are ingested at once in a process, whichever way they
# came (page or API); the others wait their turn.
MAX_CONCURRENT_INGESTS = 2
_ingest_slots = threading.BoundedSemaphore(MAX_CONCURRENT_INGESTS)


def ingest(*, document_id: uuid.UUID, upload: Upload, settings: Settings | None = None) -> None:
    """Extract, chunk, store and index one document; never raises.

    The outcome is on the row (`ready`, or `failed` with the reason) and on the
    agent's knowledge stream. A document deleted meanwhile is left alone.
    Waits for one of the MAX_CONCURRENT_INGESTS slots first. Text past
    MAX_TEXT_CHARS, a PDF past its page cap or its time limit
    (VOXIE_KNOWLEDGE_EXTRACT_SECONDS) ends `failed` with that reason.
    """
    with _ingest_slots:
        _ingest(document_id=document_id, upload=upload, settings=settings or get_settings())


def _ingest(*, document_id: uuid.UUID, upload: Upload, settings: Settings) -> None:
    try:
        text = text_extract.extract_isolated(
            upload.media_type,
            upload.data,
            max_chars=MAX_TEXT_CHARS,
            seconds=settings.knowledge_extract_seconds,
        )
        passages = chunking.split_text(text)
        with session_scope() as session:
            doc = session.get(KnowledgeDocument, document_id)
            if doc is None or doc.status != "processing":
                return
            _store_chunks(session, doc, passages)
            doc.char_count, doc.chunk_count = len(text), len(passages)
            doc.updated_at = utcnow()
            if doc.backend == LOCAL:
                doc.status = "ready"
                _publish(session, doc, "document_ready", f"{doc.name}: ready")
                return
            session.add(doc)
            agent_id = doc.agent_id
        _ingest_ragie(document_id, agent_id, upload, settings)
    except (text_extract.ExtractionFailed, ServiceError) as exc:
        _fail(document_id, str(exc), settings)
    except Exception as exc:
        log.exception("ingesting knowledge document %s failed", document_id)
        _fail(document_id, f"internal error while ingesting ({exc.__class__.__name__})", settings)


def _start(
    document_id: uuid.UUID, upload: Upload, settings: Settings | None
) -> tuple[threading.Thread, Future[None]]:
    done: Future[None] = Future()

    def run() -> None:
        try:
            ingest(document_id=document_id, upload=upload, settings=settings)
        finally:
            done.set_result(None)

    thread = threading.Thread(target=run, name=f"knowledge-ingest-{document_id}", daemon=True)
    thread.start()
    return thread, done


def ingest_later(
    *, document_id: uuid.UUID, upload: Upload, settings: Settings | None = None
) -> threading.Thread:
    """Run `ingest` on a background thread (it waits for a slot there), for callers
    that cannot wait, such as the agent page.

    The threads are daemons: stopping the server does not wait for a long Ragie
    poll, and a document left `processing` is shown as failed after STALE_AFTER.
    """
    return _start(document_id, upload, settings)[0]


async def ingest_in_background(
    *, document_id: uuid.UUID, upload: Upload, settings: Settings | None = None
) -> None:
    """For a request's background tasks: `ingest_later`, awaited without holding a
    thread of the server's pool while the document waits for a slot."""
    await asyncio.wrap_future(_start(document_id, upload, settings)[1])


def _store_chunks(session: Session, doc: KnowledgeDocument, passages: list[str]) -> None:
    session.execute(sa.delete(KnowledgeChunk).where(col(KnowledgeChunk.document_id) == doc.id))
    if passages:
        session.execute(
            sa.insert(KnowledgeChunk),
            [
                {"document_id": doc.id, "agent_id": doc.agent_id, "position": i, "text": text}
                for i, text in enumerate(passages)
            ],
        )


def _ingest_ragie(
    document_id: uuid.UUID, agent_id: uuid.UUID, upload: Upload, settings: Settings
) -> None:
    store = ragie_store.RagieStore(settings)
    ragie_id = store.upload(
        agent_id=agent_id,
        document_id=document_id,
        name=upload.name,
        media_type=upload.media_type,
        data=upload.data if upload.source == "file" else None,
        text=upload.data.decode("utf-8") if upload.source == "text" else None,
    )
    with session_scope() as session:
        doc = session.get(KnowledgeDocument, document_id)
        if doc is not None:
            doc.ragie_document_id = ragie_id
            doc.ragie_partition = ragie_store.partition_for(agent_id)
            doc.updated_at = utcnow()
            session.add(doc)
    if doc is None:  # deleted while uploading: do not leave it behind in Ragie
        store.delete(agent_id=agent_id, ragie_id=ragie_id)
        return
    store.wait_ready(agent_id=agent_id, ragie_id=ragie_id)
    with session_scope() as session:
        doc = session.get(KnowledgeDocument, document_id)
        if doc is not None and doc.status == "processing":
            doc.status = "ready"
            doc.updated_at = utcnow()
            session.add(doc)
            _publish(session, doc, "document_ready", f"{doc.name}: ready (Ragie)")


def _fail(document_id: uuid.UUID, reason: str, settings: Settings) -> None:
    try:
        with session_scope() as session:
            doc = session.get(KnowledgeDocument, document_id)
            if doc is None:
                return
            ragie_id, agent_id = doc.ragie_document_id, doc.agent_id
            doc.status, doc.error = "failed", reason[:1000]
            doc.ragie_document_id = None
            doc.updated_at = utcnow()
            session.execute(
                sa.delete(KnowledgeChunk).where(col(KnowledgeChunk.document_id) == doc.id)
            )
            session.add(doc)
            _publish(session, doc, "document_failed", f"{doc.name}: failed: {reason}")
        if ragie_id:
            ragie_store.RagieStore(settings).delete(agent_id=agent_id, ragie_id=ragie_id)
    except Exception:
        log.exception("could not record the failure of knowledge document %s", document_id)


# -------------------------------------------------------------------- reading


def list_documents(*, session: Session, agent_id: uuid.UUID) -> list[KnowledgeDocument]:
    """The agent's documents, newest first (404 for an unknown agent)."""
    agents_svc.get_agent(session=session, agent_id=agent_id)
    docs = list(
        session.exec(
            select(KnowledgeDocument)
            .where(KnowledgeDocument.agent_id == agent_id)
            .order_by(col(KnowledgeDocument.created_at).desc(), col(KnowledgeDocument.name))
        ).all()
    )
    stale_before = utcnow() - STALE_AFTER
    for doc in docs:
        if doc.status == "processing" and doc.updated_at < stale_before:
            doc.status = "failed"
            doc.error = "ingestion was interrupted (the server stopped); delete it and upload again"
            session.add(doc)
    return docs


def get_document(
    *, session: Session, agent_id: uuid.UUID, document_id: uuid.UUID
) -> KnowledgeDocument:
    """One of the agent's documents; another agent's document is simply not found."""
    doc = session.get(KnowledgeDocument, document_id)
    if doc is None or doc.agent_id != agent_id:
        raise NotFound(f"document {document_id} not found for agent {agent_id}")
    return doc


MAX_SHOWN_PASSAGES = 500


@dataclass(frozen=True)
class DocumentView:
    """A document as a person reads it: its passages, and the text they came from."""

    document: KnowledgeDocument
    passages: list[str]
    text: str
    truncated: bool  # more passages than MAX_SHOWN_PASSAGES


def document_view(*, session: Session, agent_id: uuid.UUID, document_id: uuid.UUID) -> DocumentView:
    """The stored passages of one of the agent's documents, in order, and their text.

    The extracted text is not stored apart from its passages (they hold all of
    it, with overlaps), so the text is the passages joined back together.
    """
    doc = get_document(session=session, agent_id=agent_id, document_id=document_id)
    rows = session.exec(
        select(KnowledgeChunk.text)
        .where(KnowledgeChunk.document_id == document_id)
        .order_by(col(KnowledgeChunk.position))
        .limit(MAX_SHOWN_PASSAGES + 1)
    ).all()
    passages = list(rows[:MAX_SHOWN_PASSAGES])
    return DocumentView(
        document=doc,
        passages=passages,
        text=chunking.join_passages(passages),
        truncated=len(rows) > MAX_SHOWN_PASSAGES,
    )


def delete_agent(
    *, agent_id: uuid.UUID, settings: Settings | None = None
) -> threading.Thread | None:
    """Delete an agent with its documents, then its Ragie partition in the background.

    The rows go first, in one transaction (`NotFound` if there is no such
    agent); the partition is dropped after the commit, so a slow or failing
    Ragie never blocks or undoes the delete (a partition Ragie kept is logged).
    Returns the thread dropping the partition, if there is one to drop.
    """
    settings = settings or get_settings()
    with session_scope() as session:
        in_ragie = session.exec(
            select(sa.func.count())
            .select_from(KnowledgeDocument)
            .where(
                col(KnowledgeDocument.agent_id) == agent_id,
                col(KnowledgeDocument.ragie_document_id).is_not(None),
            )
        ).one()
        agents_svc.delete_agent(session=session, agent_id=agent_id)
    if not in_ragie or not providers(settings).ragie:
        return None
    thread = threading.Thread(
        target=_drop_partition, args=(agent_id, settings), name="ragie-drop", daemon=True
    )
    thread.start()
    return thread


def _drop_partition(agent_id: uuid.UUID, settings: Settings) -> None:
    try:
        ragie_store.RagieStore(settings).delete_partition(agent_id=agent_id)
    except ServiceError as exc:
        log.warning(
            "agent %s deleted, but its Ragie partition %s stays: %s",
            agent_id,
            ragie_store.partition_for(agent_id),
            exc.message,
        )


def delete_document(
    *, agent_id: uuid.UUID, document_id: uuid.UUID, settings: Settings | None = None
) -> None:
    """Delete a document: from Ragie first (if it is there), then its rows and chunks.

    If Ragie fails the document stays (`ProviderFailed`, HTTP 502) so the
    delete can be retried; with Ragie no longer configured only the local copy goes.
    """
    settings = settings or get_settings()
    with session_scope() as session:
        doc = get_document(session=session, agent_id=agent_id, document_id=document_id)
        ragie_id = doc.ragie_document_id
    note = ""
    if ragie_id:
        if providers(settings).ragie:
            ragie_store.RagieStore(settings).delete(agent_id=agent_id, ragie_id=ragie_id)
        else:
            note = " (the copy in Ragie stays: RAGIE_API_KEY is not set)"
    with session_scope() as session:
        doc = session.get(KnowledgeDocument, document_id)
        if doc is None:
            return
        session.delete(doc)
        session.flush()
        _publish(session, doc, "document_deleted", f"{doc.name}: deleted{note}")


def has_ready_documents(agent_id: uuid.UUID | None) -> bool:
    """Whether the agent has at least one searchable document (then it gets the tool)."""
    if agent_id is None:
        return False
    try:
        with session_scope() as session:
            found = session.exec(
                select(KnowledgeDocument.id)
                .where(KnowledgeDocument.agent_id == agent_id, KnowledgeDocument.status == "ready")
                .limit(1)
            ).first()
    except sa.exc.SQLAlchemyError:
        log.warning("could not check the knowledge base of agent %s", agent_id, exc_info=True)
        return False
    return found is not None


# ------------------------------------------------------------------ retrieval


@dataclass
class Passage:
    """A retrieved passage and the document it comes from."""

    document_name: str
    text: str
    score: float
    document_id: str = ""


def query_terms(query: str) -> list[str]:
    """The words of a question worth searching for (lowercase, no stop words, no repeats)."""
    words = _WORD.findall(query[:MAX_QUERY_CHARS].lower())
    kept = (w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit()))
    return list(dict.fromkeys(kept))[:MAX_QUERY_TERMS]


# PostgreSQL ranking, BM25-style, in two bounded steps (both served by the GIN index):
#
# 1. `_pg_term_counts`: for each query term, how many of the agent's chunks hold
#    it, counting at most `cap` (5% of the agent's chunks, at least 50). A term
#    that reaches the cap is *common*: it says little about which passage is
#    meant, and reading every chunk that holds it is what would make a search
#    slow on a large knowledge base.
# 2. `_PG_SEARCH`: candidates are the chunks holding at least one of the rarest
#    terms, taken rarest first while their chunks fit in CANDIDATE_BUDGET (all
#    terms AND-ed when every term is common); each candidate scores the
#    sum of the IDF of the query terms it holds (`ln(1 + (N - df + .5) / (df + .5))`,
#    common terms counted with df = cap), and `ts_rank_cd` (cover density) breaks
#    ties among the 50 best. Plain `ts_rank_cd` has no notion of rarity, so a word
#    found everywhere ("bike" in a bike shop) would outweigh the one that
#    matters ("puncture").
def _pg_term_counts(n_terms: int) -> sa.TextClause:
    """One capped count per term, each a branch of its own so the planner sees each
    term's value (an index scan for a rare term, a short sequential read for a common one)."""
    branch = (
        "SELECT {i} AS i, (SELECT count(*) FROM (SELECT 1 FROM knowledge_chunks AS c "
        "WHERE c.agent_id = :agent_id AND c.tsv @@ to_tsquery('english', :t{i}) "
        "LIMIT :cap) AS capped) AS n"
    )
    sql = "\nUNION ALL\n".join(branch.format(i=i) for i in range(n_terms))
    return sa.text(sql).bindparams(sa.bindparam("agent_id", type_=sa.Uuid))


_PG_SEARCH = sa.text(
    """
    WITH terms AS (
        SELECT t.term, t.idf, to_tsquery('english', t.term) AS tq
        FROM unnest(CAST(:term_list AS text[]), CAST(:idf_list AS float8[])) AS t(term, idf)
    ),
    cand AS (
        SELECT c.id, c.tsv
        FROM knowledge_chunks AS c
        JOIN knowledge_documents AS d ON d.id = c.document_id
        WHERE c.agent_id = :agent_id AND d.agent_id = :agent_id AND d.status = 'ready'
          AND (:all_backends OR d.backend = :backend)
          AND c.tsv @@ to_tsquery('english', :candidates)
        LIMIT :max_candidates
    ),
    scored AS (
        SELECT cand.id, sum(terms.idf) AS idf
        FROM cand JOIN terms ON cand.tsv @@ terms.tq
        GROUP BY cand.id
        ORDER BY idf DESC
        LIMIT 50
    )
    SELECT d.id AS document_id, d.name AS name, c.text AS text,
           scored.idf + ts_rank_cd(c.tsv, to_tsquery('english', :all_terms), 1) AS score
    FROM scored
    JOIN knowledge_chunks AS c ON c.id = scored.id
    JOIN knowledge_documents AS d ON d.id = c.document_id
    ORDER BY score DESC, c.id
    LIMIT :limit
    """
).bindparams(sa.bindparam("agent_id", type_=sa.Uuid))

_SQLITE_SEARCH = sa.text(
    """
    SELECT d.id AS document_id, d.name AS name, c.text AS text,
           bm25(knowledge_chunks_fts) AS score
    FROM knowledge_chunks_fts
         JOIN knowledge_chunks AS c ON c.id = knowledge_chunks_fts.rowid
         JOIN knowledge_documents AS d ON d.id = c.document_id
    WHERE knowledge_chunks_fts MATCH :terms
      AND c.agent_id = :agent_id AND d.agent_id = :agent_id AND d.status = 'ready'
      AND (:all_backends OR d.backend = :backend)
    ORDER BY score, c.id
    LIMIT :limit
    """
).bindparams(sa.bindparam("agent_id", type_=sa.Uuid))


def search_local(
    *,
    session: Session,
    agent_id: uuid.UUID,
    query: str,
    limit: int = SEARCH_LIMIT,
    backend: str | None = None,
    passages: int | None = None,
) -> list[Passage]:
    """The built-in index: the agent's best passages for `query`, best first.

    `backend` restricts the search to documents ingested for that backend
    (`local`), which the retriever uses when Ragie holds the others;
    `passages` is how many passages the searched documents hold, when the
    caller already knows.
    """
    terms = query_terms(query)
    if not terms:
        return []
    params = {
        "agent_id": agent_id,
        "limit": max(1, min(limit, 20)),
        "all_backends": backend is None,
        "backend": backend or "",
    }
    if session.get_bind().dialect.name == "postgresql":
        if passages is None:
            passages = ready_passages(session=session, agent_id=agent_id).get(backend, 0)
        return _search_pg(session, terms, params, passages)
    match = " OR ".join(f'"{t}"' for t in terms)
    rows = session.execute(_SQLITE_SEARCH, {**params, "terms": match}).all()
    return [Passage(r.name, r.text, -float(r.score), str(r.document_id)) for r in rows]


def ready_passages(*, session: Session, agent_id: uuid.UUID) -> dict[str | None, int]:
    """Passages of the agent's ready documents, by backend (and in all, under None)."""
    rows = session.execute(
        sa.select(KnowledgeDocument.backend, sa.func.sum(KnowledgeDocument.chunk_count))
        .where(
            col(KnowledgeDocument.agent_id) == agent_id,
            col(KnowledgeDocument.status) == "ready",
        )
        .group_by(KnowledgeDocument.backend)
    ).all()
    by_backend: dict[str | None, int] = {backend: int(n or 0) for backend, n in rows}
    by_backend[None] = sum(by_backend.values())
    return by_backend


def _search_pg(session: Session, terms: list[str], params: dict, total: int) -> list[Passage]:
    if not total:
        return []
    cap = max(MIN_COMMON_CAP, int(total * COMMON_SHARE))
    bound = {f"t{i}": term for i, term in enumerate(terms)}
    counts = {
        terms[r.i]: r.n
        for r in session.execute(
            _pg_term_counts(len(terms)), {"agent_id": params["agent_id"], "cap": cap, **bound}
        )
    }
    terms = [t for t in terms if counts.get(t)]  # a term no chunk holds cannot help
    if not terms:
        return []
    # Candidates come from the rarest terms, as many as fit in the budget (always
    # the rarest one, unless it is common).
    chosen: list[str] = []
    budget = 0
    for term in sorted(terms, key=lambda t: counts[t]):
        if counts[term] >= cap or (chosen and budget + counts[term] > CANDIDATE_BUDGET):
            break
        chosen.append(term)
        budget += counts[term]
    idf = [math.log(1 + (total - counts[t] + 0.5) / (counts[t] + 0.5)) for t in terms]
    query = {
        **params,
        "term_list": terms,
        "idf_list": idf,
        "all_terms": " | ".join(terms),
        "candidates": " | ".join(chosen) if chosen else " & ".join(terms),
        "max_candidates": budget if chosen else cap,
    }
    rows = session.execute(_PG_SEARCH, query).all()
    if not rows and not chosen:  # every term common and no chunk holds them all
        rows = session.execute(_PG_SEARCH, {**query, "candidates": query["all_terms"]}).all()
    return [Passage(r.name, r.text, float(r.score), str(r.document_id)) for r in rows]


class KnowledgeRetriever:
    """What the voice agent's `search_knowledge_base` tool calls.

    With Ragie configured, documents ingested into Ragie are searched there
    (the agent's partition) and documents ingested locally in the built-in
    index; the two lists are interleaved. Without Ragie, or if Ragie fails
    during a call, every ready document is searched locally (their chunks are
    always stored), so a call never loses its knowledge base to an outage.
    Tests may put any object with the same `search` on `CallData.knowledge`.
    """

    # How long the agent's passage counts (which backends, how many passages) are
    # reused between searches of one retriever, i.e. within one call.
    COUNTS_TTL_S = 5.0

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._counts: dict[uuid.UUID, tuple[float, dict[str | None, int]]] = {}
        self._ragie: ragie_store.RagieStore | None = None

    def _passage_counts(self, session: Session, agent_id: uuid.UUID) -> dict[str | None, int]:
        now = time.monotonic()
        hit = self._counts.get(agent_id)
        if hit is not None and now - hit[0] < self.COUNTS_TTL_S:
            return hit[1]
        counts = ready_passages(session=session, agent_id=agent_id)
        self._counts[agent_id] = (now, counts)
        return counts

    async def search(
        self, agent_id: uuid.UUID, query: str, limit: int = SEARCH_LIMIT
    ) -> list[Passage]:
        return await asyncio.to_thread(self.search_sync, agent_id, query, limit)

    def search_sync(
        self, agent_id: uuid.UUID, query: str, limit: int = SEARCH_LIMIT
    ) -> list[Passage]:
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query:
            return []
        with session_scope() as session:
            counts = self._passage_counts(session, agent_id)
            backends = {b for b in counts if b is not None and counts[b]}
            if not backends:
                return []
            if RAGIE not in backends or not providers(self.settings).ragie:
                return search_local(
                    session=session,
                    agent_id=agent_id,
                    query=query,
                    limit=limit,
                    passages=counts[None],
                )
            local = (
                search_local(
                    session=session,
                    agent_id=agent_id,
                    query=query,
                    limit=limit,
                    backend=LOCAL,
                    passages=counts[LOCAL],
                )
                if LOCAL in backends
                else []
            )
        try:
            if self._ragie is None:
                self._ragie = ragie_store.RagieStore(self.settings)
            chunks = self._ragie.retrieve(agent_id=agent_id, query=query, top_k=limit)
        except ServiceError as exc:
            log.warning("Ragie retrieval failed, searching locally instead: %s", exc)
            with session_scope() as session:
                return search_local(session=session, agent_id=agent_id, query=query, limit=limit)
        hosted = [Passage(c.document_name, c.text, c.score, c.document_id) for c in chunks]
        merged = [p for pair in zip_longest(hosted, local) for p in pair if p is not None]
        return merged[:limit]


# ------------------------------------------------------------ for the model


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _safe_name(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f\"`]", "", name).strip()
    return name[:100] or "untitled"


def format_for_model(passages: list[Passage], *, note: str, empty: str) -> str:
    """The tool's answer: passages as quoted data with their document names.

    Every line of a passage is prefixed with `> ` so nothing in a document can
    end the quote and pose as the tool's own words; each passage and the whole
    answer are length-capped.
    """
    if not passages:
        return empty
    parts = [note]
    used = len(note)
    for number, passage in enumerate(passages, 1):
        text = _clip(passage.text, min(PASSAGE_CHARS, max(0, TOTAL_CHARS - used)))
        if not text:
            break
        quoted = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
        block = f'[{number}] from the document "{_safe_name(passage.document_name)}":\n{quoted}'
        parts.append(block)
        used += len(block)
    return "\n\n".join(parts)
