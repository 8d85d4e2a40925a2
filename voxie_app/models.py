"""The data model shared by the web app and the voice worker.

The five tables of the original platform keep their names and columns
(`agents`, `call_sessions`, `conversation_turns`, `token_usage`,
`call_summaries`) with portable types; the extra columns and tables the design
needs are marked "added". `AgentSpec` is the validated shape of
`agents.processed_spec`.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlmodel import Column, SQLModel
from sqlmodel import Field as SQLField

from voxie_app import provider_catalog as catalog
from voxie_app.dbtypes import JSONType, UTCDateTime, utcnow
from voxie_app.realtime_catalog import (
    DEFAULT_REALTIME_MODEL,
    DEFAULT_REALTIME_VOICE,
    REALTIME_MODELS,
    REALTIME_VOICES,
)
from voxie_app.voices import OPENAI_VOICES

# ------------------------------------------------------------------ free-form JSON

MAX_JSON_DEPTH = 16
MAX_JSON_BYTES = 64_000


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON `value` nests containers deeper than `limit` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def check_json_bounds(value: Any) -> Any:
    """Refuse free-form JSON nested deeper than MAX_JSON_DEPTH or over MAX_JSON_BYTES.

    Checked before anything is stored: a value that deep cannot be serialised
    back (pydantic stops at a depth limit), so storing it would break every
    later read of the row.
    """
    if too_deep(value):
        raise ValueError(f"must not be nested more than {MAX_JSON_DEPTH} levels deep")
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_JSON_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_BYTES} bytes as JSON")
    return value


# A free-form JSON object with its depth and size capped (422 naming the field).
# JSON Schema cannot state a depth, so the schema says it in words.
BoundedJSONObject = Annotated[
    dict[str, Any],
    AfterValidator(check_json_bounds),
    WithJsonSchema(
        {
            "type": "object",
            "description": (
                f"Free-form JSON object, at most {MAX_JSON_DEPTH} levels deep and "
                f"{MAX_JSON_BYTES} bytes as JSON."
            ),
        }
    ),
]

# --------------------------------------------------------------------------- spec

ToolName = Literal[
    "end_call", "transfer_to_agent", "record_caller_details", "search_knowledge_base", "send_dtmf"
]
ALLOWED_TOOLS: tuple[str, ...] = (
    "end_call",
    "transfer_to_agent",
    "record_caller_details",
    "search_knowledge_base",
    "send_dtmf",
)
# Tools that act on the telephone line: offered on phone calls only (a web call or a
# chat has no keypad to press).
PHONE_ONLY_TOOLS: tuple[str, ...] = ("send_dtmf",)

_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# The voices of the TTS providers Voxie drives (one list: voxie_app/voices.py):
# OpenAI's named voices, and Cartesia's voice ids, which are UUIDs.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_RE = re.compile(UUID_PATTERN)
# A model name as OpenAI-compatible servers spell them: `gpt-4o-mini`,
# `llama3.1:8b`, `meta-llama/Llama-3.1-8B-Instruct`.
LLM_MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"
_LLM_MODEL_RE = re.compile(LLM_MODEL_PATTERN)


def _known_models() -> set[str]:
    """Model names configured by the admin are always valid (the pricing table's
    built-in names all fit LLM_MODEL_PATTERN)."""
    from voxie_app.settings import get_settings

    settings = get_settings()
    return {settings.openai_model, *settings.pricing_overrides}


_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL_RE = re.compile(rf"[{_CONTROL}]")
# The same rules as JSON Schema patterns, so the API schema states them exactly: text
# without control characters; required text also has a character that is not a space.
TEXT_PATTERN = rf"^[^{_CONTROL}]*$"
REQUIRED_TEXT_PATTERN = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
_REQUIRED_TEXT_RE = re.compile(REQUIRED_TEXT_PATTERN)


def _no_control_chars(value: str) -> str:
    if _CONTROL_RE.search(value):
        raise ValueError("must not contain control characters")
    return value


def _clean_text(value: str) -> str:
    """Checked as sent (lengths too, so the schema's limits are exact), then stripped."""
    return _no_control_chars(value).strip()


def _required_text(value: str) -> str:
    if not _REQUIRED_TEXT_RE.match(value):
        _no_control_chars(value)
        raise PydanticCustomError(
            "string_too_short", "String should have at least 1 character other than spaces"
        )
    return value.strip()


def _text(max_length: int, *, required: bool = False, **kw: Any) -> Any:
    pattern = REQUIRED_TEXT_PATTERN if required else TEXT_PATTERN
    return Field(
        min_length=1 if required else None,
        max_length=max_length,
        json_schema_extra={"pattern": pattern},
        **kw,
    )


class TransferTarget(BaseModel):
    """Another stored agent this one may hand a live call to."""

    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID
    when: str = _text(300, default="", description="When to transfer, in plain words.")

    _check_when = field_validator("when")(_clean_text)


TRANSFER_MODES = ("cold", "warm")
VOICEMAIL_POLICIES = ("hang_up", "leave_message")
MAX_TRANSFER_NUMBERS = 10
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$"
_LABEL_RE = re.compile(LABEL_PATTERN)


class TransferNumber(BaseModel):
    """A person (a phone number) a phone call may be handed to.

    The model only ever names a `label`; the number is looked up here, so no number
    the model or the caller says is ever dialled. `cold` hands the call over at once
    (SIP transfer); `warm` dials the person first and briefs them with a summary.
    """

    model_config = ConfigDict(extra="forbid")

    label: str = Field(
        min_length=1,
        max_length=40,
        description="A short name the agent uses, e.g. 'billing' (letters, digits, space _ . -).",
        json_schema_extra={"pattern": LABEL_PATTERN},
    )
    number: str = Field(min_length=1, max_length=32, description="E.164, e.g. +14155550123.")
    when: str = _text(300, default="", description="When to transfer there, in plain words.")
    mode: Literal["cold", "warm"] = "cold"

    _check_when = field_validator("when")(_clean_text)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        value = value.strip()
        if not _LABEL_RE.match(value):
            raise ValueError("must be letters, digits, spaces, _ . or - (at most 40)")
        return value

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        # The one E.164 parser (a leaf module with no service dependencies).
        from voxie_app.services import e164
        from voxie_app.services.errors import InvalidInput

        try:
            return e164.parse(value, field="number")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


_SPEECH_MODEL_PATTERN = r"^$|" + LLM_MODEL_PATTERN


def _speech_model(value: str, info: ValidationInfo) -> str:
    """A model needs a named provider: under `auto` each provider runs its own default."""
    value = value.strip()
    if value and not _LLM_MODEL_RE.match(value):
        raise ValueError("must be a model name: letters, digits and . _ : / - (e.g. 'nova-3')")
    if value and info.data.get("provider") == catalog.AUTO:
        raise ValueError("pick a provider to name its model (auto runs each one's default)")
    return value


class _SpeechChoice(BaseModel):
    """A speech provider tried first, and its model (empty: that provider's default)."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "auto"  # each kind narrows it to its providers (declared first)
    model: str = Field(
        default="",
        max_length=100,
        description="Empty: the provider's default (voxie_app/provider_catalog.py).",
        json_schema_extra={"pattern": _SPEECH_MODEL_PATTERN},
    )

    _check_model = field_validator("model")(_speech_model)


class SttChoice(_SpeechChoice):
    """Which speech-to-text provider an agent uses first, and its model."""

    provider: catalog.SttProvider = Field(
        default="auto",
        description="`auto`: Deepgram, else the OpenAI-compatible server (STT_BASE_URL).",
    )


class LlmChoice(BaseModel):
    """Which LLM provider an agent uses first; its model is the spec's `llm_model`."""

    model_config = ConfigDict(extra="forbid")

    provider: catalog.LlmProvider = Field(
        default="auto",
        description="`auto`: the OpenAI-compatible server (OPENAI_BASE_URL), as before.",
    )


class TtsChoice(_SpeechChoice):
    """Which text-to-speech provider an agent uses first, and its model; its voice is
    the spec's `voice`."""

    provider: catalog.TtsProvider = Field(
        default="auto",
        description="`auto`: Cartesia, else the OpenAI-compatible server (TTS_BASE_URL).",
    )


def _whole_float(value: Any) -> Any:
    """JSON has one number type: 10000.0 is the integer 10000 (JSON Schema agrees), while
    10000.5, true and "10000" stay refused by the strict int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class AgentSpec(BaseModel):
    """What a voice agent is: stored as `agents.processed_spec`.

    Every field is length-capped and validated here, so nothing an LLM or a
    request produces reaches the worker unchecked.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = _text(80, required=True)
    description: str = _text(500, default="")
    instructions: str = _text(8000, required=True)
    greeting: str = _text(500, default="")
    language: str = Field(
        default="en", max_length=16, json_schema_extra={"pattern": _LANGUAGE_RE.pattern}
    )
    voice: str = Field(
        default="alloy",
        min_length=1,
        max_length=100,
        description="An OpenAI voice name, or a Cartesia voice id (a UUID).",
        json_schema_extra={"anyOf": [{"enum": sorted(OPENAI_VOICES)}, {"pattern": UUID_PATTERN}]},
    )
    # Per kind, the provider tried first (issue 17). The LLM's model stays `llm_model`
    # and the voice `voice`, where they always were: specs stored before these choices
    # existed, and API clients that never send them, mean `auto` (the old behaviour).
    stt: SttChoice = Field(default_factory=SttChoice)
    llm: LlmChoice = Field(default_factory=LlmChoice)
    tts: TtsChoice = Field(default_factory=TtsChoice)
    # (Declared before `llm_model`, whose check reads the LLM's provider.)
    llm_model: str = Field(
        default="gpt-4o-mini",
        min_length=1,
        max_length=100,
        description="The LLM's model name, as its provider (`llm.provider`) knows it.",
        json_schema_extra={"pattern": LLM_MODEL_PATTERN},
    )
    # Numbers are numbers (strict): not `true`, not "0.5", as the schema says.
    temperature: float = Field(default=0.7, ge=0.0, le=2.0, strict=True)
    tools: list[ToolName] = Field(default_factory=lambda: ["end_call"], max_length=10)
    transfer_targets: list[TransferTarget] = Field(default_factory=list, max_length=10)
    custom_tools: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=10,
        description="Ids of HTTP tools (from /api/tools) this agent may call.",
    )
    transfer_numbers: list[TransferNumber] = Field(
        default_factory=list,
        max_length=MAX_TRANSFER_NUMBERS,
        description="People a phone call may be handed to (`transfer_to_human`).",
    )
    voicemail_policy: Literal["hang_up", "leave_message"] = Field(
        default="hang_up",
        description="Outbound calls answered by a machine: hang up, or leave the message.",
    )
    voicemail_message: str = _text(
        1000,
        default="",
        validate_default=True,  # so leave_message without a message is refused
        description="What to leave on voicemail ({{variables}} allowed).",
    )
    turn_preset: Literal["default", "fast", "patient"] = Field(
        default="default",
        description="How long the agent waits before it answers: `fast` answers sooner and "
        "cuts in more often, `patient` lets callers pause mid-sentence (see the README's "
        "Turn-taking). Explicit endpointing delays override it.",
    )
    filler_message: str = _text(
        100,
        default="One moment.",
        description="Said once in a voice turn whose reply is late (a slow LLM or a "
        "running tool); empty = never.",
    )
    filler_after_s: float = Field(
        default=1.2,
        ge=0.5,
        le=5.0,
        strict=True,
        description="Seconds after the caller's turn with no reply audio before the "
        "filler is said.",
    )
    max_concurrent_calls: (
        Annotated[int, Field(ge=1, le=10000, strict=True), BeforeValidator(_whole_float)] | None
    ) = Field(
        default=None,
        description="Calls of this agent in progress at once (web, phone, outbound, "
        "campaigns); over it a call start is refused (429) and an inbound caller hears "
        "busy. None: only the deployment's VOXIE_MAX_CONCURRENT_CALLS applies.",
    )
    # Speech-to-speech (README "Realtime"): one OpenAI Realtime model hears the caller and
    # speaks the reply, instead of STT -> LLM -> TTS. `llm_model` stays the text chat's LLM.
    pipeline: Literal["cascade", "realtime"] = Field(
        default="cascade",
        description="`cascade`: speech-to-text, the LLM, text-to-speech. `realtime`: one "
        "OpenAI Realtime model end to end: lower latency and a natural voice, at a higher "
        "per-minute cost.",
    )
    realtime_model: Literal[REALTIME_MODELS] = Field(  # type: ignore[valid-type]
        default=DEFAULT_REALTIME_MODEL, description="The OpenAI Realtime model (pipeline realtime)."
    )
    realtime_voice: Literal[REALTIME_VOICES] = Field(  # type: ignore[valid-type]
        default=DEFAULT_REALTIME_VOICE,
        description="The Realtime model's voice (pipeline realtime).",
    )
    min_endpointing_delay: float | None = Field(default=None, ge=0.0, le=5.0, strict=True)
    max_endpointing_delay: float | None = Field(default=None, ge=0.0, le=10.0, strict=True)

    _check_required = field_validator("name", "instructions")(_required_text)

    @model_validator(mode="before")
    @classmethod
    def _model_of_provider(cls, data: Any) -> Any:
        """A named LLM vendor without an `llm_model` runs that vendor's default model
        (not `gpt-4o-mini`, which only an OpenAI-compatible server knows)."""
        if isinstance(data, dict) and "llm_model" not in data:
            llm = data.get("llm")
            name = llm.get("provider") if isinstance(llm, dict) else getattr(llm, "provider", None)
            if name in ("anthropic", "google"):
                return {**data, "llm_model": catalog.default_model("llm", name)}
        return data

    _check_text = field_validator("description", "greeting", "filler_message")(_clean_text)

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, value: str) -> str:
        if value in OPENAI_VOICES:
            return value
        if _UUID_RE.match(value):
            return value.lower()
        raise ValueError(
            f"must be an OpenAI voice ({', '.join(sorted(OPENAI_VOICES))}) "
            "or a Cartesia voice id (a UUID)"
        )

    @field_validator("llm_model")
    @classmethod
    def _model_name(cls, value: str, info: ValidationInfo) -> str:
        if not (_LLM_MODEL_RE.match(value) or value in _known_models()):
            raise ValueError(
                "must be a model name: letters, digits and . _ : / - (e.g. 'gpt-4o-mini')"
            )
        llm = info.data.get("llm")
        vendor = catalog.info("llm", llm.provider) if llm and llm.provider != "auto" else None
        if vendor and vendor.model_names and not value.startswith(vendor.model_names):
            raise ValueError(
                f"{vendor.label} models are named {' or '.join(vendor.model_names)}-… "
                f"(e.g. '{vendor.default_model}')"
            )
        return value

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        if not _LANGUAGE_RE.match(value):
            raise ValueError("must be a language code such as 'en' or 'es-MX'")
        return value

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("custom_tools")
    @classmethod
    def _unique_custom_tools(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(value))

    @field_validator("voicemail_message")
    @classmethod
    def _voicemail_message(cls, value: str, info: ValidationInfo) -> str:
        value = _clean_text(value)
        if not value and info.data.get("voicemail_policy") == "leave_message":
            raise ValueError("a message is required when the voicemail policy is leave_message")
        return value

    @field_validator("transfer_numbers")
    @classmethod
    def _unique_labels(cls, value: list[TransferNumber]) -> list[TransferNumber]:
        seen: set[str] = set()
        for entry in value:
            key = entry.label.casefold()
            if key in seen:
                raise ValueError(f"labels must be unique: {entry.label!r} is used twice")
            seen.add(key)
        return value

    @field_validator("transfer_targets", mode="before")
    @classmethod
    def _plain_ids(cls, value: Any) -> Any:
        """A plain agent id stands for `{"agent_id": id}`: `when` keeps its default
        (empty, which the agent reads as "when relevant"), as the README promises."""
        if isinstance(value, list):
            return [{"agent_id": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("transfer_targets")
    @classmethod
    def _unique_targets(cls, value: list[TransferTarget]) -> list[TransferTarget]:
        seen: dict[uuid.UUID, TransferTarget] = {}
        for target in value:
            seen.setdefault(target.agent_id, target)
        return list(seen.values())

    def model_post_init(self, __context: Any) -> None:
        if (
            self.min_endpointing_delay is not None
            and self.max_endpointing_delay is not None
            and self.min_endpointing_delay > self.max_endpointing_delay
        ):
            raise ValueError("min_endpointing_delay must not exceed max_endpointing_delay")


# ------------------------------------------------------------------------- tables

AGENT_STATUSES = ("processing", "ready", "failed")
CALL_STATUSES = ("active", "completed", "failed", "transferred")
CALL_KINDS = ("web", "chat", "phone")  # browser voice call, text chat, telephone
CALL_DIRECTIONS = ("inbound", "outbound")
VOICE_KINDS = ("web", "phone")  # what "calls" means in counts unless a kind is asked for


def _ts(**kw: Any) -> Any:
    return SQLField(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _serial_id() -> Any:
    """An auto-increment integer key: BIGINT on PostgreSQL, SQLite's INTEGER rowid alias."""
    return SQLField(
        default=None,
        sa_column=Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )


def _rollup_day_key() -> tuple[Any, ...]:
    """A rollup row belongs to its settled day: gone with it, found by it."""
    return (
        sa.ForeignKeyConstraint(
            ["tz", "day"], ["rollup_days.tz", "rollup_days.day"], ondelete="CASCADE"
        ),
    )


class Agent(SQLModel, table=True):
    __tablename__ = "agents"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    user_requirements: dict[str, Any] = SQLField(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    processed_spec: dict[str, Any] = SQLField(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    session_id: str | None = SQLField(default=None, index=True)
    room_id: str | None = None
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    # added: a searchable copy of the spec's name, and the creation pipeline state
    name: str = SQLField(default="", max_length=80, index=True)
    status: str = SQLField(default="ready", max_length=16)
    error: str | None = None


class CallSession(SQLModel, table=True):
    __tablename__ = "call_sessions"
    __table_args__ = (
        sa.Index("idx_call_sessions_agent_id", "agent_id"),
        sa.Index("idx_call_sessions_started_at", "started_at"),
        sa.Index("idx_call_sessions_status", "call_status"),
        sa.Index("idx_call_sessions_kind", "kind"),
        sa.CheckConstraint("kind IN ('web', 'chat', 'phone')", name="ck_call_sessions_kind"),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name="ck_call_sessions_direction"
        ),
        sa.Index("idx_call_sessions_campaign_id", "campaign_id"),
        sa.UniqueConstraint(
            "campaign_contact_id", "campaign_attempt", name="uq_call_sessions_campaign_attempt"
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    session_id: str
    agent_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("agents.id", ondelete="SET NULL")),
    )
    room_name: str
    primary_agent_type: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None
    started_at: datetime = _ts(nullable=False)
    ended_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    call_status: str = SQLField(default="active")
    call_rating: int | None = None
    customer_sentiment: str | None = None
    issue_resolved: bool | None = None
    notes: str | None = None
    # added
    customer_email: str | None = None
    end_reason: str | None = None
    duration_seconds: float | None = None
    last_activity_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    # What carried the conversation: a browser voice call ('web'), a text chat
    # ('chat') or the telephone ('phone', later); and who placed it.
    kind: str = SQLField(
        default="web", sa_column_kwargs={"server_default": "web", "nullable": False}
    )
    direction: str = SQLField(
        default="inbound", sa_column_kwargs={"server_default": "inbound", "nullable": False}
    )
    # Per-call variables (`{{name}}` in instructions, greeting, tool URLs and bodies) the
    # caller of `call/start` or chat start passed; built-ins are not stored here.
    variables: dict[str, str] = SQLField(
        default_factory=dict,
        sa_column=Column(JSONType, nullable=False, server_default="{}"),
    )
    # Phone calls (kind 'phone'): the number dialled (inbound: ours; outbound: the
    # callee's is `customer_phone`), our number's row, LiveKit's SIP call id, and for
    # outbound calls how the dialling went (ringing, answered, no_answer, busy, failed,
    # voicemail) with the SIP status code and reason the trunk gave.
    called_number: str | None = SQLField(default=None, max_length=32)
    phone_number_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("phone_numbers.id", ondelete="SET NULL")),
    )
    sip_call_id: str | None = SQLField(default=None, max_length=128)
    dial_status: str | None = SQLField(default=None, max_length=16)
    sip_status_code: int | None = None
    sip_status_reason: str | None = SQLField(default=None, max_length=200)
    # Campaign calls: the campaign, the contact called and which attempt this is
    # (1 = first call). (contact, attempt) is unique: a contact is called at most
    # once per attempt, however many schedulers run.
    campaign_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("campaigns.id", ondelete="SET NULL")),
    )
    campaign_contact_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("campaign_contacts.id", ondelete="SET NULL")),
    )
    campaign_attempt: int | None = None


