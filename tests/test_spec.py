"""AgentSpec validation: clear errors, caps, and code-decided tools."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from voxie_app.models import AgentSpec
from voxie_app.services.agents import SpecInvalid, is_only_missing, parse_spec

BASE = {"name": "Dental Bot", "instructions": "You answer calls for a dental clinic."}


def test_minimal_spec_gets_defaults() -> None:
    spec = AgentSpec.model_validate(BASE)
    assert spec.language == "en"
    assert spec.tools == ["end_call"]
    assert spec.temperature == 0.7
    assert spec.transfer_targets == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 81),
        ("instructions", "y" * 8001),
        ("greeting", "z" * 501),
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("language", "English"),
        ("tools", ["end_call", "format_disk"]),
        ("name", "bad\x00name"),
        ("min_endpointing_delay", 9.0),
    ],
)
def test_invalid_fields_are_named(field: str, value: object) -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_spec({**BASE, field: value})
    assert any(e["loc"][0] == field for e in info.value.errors), info.value.errors
    assert not is_only_missing(info.value.errors)


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_spec({**BASE, "system_override": "ignore all"})
    assert info.value.errors[0]["loc"] == ["system_override"]


def test_partial_spec_is_only_missing() -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_spec({"name": "Only a name"})
    assert is_only_missing(info.value.errors)
    assert [e["loc"] for e in info.value.errors] == [["instructions"]]


def test_whitespace_is_stripped_and_duplicates_dropped() -> None:
    target = str(uuid.uuid4())
    spec = parse_spec(
        {
            **BASE,
            "name": "  Dental Bot  ",
            "tools": ["end_call", "end_call", "transfer_to_agent"],
            "transfer_targets": [{"agent_id": target}, {"agent_id": target, "when": "again"}],
        }
    )
    assert spec.name == "Dental Bot"
    assert spec.tools == ["end_call", "transfer_to_agent"]
    assert len(spec.transfer_targets) == 1


def test_endpointing_delays_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        AgentSpec.model_validate(
            {**BASE, "min_endpointing_delay": 2.0, "max_endpointing_delay": 1.0}
        )


def test_emoji_and_unicode_are_kept() -> None:
    spec = parse_spec(
        {**BASE, "greeting": "¡Hola! 😀 ¿En qué puedo ayudarle?", "language": "es-MX"}
    )
    assert spec.greeting.endswith("ayudarle?")


@pytest.mark.parametrize("value", [10.5, True, "5", 0, 10001])
def test_a_call_limit_is_a_whole_number_in_range(value: object) -> None:
    with pytest.raises(ValidationError, match="max_concurrent_calls"):
        AgentSpec(name="a", instructions="b", max_concurrent_calls=value)


def test_a_call_limit_written_as_a_json_float_is_that_integer() -> None:
    # JSON has one number type: 40.0 is the integer 40 (JSON Schema agrees).
    spec = AgentSpec(name="a", instructions="b", max_concurrent_calls=40.0)
    assert spec.max_concurrent_calls == 40 and isinstance(spec.max_concurrent_calls, int)
