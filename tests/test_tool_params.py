"""The /tools editor's conversions: parameter table <-> JSON Schema, sample arguments,
header rows and the form body (pure functions, no database)."""

from __future__ import annotations

import pytest

from voxie_app.services import tool_params as tp
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import InvalidInput
from voxie_app.services.tool_params import NotFlat, ParamRow

ROWS = [
    ParamRow("date", "string", "Day, as YYYY-MM-DD", required=True),
    ParamRow("party", "integer", "How many people", enum="1, 2, 4"),
    ParamRow("room", "string", "", enum="garden,hall"),
    ParamRow("vip", "boolean", "Member of the club"),
    ParamRow("budget", "number", "", required=True, enum="9.5, 20"),
]


def test_the_table_builds_a_schema_the_service_accepts() -> None:
    schema = tp.schema_from_rows(ROWS)
    assert schema == {
        "type": "object",
        "properties": {
            "date": {"type": "string", "description": "Day, as YYYY-MM-DD"},
            "party": {"type": "integer", "description": "How many people", "enum": [1, 2, 4]},
            "room": {"type": "string", "enum": ["garden", "hall"]},
            "vip": {"type": "boolean", "description": "Member of the club"},
            "budget": {"type": "number", "enum": [9.5, 20.0]},
        },
        "required": ["date", "budget"],
    }
    assert tools_svc.check_parameters(schema) is schema
    assert tp.schema_from_rows([]) == {"type": "object", "properties": {}}


def test_schema_and_rows_round_trip() -> None:
    schema = tp.schema_from_rows(ROWS)
    rows = tp.rows_from_schema(schema)
    assert [r.name for r in rows] == ["date", "party", "room", "vip", "budget"]
    assert rows[1].enum == "1, 2, 4" and rows[2].enum == "garden, hall"
    assert rows[4].enum == "9.5, 20.0" and rows[4].required and not rows[3].required
    assert tp.schema_from_rows(rows) == schema


@pytest.mark.parametrize(
    ("rows", "field", "words"),
    [
        ([ParamRow("  ")], "parameters.0.name", "needs a name"),
        ([ParamRow("a"), ParamRow("a")], "parameters.1.name", "twice"),
        ([ParamRow("9lives")], "parameters.0.name", "not a valid parameter name"),
        ([ParamRow("a", "date")], "parameters.0.type", "one of"),
        ([ParamRow("n", "integer", enum="1, two")], "parameters.0.enum", "'two' is not an integer"),
        ([ParamRow("n", "number", enum="x")], "parameters.0.enum", "not a number"),
        ([ParamRow("b", "boolean", enum="yes")], "parameters.0.enum", "yes/no"),
        ([ParamRow("s", enum="a, a")], "parameters.0.enum", "repeat"),
    ],
)
def test_bad_rows_name_their_cell(rows: list[ParamRow], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        tp.schema_from_rows(rows)
    assert exc.value.field == field and words in exc.value.message


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ([], "not an object schema"),
        ({"type": "object", "additionalProperties": False}, "'additionalProperties'"),
        ({"type": "object", "properties": {"d": {"type": "string", "pattern": "x"}}}, "'pattern'"),
        ({"type": "object", "properties": {"a": {"type": "array"}}}, "type of a"),
        ({"type": "object", "properties": {"a": {"type": ["string", "null"]}}}, "type of a"),
        ({"type": "object", "properties": {"a": {"type": "string", "enum": ["x,y"]}}}, '"x,y"'),
        ({"type": "object", "properties": {"a": {"type": "boolean", "enum": [True]}}}, "values"),
        ({"type": "object", "properties": {"a": {"type": "integer", "enum": [1.5]}}}, "1.5"),
        ({"type": "object", "properties": {}, "required": ["ghost"]}, "'ghost' is required"),
        ({"type": "object", "properties": {"my-key": {"type": "string"}}}, "'my-key'"),
    ],
)
def test_schemas_the_table_cannot_show_say_what(schema: object, words: str) -> None:
    with pytest.raises(NotFlat) as exc:
        tp.rows_from_schema(schema)
    assert words in str(exc.value)


def test_sample_arguments_have_an_example_of_each_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "date": {"type": "string"},
            "party": {"type": "integer"},
            "budget": {"type": "number"},
            "vip": {"type": "boolean"},
            "room": {"type": "string", "enum": ["garden", "hall"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"type": ["null", "string"]},
            "when": {"type": "string", "default": "soon"},
            "where": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    assert tp.sample_arguments(schema) == {
        "date": "example",
        "party": 1,
        "budget": 1.5,
        "vip": True,
        "room": "garden",
        "tags": [],
        "note": "example",
        "when": "soon",
        "where": {"city": "example"},
    }
    assert tp.sample_arguments({"type": "object"}) == {}


def test_arguments_text_and_schema_text_are_objects_or_name_their_field() -> None:
    assert tp.parse_arguments('{"date": "2026-12-03"}') == {"date": "2026-12-03"}
    assert tp.parse_arguments("") == {}
    for text in ("{oops", "[1, 2]", "x" * (tp.MAX_ARGUMENTS_CHARS + 1)):
        with pytest.raises(InvalidInput) as exc:
            tp.parse_arguments(text)
        assert exc.value.field == "arguments"
    with pytest.raises(InvalidInput) as exc:
        tp.parse_schema_text('"string"')
    assert exc.value.field == "parameters"


def test_header_rows_and_the_form_body() -> None:
    headers = tp.headers_from_rows(
        [("X-Key", " {{secret:CLINIC_KEY}} "), ("", ""), ("Accept", "application/json")]
    )
    assert headers == {"X-Key": "{{secret:CLINIC_KEY}}", "Accept": "application/json"}
    with pytest.raises(InvalidInput) as exc:
        tp.headers_from_rows([("X-Key", "a"), ("x-key", "b")])
    assert exc.value.field == "headers.x-key"
    with pytest.raises(InvalidInput) as exc:
        tp.headers_from_rows([("", "value")])
    assert exc.value.field == "headers.0"

    form = {"name": " check_slots ", "url": " https://api.example.com/slots ", "method": "GET"}
    body = tp.tool_body(form | {"timeout_s": "12"}, {"type": "object"}, headers)
    assert body["name"] == "check_slots" and body["url"] == "https://api.example.com/slots"
    assert body["timeout_s"] == 12.0 and body["status"] == "ready"
    assert tp.tool_body(form | {"url": ""}, {}, {})["status"] == "needs_setup"
    assert tp.tool_body(form | {"timeout_s": ""}, {}, {})["timeout_s"] == 10.0
    with pytest.raises(InvalidInput) as exc:
        tp.tool_body(form | {"timeout_s": "ten"}, {}, {})
    assert exc.value.field == "timeout_s"


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("url", "URL"),
        ("timeout_s", "Timeout"),
        ("parameters.2.enum", "Parameter 3 allowed values"),
        ("parameters", "Parameters"),
        ("headers.X-Key", "Header X-Key"),
        ("headers.0", "Header 1"),
        ("body", "Body"),
    ],
)
def test_fields_are_named_as_the_form_shows_them(field: str, label: str) -> None:
    assert tp.field_label(field) == label
