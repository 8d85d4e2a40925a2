"""The /tools page state: every handler but `load` refuses a viewer by itself (not only
through the middleware), and an admin's form saves, refuses by field, deletes and tests.

Handlers run as the middleware would run them: inside an event context whose router
data carries the websocket's cookie (see tests/test_state_auth.py).
"""

from __future__ import annotations

import inspect
import json
import uuid
from typing import Any

import pytest

from tests import test_http_tools
from tests.statetab import role_tokens
from tests.test_http_tools import Clinic, booking_tool, make_agent, save_tool, slots_tool
from voxie_app.db import session_scope
from voxie_app.models import Tool
from voxie_app.services import tools as tools_svc
from voxie_app.settings import Settings
from voxie_app.state.tools import REFUSED, ToolsState

clinic = test_http_tools.clinic
env = test_http_tools.env


@pytest.fixture
def tokens(env: Settings) -> dict[str, str]:
    with role_tokens() as out:
        yield out


def _ctx(tab: str, token: str) -> Any:
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex_base.event.context import EventContext

    async def nothing(*_a: object, **_k: object) -> None:
        return None

    headers = {"host": "voxie.test", "cookie": f"voxie_session={token}"}
    return EventContext(
        token=tab,
        state_manager=StateManagerMemory(),
        enqueue_impl=nothing,
        router_data={"pathname": "/tools", "headers": headers},
    )


async def _run(token: str, name: str, *args: Any, prepare=None) -> tuple[list[Any], Any]:
    """Run `ToolsState.<name>(*args)` for the holder of `token`: its events and state."""
    from reflex.istate.manager.token import BaseStateToken
    from reflex.state import State

    ctx = _ctx(f"tab-{uuid.uuid4().hex[:8]}", token)
    with ctx:
        async with ctx.state_manager.modify_state(
            BaseStateToken(ident=ctx.token, cls=State)
        ) as root:
            state = await root.get_state(ToolsState)
            if prepare is not None:
                prepare(state)
            result = ToolsState.event_handlers[name].fn(state, *args)
            if inspect.isasyncgen(result):
                events = [e async for e in result]
            else:
                if inspect.isawaitable(result):
                    result = await result
                events = result if isinstance(result, list) else [result]
            return [e for e in events if e is not None], state


def _form(clinic: Clinic) -> dict[str, str]:
    return {
        "name": "check_slots",
        "description": "Free slots on a date.",
        "method": "GET",
        "url": f"{clinic.base}/slots",
        "timeout_s": "5",
        "wait_message": "",
        "result_path": "data.slots",
        "status": "",
    }


def _args(tool_id: str) -> dict[str, tuple[Any, ...]]:
    return {
        "open_edit": (tool_id,),
        "set_editor_open": (True,),
        "set_field": ("name", "renamed"),
        "remove_param": (0,),
        "set_param": (0, "name", "x"),
        "set_raw_mode": (True,),
        "set_raw_schema": ("{}",),
        "remove_header": (0,),
        "set_header": (0, "name", "X-Other"),
        "ask_delete": (tool_id, "check_slots"),
        "set_delete_open": (True,),
        "open_test": (tool_id,),
        "set_test_open": (True,),
        "set_test_args": ("{}",),
    }


async def test_every_handler_but_load_refuses_a_viewer_and_changes_nothing(
    tokens: dict[str, str], clinic: Clinic
) -> None:
    tool_id = str(save_tool(slots_tool(clinic)))
    names = sorted(n for n in ToolsState.event_handlers if n not in ("setvar", "load"))
    assert {"save", "confirm_delete", "run_test", "open_edit"} <= set(names)

    def ready(state: ToolsState) -> None:  # what an admin's tab would hold
        state.form = _form(clinic) | {"name": "made_by_a_viewer"}
        state.params = [{"name": "date", "type": "string", "description": "", "required": "true"}]
        state.headers = [{"name": "X-Key", "value": "v"}]
        state.delete_id, state.test_id = tool_id, tool_id
        state.test_args = '{"date": "2026-12-03"}'

    for name in names:
        args = _args(tool_id).get(name, ())
        events, state = await _run(tokens["viewer"], name, *args, prepare=ready)
        assert len(events) == 1 and REFUSED in str(events[0]), name
        assert not (state.editor_open or state.delete_open or state.test_open), name
        assert state.form["name"] == "made_by_a_viewer" and len(state.params) == 1, name
        assert state.test_result == {} and state.raw_mode is False, name

    with session_scope() as s:
        assert [t.name for t in tools_svc.list_tools(session=s)] == ["check_slots"]
    assert clinic.requests == []  # the viewer's run_test sent nothing

    events, state = await _run(tokens["viewer"], "load")  # viewers do see the list
    assert events == [] and [r["name"] for r in state.rows] == ["check_slots"]
    assert "headers" not in state.rows[0]


