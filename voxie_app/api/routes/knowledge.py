"""`/api/agents/{agent_id}/knowledge`: an agent's knowledge base (upload, paste, list, delete).

`POST` takes either a file (`multipart/form-data`, field `file`) or pasted
text (JSON `{"name", "text"}`) and answers 202 with the document `processing`;
ingestion continues in the background and the document becomes `ready` or
`failed` (with `error`). A bad upload is refused before anything is stored:
413 too large, 415 not a supported type (or not what its name says), 422 empty,
badly named (a path, not a file name) or malformed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from voxie_app.api.deps import PrincipalDep, SettingsDep
from voxie_app.db import session_scope
from voxie_app.models import KnowledgeDocument
from voxie_app.services import agents as agents_svc
from voxie_app.services import knowledge
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

router = APIRouter(prefix="/agents/{agent_id}/knowledge", tags=["knowledge"])


class KnowledgeText(BaseModel):
    """Pasted text: `name` is how it is listed (a `.md` name is read as Markdown)."""

    model_config = ConfigDict(extra="forbid")

    # The patterns state `knowledge.clean_name` and `check_text`: a plain file name (no
    # path, control characters, or leading dot or tilde, spaces around it ignored), and
    # text that is not blank.
    name: str = Field(
        default="Pasted text",
        min_length=1,
        max_length=200,
        json_schema_extra={"pattern": r"^\s*[^\s.~/\\:\x00-\x1f\x7f][^/\\:\x00-\x1f\x7f]*\s*$"},
    )
    text: str = Field(min_length=1, json_schema_extra={"pattern": r"\S"})


class KnowledgeDocumentPublic(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    name: str
    media_type: str
    source: str = Field(description="`file` or `text` (pasted)")
    size_bytes: int
    status: str = Field(description="`processing`, `ready` or `failed`")
    error: str | None = Field(description="why it failed, when it did")
    backend: str = Field(description="`local` (built-in index) or `ragie`")
    char_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class PassagePublic(BaseModel):
    document_name: str
    text: str
    score: float


_ERRORS = {
    404: {"description": "unknown agent or document"},
    413: {"description": "file or text too large"},
    415: {"description": "not a supported type, or not what its name says"},
    422: {"description": "empty, path-like name, or malformed body"},
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "a .txt, .md, .html or .pdf file",
                        }
                    },
                }
            },
            "application/json": {"schema": KnowledgeText.model_json_schema()},
        },
    }
}


def _public(doc: KnowledgeDocument) -> KnowledgeDocumentPublic:
    return KnowledgeDocumentPublic.model_validate(doc, from_attributes=True)


def _check_agent(agent_id: uuid.UUID) -> None:
    with session_scope() as session:
        agents_svc.get_agent(session=session, agent_id=agent_id)


def _without_input(error: Any) -> dict[str, Any]:
    return {k: v for k, v in error.items() if k != "input"}


async def _read_upload(request: Request, settings: Settings) -> knowledge.Upload:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=4) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise InvalidInput("send the document in the form field 'file'", field="file")
            for key in form:
                if key != "file":  # the form has one field, as its schema says
                    raise InvalidInput(f"unexpected form field '{key[:40]}'", field=key[:40])
            data = await file.read(knowledge.max_upload_bytes(settings) + 1)
            return knowledge.check_file(name=file.filename, data=data, settings=settings)
    if kind == "application/json":
        try:
            body = KnowledgeText.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False)
            raise RequestValidationError(  # without `input`: it may be bytes, not UTF-8
                [{**_without_input(e), "loc": ("body", *e["loc"])} for e in errors]
            ) from None
        return knowledge.check_text(name=body.name, text=body.text, settings=settings)
    raise knowledge.UploadRejected(
        "send a file as multipart/form-data (field 'file') or text as JSON {name, text}",
        status=415,
    )


def _store(agent_id: uuid.UUID, upload: knowledge.Upload, settings: Settings) -> KnowledgeDocument:
    with session_scope() as session:
        return knowledge.add_document(
            session=session, agent_id=agent_id, upload=upload, settings=settings
        )


@router.post(
    "",
    response_model=KnowledgeDocumentPublic,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_UPLOAD_BODY,
    responses=_ERRORS,
)
async def add_document(
    agent_id: uuid.UUID,
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
    _: PrincipalDep,
) -> KnowledgeDocumentPublic | JSONResponse:
    """Add a file or pasted text; it is ingested in the background (watch `status`)."""
    await run_in_threadpool(_check_agent, agent_id)
    try:
        upload = await _read_upload(request, settings)
    except knowledge.UploadRejected as exc:
        return JSONResponse(status_code=exc.status, content={"detail": exc.message})
    doc = await run_in_threadpool(_store, agent_id, upload, settings)
    background.add_task(
        knowledge.ingest_in_background, document_id=doc.id, upload=upload, settings=settings
    )
    return _public(doc)


@router.get("", response_model=list[KnowledgeDocumentPublic], responses={404: _ERRORS[404]})
def list_documents(agent_id: uuid.UUID, _: PrincipalDep) -> list[KnowledgeDocumentPublic]:
    """The agent's documents, newest first, with their status."""
    with session_scope() as session:
        return [_public(d) for d in knowledge.list_documents(session=session, agent_id=agent_id)]


@router.get("/search", response_model=list[PassagePublic], responses={404: _ERRORS[404]})
def search(
    agent_id: uuid.UUID,
    settings: SettingsDep,
    _: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=knowledge.MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=10)] = knowledge.SEARCH_LIMIT,
) -> list[PassagePublic]:
    """What the agent's `search_knowledge_base` tool would find for `q`."""
    _check_agent(agent_id)
    found = knowledge.KnowledgeRetriever(settings).search_sync(agent_id, q, limit)
    return [PassagePublic(document_name=p.document_name, text=p.text, score=p.score) for p in found]


@router.get("/{document_id}", response_model=KnowledgeDocumentPublic, responses={404: _ERRORS[404]})
def get_document(
    agent_id: uuid.UUID, document_id: uuid.UUID, _: PrincipalDep
) -> KnowledgeDocumentPublic:
    with session_scope() as session:
        return _public(
            knowledge.get_document(session=session, agent_id=agent_id, document_id=document_id)
        )


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _ERRORS[404], 502: {"description": "Ragie failed; nothing was deleted"}},
)
def delete_document(
    agent_id: uuid.UUID, document_id: uuid.UUID, settings: SettingsDep, _: PrincipalDep
) -> Response:
    """Delete a document (from Ragie too, when it is there)."""
    knowledge.delete_document(agent_id=agent_id, document_id=document_id, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
