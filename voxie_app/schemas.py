"""What crosses the API: Create/Update/Public shapes (models stay in models.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from voxie_app.models import (
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    AgentSpec,
    BoundedJSONObject,
    check_json_bounds,
)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def partial_schema(model: type[BaseModel], description: str) -> dict[str, Any]:
    """`model`'s JSON Schema (every limit it enforces) with no field required."""
    schema = model.model_json_schema()
    schema = _inline_refs(schema, schema.pop("$defs", {}))
    schema.pop("required", None)
    for prop in schema["properties"].values():
        prop.pop("default", None)
    return {**schema, "title": f"{model.__name__}Fields", "description": description}


# Some or all fields of an `AgentSpec`, validated by the service as a spec (422 naming
# the field); the schema states every per-field limit. Rules JSON Schema cannot
# state: `min_endpointing_delay` <= `max_endpointing_delay`; transfer targets are
# other existing agents (with the `transfer_to_agent` tool); a provider named in
# `stt`/`llm`/`tts` is configured, and a speech model comes with a named provider.
SpecFields = Annotated[
    dict[str, Any],
    AfterValidator(check_json_bounds),
    WithJsonSchema(
        partial_schema(
            AgentSpec,
            "Fields of the agent's spec. Create: a complete spec is stored as is (no LLM), "
            "a partial one guides the LLM. Update: merged into the stored spec.",
        )
    ),
]


class AgentCreate(BaseModel):
    """`POST /api/agents/create`: requirements, and optionally a (partial) spec."""

    model_config = ConfigDict(extra="forbid")

    user_requirements: BoundedJSONObject = Field(
        description="What the business asked for, as collected: a free-form JSON object, "
        f"at most {MAX_JSON_DEPTH} levels deep and {MAX_JSON_BYTES} bytes as JSON.",
    )
    processed_spec: SpecFields | None = None
    session_id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")


class AgentCreated(BaseModel):
    session_id: str
    agent_id: uuid.UUID
    status: str
    stream_url: str


class AgentUpdate(BaseModel):
    """`PUT /api/agents/{id}`: any subset; `processed_spec` is merged field by field."""

    model_config = ConfigDict(extra="forbid")

    user_requirements: BoundedJSONObject | None = None
    processed_spec: SpecFields | None = None
    room_id: str | None = Field(default=None, max_length=200)


class AgentPublic(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    error: str | None
    user_requirements: dict[str, Any]
    processed_spec: dict[str, Any]
    session_id: str | None
    room_id: str | None
    created_at: datetime
    updated_at: datetime


def _variables_schema(schema: dict[str, Any]) -> None:
    """The per-call variable rules, from `services.variables` (imported here, when the
    schema is built: importing services at module level would be circular)."""
    from voxie_app.services import variables as rules

    schema.update(
        maxProperties=rules.MAX_KEYS,
        propertyNames={"pattern": rules.KEY_RE.pattern, "not": {"enum": list(rules.BUILTINS)}},
        additionalProperties={
            "type": "string",
            "maxLength": rules.MAX_VALUE_CHARS,
            "pattern": rules.VALUE_PATTERN,
        },
        description=(
            "Per-call values for the agent's {{name}} placeholders (instructions, greeting, "
            "HTTP tool URLs), stored on the call. Built-in names ("
            + ", ".join(rules.BUILTINS)
            + ") cannot be set."
        ),
    )


class CallStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: uuid.UUID
    # Checked by `services.variables.validate` (422 naming `variables.<key>`); the
    # schema states the same rules for clients.
    variables: dict[str, str] = Field(default_factory=dict, json_schema_extra=_variables_schema)


class CallStarted(BaseModel):
    server_url: str
    room_name: str
    participant_token: str
    call_session_id: uuid.UUID


class CallEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_session_id: uuid.UUID


class CallPublic(BaseModel):
    id: uuid.UUID
    session_id: str
    agent_id: uuid.UUID | None
    room_name: str
    call_status: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    end_reason: str | None


class AnalyticsSummary(BaseModel):
    date: str
    timezone: str
    total_calls: int
    active_calls: int
    completed_calls: int
    failed_calls: int
    # `total_calls` by what carried them: browser voice calls and phone calls.
    web_calls: int = 0
    phone_calls: int = 0
    total_minutes: float
    total_cost_usd: Decimal
    average_rating: float | None
    resolution_rate: float | None
    sentiment: dict[str, int]


class RecentCall(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_name: str | None
    agent_label: str = ""  # the agent's name, "Voxie (builder)" or "Deleted agent"
    kind: str = "web"
    direction: str = "inbound"
    customer_name: str | None
    customer_phone: str | None = None  # phone calls: the caller's (inbound) or callee's number
    called_number: str | None = None  # phone calls: the number dialled
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    call_status: str
    customer_sentiment: str | None
    call_rating: int | None
    issue_resolved: bool | None
    turns: int
    cost_usd: Decimal
    summary: str | None
    business_outcome: str | None


__all__ = ["AgentSpec"]
