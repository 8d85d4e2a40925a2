"""Per-call variables: `{{name}}` and `{{name|default}}` in an agent's own texts.

A call (or chat) can carry custom values, passed at its start and stored on the
call row (`CallSession.variables`). At call time the agent runtime renders its
spec's instructions and greeting and its HTTP tools' URLs (and templated schema
defaults) with them, plus a few built-ins the platform knows (`BUILTINS`).

Rules, all here so every caller agrees:
- keys match `KEY_RE` (lower-case snake_case, at most 40 characters), at most
  `MAX_KEYS` of them, values are strings of at most `MAX_VALUE_CHARS`, without
  control characters other than tab and newline; a key may not be a built-in's
  name (a 422 rather than a silent override, so a caller never believes it set
  `caller_number` when the platform's value was used);
- any `{{...}}` that is not a `{{secret:NAME}}` reference is a placeholder: a known,
  non-empty value replaces it, else its default, else nothing. The braces never
  reach the model or a request;
- rendering is one pass: a value that itself looks like a placeholder, a secret
  reference or a tool's `{param}` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voxie_app.services.errors import InvalidInput

KEY_RE = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
KEY_RULE = "lower-case letters, digits and _, not starting with a digit, at most 40 characters"
MAX_KEYS = 20
MAX_VALUE_CHARS = 500
BUILTINS = ("now", "today", "agent_name", "caller_name", "caller_number")
# `{{ name }}` or `{{ name | default }}`; never `{{secret:NAME}}` (secrets.REFERENCE_RE).
# The name part is lenient on purpose: a malformed name still renders (to its default),
# so no braces are left behind. Groups: 1 name, 2 default (None without a `|`).
PLACEHOLDER_RE = re.compile(r"\{\{(?!\s*secret:)\s*([^{}|]*?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")
# A value: no control characters but tab and newline (also the OpenAPI `pattern`).
VALUE_PATTERN = r"^[^\u0000-\u0008\u000b-\u001f\u007f]*$"
_CONTROL_RE = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f]")


def validate(raw: Any, *, field: str = "variables") -> dict[str, str]:
    """The custom variables if they keep the rules, else `InvalidInput` naming
    `variables.<key>` (or `variables` for the whole object)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("variables must be an object of names to strings", field=field)
    if len(raw) > MAX_KEYS:
        raise InvalidInput(f"at most {MAX_KEYS} variables (got {len(raw)})", field=field)
    clean: dict[str, str] = {}
    for key, value in raw.items():
        where = f"{field}.{key}"
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            raise InvalidInput(f"a variable name is {KEY_RULE}", field=where)
        if key in BUILTINS:
            raise InvalidInput(
                f"{key!r} is a built-in variable and cannot be set ({', '.join(BUILTINS)})",
                field=where,
            )
        if not isinstance(value, str):
            raise InvalidInput("a variable's value must be a string", field=where)
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidInput(
                f"a variable's value is at most {MAX_VALUE_CHARS} characters (got {len(value)})",
                field=where,
            )
        if _CONTROL_RE.search(value):
            raise InvalidInput("a variable's value may not hold control characters", field=where)
        clean[key] = value
    return clean


QUERY_PREFIX = "var."


def from_query(params: Mapping[str, str], *, prefix: str = QUERY_PREFIX) -> dict[str, str]:
    """The variables in a page's query string (`?var.order_prefix=VX`), checked by
    `validate` (so a bad one is an `InvalidInput` naming `variables.<key>`)."""
    found = {k[len(prefix) :]: str(v) for k, v in params.items() if k.startswith(prefix)}
    return validate(found)


def zone(name: str) -> tzinfo:
    """The time zone `name`; UTC when it is empty or unknown (a call never fails on it)."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def builtins(
    *,
    now: datetime,
    tz: str,
    agent_name: str = "",
    caller_name: str = "",
    caller_number: str = "",
) -> dict[str, str]:
    """The built-in values: `now` (ISO 8601 to the minute, with offset) and `today`
    (ISO date), both in zone `tz`; the agent's name; the caller's, when known."""
    local = now.astimezone(zone(tz))
    return {
        "now": local.isoformat(timespec="minutes"),
        "today": local.date().isoformat(),
        "agent_name": agent_name,
        "caller_name": caller_name,
        "caller_number": caller_number,
    }


@dataclass(frozen=True)
class CallContext:
    """What a call knows at its start, for rendering each agent it runs (a transfer
    renders the next agent with the same values and that agent's own name)."""

    custom: dict[str, str] = field(default_factory=dict)
    caller_name: str = ""
    caller_number: str = ""
    tz: str = "UTC"

    def values(self, *, agent_name: str, now: datetime) -> dict[str, str]:
        """Custom values and built-ins; built-ins win (`validate` refuses a clash anyway)."""
        return {
            **self.custom,
            **builtins(
                now=now,
                tz=self.tz,
                agent_name=agent_name,
                caller_name=self.caller_name,
                caller_number=self.caller_number,
            ),
        }


def substitute(match: re.Match[str], values: Mapping[str, str], *, name: int = 1) -> str:
    """The text for one placeholder match (`name` is its name group; the default follows)."""
    value = values.get(match.group(name) or "", "")
    return value if value else (match.group(name + 1) or "")


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with every placeholder replaced (one pass; secrets and `{param}` untouched)."""
    if "{{" not in text:
        return text
    return PLACEHOLDER_RE.sub(lambda m: substitute(m, values), text)


def has_placeholder(text: str) -> bool:
    """Whether `text` holds a variable placeholder (not just a secret reference)."""
    return PLACEHOLDER_RE.search(text) is not None