class ConversationTurn(SQLModel, table=True):
    __tablename__ = "conversation_turns"
    __table_args__ = (
        sa.Index("idx_conversation_turns_call_session_id", "call_session_id"),
        sa.UniqueConstraint("call_session_id", "turn_number", name="uq_turn_number"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    call_session_id: uuid.UUID = SQLField(
        sa_column=Column(
            sa.Uuid, sa.ForeignKey("call_sessions.id", ondelete="CASCADE"), nullable=False
        )
    )
    turn_number: int
    speaker: str
    transcript: str
    agent_name: str | None = None
    function_called: str | None = None
    timestamp: datetime = _ts(nullable=False)


class TokenUsage(SQLModel, table=True):
    __tablename__ = "token_usage"
    __table_args__ = (
        sa.Index("idx_token_usage_call_session_id", "call_session_id"),
        # covering index: per-call cost sums read the index only (PostgreSQL)
        sa.Index(
            "idx_token_usage_call_session_cost",
            "call_session_id",
            postgresql_include=["total_cost_usd"],
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    call_session_id: uuid.UUID = SQLField(
        sa_column=Column(
            sa.Uuid, sa.ForeignKey("call_sessions.id", ondelete="CASCADE"), nullable=False
        )
    )
    model_name: str
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_per_input_token: Decimal | None = SQLField(default=None, sa_type=sa.Numeric(12, 10))
    cost_per_output_token: Decimal | None = SQLField(default=None, sa_type=sa.Numeric(12, 10))
    total_cost_usd: Decimal = SQLField(default=Decimal(0), sa_type=sa.Numeric(14, 8))
    timestamp: datetime = _ts(nullable=False)
    # added: STT and TTS usage is priced per audio second / character
    usage_type: str = SQLField(default="llm", max_length=8)
    audio_seconds: float = 0.0
    characters: int = 0


class CallSummary(SQLModel, table=True):
    __tablename__ = "call_summaries"
    __table_args__ = (sa.Index("idx_call_summaries_call_session_id", "call_session_id"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    call_session_id: uuid.UUID = SQLField(
        sa_column=Column(
            sa.Uuid,
            sa.ForeignKey("call_sessions.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    summary_text: str
    key_points: list[str] = SQLField(default_factory=list, sa_column=Column(JSONType))
    action_items: list[str] = SQLField(default_factory=list, sa_column=Column(JSONType))
    call_category: str | None = None
    business_outcome: str | None = None
    sales_value_usd: Decimal | None = SQLField(default=None, sa_type=sa.Numeric(10, 2))
    generated_by: str = "gpt-4o"
    tokens_used: int | None = None
    generated_at: datetime = _ts(nullable=False)


# The parts of an agent turn's response gap, in the order they happen (columns of
# `turn_metrics`; README "Where the time goes").
TURN_PARTS = (
    "part_silence",
    "part_stt",
    "part_end_of_turn",
    "part_llm",
    "part_tts",
    "part_playout",
)


class TurnMetric(SQLModel, table=True):
    """Added: per-turn latency of a call, in seconds (from livekit-agents metrics)."""

    __tablename__ = "turn_metrics"
    __table_args__ = (
        sa.Index("idx_turn_metrics_call_session_id", "call_session_id"),
        # covering index for latency percentiles (PostgreSQL)
        sa.Index(
            "idx_turn_metrics_call_session_e2e",
            "call_session_id",
            postgresql_include=["e2e_latency"],
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    call_session_id: uuid.UUID = SQLField(
        sa_column=Column(
            sa.Uuid, sa.ForeignKey("call_sessions.id", ondelete="CASCADE"), nullable=False
        )
    )
    turn_number: int
    end_of_utterance_delay: float | None = None
    transcription_delay: float | None = None
    llm_ttft: float | None = None
    tts_ttfb: float | None = None
    e2e_latency: float | None = None
    # Where the gap (`e2e_latency`) went, in consecutive parts that add up to it
    # (`voice_worker.recorder.turn_parts`; README "Where the time goes"). None: not
    # measured for this turn (a text turn, a row from before the parts were kept).
    part_silence: float | None = None
    part_stt: float | None = None
    part_end_of_turn: float | None = None
    part_llm: float | None = None
    part_tts: float | None = None
    part_playout: float | None = None
    created_at: datetime = _ts(nullable=False)


class Event(SQLModel, table=True):
    """Added: the event log behind live logs. Ordered by `id` within a stream."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("idx_events_stream_id", "stream", "id"),)

    id: int | None = _serial_id()
    stream: str = SQLField(max_length=200)
    kind: str = SQLField(max_length=64)
    level: str = SQLField(default="info", max_length=16)
    message: str = ""
    data: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSONType))
    created_at: datetime = _ts(nullable=False)


class User(SQLModel, table=True):
    """Added: a person who can sign in. Roles: `admin` (everything), `viewer` (read only)."""

    __tablename__ = "users"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    email: str = SQLField(max_length=254, unique=True, index=True)
    name: str = SQLField(default="", max_length=100)
    password_hash: str = SQLField(max_length=255)
    role: str = SQLField(default="viewer", max_length=16)
    disabled: bool = False
    created_at: datetime = _ts(nullable=False)
    last_login_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    """Added: a signed-in browser. Only a hash of the token is stored."""

    __tablename__ = "user_sessions"
    __table_args__ = (sa.Index("idx_user_sessions_user_id", "user_id"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = SQLField(max_length=64, unique=True)
    user_id: uuid.UUID = SQLField(
        sa_column=Column(sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = SQLField(sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """Added: a key for `/api/*`. Shown once; stored as a hash with a visible prefix."""

    __tablename__ = "api_keys"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    name: str = SQLField(max_length=100)
    prefix: str = SQLField(max_length=16, unique=True)
    key_hash: str = SQLField(max_length=64)
    role: str = SQLField(default="viewer", max_length=16)
    created_by: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")),
    )
    created_at: datetime = _ts(nullable=False)
    last_used_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class Webhook(SQLModel, table=True):
    """Added: an outbound webhook an admin registered for some event types."""

    __tablename__ = "webhooks"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    url: str = SQLField(max_length=2000)
    events: list[str] = SQLField(default_factory=list, sa_column=Column(JSONType, nullable=False))
    secret: str = SQLField(max_length=100)
    active: bool = True
    created_at: datetime = _ts(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """Added: one delivery of an event to a webhook, with its attempts (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("idx_webhook_deliveries_webhook_id", "webhook_id"),
        sa.Index("idx_webhook_deliveries_pending", "status", "next_attempt_at"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    webhook_id: uuid.UUID = SQLField(
        sa_column=Column(sa.Uuid, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    )
    event_type: str = SQLField(max_length=64)
    payload: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSONType))
    status: str = SQLField(default="pending", max_length=16)  # pending, delivered, failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    created_at: datetime = _ts(nullable=False)
    delivered_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class ProcessedWebhook(SQLModel, table=True):
    """Added: ids of inbound (LiveKit) webhook deliveries already handled, to handle each once."""

    __tablename__ = "processed_webhooks"

    id: str = SQLField(primary_key=True, max_length=200)
    received_at: datetime = _ts(nullable=False)


# ------------------------------------------------------------------ knowledge base

KNOWLEDGE_STATUSES = ("processing", "ready", "failed")


class KnowledgeDocument(SQLModel, table=True):
    """Added: one document of an agent's knowledge base (an uploaded file or pasted text).

    `backend` says where it is searched: `local` (the built-in full-text index
    over `knowledge_chunks`) or `ragie` (`ragie_document_id` in the agent's
    partition `ragie_partition`). Chunks are stored in both cases.
    """

    __tablename__ = "knowledge_documents"
    __table_args__ = (sa.Index("idx_knowledge_documents_agent_id", "agent_id", "created_at"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    agent_id: uuid.UUID = SQLField(
        sa_column=Column(sa.Uuid, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = SQLField(max_length=200)
    media_type: str = SQLField(max_length=64)
    source: str = SQLField(default="file", max_length=8)
    size_bytes: int = 0
    status: str = SQLField(default="processing", max_length=16)
    error: str | None = None
    backend: str = SQLField(default="local", max_length=8)
    ragie_document_id: str | None = SQLField(default=None, max_length=100)
    ragie_partition: str | None = SQLField(default=None, max_length=100)
    char_count: int = 0
    chunk_count: int = 0
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class KnowledgeChunk(SQLModel, table=True):
    """Added: an overlapping passage of a knowledge document, the unit of retrieval.

    `agent_id` is copied from the document so every search filters by agent in
    SQL. The full-text index is dialect-specific and created by migration 0002
    outside this model (see `include_object`): on PostgreSQL a generated
    `tsv tsvector` column with a GIN index, on SQLite the FTS5 table
    `knowledge_chunks_fts` kept in step by triggers (the integer `id` is its rowid).
    """

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        sa.Index("idx_knowledge_chunks_agent_id", "agent_id"),
        sa.Index("idx_knowledge_chunks_document_id", "document_id", "position"),
    )

    id: int | None = _serial_id()
    document_id: uuid.UUID = SQLField(
        sa_column=Column(
            sa.Uuid,
            sa.ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    agent_id: uuid.UUID = SQLField(sa_column=Column(sa.Uuid, nullable=False))
    position: int
    text: str


class RollupState(SQLModel, table=True):
    """Added: one row whose `version` every rollup invalidation bumps.

    A reader that computed a day's rollup stores it only if the version is
    unchanged since it started reading, so a write racing the computation can
    never leave a stale rollup behind (see `services.rollups`).
    """

    __tablename__ = "rollup_state"

    id: int = SQLField(default=1, primary_key=True)
    version: int = SQLField(default=0, sa_type=sa.BigInteger)


# The single row exists from the start (the migration inserts it too).
sa.event.listen(
    RollupState.__table__,  # type: ignore[attr-defined]
    "after_create",
    sa.DDL("INSERT INTO rollup_state (id, version) VALUES (1, 0)"),
)


class RollupDay(SQLModel, table=True):
    """Added: a settled local day (in zone `tz`) whose per-agent totals are stored.

    `starts_at`/`ends_at` are the day's bounds in UTC, so invalidating the day
    of a call needs only the call's `started_at`, whatever the zone.
    """

    __tablename__ = "rollup_days"
    __table_args__ = (sa.Index("idx_rollup_days_bounds", "starts_at", "ends_at"),)

    tz: str = SQLField(primary_key=True, max_length=64)
    day: date = SQLField(primary_key=True)
    starts_at: datetime = SQLField(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = SQLField(sa_type=UTCDateTime, nullable=False)
    computed_at: datetime = _ts(nullable=False)


class RollupAgentDay(SQLModel, table=True):
    """Added: one agent's call totals for one settled day (analytics read these)."""

    __tablename__ = "rollup_agent_days"
    __table_args__ = (
        *_rollup_day_key(),
        sa.Index("idx_rollup_agent_days_day", "tz", "day"),
        sa.Index("idx_rollup_agent_days_agent", "agent_id"),
    )

    id: int | None = _serial_id()
    tz: str = SQLField(max_length=64)
    day: date
    agent_id: uuid.UUID | None = SQLField(default=None, sa_column=Column(sa.Uuid))
    calls: int = 0
    seconds: float = 0.0
    cost_usd: Decimal = SQLField(default=Decimal(0), sa_type=sa.Numeric(18, 8))
    rating_sum: float = 0.0
    rating_n: int = 0
    resolved_yes: int = 0
    resolved_known: int = 0
    # e2e latency histogram: little-endian uint32 turn counts of bins
    # `latency_offset`, `latency_offset + 1`, ... (see services.rollups.Hist)
    latency_offset: int = 0
    latency_counts: bytes = SQLField(default=b"", sa_type=sa.LargeBinary)


class RollupLabelCount(SQLModel, table=True):
    """Added: one agent's calls per sentiment (`kind` "sentiments") or business
    outcome ("outcomes") on a settled day: plain rows, so the mixes of a range
    are one GROUP BY. Rows with `all_agents` hold the day's counts over every
    agent, so a range without an agent filter reads a few rows per day."""

    __tablename__ = "rollup_label_counts"
    __table_args__ = (
        *_rollup_day_key(),
        sa.Index("idx_rollup_label_counts_day", "tz", "day"),
    )

    id: int | None = _serial_id()
    tz: str = SQLField(max_length=64)
    day: date
    agent_id: uuid.UUID | None = SQLField(default=None, sa_column=Column(sa.Uuid))
    all_agents: bool = False
    kind: str = SQLField(max_length=16)
    label: str
    calls: int = 0


# ------------------------------------------------------------------ secrets and tools


class Secret(SQLModel, table=True):
    """Added: a named secret (an API key a tool sends), its value Fernet-encrypted.

    Only `services.secrets` reads `ciphertext`; it is kept out of `repr` so a logged
    row shows nothing of it either.
    """

    __tablename__ = "secrets"

    name: str = SQLField(primary_key=True, max_length=64)
    ciphertext: str = SQLField(sa_type=sa.Text, repr=False)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


TOOL_KINDS = ("http", "mcp")
MCP_TRANSPORTS = ("streamable_http", "sse")
TOOL_STATUSES = ("ready", "needs_setup")


class Tool(SQLModel, table=True):
    """Added: a custom tool agents may call (an HTTP request an admin described).

    `headers` values may hold `{{secret:NAME}}`; they are resolved only when the
    request is sent. Rules for every field live in `services.tools`.
    """

    __tablename__ = "tools"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    kind: str = SQLField(default="http", max_length=16)
    name: str = SQLField(max_length=64, unique=True)
    description: str = SQLField(sa_type=sa.Text)
    parameters: dict[str, Any] = SQLField(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    method: str = SQLField(default="GET", max_length=8)
    url: str = SQLField(max_length=2000)
    headers: dict[str, str] = SQLField(
        default_factory=dict, sa_column=Column(JSONType, nullable=False), repr=False
    )
    timeout_s: float = 10.0
    wait_message: str = SQLField(default="", max_length=200)
    result_path: str = SQLField(default="", max_length=200)
    status: str = SQLField(default="ready", max_length=16)
    # MCP servers only (kind 'mcp'): how to reach `url`, the tools the server listed
    # at the last "Refresh" ([{name, description}]), and those an admin let agents use.
    transport: str = SQLField(
        default="", max_length=16, sa_column_kwargs={"server_default": "", "nullable": False}
    )
    discovered_tools: list[dict[str, Any]] = SQLField(
        default_factory=list,
        sa_column=Column(JSONType, nullable=False, server_default="[]"),
    )
    allowed_tools: list[str] = SQLField(
        default_factory=list,
        sa_column=Column(JSONType, nullable=False, server_default="[]"),
    )
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class ToolInvocation(SQLModel, table=True):
    """Added: one call of a custom tool during a call or chat, secrets redacted."""

    __tablename__ = "tool_invocations"
    __table_args__ = (sa.Index("idx_tool_invocations_call_session_id", "call_session_id"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    call_session_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("call_sessions.id", ondelete="CASCADE")),
    )
    tool_id: uuid.UUID | None = SQLField(
        default=None, sa_column=Column(sa.Uuid, sa.ForeignKey("tools.id", ondelete="SET NULL"))
    )
    tool_name: str = SQLField(max_length=64)
    arguments: dict[str, Any] = SQLField(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    # ok, invalid_arguments, timeout, connection_error, refused, http_error, failed
    status: str = SQLField(max_length=24)
    http_status: int | None = None
    error: str | None = SQLField(default=None, max_length=500)
    latency_ms: int = 0
    result_chars: int = 0
    created_at: datetime = _ts(nullable=False)


# Full-text objects created by raw DDL in migration 0002 on one dialect only.
FULLTEXT_TABLE_PREFIX = "knowledge_chunks_fts"  # SQLite FTS5 table and its shadow tables
FULLTEXT_COLUMN = ("knowledge_chunks", "tsv")  # PostgreSQL generated tsvector column
FULLTEXT_INDEX = "idx_knowledge_chunks_tsv"  # PostgreSQL GIN index on it


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic autogenerate filter: leave out the dialect-specific full-text objects.

    They cannot be expressed portably in the models (an FTS5 virtual table, a
    PostgreSQL-only generated column), so `alembic check` and autogenerate
    must neither drop them nor report them as drift.
    """
    if type_ == "table" and name and name.startswith(FULLTEXT_TABLE_PREFIX):
        return False
    if type_ == "column" and reflected and (obj.table.name, name) == FULLTEXT_COLUMN:
        return False
    return not (type_ == "index" and name == FULLTEXT_INDEX)


class SipOutboundTrunk(SQLModel, table=True):
    """Added: how Voxie places phone calls: a LiveKit SIP outbound trunk to a carrier.

    `auth_password_secret` names a secret in the secrets store (never the password);
    `livekit_trunk_id` is LiveKit's id once created there, and `sync_error` says why
    the last attempt to make LiveKit agree failed ("sync" retries it).
    """

    __tablename__ = "sip_outbound_trunks"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    name: str = SQLField(max_length=80, unique=True)
    address: str = SQLField(max_length=255)
    transport: str = SQLField(default="udp", max_length=8)
    numbers: list[str] = SQLField(
        default_factory=list, sa_column=Column(JSONType, nullable=False, server_default="[]")
    )
    auth_username: str = SQLField(default="", max_length=128)
    auth_password_secret: str = SQLField(default="", max_length=64)
    livekit_trunk_id: str | None = SQLField(default=None, max_length=64)
    sync_error: str | None = SQLField(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class PhoneNumber(SQLModel, table=True):
    """Added: an E.164 number callers dial, bound to the agent that answers it.

    Inbound: LiveKit's inbound trunk for the number (`trunk_managed`: Voxie created it
    and deletes it with the number) and an individual dispatch rule that sends each
    call to a room of its own with Voxie's worker dispatched. Outbound: the trunk calls
    from this number go out through.
    """

    __tablename__ = "phone_numbers"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    number: str = SQLField(max_length=32, unique=True)
    label: str = SQLField(default="", max_length=80)
    agent_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("agents.id", ondelete="SET NULL")),
    )
    inbound_trunk_id: str | None = SQLField(default=None, max_length=64)
    trunk_managed: bool = False
    dispatch_rule_id: str | None = SQLField(default=None, max_length=64)
    outbound_trunk_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("sip_outbound_trunks.id", ondelete="SET NULL")),
    )
    sync_error: str | None = SQLField(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class DoNotCall(SQLModel, table=True):
    """Added: a number Voxie must never call (checked before every outbound call)."""

    __tablename__ = "do_not_call"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    number: str = SQLField(max_length=32, unique=True)
    reason: str = SQLField(default="", max_length=200)
    created_at: datetime = _ts(nullable=False)


CAMPAIGN_STATUSES = ("draft", "running", "paused", "completed", "cancelled")
# queued: waiting for its next attempt (at `next_attempt_at`); calling: an attempt is
# in flight (claimed, dialling or talking); done: reached (or a voicemail counted as
# done); failed: every attempt used without reaching them; cancelled: the campaign
# was cancelled first; skipped: not called (put on the do-not-call list after import).
CONTACT_STATUSES = ("queued", "calling", "done", "failed", "cancelled", "skipped")
# Call outcomes a campaign may retry (each a call's dial status).
RETRYABLE_OUTCOMES = ("no_answer", "busy", "voicemail", "failed")


class Campaign(SQLModel, table=True):
    """Added: an outbound calling campaign: one agent calls a list of contacts from one
    of our numbers, inside a weekly window in a time zone, at most `max_concurrent`
    calls at once, retrying the outcomes in `retry_on` after `retry_delay_minutes`."""

    __tablename__ = "campaigns"
    __table_args__ = (sa.Index("idx_campaigns_status", "status"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    name: str = SQLField(max_length=80)
    agent_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("agents.id", ondelete="SET NULL")),
    )
    from_number_id: uuid.UUID | None = SQLField(
        default=None,
        sa_column=Column(sa.Uuid, sa.ForeignKey("phone_numbers.id", ondelete="SET NULL")),
    )
    status: str = SQLField(default="draft", max_length=16)
    timezone: str = SQLField(default="UTC", max_length=64)
    # ISO weekdays (1 = Monday ... 7 = Sunday) and local "HH:MM" bounds [start, end).
    window_days: list[int] = SQLField(
        default_factory=lambda: [1, 2, 3, 4, 5], sa_column=Column(JSONType, nullable=False)
    )
    window_start: str = SQLField(default="09:00", max_length=5)
    window_end: str = SQLField(default="17:00", max_length=5)
    max_concurrent: int = 5
    max_attempts: int = 1  # calls per contact in all (1 = no retries)
    retry_delay_minutes: int = 60
    retry_on: list[str] = SQLField(
        default_factory=lambda: ["no_answer", "busy"], sa_column=Column(JSONType, nullable=False)
    )
    # The CSV's columns after the phone column: the variables each contact carries.
    variable_names: list[str] = SQLField(
        default_factory=list, sa_column=Column(JSONType, nullable=False)
    )
    contact_count: int = 0
    last_error: str | None = SQLField(default=None, max_length=500)
    created_by: str = SQLField(default="", max_length=255)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    started_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)


class CampaignContact(SQLModel, table=True):
    """Added: one row of a campaign's CSV: who to call, their variables, where they are
    in the queue. The queue is these rows (it survives restarts); a scheduler claims a
    contact by moving it from `queued` to `calling` and counting the attempt."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "phone", name="uq_campaign_contacts_phone"),
        sa.Index("idx_campaign_contacts_queue", "campaign_id", "status", "next_attempt_at"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    campaign_id: uuid.UUID = SQLField(
        sa_column=Column(sa.Uuid, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    row_number: int  # the CSV line (the header is line 1)
    phone: str = SQLField(max_length=32)
    variables: dict[str, str] = SQLField(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    status: str = SQLField(default="queued", max_length=16)
    attempts: int = 0  # attempts claimed so far
    next_attempt_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    claimed_at: datetime | None = SQLField(default=None, sa_type=UTCDateTime)
    last_outcome: str | None = SQLField(default=None, max_length=16)
    last_call_id: uuid.UUID | None = None
    updated_at: datetime = _ts(nullable=False)
