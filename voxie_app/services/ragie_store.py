"""The hosted knowledge base: documents in Ragie, one partition per agent.

Everything goes through the official `ragie` client. Every call names the
agent's partition (`partition_for`), so nothing ever lands in, or is read
from, Ragie's default partition, and one agent's retrieval cannot see another
agent's documents. `RAGIE_BASE_URL` points the client elsewhere (a proxy, or
the tests' local double).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from voxie_app.services.errors import NotConfigured, ProviderFailed
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 2.0
POLL_TIMEOUT_S = 900.0
TIMEOUT_MS = 30_000
# Retries of 429/5xx answers and connection errors: first wait, longest wait,
# and the total time allowed, in milliseconds.
RETRY_BACKOFF_MS = (250, 4_000, 20_000)
READY = "ready"
FAILED = "failed"
METADATA_AGENT = "voxie_agent_id"
METADATA_DOCUMENT = "voxie_document_id"


def partition_for(agent_id: uuid.UUID) -> str:
    """The agent's own partition (lowercase letters, digits and `-`, as Ragie requires)."""
    return f"voxie-agent-{agent_id.hex}"


@dataclass
class RagieChunk:
    document_id: str
    document_name: str
    text: str
    score: float


class RagieFailed(ProviderFailed):
    """Ragie refused or failed a request, or a document failed to index there."""


def _reason(exc: Exception) -> str:
    from ragie import models

    if isinstance(exc, models.RagieError):
        detail = getattr(getattr(exc, "data", None), "detail", None) or exc.body or exc.message
        return f"Ragie answered {exc.status_code}: {str(detail)[:300]}"
    return f"Ragie is unreachable: {exc.__class__.__name__}: {str(exc)[:200]}"


class RagieStore:
    """Upload, wait for, delete and retrieve an agent's documents in Ragie."""

    def __init__(self, settings: Settings) -> None:
        key = settings.ragie_api_key.get_secret_value().strip() if settings.ragie_api_key else ""
        if not key:
            raise NotConfigured("the Ragie knowledge base", ["RAGIE_API_KEY"])
        from ragie import Ragie
        from ragie.utils import BackoffStrategy, RetryConfig

        first, longest, total = RETRY_BACKOFF_MS
        self.client = Ragie(
            auth=key,
            server_url=settings.ragie_base_url or None,
            timeout_ms=TIMEOUT_MS,
            retry_config=RetryConfig("backoff", BackoffStrategy(first, longest, 2.0, total), True),
        )

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        import httpx
        from ragie import models

        try:
            return fn(**kwargs)
        except (models.RagieError, httpx.HTTPError) as exc:
            raise RagieFailed(_reason(exc)) from exc

    # ------------------------------------------------------------------ writes

    def upload(
        self,
        *,
        agent_id: uuid.UUID,
        document_id: uuid.UUID,
        name: str,
        media_type: str,
        data: bytes | None = None,
        text: str | None = None,
    ) -> str:
        """Create the document in the agent's partition; returns Ragie's document id.

        A file is sent as is (Ragie extracts it); pasted text goes to `/documents/raw`.
        """
        metadata = {METADATA_AGENT: str(agent_id), METADATA_DOCUMENT: str(document_id)}
        partition = partition_for(agent_id)
        if data is not None:
            doc = self._call(
                self.client.documents.create,
                request={
                    "file": {"file_name": name, "content": data, "content_type": media_type},
                    "name": name,
                    "partition": partition,
                    "metadata": metadata,
                    "mode": "fast",
                },
            )
        else:
            doc = self._call(
                self.client.documents.create_raw,
                request={
                    "data": text or "",
                    "name": name,
                    "partition": partition,
                    "metadata": metadata,
                },
            )
        return str(doc.id)

    def wait_ready(
        self,
        *,
        agent_id: uuid.UUID,
        ragie_id: str,
        interval: float | None = None,
        timeout: float | None = None,
    ) -> None:
        """Poll the document until Ragie says `ready`; `RagieFailed` if it fails or times out."""
        interval = POLL_INTERVAL_S if interval is None else interval
        deadline = time.monotonic() + (POLL_TIMEOUT_S if timeout is None else timeout)
        while True:
            doc = self._call(
                self.client.documents.get, document_id=ragie_id, partition=partition_for(agent_id)
            )
            if doc.status == READY:
                return
            if doc.status == FAILED:
                errors = "; ".join(str(e) for e in (doc.errors or []))[:500]
                raise RagieFailed(f"Ragie could not index the document: {errors or 'failed'}")
            if time.monotonic() > deadline:
                raise RagieFailed(
                    f"Ragie had not finished indexing after {int(timeout or POLL_TIMEOUT_S)} s "
                    f"(last status: {doc.status})"
                )
            time.sleep(interval)

    def delete(self, *, agent_id: uuid.UUID, ragie_id: str) -> None:
        """Delete the document from the agent's partition (already gone is fine)."""
        try:
            self._call(
                self.client.documents.delete,
                document_id=ragie_id,
                partition=partition_for(agent_id),
            )
        except RagieFailed as exc:
            if getattr(exc.__cause__, "status_code", None) != 404:
                raise

    def delete_partition(self, *, agent_id: uuid.UUID) -> None:
        """Delete the agent's partition and everything in it (already gone is fine)."""
        try:
            self._call(self.client.partitions.delete, partition_id=partition_for(agent_id))
        except RagieFailed as exc:
            if getattr(exc.__cause__, "status_code", None) != 404:
                raise

    # ------------------------------------------------------------------- reads

    def retrieve(self, *, agent_id: uuid.UUID, query: str, top_k: int) -> list[RagieChunk]:
        """The best chunks for `query` in the agent's partition, best first.

        Chunks whose metadata names another agent are dropped (defence in depth:
        the partition already scopes the search).
        """
        result = self._call(
            self.client.retrievals.retrieve,
            request={
                "query": query,
                "top_k": top_k,
                "rerank": True,
                "partition": partition_for(agent_id),
            },
        )
        out = []
        for chunk in result.scored_chunks:
            owner = (chunk.document_metadata or {}).get(METADATA_AGENT)
            if owner is not None and owner != str(agent_id):
                log.warning("Ragie returned a chunk of another agent; dropped")
                continue
            out.append(RagieChunk(chunk.document_id, chunk.document_name, chunk.text, chunk.score))
        return out
