"""The agent form: text inputs <-> `AgentSpec` dicts, and errors per field (no Reflex).

The rules themselves live in `AgentSpec` and `services.agents`; this module only
turns what the form holds (strings, checkboxes, rows) into a spec dict and turns
`SpecInvalid` / `InvalidInput` back into one readable message per form field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voxie_app import provider_catalog as catalog
from voxie_app.models import ALLOWED_TOOLS, AgentSpec, Tool
from voxie_app.realtime_catalog import REALTIME_MODELS, REALTIME_VOICES
from voxie_app.services import agents as agents_svc
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

TEXT_FIELDS = (
    "name",
    "description",
    "instructions",
    "greeting",
    "language",
    "voice",
    "llm_model",
    "temperature",
    "pipeline",
    "realtime_model",
    "realtime_voice",
    "turn_preset",
    "min_endpointing_delay",
    "max_endpointing_delay",
    "filler_message",
    "filler_after_s",
    "voicemail_policy",
    "voicemail_message",
)
# The per-kind provider choices (issue 17): a form key for each nested spec field.
CHOICE_FIELDS: dict[str, tuple[str, str]] = {
    "llm_provider": ("llm", "provider"),
    "stt_provider": ("stt", "provider"),
    "stt_model": ("stt", "model"),
    "tts_provider": ("tts", "provider"),
    "tts_model": ("tts", "model"),
}
NUMBER_FIELDS = ("temperature", "min_endpointing_delay", "max_endpointing_delay", "filler_after_s")
OPTIONAL_NUMBERS = ("min_endpointing_delay", "max_endpointing_delay")
FORM_ERROR = "form"
# The order fields appear in the dialog: the first one with an error is scrolled to.
FIELD_ORDER = (
    "name",
    "description",
    "instructions",
    "greeting",
    "language",
    "voice",
    "llm_provider",
    "llm_model",
    "stt_provider",
    "stt_model",
    "tts_provider",
    "tts_model",
    "temperature",
    "pipeline",
    "realtime_model",
    "realtime_voice",
    "tools",
    "custom_tools",
    "transfer_targets",
    "transfer_numbers",
    "voicemail_policy",
    "voicemail_message",
    "turn_preset",
    "min_endpointing_delay",
    "max_endpointing_delay",
    "filler_message",
    "filler_after_s",
)
# Stand-ins for required fields that failed, so one pass can still check the rest
# (a voicemail message is required by the leave_message policy, so it has one too).
_PLACEHOLDERS = {"name": "x", "instructions": "x", "voicemail_message": "x"}
NUMBER_ROW_KEYS = ("label", "number", "when", "mode")
VOICEMAIL_LABELS = {
    "hang_up": "Hang up",
    "leave_message": "Leave a message",
}
# The agent's turn preset (voice_worker.providers.TURN_PRESETS), with what it trades.
TURN_PRESET_LABELS = {
    "default": "Default: answers promptly, rarely cuts in",
    "fast": "Fast: answers soonest, may cut in on callers who pause",
    "patient": "Patient: lets callers pause mid-sentence, answers later",
}
# The voice pipeline (README "Realtime (speech-to-speech)"), with what it trades.
PIPELINE_LABELS = {
    "cascade": "Cascade: STT, LLM and TTS (any provider, lowest cost)",
    "realtime": "Realtime: lower latency, natural voice, higher per-minute cost",
}
REALTIME_MODEL_OPTIONS = [{"value": m, "label": m} for m in REALTIME_MODELS]
REALTIME_VOICE_OPTIONS = [{"value": v, "label": v.capitalize()} for v in REALTIME_VOICES]
MODE_LABELS = {
    "cold": "Cold: hand the call over at once",
    "warm": "Warm: brief the person first",
}

TOOL_LABELS = {
    "end_call": "End the call when the conversation is over",
    "transfer_to_agent": "Transfer the caller to another agent",
    "record_caller_details": "Record the caller's name, phone and email",
    "search_knowledge_base": "Search the knowledge base for answers",
    "send_dtmf": "Press phone keys in automated menus (phone calls only)",
}


def tool_label(tool: str) -> str:
    """What a tool does, in words (falls back to the tool's name for new tools)."""
    return TOOL_LABELS.get(tool) or tool.replace("_", " ").capitalize()


def blank_form() -> dict[str, str]:
    defaults = AgentSpec(name="x", instructions="x")
    return {
        "name": "",
        "description": "",
        "instructions": "",
        "greeting": "",
        "language": defaults.language,
        "voice": defaults.voice,
        "llm_model": defaults.llm_model,
        "temperature": _num(defaults.temperature),
        "pipeline": defaults.pipeline,
        "realtime_model": defaults.realtime_model,
        "realtime_voice": defaults.realtime_voice,
        "turn_preset": defaults.turn_preset,
        "min_endpointing_delay": "",
        "max_endpointing_delay": "",
        "filler_message": defaults.filler_message,
        "filler_after_s": _num(defaults.filler_after_s),
        "voicemail_policy": defaults.voicemail_policy,
        "voicemail_message": "",
        **{
            key: getattr(getattr(defaults, kind), part)
            for key, (kind, part) in CHOICE_FIELDS.items()
        },
    }


def provider_options(settings: Settings, kind: catalog.Kind) -> list[dict[str, str]]:
    """The providers of a kind to pick from: `auto` first, an unconfigured one marked with
    the setting it needs (saving with it is refused, naming that setting)."""
    order = " then ".join(p.label for p in catalog.of_kind(kind))
    rows = [{"value": catalog.AUTO, "label": f"Automatic ({order})"}]
    for p in catalog.of_kind(kind):
        label = p.label
        if not catalog.configured(settings, kind, p.name):
            label += f" (not set up: {catalog.missing_setting(settings, kind, p.name)})"
        rows.append({"value": p.name, "label": label})
    return rows


def blank_tools() -> list[str]:
    return list(AgentSpec(name="x", instructions="x").tools)


def blank_number() -> dict[str, str]:
    """A new transfer-number row: cold (the simplest) until the admin picks warm."""
    return {"label": "", "number": "", "when": "", "mode": "cold"}


def numbers_from_spec(spec: dict[str, Any]) -> list[dict[str, str]]:
    """A spec's `transfer_numbers` as the form's rows (every key a string)."""
    return [
        {key: str(row.get(key) or blank_number()[key]) for key in NUMBER_ROW_KEYS}
        for row in spec.get("transfer_numbers") or []
        if isinstance(row, dict)
    ]


def custom_tools_from_spec(spec: dict[str, Any]) -> list[str]:
    """The stored tool ids a spec picks, as the form's checkbox values (order kept)."""
    return list(dict.fromkeys(str(t) for t in spec.get("custom_tools") or []))


KIND_LABELS = {"http": "HTTP", "mcp": "MCP server"}


def tool_choices(tools: list[Tool], ticked: list[str]) -> list[dict[str, str]]:
    """Rows for the custom-tools picker: every stored tool, and any ticked id no longer
    stored (shown so it can be unticked; saving with it is refused naming the field)."""
    rows = [
        {
            "id": str(t.id),
            "name": t.name,
            "description": t.description,
            "kind": KIND_LABELS.get(t.kind, t.kind),
            "needs_setup": "yes" if t.status == "needs_setup" else "",
        }
        for t in tools
    ]
    stored = {r["id"] for r in rows}
    rows += [
        {
            "id": i,
            "name": "Deleted tool",
            "description": "This tool no longer exists: untick it to save the agent.",
            "kind": "",
            "needs_setup": "",
        }
        for i in ticked
        if i not in stored
    ]
    return rows


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def form_from_spec(spec: dict[str, Any]) -> tuple[dict[str, str], list[str], list[dict[str, str]]]:
    """A stored spec as form values, tool names and transfer rows."""
    form = blank_form()
    for key in TEXT_FIELDS:
        if key in NUMBER_FIELDS:
            value = spec.get(key)
            form[key] = _num(float(value)) if value is not None else form[key]
            if key in OPTIONAL_NUMBERS and value is None:
                form[key] = ""
        elif spec.get(key) is not None:
            form[key] = str(spec[key])
    for key, (kind, part) in CHOICE_FIELDS.items():
        choice = spec.get(kind)
        if isinstance(choice, dict) and choice.get(part) is not None:
            form[key] = str(choice[part])
    tools = [t for t in spec.get("tools", []) if t in ALLOWED_TOOLS]
    targets = [
        {"agent_id": str(t.get("agent_id", "")), "when": str(t.get("when", ""))}
        for t in spec.get("transfer_targets", [])
    ]
    return form, tools, targets


def spec_from_form(
    form: dict[str, str],
    tools: list[str],
    targets: list[dict[str, str]],
    custom_tools: list[str] | tuple[str, ...] = (),
    numbers: list[dict[str, str]] | tuple[dict[str, str], ...] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """The spec dict the form describes, and errors for values that are not numbers.

    Transfer numbers are passed on as typed: `AgentSpec` parses each as E.164 (one
    parser for every form), and its message comes back on the row's field."""
    errors: dict[str, str] = {}
    spec: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        raw = (form.get(key) or "").strip()
        if key in NUMBER_FIELDS:
            if raw == "" and key in OPTIONAL_NUMBERS:
                spec[key] = None
                continue
            try:
                spec[key] = float(raw.replace(",", "."))
            except ValueError:
                errors[key] = "Enter a number" if raw else "Required"
        else:
            spec[key] = raw
    for key, (kind, part) in CHOICE_FIELDS.items():
        spec.setdefault(kind, {})[part] = (form.get(key) or "").strip()
    spec["tools"] = [t for t in ALLOWED_TOOLS if t in tools]
    spec["transfer_targets"] = [
        {"agent_id": t.get("agent_id", ""), "when": t.get("when", "")} for t in targets
    ]
    spec["custom_tools"] = list(dict.fromkeys(custom_tools))
    spec["transfer_numbers"] = [
        {key: (row.get(key) or "").strip() for key in NUMBER_ROW_KEYS} for row in numbers
    ]
    return spec, errors


def _humanize(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "")).removeprefix("Value error, ")
    kind = error.get("type", "")
    if kind == "string_too_short" and "at least 1 character" in msg:
        return "Required"
    if kind == "uuid_parsing":
        return "Pick an agent"
    for prefix, new in (("Input should be", "Must be"), ("String should have", "Must have")):
        if msg.startswith(prefix):
            msg = new + msg[len(prefix) :]
    return msg[:1].upper() + msg[1:]


def field_of(loc: list[Any] | tuple[Any, ...]) -> str:
    """The form field an error location belongs to (`transfer_targets.0.when` -> rows)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "processed_spec":
        parts = parts[1:]
    if not parts:
        return FORM_ERROR
    if parts[0] in ("transfer_targets", "transfer_numbers"):
        return parts[0]
    if parts[0] in ("tools", "custom_tools"):
        return parts[0]
    if parts[0] in ("stt", "llm", "tts"):
        key = "_".join(parts[:2])
        return key if key in CHOICE_FIELDS else FORM_ERROR
    return parts[0] if parts[0] in TEXT_FIELDS else FORM_ERROR


def errors_from_spec(errors: list[dict[str, Any]]) -> dict[str, str]:
    """One message per field from `SpecInvalid.errors` (the first error of a field wins)."""
    out: dict[str, str] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        field = field_of(loc)
        message = _humanize(error)
        if field == "transfer_numbers":
            message = _number_row_message(loc, message)
        if field == FORM_ERROR and "endpointing" in message:
            field = "max_endpointing_delay"
            message = "Must not be smaller than the minimum delay"
        out.setdefault(field, message)
    return out


def _number_row_message(loc: list[str], message: str) -> str:
    """'Row 2, number: ...': the rows share one error line, so it says which cell."""
    if loc and loc[0] == "processed_spec":
        loc = loc[1:]
    if len(loc) >= 3 and loc[1].isdigit():
        return f"Row {int(loc[1]) + 1}, {loc[2]}: {message[:1].lower()}{message[1:]}"
    return message


def error_from_invalid(exc: InvalidInput) -> dict[str, str]:
    return {field_of(exc.field.split(".")): exc.message[:1].upper() + exc.message[1:]}


def validate_form(
    form: dict[str, str],
    tools: list[str],
    targets: list[dict[str, str]],
    references: Callable[[AgentSpec], list[InvalidInput]] | None = None,
    custom_tools: list[str] | tuple[str, ...] = (),
    numbers: list[dict[str, str]] | tuple[dict[str, str], ...] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """The spec the form describes and every field's error, found in one pass.

    Numbers that do not parse, `AgentSpec`'s field errors, its whole-spec rules
    (min delay above max) and the database's reference rules (`references`) are
    all collected: a field that failed is replaced by its default (or a stand-in)
    and the rest validated again, so fixing one error never reveals another that
    was already there.
    """
    spec, errors = spec_from_form(form, tools, targets, custom_tools, numbers)
    probe = {k: v for k, v in spec.items() if k not in errors}
    parsed: AgentSpec | None = None
    for _ in range(len(FIELD_ORDER)):
        try:
            parsed = agents_svc.parse_spec(probe)
            break
        except agents_svc.SpecInvalid as exc:
            found = errors_from_spec(exc.errors)
            for field, message in found.items():
                errors.setdefault(field, message)
            failed = {CHOICE_FIELDS.get(f, (f,))[0] for f in found} & set(probe)
            if not failed:
                break
            for field in failed:
                probe.pop(field)
                if field in _PLACEHOLDERS:
                    probe[field] = _PLACEHOLDERS[field]
    if parsed is not None and references is not None:
        for problem in references(parsed):
            for field, message in error_from_invalid(problem).items():
                errors.setdefault(field, message)
    return spec, errors


def first_field(errors: dict[str, str]) -> str:
    """The error field that comes first in the dialog (what to scroll to)."""
    return next((f for f in FIELD_ORDER if f in errors), FORM_ERROR)


def copy_name(name: str, limit: int = 80) -> str:
    """'X' -> 'X (copy)', kept within the name limit."""
    suffix = " (copy)"
    return name[: limit - len(suffix)].rstrip() + suffix
