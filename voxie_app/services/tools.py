"""Custom HTTP tools: what an admin describes, checked once here, used by the runtime.

A tool is saved only when every field is sound: a snake_case name no built-in
has, a JSON Schema object for the arguments (checked against the metaschema,
capped in size and depth), a URL the URL guard accepts (placeholders only after
the host, so the model can never choose where a request goes), headers whose
`{{secret:NAME}}` references exist. Agents pick tools by id (`custom_tools` in the
spec); `agents.reference_problems` refuses an unknown id.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, Tool, ToolName, too_deep
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import url_guard
from voxie_app.services import variables as variables_svc
from voxie_app.services.errors import Conflict, InvalidInput, NotFound, parse_model

BUILTIN_TOOL_NAMES = frozenset(get_args(ToolName))
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PLACEHOLDER_RE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
RESULT_PATH_RE = re.compile(r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$")
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_SCHEMA_BYTES = 16 * 1024
MAX_SCHEMA_DEPTH = 8
MAX_HEADERS = 20
MAX_HEADER_VALUE = 2000
MAX_TOOLS = 200
MIN_TIMEOUT_S, MAX_TIMEOUT_S, DEFAULT_TIMEOUT_S = 1.0, 30.0, 10.0
MAX_RESULT_CHARS = 4000
# Headers the client sets itself: an admin's value would be wrong or a smuggling risk.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Status = Literal["ready", "needs_setup"]


class ToolIn(BaseModel):
    """An HTTP tool as an admin writes it (create or full replace)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        description="snake_case, unique, not a built-in tool's name; the model calls it by this.",
        json_schema_extra={"pattern": NAME_RE.pattern},
    )
    description: str = Field(
        min_length=1, max_length=1000, description="What the tool does, for the model."
    )
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description=(
            f"A JSON Schema object for the arguments (at most {MAX_SCHEMA_BYTES} bytes, "
            f"{MAX_SCHEMA_DEPTH} levels deep)."
        ),
    )
    method: Method = "GET"
    url: str = Field(
        default="",
        max_length=url_guard.MAX_URL,
        description=(
            "http(s) URL; `{param}` placeholders in the path and query are filled with "
            "arguments; `{{secret:NAME}}` with a secret. Required when `status` is ready; "
            "a `needs_setup` tool (a draft) may have none."
        ),
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_HEADERS,
        description="Request headers; values may hold `{{secret:NAME}}`.",
    )
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, ge=MIN_TIMEOUT_S, le=MAX_TIMEOUT_S)
    wait_message: str = Field(default="", max_length=200)
    result_path: str = Field(
        default="",
        max_length=200,
        description="A dotted path (`data.slots`, `items.0`) into a JSON answer; empty: all.",
        json_schema_extra={"pattern": RESULT_PATH_RE.pattern},
    )
    status: Status = "ready"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_parameters(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value)

    @field_validator("result_path")
    @classmethod
    def _result_path(cls, value: str) -> str:
        if not RESULT_PATH_RE.match(value):
            raise ValueError("must be a dotted path such as 'data.slots'")
        return value


def check_name(value: str) -> str:
    """A tool's (or MCP server's) name: snake_case, not a built-in's; else ValueError."""
    if not NAME_RE.match(value):
        raise ValueError("must be snake_case: a-z, 0-9 and _, starting with a letter")
    if value in BUILTIN_TOOL_NAMES:
        raise ValueError(f"{value!r} is a built-in tool's name")
    return value


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Request headers an admin set: valid names, none Voxie sets, one-line values."""
    for name, text in value.items():
        if not HEADER_NAME_RE.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"the {name} header is set by Voxie")
        if len(text) > MAX_HEADER_VALUE or any(c in text for c in "\r\n\x00"):
            raise ValueError(f"the {name} header must be one line of up to 2000 characters")
    return value


def check_parameters(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema object for tool arguments, else ValueError saying what is wrong."""
    if too_deep(value, MAX_SCHEMA_DEPTH):
        raise ValueError(f"must not be nested more than {MAX_SCHEMA_DEPTH} levels deep")
    if len(json.dumps(value).encode()) > MAX_SCHEMA_BYTES:
        raise ValueError(f"must be at most {MAX_SCHEMA_BYTES} bytes as JSON")
    if value.get("type") != "object":
        raise ValueError('must be a JSON Schema with "type": "object"')
    for ref in _refs(value):
        if not isinstance(ref, str) or not ref.startswith("#"):
            # Only references inside the schema: nothing is fetched to check arguments.
            raise ValueError(f"may only use local $ref ('#/...'), not {str(ref)[:100]!r}")
    try:
        jsonschema.Draft202012Validator.check_schema(value)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise ValueError(
            f"is not a valid JSON Schema: {exc.message}" + (f" at {where}" if where else "")
        ) from None
    return value


