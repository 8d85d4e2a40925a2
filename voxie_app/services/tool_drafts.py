"""Tools drafted by the builder: what the tool does and the details it needs, never
where it sends them.

Voxie, the builder, may draft an HTTP tool from a conversation (a name, a
description, a list of parameters) and attach it to the agent it creates. The
draft is saved with status `needs_setup` and no URL, method default or headers:
the address, headers and secrets of a tool are entered by an admin on `/tools`,
never taken from a chat, so no text in a conversation can make an agent send data
to an address an admin did not enter. `tools.tools_for` gives an agent only ready
tools, so a draft is never offered to a model until an admin completes it (saving
it with a URL and status ready, which passes the URL guard).

A name already taken: names are tried in the order `name`, `name_2`, `name_3`,
...; the first that is free is used, unless an existing draft (needs setup, no
URL) comes first, which is then reused as it is (attaching it again changes
nothing an admin wrote). Any other tool (ready, an MCP server, a draft an admin
has started to fill in) and a built-in's name are passed over, never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import Tool
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import Conflict, InvalidInput
from voxie_app.services.spec_guard import Guard
from voxie_app.settings import Settings

MAX_PARAMS = 10
MAX_ENUM = 20
NAME_MAX = 64
_NOT_NAME_RE = re.compile(r"[^a-z0-9]+")


class DraftParam(BaseModel):
    """One parameter as the builder describes it (a row of the /tools parameter table)."""

    name: Annotated[str, Field(max_length=64, description="snake_case, e.g. date")]
    type: Literal["string", "number", "integer", "boolean"] = "string"
    description: Annotated[str, Field(max_length=300)] = ""
    required: bool = True
    enum: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=MAX_ENUM)] = []


@dataclass(frozen=True)
class Drafted:
    """The saved draft, and whether it is an existing draft reused as it was."""

    tool: Tool
    reused: bool


def _snake(text: str) -> str:
    name = _NOT_NAME_RE.sub("_", text.strip().lower()).lstrip("0123456789_")
    return name[:NAME_MAX].strip("_")


def draft_name(text: str) -> str:
    """A snake_case tool name from what a model or person wrote ("Check Slots" ->
    `check_slots`); `tool` when nothing usable is left."""
    return _snake(text) or "tool"


def schema_from_params(params: list[DraftParam]) -> dict[str, Any]:
    """The JSON Schema object for a parameter list; InvalidInput for a bad or repeated
    name (field `parameters.<i>.name`)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for i, param in enumerate(params[:MAX_PARAMS]):
        name = _snake(param.name)
        if not name:
            raise InvalidInput("a parameter needs a snake_case name", field=f"parameters.{i}.name")
        if name in properties:
            raise InvalidInput(f"the parameter {name!r} is listed twice", field=f"parameters.{i}")
        prop: dict[str, Any] = {"type": param.type}
        if param.description.strip():
            prop["description"] = param.description.strip()
        if param.enum:
            prop["enum"] = list(dict.fromkeys(param.enum))
        properties[name] = prop
        if param.required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def guard_draft(
    settings: Settings, description: str, parameters: dict[str, Any]
) -> tuple[str, dict[str, Any], list[str]]:
    """The description and parameter descriptions without the sentences the spec guard
    refuses (links, phone numbers, secrets, the builder's own instructions), and enum
    values carrying one dropped: conversation text reaches what the agent's model
    reads only through the same guard as a drafted spec."""
    guard = Guard(settings)
    removed: list[str] = []
    text, dropped = guard.clean(description)
    removed += [f"description: {r}" for r in dropped]
    properties = {}
    for name, prop in (parameters.get("properties") or {}).items():
        if not isinstance(prop, dict):
            properties[name] = prop  # not a schema object: the schema check refuses it
            continue
        prop = dict(prop)
        if isinstance(prop.get("description"), str):
            prop["description"], dropped = guard.clean(prop["description"])
            removed += [f"parameters.{name}.description: {r}" for r in dropped]
            if not prop["description"]:
                del prop["description"]
        if isinstance(prop.get("enum"), list):
            kept = [v for v in prop["enum"] if not (isinstance(v, str) and guard.why_unsafe(v))]
            if len(kept) < len(prop["enum"]):
                removed.append(f"parameters.{name}.enum: {len(prop['enum']) - len(kept)} value(s)")
            if kept:
                prop["enum"] = kept
            else:
                del prop["enum"]
        properties[name] = prop
    return text, {**parameters, "properties": properties}, removed


def _is_draft(tool: Tool) -> bool:
    return tool.kind == "http" and tool.status == "needs_setup" and not tool.url.strip()


def _names(base: str) -> Iterator[str]:
    """`base`, then `base_2`, `base_3`, ... (each at most NAME_MAX characters)."""
    yield base
    for n in range(2, tools_svc.MAX_TOOLS + 3):
        suffix = f"_{n}"
        yield base[: NAME_MAX - len(suffix)] + suffix


def create_draft(
    *,
    session: Session,
    name: str,
    description: str,
    parameters: dict[str, Any],
    now: datetime | None = None,
) -> Drafted:
    """Save a tool that needs setup: no URL, no headers, GET by default (an admin sets
    all three on /tools). `parameters` is a JSON Schema object, checked as any tool's.

    InvalidInput naming the field for a bad name, description or schema; Conflict
    when the tool store is full.
    """
    stored = {t.name: t for t in session.exec(select(Tool)).all()}  # at most MAX_TOOLS
    for candidate in _names(draft_name(name)):
        if candidate in tools_svc.BUILTIN_TOOL_NAMES:
            continue
        existing = stored.get(candidate)
        if existing is None:
            break
        if _is_draft(existing):
            return Drafted(tool=existing, reused=True)
    else:
        raise Conflict(f"at most {tools_svc.MAX_TOOLS} tools can be stored")
    body = tools_svc.parse(
        {
            "name": candidate,
            "description": description.strip(),
            "parameters": parameters,
            "status": "needs_setup",
        }
    )
    tool = tools_svc.create_tool(session=session, body=body, now=now or utcnow())
    return Drafted(tool=tool, reused=False)
