"""A local HTTP double of the Ragie API endpoints Voxie uses.

Like the OpenAI double, it is a real HTTP server so the real `ragie` client
builds and parses the requests (multipart upload, headers, JSON bodies):

- `POST /documents` (multipart: `file`, `name`, `partition`, `metadata`, `mode`)
- `POST /documents/raw` (JSON: `data`, `name`, `partition`, `metadata`)
- `GET /documents/{id}` (`partition` header): the status advances on each poll
  through `statuses` (default `pending`, `partitioning`, `indexed`, `ready`),
  or ends `failed` for a document whose name is in `fail_names`
- `DELETE /documents/{id}` (`partition` header)
- `DELETE /partitions/{partition}` (the partition and its documents)
- `POST /retrievals` (JSON: `query`, `top_k`, `partition`, ...): word-overlap
  scoring (words of four letters or more) over the paragraphs of the
  partition's ready documents

Documents live in partitions exactly as in Ragie: a request without a
partition uses `default`, and a document is not found from another partition.
Every request is recorded (`requests`) for assertions; a missing or wrong
bearer token gets 401.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.doubles.http_server import ThreadedServer

DEFAULT_PARTITION = "default"
_WORD = re.compile(r"[a-z0-9]+")
_IGNORED = frozenset(
    ["what", "when", "where", "which", "your", "with", "that", "this", "have", "does", "from"]
)


def _words(text: str) -> set[str]:
    """The words retrieval scores on: four letters or more, a few common ones left out."""
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _IGNORED}


@dataclass
class Recorded:
    method: str
    path: str
    partition: str | None  # from the body, the form or the `partition` header
    headers: dict[str, str]
    body: Any


@dataclass
class StoredDocument:
    id: str
    name: str
    partition: str
    metadata: dict[str, Any]
    text: str
    created_at: str
    polls: int = 0
    status: str = "pending"
    errors: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "partition": self.partition,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "chunk_count": len(_paragraphs(self.text)),
            "external_id": None,
            "page_count": None,
        }


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _field_text(value: Any) -> str:
    """A multipart field as text (the client sends JSON fields as parts of their own)."""
    if isinstance(value, web.FileField):
        value = value.file.read()
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8")
    return str(value)


def _text_of(filename: str, content: bytes) -> str:
    if filename.lower().endswith(".pdf"):
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(content))
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    return content.decode("utf-8", "replace")


class RagieServerDouble(ThreadedServer):
    """The Ragie API on 127.0.0.1 in a background thread (use as a context manager)."""

    thread_name = "ragie-double"

    def __init__(self, api_key: str = "ragie-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.documents: dict[str, StoredDocument] = {}
        self.requests: list[Recorded] = []
        self.statuses: list[str] = ["pending", "partitioning", "indexed", "ready"]
        self.fail_names: set[str] = set()
        self.fail_retrievals = False
        self._lock = threading.Lock()

    # --------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the Ragie double is not running")
        return f"http://127.0.0.1:{self.port}"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/documents", self._create)
        app.router.add_post("/documents/raw", self._create_raw)
        app.router.add_get("/documents/{id}", self._get)
        app.router.add_delete("/documents/{id}", self._delete)
        app.router.add_post("/retrievals", self._retrieve)
        app.router.add_delete("/partitions/{partition}", self._delete_partition)
        app.router.add_route("*", "/{tail:.*}", self._no_route)
        return app

    # ----------------------------------------------------------------- helpers

    def partitions_used(self) -> set[str | None]:
        with self._lock:
            return {r.partition for r in self.requests}

    def in_partition(self, partition: str) -> list[StoredDocument]:
        with self._lock:
            return [d for d in self.documents.values() if d.partition == partition]

    def _record(self, request: web.Request, partition: str | None, body: Any) -> None:
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.path, partition, dict(request.headers), body)
            )

    @staticmethod
    def _error(status: int, detail: str) -> web.Response:
        return web.json_response({"detail": detail}, status=status)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._record(request, None, "unauthorized")
            return self._error(401, "Invalid API key")
        return await handler(request)

    def _store(self, name: str, partition: str | None, metadata: Any, text: str) -> web.Response:
        if not isinstance(metadata, dict):
            metadata = {}
        doc = StoredDocument(
            id=str(uuid.uuid4()),
            name=name,
            partition=partition or DEFAULT_PARTITION,
            metadata=metadata,
            text=text,
            created_at=datetime.now(UTC).isoformat(),
        )
        with self._lock:
            self.documents[doc.id] = doc
        return web.json_response(doc.public(), status=201)

    def _find(self, request: web.Request) -> StoredDocument | None:
        partition = request.headers.get("partition") or DEFAULT_PARTITION
        with self._lock:
            doc = self.documents.get(request.match_info["id"])
        return doc if doc is not None and doc.partition == partition else None

    # ---------------------------------------------------------------- handlers

    async def _no_route(self, request: web.Request) -> web.Response:
        self._record(request, None, None)
        return self._error(404, f"Ragie double: no route {request.method} {request.path}")

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        fields = {k: _field_text(v) for k, v in form.items() if k != "file"}
        self._record(
            request, fields.get("partition"), {**fields, "file": getattr(upload, "filename", None)}
        )
        if not isinstance(upload, web.FileField):
            return self._error(422, "file is required")
        content = upload.file.read()
        metadata = json.loads(str(fields.get("metadata") or "{}"))
        name = str(fields.get("name") or upload.filename)
        return self._store(
            name, fields.get("partition"), metadata, _text_of(upload.filename, content)
        )

    async def _create_raw(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body.get("partition"), body)
        data = body.get("data")
        text = data if isinstance(data, str) else json.dumps(data)
        return self._store(
            str(body.get("name") or "raw"), body.get("partition"), body.get("metadata"), text
        )

    async def _get(self, request: web.Request) -> web.Response:
        self._record(request, request.headers.get("partition"), None)
        doc = self._find(request)
        if doc is None:
            return self._error(404, "Document not found")
        with self._lock:
            if doc.name in self.fail_names:
                doc.status, doc.errors = "failed", ["The document could not be partitioned"]
            else:
                doc.status = self.statuses[min(doc.polls, len(self.statuses) - 1)]
            doc.polls += 1
        return web.json_response({**doc.public(), "errors": doc.errors})

    async def _delete(self, request: web.Request) -> web.Response:
        self._record(request, request.headers.get("partition"), None)
        doc = self._find(request)
        if doc is None:
            return self._error(404, "Document not found")
        with self._lock:
            del self.documents[doc.id]
        return web.json_response({"status": "deleted"})

    async def _delete_partition(self, request: web.Request) -> web.Response:
        partition = request.match_info["partition"]
        self._record(request, partition, None)
        with self._lock:
            gone = [i for i, d in self.documents.items() if d.partition == partition]
            for i in gone:
                del self.documents[i]
        if not gone:
            return self._error(404, "Partition not found")
        return web.json_response({"message": "ok"})

    async def _retrieve(self, request: web.Request) -> web.Response:
        body = await request.json()
        partition = body.get("partition") or DEFAULT_PARTITION
        self._record(request, body.get("partition"), body)
        if self.fail_retrievals:
            return self._error(500, "retrieval backend unavailable")
        words = _words(str(body.get("query", "")))
        scored = []
        for doc in self.in_partition(partition):
            if doc.status != "ready":
                continue
            for index, paragraph in enumerate(_paragraphs(doc.text)):
                overlap = len(words & _words(paragraph))
                if overlap:
                    scored.append((overlap / max(1, len(words)), index, paragraph, doc))
        scored.sort(key=lambda item: -item[0])
        chunks = [
            {
                "text": paragraph,
                "score": score,
                "id": f"{doc.id}-{index}",
                "index": index,
                "document_id": doc.id,
                "document_name": doc.name,
                "document_metadata": doc.metadata,
                "links": {},
            }
            for score, index, paragraph, doc in scored[: int(body.get("top_k") or 8)]
        ]
        return web.json_response({"scored_chunks": chunks})
