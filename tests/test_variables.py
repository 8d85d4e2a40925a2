"""Per-call variables (`voxie_app/services/variables.py`): rendering, rules, built-ins,
and how the HTTP tool request builder fills them (pure: no database, no network)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from voice_worker import http_tools
from voxie_app.services import tools as tools_svc
from voxie_app.services import variables as v
from voxie_app.services.errors import InvalidInput

# 23:30 UTC on 2 December is already 3 December in Paris and Tokyo, still 2 December in New York.
T0 = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)


# ---- rendering -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {{name}}!", "Hi Ann!"),
        ("Hi {{ name }}!", "Hi Ann!"),
        ("Hi {{name|friend}}!", "Hi Ann!"),
        ("Hi {{missing|friend}}!", "Hi friend!"),
        ("Hi {{ missing | dear friend }}!", "Hi dear friend!"),
        ("Hi {{missing}}!", "Hi !"),
        ("Hi {{missing|}}!", "Hi !"),
        ("Hi {{empty|friend}}!", "Hi friend!"),  # an empty value takes the default
        ("Hi {{Not A Name|x}}!", "Hi x!"),  # malformed: its default, never the braces
        ("{{a}}{{b|2}}{{c}}", "1 2"),
        ("no placeholders at all", "no placeholders at all"),
    ],
)
def test_render(text: str, expected: str) -> None:
    values = {"name": "Ann", "empty": "", "a": "1 ", "c": ""}
    assert v.render(text, values) == expected


def test_render_leaves_secrets_and_tool_params_alone() -> None:
    text = "{{secret:API_KEY}} {{ secret:OTHER }} {order_id} {{x}}"
    assert v.render(text, {"x": "X"}) == "{{secret:API_KEY}} {{ secret:OTHER }} {order_id} X"


def test_render_is_one_pass_so_a_value_stays_text() -> None:
    values = {"a": "{{b}}", "b": "B", "s": "{{secret:API_KEY}}"}
    assert v.render("{{a}} {{s}}", values) == "{{b}} {{secret:API_KEY}}"


# ---- the rules -------------------------------------------------------------------


def test_validate_keeps_good_variables() -> None:
    good = {"order_prefix": "VX", "_x": "", "a" * 40: "y" * v.MAX_VALUE_CHARS, "note": "a\n\tb"}
    assert v.validate(good) == good
    assert v.validate(None) == {}
    assert v.validate({f"k{i}": "x" for i in range(v.MAX_KEYS)})


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        ({f"k{i}": "x" for i in range(v.MAX_KEYS + 1)}, "variables", "at most 20"),
        ({"Order": "x"}, "variables.Order", "lower-case"),
        ({"9lives": "x"}, "variables.9lives", "lower-case"),
        ({"a" * 41: "x"}, "variables." + "a" * 41, "40 characters"),
        ({"order": "x" * (v.MAX_VALUE_CHARS + 1)}, "variables.order", "at most 500"),
        ({"order": 5}, "variables.order", "string"),
        ({"order": "a\x00b"}, "variables.order", "control"),
        ({"caller_number": "+1 555"}, "variables.caller_number", "built-in"),
        ({"now": "later"}, "variables.now", "built-in"),
        (["not", "a", "dict"], "variables", "object"),
    ],
)
def test_validate_refuses_naming_the_field(raw: Any, field: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        v.validate(raw)
    assert caught.value.field == field
    assert says in caught.value.message


# ---- built-ins -------------------------------------------------------------------


def test_builtins_use_the_given_clock_and_zone() -> None:
    paris = v.builtins(now=T0, tz="Europe/Paris", agent_name="Desk")
    assert paris["now"] == "2026-12-03T00:30+01:00" and paris["today"] == "2026-12-03"
    tokyo = v.builtins(now=T0, tz="Asia/Tokyo")
    assert tokyo["today"] == "2026-12-03" and tokyo["now"] == "2026-12-03T08:30+09:00"
    new_york = v.builtins(now=T0, tz="America/New_York")
    assert new_york["today"] == "2026-12-02" and new_york["now"] == "2026-12-02T18:30-05:00"
    assert paris["agent_name"] == "Desk"
    assert paris["caller_name"] == "" and paris["caller_number"] == ""


def test_an_unknown_zone_falls_back_to_utc() -> None:
    assert v.builtins(now=T0, tz="Mars/Olympus")["now"] == "2026-12-02T23:30+00:00"
    assert v.builtins(now=T0, tz="")["today"] == "2026-12-02"


def test_call_context_built_ins_win_and_each_agent_has_its_name() -> None:
    context = v.CallContext(
        custom={"order_prefix": "VX", "agent_name": "spoofed"},
        caller_name="Ann",
        caller_number="+1 555 0100",
        tz="UTC",
    )
    values = context.values(agent_name="Front Desk", now=T0)
    assert values["agent_name"] == "Front Desk" and values["order_prefix"] == "VX"
    assert (values["caller_name"], values["caller_number"]) == ("Ann", "+1 555 0100")
    text = "{{agent_name}} for {{caller_name|you}} on {{today}}"
    assert v.render(text, values) == "Front Desk for Ann on 2026-12-02"
    assert v.render(text, context.values(agent_name="Billing", now=T0)).startswith("Billing")


# ---- HTTP tools ------------------------------------------------------------------


def tool(url: str, method: str = "GET", properties: dict | None = None) -> http_tools.HttpTool:
    return http_tools.HttpTool(
        id=uuid.uuid4(),
        name="get_order",
        description="Look up an order.",
        parameters={"type": "object", "properties": properties or {}},
        method=method,
        url=url,
        headers={"X-Key": "{{secret:API_KEY}}"},
        timeout_s=5.0,
        wait_message="",
        result_path="",
    )


def secret(name: str) -> str:
    return {"API_KEY": "s3cr3t"}[name]


def test_url_renders_variables_params_and_secrets_in_one_pass() -> None:
    t = tool(
        "https://shop.example/orders/{{order_prefix}}-{order_id}"
        "?key={{secret:API_KEY}}&region={{region|eu}}&d={{today}}",
        properties={"order_id": {"type": "string"}},
    )
    values = {"order_prefix": "VX", "today": "2026-12-02"}
    request = http_tools.build_request(t, {"order_id": "123"}, secret, values)
    assert request.url == "https://shop.example/orders/VX-123?key=s3cr3t&region=eu&d=2026-12-02"
    assert request.headers["X-Key"] == "s3cr3t" and request.secret_values == ["s3cr3t", "s3cr3t"]
    # No variables at all: the placeholder is its default or empty, never braces.
    bare = http_tools.build_request(t, {"order_id": "1"}, secret)
    assert bare.url == "https://shop.example/orders/-1?key=s3cr3t&region=eu&d="


def test_a_value_cannot_become_a_secret_a_param_or_a_path() -> None:
    t = tool("https://shop.example/o/{{p}}/{id}", properties={"id": {"type": "string"}})
    values = {"p": "{{secret:API_KEY}}/../{id}?x=1"}
    request = http_tools.build_request(t, {"id": "7"}, secret, values)
    assert request.url == (
        "https://shop.example/o/%7B%7Bsecret%3AAPI_KEY%7D%7D%2F..%2F%7Bid%7D%3Fx%3D1/7"
    )
    assert request.secret_values == ["s3cr3t"]  # only the header's


def test_templated_defaults_fill_the_body_but_the_model_values_are_never_rendered() -> None:
    t = tool(
        "https://shop.example/orders",
        method="POST",
        properties={
            "customer": {"type": "string", "default": "{{customer_id|anonymous}}"},
            "channel": {"type": "string", "default": "phone"},
            "note": {"type": "string"},
        },
    )
    values = {"customer_id": "C-42"}
    request = http_tools.build_request(t, {"note": "{{customer_id}}"}, secret, values)
    # the admin's templated default is rendered; a plain default is the model's business;
    # the model's text stays as it was
    assert request.body == {"note": "{{customer_id}}", "customer": "C-42"}
    chosen = http_tools.build_request(t, {"customer": "C-1"}, secret, values)
    assert chosen.body == {"customer": "C-1"}
    get = tool(t.url, properties=t.parameters["properties"])
    assert http_tools.build_request(get, {}, secret).params == {"customer": "anonymous"}


def test_tool_urls_may_hold_variables_in_the_path_not_the_host() -> None:
    params = {"type": "object", "properties": {"id": {"type": "string"}}}
    tools_svc.check_url_template("https://shop.example/o/{{prefix|x}}-{id}?d={{today}}", params)
    with pytest.raises(InvalidInput) as caught:
        tools_svc.check_url_template("https://{{tenant}}.shop.example/o/{id}", params)
    assert caught.value.field == "url"


def test_from_query_takes_the_prefixed_parameters_and_checks_them() -> None:
    params = {"var.order_prefix": "VX", "var.note": "hi", "tab": "x", "variables": "y"}
    assert v.from_query(params) == {"order_prefix": "VX", "note": "hi"}
    assert v.from_query({}) == {}
    with pytest.raises(InvalidInput) as caught:
        v.from_query({"var.now": "later"})
    assert caught.value.field == "variables.now"


def test_a_key_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        v.validate({"order\n": "x"})
    assert caught.value.field == "variables.order\n"
