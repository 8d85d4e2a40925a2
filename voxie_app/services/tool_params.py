"""The `/tools` editor's conversions: parameter table <-> JSON Schema, header rows,
sample arguments, and the form as a `ToolIn` body.

Pure functions (no database, no Reflex), so the page state stays thin and the
rules are unit-tested. The table covers the common case: flat arguments of type
string, number, integer or boolean, each with a description, a required flag and
an optional list of allowed values. A schema with anything more (nesting, patterns,
`additionalProperties`...) is edited as raw JSON; `rows_from_schema` says what the
table cannot show instead of silently dropping it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from voxie_app.services.errors import InvalidInput

TYPES = ("string", "number", "integer", "boolean")
PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_PARAMS = 50
MAX_ENUM = 50
MAX_ARGUMENTS_CHARS = 16_000
_ROW_KEYS = frozenset({"type", "description", "enum"})
_TOP_KEYS = frozenset({"type", "properties", "required"})
# What a sample argument looks like, by type (the Test box is pre-filled with these).
_EXAMPLES: dict[str, Any] = {
    "string": "example",
    "number": 1.5,
    "integer": 1,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


@dataclass(frozen=True)
class ParamRow:
    """One row of the parameter table; `enum` is comma-separated text ("" for none)."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    enum: str = ""


class NotFlat(ValueError):
    """The schema holds something the table cannot show; the message says what."""


def _enum_values(row: ParamRow, field: str) -> list[Any]:
    parts = [p.strip() for p in row.enum.split(",")]
    values = [p for p in parts if p]
    if not values:
        return []
    if row.type == "boolean":
        raise InvalidInput("a yes/no parameter cannot have a list of values", field=field)
    if len(values) > MAX_ENUM:
        raise InvalidInput(f"at most {MAX_ENUM} allowed values", field=field)
    out: list[Any] = []
    for value in values:
        if row.type == "string":
            out.append(value)
            continue
        try:
            number: Any = int(value) if row.type == "integer" else float(value)
        except ValueError:
            raise InvalidInput(
                f"{value[:40]!r} is not a{'n integer' if row.type == 'integer' else ' number'}",
                field=field,
            ) from None
        out.append(number)
    if len(set(map(json.dumps, out))) != len(out):
        raise InvalidInput("the allowed values repeat", field=field)
    return out


