"""The Knowledge panel of `/agents/[id]`: the agent's documents, live while they ingest.

Uploads and pasted text go through the same checks as the API
(`services.knowledge`); ingestion runs on the service's background threads.
A background task follows the agent's `knowledge:<agent_id>` event stream and
reloads the list on every status change; it stops when the tab is gone or the
page shows another agent (or none).
"""

from __future__ import annotations

import logging
import uuid

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.models import KnowledgeDocument
from voxie_app.services import knowledge
from voxie_app.services.errors import ServiceError
from voxie_app.settings import Settings, get_settings, providers
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState
from voxie_app.state.live import claim, client_connected, follow

log = logging.getLogger(__name__)

UPLOAD_ID = "knowledge-upload"
MAX_FILES_PER_DROP = knowledge.MAX_FILES_PER_UPLOAD
KINDS = {
    "application/pdf": "PDF",
    "text/html": "HTML",
    "text/markdown": "Markdown",
    "text/plain": "Text",
}


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    return f"{max(1, round(n / 1000))} KB"


def drop_limits(settings: Settings | None = None) -> str:
    """What one drop may hold, as the panel and the refusals say it."""
    per_file = _size(knowledge.max_upload_bytes(settings))
    return f"up to {per_file} per file, {MAX_FILES_PER_DROP} files at once"


def rejected_message(rejected: list[str], settings: Settings | None = None) -> str:
    """The toast for files the dropzone refused before uploading; each entry is
    "<name>\t<react-dropzone error codes, comma separated>" (components/knowledge_panel)."""
    per_file = _size(knowledge.max_upload_bytes(settings))
    reasons = {
        "file-too-large": f"larger than {per_file}, the upload limit",
        "too-many-files": f"more than {MAX_FILES_PER_DROP} files at once",
        "file-invalid-type": "not a kind of file the knowledge base takes",
    }
    parts = []
    for entry in rejected[:MAX_FILES_PER_DROP]:
        name, _, codes = str(entry).partition("\t")
        why = "; ".join(reasons.get(c, c[:40]) for c in codes.split(",") if c) or "refused"
        parts.append(f"'{name[:100] or 'a file'}': {why}")
    return "Not uploaded: " + ", ".join(parts) + f" ({drop_limits(settings)})."


def upload_refused_update(_limit: int) -> bytes:
    """The 413 body for a `/_upload` over the body limit (api.limits.BodySizeLimit): a
    state update with an error toast naming the limit, which the page's upload code
    applies as it applies every upload response."""
    from reflex.state import StateUpdate
    from reflex_base.event import Event
    from reflex_base.utils.format import json_dumps

    toast = _toast_problem(f"The upload was refused: too large ({drop_limits()}).")
    return (json_dumps(StateUpdate(events=Event.from_event_type([toast]))) + "\n").encode()


def document_row(doc: KnowledgeDocument, tz: str) -> dict[str, str]:
    """A document as the panel shows it."""
    kind = "Pasted text" if doc.source == "text" else KINDS.get(doc.media_type, doc.media_type)
    detail = f"{kind} · {_size(doc.size_bytes)}"
    if doc.status == "ready":
        detail += f" · {doc.chunk_count} passage{'s' if doc.chunk_count != 1 else ''}"
    return {
        "id": str(doc.id),
        "name": doc.name,
        "detail": detail,
        "status": doc.status,
        "status_color": fmt.status_color(doc.status),
        "error": doc.error or "",
        "added": fmt.when(doc.created_at, tz),
        "where": "Ragie" if doc.backend == knowledge.RAGIE else "Built-in index",
    }