def _refs(value: Any) -> list[Any]:
    """Every `$ref` value in a (depth-capped) JSON value."""
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "$ref" in item:
                found.append(item["$ref"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@dataclass(frozen=True)
class ToolView:
    """A tool as shown; `headers` is None for readers who may not see them."""

    id: uuid.UUID
    kind: str
    name: str
    description: str
    parameters: dict[str, Any]
    method: str
    url: str
    headers: dict[str, str] | None
    timeout_s: float
    wait_message: str
    result_path: str
    status: str
    created_at: datetime
    updated_at: datetime
    # MCP servers only: how to reach `url`, the tools it listed, those agents may use.
    transport: str = ""
    discovered_tools: list[dict[str, Any]] = field(default_factory=list)
    allowed_tools: list[str] = field(default_factory=list)


def view(tool: Tool, *, with_headers: bool) -> ToolView:
    return ToolView(
        id=tool.id,
        kind=tool.kind,
        name=tool.name,
        description=tool.description,
        parameters=tool.parameters,
        method=tool.method,
        url=tool.url,
        headers=dict(tool.headers) if with_headers else None,
        timeout_s=tool.timeout_s,
        wait_message=tool.wait_message,
        result_path=tool.result_path,
        status=tool.status,
        created_at=tool.created_at,
        updated_at=tool.updated_at,
        transport=tool.transport,
        discovered_tools=[dict(t) for t in tool.discovered_tools or []],
        allowed_tools=list(tool.allowed_tools or []),
    )


def parse(data: dict[str, Any]) -> ToolIn:
    """Validate a tool dict (for callers without pydantic at the edge): InvalidInput."""
    return parse_model(ToolIn, data)


def check_url_template(url: str, parameters: dict[str, Any]) -> None:
    """The URL's placeholders name declared parameters and sit after the host; the URL
    (with them filled by a harmless sample) passes the guard. 422 naming `url`."""
    sample = variables_svc.PLACEHOLDER_RE.sub("x", secrets_svc.REFERENCE_RE.sub("secret", url))
    names = PLACEHOLDER_RE.findall(sample)
    declared = set((parameters.get("properties") or {}).keys())
    for name in names:
        if name not in declared:
            raise InvalidInput(
                f"the placeholder {{{name}}} is not one of the parameters", field="url"
            )
    try:
        netloc = urlsplit(url.strip()).netloc
    except ValueError:
        netloc = ""
    if "{" in netloc or "}" in netloc:
        raise InvalidInput(
            "placeholders and secrets may only be in the path and query, not the host",
            field="url",
        )
    filled = PLACEHOLDER_RE.sub("x", sample)
    if "{" in filled or "}" in filled:
        raise InvalidInput("placeholders are written {param}, with a parameter's name", field="url")
    url_guard.check_url(filled)


def _check(session: Session, body: ToolIn, *, tool_id: uuid.UUID | None) -> None:
    """Every rule of a saved tool. A ready tool needs a URL; a draft (`needs_setup`)
    may have none, and any URL it has passes the same checks as a ready one's."""
    if not body.url.strip():
        if body.status == "ready":
            raise InvalidInput(
                "a ready tool needs its URL: enter it, or save the tool as needs_setup",
                field="url",
            )
    else:
        check_url_template(body.url, body.parameters)
    secrets_svc.check_references(session=session, text=body.url, field="url")
    for name, value in body.headers.items():
        secrets_svc.check_references(session=session, text=value, field=f"headers.{name}")
    clash = session.exec(select(Tool).where(Tool.name == body.name)).first()
    if clash is not None and clash.id != tool_id:
        raise Conflict(f"a tool named {body.name!r} exists")


def _apply(tool: Tool, body: ToolIn) -> None:
    tool.name = body.name
    tool.description = body.description
    tool.parameters = body.parameters
    tool.method = body.method
    tool.url = body.url.strip()
    tool.headers = dict(body.headers)
    tool.timeout_s = body.timeout_s
    tool.wait_message = body.wait_message
    tool.result_path = body.result_path
    tool.status = body.status


def create_tool(*, session: Session, body: ToolIn, now: datetime | None = None) -> Tool:
    """Save a new HTTP tool (blocking: the URL guard may resolve the host)."""
    _check(session, body, tool_id=None)
    if len(session.exec(select(Tool.id)).all()) >= MAX_TOOLS:
        raise Conflict(f"at most {MAX_TOOLS} tools can be stored")
    now = now or utcnow()
    tool = Tool(
        kind="http",
        name=body.name,
        description=body.description,
        url=body.url,
        created_at=now,
        updated_at=now,
    )
    _apply(tool, body)
    session.add(tool)
    session.flush()
    return tool


def update_tool(
    *, session: Session, tool_id: uuid.UUID, body: ToolIn, now: datetime | None = None
) -> Tool:
    tool = get_tool(session=session, tool_id=tool_id)
    if tool.kind != "http":
        raise Conflict("this is an MCP server: change it at /api/tools/mcp/{id}")
    _check(session, body, tool_id=tool_id)
    _apply(tool, body)
    tool.updated_at = now or utcnow()
    session.add(tool)
    session.flush()
    return tool


def get_tool(*, session: Session, tool_id: uuid.UUID) -> Tool:
    tool = session.get(Tool, tool_id)
    if tool is None:
        raise NotFound(f"no tool with id {tool_id}")
    return tool


def list_tools(*, session: Session) -> list[Tool]:
    return list(session.exec(select(Tool).order_by(col(Tool.name))).all())


def agents_using(*, session: Session, tool_id: uuid.UUID) -> list[str]:
    """Names of the agents whose spec lists `tool_id`."""
    return agents_by_tool(session=session).get(str(tool_id), [])


def agents_by_tool(*, session: Session) -> dict[str, list[str]]:
    """Tool id (as text) -> names of the agents whose spec lists it (one read, for lists)."""
    out: dict[str, list[str]] = {}
    for agent in session.exec(select(Agent)).all():
        spec = agent.processed_spec or {}
        for tool_id in dict.fromkeys(str(t) for t in spec.get("custom_tools") or []):
            out.setdefault(tool_id, []).append(str(spec.get("name") or agent.id))
    return out


def delete_tool(*, session: Session, tool_id: uuid.UUID) -> None:
    """Delete a tool no agent uses (409 naming the agents otherwise)."""
    tool = get_tool(session=session, tool_id=tool_id)
    users = agents_using(session=session, tool_id=tool_id)
    if users:
        raise Conflict(f"the tool is used by {', '.join(sorted(users)[:5])}: remove it there first")
    session.delete(tool)
    session.flush()


def missing_ids(*, session: Session, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids in `ids` that are not stored tools."""
    if not ids:
        return []
    found = set(session.exec(select(Tool.id).where(col(Tool.id).in_(ids))).all())
    return [i for i in ids if i not in found]


def tools_for(*, session: Session, ids: list[uuid.UUID], kind: str | None = None) -> list[Tool]:
    """The ready tools among `ids` (of `kind`, when given), in that order (what an agent
    gets at call time): a tool that needs setup, or was deleted, is left out."""
    if not ids:
        return []
    rows = {t.id: t for t in session.exec(select(Tool).where(col(Tool.id).in_(ids))).all()}
    return [
        rows[i]
        for i in ids
        if i in rows and rows[i].status == "ready" and kind in (None, rows[i].kind)
    ]