def schema_from_rows(rows: list[ParamRow]) -> dict[str, Any]:
    """The JSON Schema object the table describes; InvalidInput naming the row's cell
    (`parameters.<i>.name`, `.type` or `.enum`) for the first bad one."""
    if len(rows) > MAX_PARAMS:
        raise InvalidInput(f"at most {MAX_PARAMS} parameters", field="parameters")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for i, row in enumerate(rows):
        name = row.name.strip()
        where = f"parameters.{i}"
        if not name:
            raise InvalidInput("a parameter needs a name", field=f"{where}.name")
        if not PARAM_NAME_RE.match(name):
            raise InvalidInput(
                f"{name[:40]!r} is not a valid parameter name: letters, digits and _, "
                "not starting with a digit",
                field=f"{where}.name",
            )
        if name in properties:
            raise InvalidInput(f"the parameter {name!r} is listed twice", field=f"{where}.name")
        if row.type not in TYPES:
            raise InvalidInput(f"the type must be one of {', '.join(TYPES)}", field=f"{where}.type")
        prop: dict[str, Any] = {"type": row.type}
        if row.description.strip():
            prop["description"] = row.description.strip()
        enum = _enum_values(row, f"{where}.enum")
        if enum:
            prop["enum"] = enum
        properties[name] = prop
        if row.required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def rows_from_schema(schema: Any) -> list[ParamRow]:
    """The table rows for a flat schema, else `NotFlat` saying what it cannot show."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise NotFlat('the schema is not an object schema ("type": "object")')
    extra = sorted(set(schema) - _TOP_KEYS)
    if extra:
        raise NotFlat(f"the table cannot show {extra[0]!r}")
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise NotFlat("properties must be an object and required a list")
    unknown = [r for r in required if r not in properties]
    if unknown:
        raise NotFlat(f"{str(unknown[0])[:40]!r} is required but not a property")
    rows = []
    for name, prop in properties.items():
        rows.append(_row(name, prop, required))
    return rows


def _row(name: str, prop: Any, required: list[Any]) -> ParamRow:
    if not PARAM_NAME_RE.match(name):
        raise NotFlat(f"the table cannot show the parameter name {name[:40]!r}")
    if not isinstance(prop, dict):
        raise NotFlat(f"{name} is not a schema object")
    extra = sorted(set(prop) - _ROW_KEYS)
    if extra:
        raise NotFlat(f"the table cannot show {extra[0]!r} of {name}")
    kind = prop.get("type")
    if kind not in TYPES:
        raise NotFlat(f"the table cannot show the type of {name} ({json.dumps(kind)[:40]})")
    description = prop.get("description", "")
    if not isinstance(description, str):
        raise NotFlat(f"the description of {name} is not text")
    enum = prop.get("enum")
    text = ""
    if enum is not None:
        text = _enum_text(name, kind, enum)
    return ParamRow(
        name=name, type=kind, description=description, required=name in required, enum=text
    )


def _enum_text(name: str, kind: str, enum: Any) -> str:
    ok_types = {"string": (str,), "number": (int, float), "integer": (int,)}.get(kind)
    if not isinstance(enum, list) or ok_types is None:
        raise NotFlat(f"the table cannot show the allowed values of {name}")
    for value in enum:
        bad_text = isinstance(value, str) and ("," in value or value != value.strip() or not value)
        if isinstance(value, bool) or not isinstance(value, ok_types) or bad_text:
            raise NotFlat(
                f"the table cannot show the allowed value {json.dumps(value)[:40]} of {name}"
            )
    return ", ".join(v if isinstance(v, str) else json.dumps(v) for v in enum)


def sample_arguments(schema: Any, depth: int = 0) -> dict[str, Any]:
    """Arguments that fit a typical schema: each property with an example of its type
    (its first allowed value, `const`, `default` or `examples` when it has one)."""
    if not isinstance(schema, dict) or depth > 4:
        return {}
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {name: _example(prop, depth) for name, prop in properties.items()}


def _example(prop: Any, depth: int) -> Any:
    if not isinstance(prop, dict):
        return _EXAMPLES["string"]
    if "const" in prop:
        return prop["const"]
    for key in ("enum", "examples"):
        if isinstance(prop.get(key), list) and prop[key]:
            return prop[key][0]
    if "default" in prop:
        return prop["default"]
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return sample_arguments(prop, depth + 1)
    return _EXAMPLES.get(kind if isinstance(kind, str) else "string", _EXAMPLES["string"])


def parse_arguments(text: str) -> dict[str, Any]:
    """The Test box's JSON object; InvalidInput naming `arguments` otherwise."""
    if len(text) > MAX_ARGUMENTS_CHARS:
        raise InvalidInput(f"at most {MAX_ARGUMENTS_CHARS} characters", field="arguments")
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise InvalidInput(
            f"not valid JSON ({exc.msg}, line {exc.lineno})", field="arguments"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput('must be a JSON object, e.g. {"date": "2026-12-03"}', field="arguments")
    return value


def parse_schema_text(text: str) -> dict[str, Any]:
    """The raw-JSON box's schema; InvalidInput naming `parameters` if it is not JSON."""
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise InvalidInput(
            f"not valid JSON ({exc.msg}, line {exc.lineno})", field="parameters"
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput('must be a JSON object with "type": "object"', field="parameters")
    return value


def headers_from_rows(rows: list[tuple[str, str]]) -> dict[str, str]:
    """Header rows as a dict: blank rows skipped, a name given twice refused."""
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for i, (name, value) in enumerate(rows):
        name = name.strip()
        if not name and not value.strip():
            continue
        if not name:
            raise InvalidInput("a header needs a name", field=f"headers.{i}")
        if name.lower() in seen:
            raise InvalidInput(f"the header {name!r} is listed twice", field=f"headers.{name}")
        seen.add(name.lower())
        headers[name] = value.strip()
    return headers


def parse_timeout(text: str) -> float:
    try:
        return float(str(text).strip() or "10")
    except ValueError:
        raise InvalidInput("enter a number of seconds, 1 to 30", field="timeout_s") from None


def tool_body(
    form: dict[str, str], parameters: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """The form as a `ToolIn` body. A tool with a URL is ready: saving a drafted tool
    ("needs setup") once its URL is filled in is what completes it."""
    url = form.get("url", "").strip()
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "parameters": parameters,
        "method": form.get("method", "GET") or "GET",
        "url": url,
        "headers": headers,
        "timeout_s": parse_timeout(form.get("timeout_s", "")),
        "wait_message": form.get("wait_message", "").strip(),
        "result_path": form.get("result_path", "").strip(),
        "status": "ready" if url else "needs_setup",
    }


FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "method": "Method",
    "url": "URL",
    "headers": "Headers",
    "timeout_s": "Timeout",
    "wait_message": "Wait message",
    "result_path": "Result path",
    "parameters": "Parameters",
    "arguments": "Sample arguments",
    "status": "Status",
}
_CELL_LABELS = {"name": "name", "type": "type", "enum": "allowed values"}


def field_label(field: str) -> str:
    """A field path as the form names it: `parameters.0.enum` -> 'Parameter 1 allowed
    values', `headers.X-Key` -> 'Header X-Key'."""
    parts = field.split(".")
    head = parts[0]
    if head == "parameters" and len(parts) >= 3 and parts[1].isdigit():
        return f"Parameter {int(parts[1]) + 1} {_CELL_LABELS.get(parts[2], parts[2])}"
    if head == "headers" and len(parts) >= 2:
        rest = ".".join(parts[1:])
        return f"Header {int(rest) + 1}" if rest.isdigit() else f"Header {rest}"
    return FIELD_LABELS.get(head, head.replace("_", " ").capitalize() or "Tool")