class KnowledgeState(AppState):
    agent_id: str = ""
    documents: list[dict[str, str]] = []
    loaded: bool = False
    uploading: bool = False
    paste_open: bool = False
    paste_name: str = ""
    paste_text: str = ""
    last_event_id: int = 0
    # Delete asks first; a document opens in a dialog (its text and passages).
    delete_id: str = ""
    delete_name: str = ""
    delete_open: bool = False
    view_open: bool = False
    view: dict[str, str] = {}
    view_passages: list[str] = []

    @rx.var
    def backend(self) -> str:
        if providers(get_settings()).ragie:
            return "Stored in Ragie (one partition per agent)."
        return "Searched with the built-in full-text index (set RAGIE_API_KEY to use Ragie)."

    @rx.var
    def limits(self) -> str:
        exts = ", ".join(e for e in knowledge.accepted_extensions() if e not in (".text", ".htm"))
        return f"{exts} or pasted text, {drop_limits()}"

    @rx.var
    def ready_count(self) -> int:
        return sum(1 for d in self.documents if d["status"] == "ready")

    def _agent_uuid(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.agent_id)
        except ValueError:
            return None

    def _reload(self) -> rx.event.EventSpec | None:
        agent_id = self._agent_uuid()
        if agent_id is None:
            self.documents = []
            return None
        try:
            with session_scope() as session:
                docs = knowledge.list_documents(session=session, agent_id=agent_id)
                self.documents = [document_row(d, self._tz()) for d in docs]
        except ServiceError:
            self.documents = []
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        finally:
            self.loaded = True
        return None

    # -------------------------------------------------------------------- events

    @rx.event
    @guard.viewer
    def load(self):
        """On mount: this page's agent, its documents, and the live watcher."""
        self.agent_id = self._path_part(1)
        self.loaded = False
        self.paste_open = False
        problem = self._reload()
        return [problem] if problem is not None else [KnowledgeState.watch]

    @rx.event
    @guard.viewer
    def leave(self) -> None:
        """On unmount: the watcher stops at its next check."""
        self.agent_id = ""

    @rx.event(background=True)
    @guard.viewer
    async def watch(self):
        """Reload the list on every status change of this agent's documents."""
        async with self:
            agent_id = self.agent_id
            token = self.router.session.client_token
            after = self.last_event_id
        if not agent_id:
            return
        stream = knowledge.stream_name(agent_id)

        async def still_wanted() -> bool:
            if not client_connected(token):
                return False
            async with self:
                return self.agent_id == agent_id

        with claim(f"{token}:{stream}") as mine:
            if not mine:
                return
            try:
                async for event in follow(stream, after, still_wanted=still_wanted):
                    async with self:
                        if self.agent_id != agent_id:
                            return
                        self.last_event_id = max(self.last_event_id, event.id)
                        self._reload()
            except Exception:
                log.exception("knowledge watcher stopped")

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        """Check and store each dropped file, then ingest it in the background."""
        agent_id = self._agent_uuid()
        if agent_id is None:
            return None
        settings = get_settings()
        limit = knowledge.max_upload_bytes(settings)
        problems: list[str] = []
        self.uploading = True
        try:
            for file in files[:MAX_FILES_PER_DROP]:
                data = await file.read(limit + 1)
                try:
                    checked = knowledge.check_file(name=file.name, data=data, settings=settings)
                    with session_scope() as session:
                        doc = knowledge.add_document(
                            session=session, agent_id=agent_id, upload=checked, settings=settings
                        )
                    knowledge.ingest_later(document_id=doc.id, upload=checked, settings=settings)
                except ServiceError as exc:
                    problems.append(exc.message)
                except sa.exc.SQLAlchemyError as exc:
                    return self._db_failed(exc)
        finally:
            self.uploading = False
        if len(files) > MAX_FILES_PER_DROP:
            problems.append(f"Only the first {MAX_FILES_PER_DROP} files were taken.")
        self._reload()
        events = [rx.clear_selected_files(UPLOAD_ID)]
        events.extend(_toast_problem(p) for p in problems)
        return events

    @rx.event
    def rejected(self, files: list[str]):
        """Files the dropzone refused in the browser (too large, too many, wrong kind)."""
        return _toast_problem(rejected_message(files if isinstance(files, list) else []))

    @rx.event
    def toggle_paste(self) -> None:
        self.paste_open = not self.paste_open

    @rx.event
    def set_paste_name(self, value: str) -> None:
        self.paste_name = value[: knowledge.MAX_NAME_CHARS]

    @rx.event
    def set_paste_text(self, value: str) -> None:
        self.paste_text = value

    @rx.event
    def add_text(self):
        agent_id = self._agent_uuid()
        if agent_id is None:
            return None
        settings = get_settings()
        try:
            checked = knowledge.check_text(
                name=self.paste_name.strip() or "Pasted text",
                text=self.paste_text,
                settings=settings,
            )
            with session_scope() as session:
                doc = knowledge.add_document(
                    session=session, agent_id=agent_id, upload=checked, settings=settings
                )
            knowledge.ingest_later(document_id=doc.id, upload=checked, settings=settings)
        except ServiceError as exc:
            return _toast_problem(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        self.paste_name, self.paste_text, self.paste_open = "", "", False
        return self._reload()

    @rx.event
    def ask_delete(self, document_id: str, name: str):
        """The delete button asks first (the passages go with the document)."""
        self.delete_id, self.delete_name, self.delete_open = document_id, name[:200], True

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value

    @rx.event
    def confirm_delete(self):
        self.delete_open = False
        return self._delete(self.delete_id)

    @rx.event
    def delete(self, document_id: str):
        return self._delete(document_id)

    def _delete(self, document_id: str) -> rx.event.EventSpec | None:
        agent_id = self._agent_uuid()
        try:
            doc_id = uuid.UUID(document_id)
        except ValueError:
            return None
        if agent_id is None:
            return None
        try:
            knowledge.delete_document(agent_id=agent_id, document_id=doc_id)
        except ServiceError as exc:
            return _toast_problem(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        if self.view.get("id") == document_id:
            self.view_open = False
        return self._reload() or self._toast_ok("Document deleted.")

    @rx.event
    @guard.viewer
    def open_document(self, document_id: str):
        """Open a document: the text it was read as, and the passages the agent searches."""
        agent_id = self._agent_uuid()
        try:
            doc_id = uuid.UUID(document_id)
        except ValueError:
            return None
        if agent_id is None:
            return None
        try:
            with session_scope() as session:
                shown = knowledge.document_view(
                    session=session, agent_id=agent_id, document_id=doc_id
                )
                row = document_row(shown.document, self._tz())
        except ServiceError as exc:
            self._reload()
            return _toast_problem(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        count = len(shown.passages)
        row["passages"] = f"{count} passage{'s' if count != 1 else ''}" + (
            f" (the first {count} shown)" if shown.truncated else ""
        )
        row["text"] = shown.text
        self.view, self.view_passages, self.view_open = row, shown.passages, True
        return None

    @rx.event
    @guard.viewer
    def set_view_open(self, value: bool):
        self.view_open = value
        if not value:
            self.view, self.view_passages = {}, []


def _toast_problem(message: str) -> rx.event.EventSpec:
    """A refusal as a sentence, shown at the top: the list below stays visible."""
    text = message.strip()
    text = text[:1].upper() + text[1:]
    if not text.endswith((".", "!", "?")):
        text += "."
    return rx.toast.error(text, position="top-center", close_button=True, duration=8000)