async def test_an_admin_builds_a_tool_with_the_table_and_saves_it(
    tokens: dict[str, str], clinic: Clinic
) -> None:
    def filled(state: ToolsState) -> None:
        state.form = _form(clinic)
        state.headers = [{"name": "X-Clinic-Key", "value": "{{secret:CLINIC_KEY}}"}]
        state.params = [
            {"name": "date", "type": "string", "description": "Day", "required": "true", "enum": ""}
        ]

    events, state = await _run(tokens["admin"], "save", prepare=filled)
    assert "created" in str(events[-1]) and state.editor_open is False and state.headers == []
    with session_scope() as s:
        [tool] = tools_svc.list_tools(session=s)
        assert tool.status == "ready" and tool.headers == {"X-Clinic-Key": "{{secret:CLINIC_KEY}}"}
        assert tool.parameters == {
            "type": "object",
            "properties": {"date": {"type": "string", "description": "Day"}},
            "required": ["date"],
        }
    assert state.rows[0]["status_label"] == "ready"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"url": "http://10.0.0.1/x"}, "url", "URL: "),
        ({"name": "Check Slots"}, "name", "Name: must be snake_case"),
        ({"timeout_s": "45"}, "timeout_s", "Timeout: "),
        ({"url": "https://api.example.com/{day}"}, "url", "{day} is not one of the parameters"),
    ],
)
async def test_a_bad_field_is_a_toast_naming_it(
    tokens: dict[str, str], clinic: Clinic, change: dict[str, str], field: str, words: str
) -> None:
    def filled(state: ToolsState) -> None:
        state.form = _form(clinic) | change
        state.params, state.headers = [], []

    events, state = await _run(tokens["admin"], "save", prepare=filled)
    assert words in str(events[0]) and field in state.errors
    with session_scope() as s:
        assert tools_svc.list_tools(session=s) == []


async def test_raw_json_toggles_back_to_rows_only_when_flat(
    tokens: dict[str, str], clinic: Clinic
) -> None:
    rows = [{"name": "date", "type": "string", "description": "", "required": "", "enum": ""}]
    nested = {"type": "object", "properties": {"where": {"type": "object"}}}

    def raw(text: str):
        def prepare(state: ToolsState) -> None:
            state.params, state.raw_mode, state.raw_schema = rows, True, text

        return prepare

    flat = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}})
    _, state = await _run(tokens["admin"], "set_raw_mode", False, prepare=raw(flat))
    assert state.raw_mode is False and state.params[0]["name"] == "n"
    events, state = await _run(
        tokens["admin"], "set_raw_mode", False, prepare=raw(json.dumps(nested))
    )
    assert state.raw_mode is True and "cannot show" in str(events[0]) and state.raw_note
    _, state = await _run(
        tokens["admin"], "set_raw_mode", True, prepare=lambda s: setattr(s, "params", rows)
    )
    assert json.loads(state.raw_schema)["properties"] == {"date": {"type": "string"}}


async def test_delete_of_a_tool_in_use_is_a_toast_and_test_runs_it(
    tokens: dict[str, str], clinic: Clinic
) -> None:
    tool_id = save_tool(booking_tool(clinic))
    make_agent([tool_id])
    events, _ = await _run(
        tokens["admin"], "confirm_delete", prepare=lambda s: setattr(s, "delete_id", str(tool_id))
    )
    assert "used by Clinic Desk" in str(events[0])
    with session_scope() as s:
        assert s.get(Tool, tool_id) is not None

    _, state = await _run(tokens["admin"], "open_test", str(tool_id))
    args = json.loads(state.test_args)
    assert set(args) == {"date", "time", "name"}  # pre-filled from the schema

    def sample(state: ToolsState) -> None:
        state.test_id = str(tool_id)
        state.test_args = json.dumps(test_http_tools.BOOK_ARGS)

    events, state = await _run(tokens["admin"], "run_test", prepare=sample)
    assert state.test_result["status"] == "ok" and state.test_result["http_status"] == "201"
    assert state.test_result["latency"].endswith(" ms")
    assert test_http_tools.SECRET not in json.dumps(state.test_result)
    assert clinic.bookings[-1]["name"] == "Ann Lee"

    events, _ = await _run(
        tokens["admin"], "run_test", prepare=lambda s: setattr(s, "test_args", "{oops")
    )
    assert "Sample arguments: not valid JSON" in str(events[0])
