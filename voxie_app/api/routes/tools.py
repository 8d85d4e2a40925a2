"""`/api/tools*`: custom HTTP tools and MCP servers. Admins write; viewers read, without
the headers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from voice_worker import http_tools
from voxie_app.api.deps import AdminDep, PrincipalDep
from voxie_app.db import session_scope
from voxie_app.models import BoundedJSONObject, Tool
from voxie_app.services import mcp_servers as mcp_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services.mcp_servers import McpIn
from voxie_app.services.tools import ToolIn

router = APIRouter(prefix="/tools", tags=["tools"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such tool"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "the name is taken, or the tool is in use"}
}


class ToolPublic(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    description: str
    parameters: dict[str, Any]
    method: str
    url: str
    headers: dict[str, str] | None = None
    timeout_s: float
    wait_message: str
    result_path: str
    status: str
    created_at: datetime
    updated_at: datetime
    transport: str = ""
    discovered_tools: list[dict[str, Any]] = []
    allowed_tools: list[str] = []


class ListedTool(BaseModel):
    name: str
    description: str


class RefreshOut(BaseModel):
    """What Refresh found: the server's tools, and the server as saved now."""

    tools: list[ListedTool]
    server: ToolPublic


def _public(tool: Tool, *, admin: bool) -> ToolPublic:
    view = tools_svc.view(tool, with_headers=admin)
    return ToolPublic(**view.__dict__)


@router.post(
    "",
    response_model=ToolPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_CONFLICT,
)
def create_tool(body: ToolIn, _: AdminDep) -> ToolPublic:
    """Save an HTTP tool. Its URL must pass the URL guard (422 naming `url`)."""
    with session_scope() as session:
        return _public(tools_svc.create_tool(session=session, body=body), admin=True)


@router.post(
    "/mcp",
    response_model=ToolPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_CONFLICT,
)
def create_mcp_server(body: McpIn, _: AdminDep) -> ToolPublic:
    """Save an MCP server (kind `mcp`). Its URL must pass the URL guard (422 naming
    `url`); it lists no tools until `POST /api/tools/{id}/refresh`."""
    with session_scope() as session:
        return _public(mcp_svc.create_server(session=session, body=body), admin=True)


@router.put("/mcp/{tool_id}", response_model=ToolPublic, responses={**_NOT_FOUND, **_CONFLICT})
def update_mcp_server(tool_id: uuid.UUID, body: McpIn, _: AdminDep) -> ToolPublic:
    """Replace an MCP server's fields; `allowed_tools` must be among the tools its last
    Refresh listed (422 naming `allowed_tools`)."""
    with session_scope() as session:
        tool = mcp_svc.update_server(session=session, tool_id=tool_id, body=body)
        return _public(tool, admin=True)


@router.post(
    "/{tool_id}/refresh",
    response_model=RefreshOut,
    responses={
        **_NOT_FOUND,
        409: {"description": "the tool is an HTTP tool, not an MCP server"},
        502: {"description": "the MCP server is down, too slow or failed"},
    },
)
async def refresh_mcp_server(tool_id: uuid.UUID, _: AdminDep) -> RefreshOut:
    """Connect to an MCP server, list its tools and keep them; allowed tools it no
    longer lists are dropped. A refused address is a 422 naming `url`."""
    tool = await mcp_svc.refresh(tool_id)
    return RefreshOut(
        tools=[ListedTool(**t) for t in tool.discovered_tools],
        server=_public(tool, admin=True),
    )


@router.get("", response_model=list[ToolPublic])
def list_tools(principal: PrincipalDep) -> list[ToolPublic]:
    """Every tool, HTTP and MCP (`kind`); `headers` only for admins."""
    admin = principal.can("admin")
    with session_scope() as session:
        return [_public(t, admin=admin) for t in tools_svc.list_tools(session=session)]


@router.get("/{tool_id}", response_model=ToolPublic, responses=_NOT_FOUND)
def get_tool(tool_id: uuid.UUID, principal: PrincipalDep) -> ToolPublic:
    with session_scope() as session:
        tool = tools_svc.get_tool(session=session, tool_id=tool_id)
        return _public(tool, admin=principal.can("admin"))


@router.put("/{tool_id}", response_model=ToolPublic, responses={**_NOT_FOUND, **_CONFLICT})
def update_tool(tool_id: uuid.UUID, body: ToolIn, _: AdminDep) -> ToolPublic:
    """Replace every field of a tool."""
    with session_scope() as session:
        tool = tools_svc.update_tool(session=session, tool_id=tool_id, body=body)
        return _public(tool, admin=True)


@router.delete(
    "/{tool_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_NOT_FOUND, **_CONFLICT},
)
def delete_tool(tool_id: uuid.UUID, _: AdminDep) -> Response:
    """Delete a tool no agent uses."""
    with session_scope() as session:
        tools_svc.delete_tool(session=session, tool_id=tool_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class ToolTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arguments: BoundedJSONObject = Field(
        default_factory=dict, description="Sample arguments, as the model would send them."
    )


class ToolTestOut(BaseModel):
    status: str = Field(description="ok, invalid_arguments, timeout, http_error, ...")
    ok: bool
    http_status: int | None
    latency_ms: int
    result: str = Field(
        description="What the model would see (capped, secrets redacted), or the tool error."
    )


@router.post("/{tool_id}/test", response_model=ToolTestOut, responses=_NOT_FOUND)
async def test_tool(tool_id: uuid.UUID, body: ToolTestIn, _: AdminDep) -> ToolTestOut:
    """Run the tool once with sample arguments, as a call would (URL guard, secrets
    resolved on the server and redacted from the answer). A failing service is a 200
    whose `status` says how it failed; 422 naming `url` while the tool has none."""
    tried = await http_tools.try_stored(tool_id, body.arguments)
    return ToolTestOut(
        status=tried.status,
        ok=tried.ok,
        http_status=tried.http_status,
        latency_ms=tried.latency_ms,
        result=tried.result,
    )
