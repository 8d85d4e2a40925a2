"""`/api/agents*`: CRUD and creation from requirements (with its SSE log)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from sqlmodel import select

from voxie_app.api.deps import PrincipalDep, SettingsDep
from voxie_app.db import session_scope
from voxie_app.models import MAX_JSON_DEPTH, Agent, too_deep
from voxie_app.schemas import AgentCreate, AgentCreated, AgentPublic, AgentUpdate
from voxie_app.services import agent_creation, events, knowledge
from voxie_app.services import agents as agents_svc
from voxie_app.services.errors import NotFound

router = APIRouter(prefix="/agents", tags=["agents"])

SSE_KEEPALIVE_S = 15.0
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such agent"}}


def _public(agent: Agent) -> AgentPublic:
    public = AgentPublic.model_validate(agent, from_attributes=True)
    if too_deep(public.user_requirements):
        # Stored before the limit existed: not sendable as JSON; one such agent must
        # not break the list for everyone. Shown again once replaced by a PUT.
        public.user_requirements = {"not_shown": NOT_SHOWN}
    return public


NOT_SHOWN = f"stored requirements nested deeper than {MAX_JSON_DEPTH} levels"


_AGENT_LIST = TypeAdapter(list[AgentPublic])


def _json(body: bytes) -> Response:
    """The response already serialised: routes build it inside their transaction, so
    a row that could not be sent back is never committed (the write rolls back)."""
    return Response(content=body, media_type="application/json")


@router.get(
    "",
    response_model=list[AgentPublic],
    responses={
        200: {
            "description": "the page of agents (a list, as before); paging in the headers",
            "headers": {
                "X-Total-Count": {
                    "description": "agents matching in all",
                    "schema": {"type": "integer"},
                },
                "X-Limit": {"description": "the limit used", "schema": {"type": "integer"}},
                "X-Offset": {"description": "the offset used", "schema": {"type": "integer"}},
            },
        }
    },
)
def list_agents(
    _: PrincipalDep,
    response: Response,
    search: Annotated[str | None, Query(max_length=80, pattern=r"^[^\x00]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    with session_scope() as session:
        rows = agents_svc.list_agents(session=session, search=search, limit=limit, offset=offset)
        total = agents_svc.count_agents(session=session, search=search)
        answer = _json(_AGENT_LIST.dump_json([_public(a) for a in rows]))
    # The body stays a bare list (clients of the first release read it so);
    # the paging info rides in headers, as `total`/`limit`/`offset`.
    answer.headers.update(
        {"X-Total-Count": str(total), "X-Limit": str(limit), "X-Offset": str(offset)}
    )
    return answer


@router.post(
    "/create",
    response_model=AgentCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        201: {"model": AgentCreated, "description": "complete spec stored"},
        409: {"description": "the client's session_id already names another creation"},
    },
)
def create_agent(
    body: AgentCreate,
    background: BackgroundTasks,
    response: Response,
    settings: SettingsDep,
    _: PrincipalDep,
) -> AgentCreated:
    """Store requirements; a complete spec is saved at once, otherwise the LLM drafts one."""
    agent = agent_creation.submit(
        user_requirements=body.user_requirements,
        processed_spec=body.processed_spec,
        session_id=body.session_id,
        exclusive_session=True,  # a client's id names one creation only (409 if reused)
    )
    if agent.status == "processing":
        background.add_task(agent_creation.process, agent_id=agent.id, settings=settings)
    else:
        response.status_code = status.HTTP_201_CREATED
    session_id = agent.session_id or ""
    return AgentCreated(
        session_id=session_id,
        agent_id=agent.id,
        status=agent.status,
        stream_url=f"/api/agents/create-stream/{session_id}",
    )


@router.get(
    "/create-stream/{session_id}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        404: {"description": "unknown session"},
    },
)
async def create_stream(
    session_id: str,
    _: PrincipalDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-sent events of one creation, replayed after `Last-Event-ID`; ends when done."""
    with session_scope() as session:
        found = session.exec(select(Agent.id).where(Agent.session_id == session_id)).first()
    if found is None:
        raise NotFound(f"no agent creation with session id {session_id}")
    after = events.parse_event_id(last_event_id)  # a bad id replays from the start
    stream = agent_creation.stream_name(session_id)
    return StreamingResponse(
        _sse(stream, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(stream: str, after: int) -> AsyncIterator[str]:
    queue: asyncio.Queue[events.EventOut] = asyncio.Queue()

    async def feed() -> None:
        async for event in events.subscribe(stream, after):
            await queue.put(event)

    feeder = asyncio.create_task(feed())
    try:
        yield "retry: 2000\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_S)
            except TimeoutError:
                if feeder.done():
                    feeder.result()
                yield ": keep-alive\n\n"
                continue
            payload = json.dumps(event.model_dump(mode="json"))
            yield f"id: {event.id}\nevent: {event.kind}\ndata: {payload}\n\n"
            if event.kind in agent_creation.TERMINAL_KINDS:
                return
    finally:
        feeder.cancel()
        with contextlib.suppress(BaseException):
            await feeder


@router.get("/{agent_id}", response_model=AgentPublic, responses=_NOT_FOUND)
def get_agent(agent_id: uuid.UUID, _: PrincipalDep) -> Response:
    with session_scope() as session:
        agent = agents_svc.get_agent(session=session, agent_id=agent_id)
        return _json(_public(agent).model_dump_json().encode())


@router.put("/{agent_id}", response_model=AgentPublic, responses=_NOT_FOUND)
def update_agent(agent_id: uuid.UUID, body: AgentUpdate, _: PrincipalDep) -> Response:
    """Partial update: only the fields sent change; spec fields are merged and re-validated.

    Concurrent updates queue on the agent's lock, so each merges into the latest."""
    with session_scope() as session:
        agent = agents_svc.update_agent(
            session=session,
            agent_id=agent_id,
            user_requirements=body.user_requirements,
            spec_changes=body.processed_spec,
            room_id=body.room_id,
        )
        return _json(_public(agent).model_dump_json().encode())


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
def delete_agent(agent_id: uuid.UUID, _: PrincipalDep, settings: SettingsDep) -> Response:
    knowledge.delete_agent(agent_id=agent_id, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
