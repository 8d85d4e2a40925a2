"""The agent form's custom-tools picker: stored tools as checkboxes -> `custom_tools`.

Pure form functions first, then `AgentsState` run as a tab would: open the form,
tick tools, save, and the stored spec names them; edit again and they load ticked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import select

from tests import statetab
from voxie_app.db import session_scope
from voxie_app.models import Agent, Tool
from voxie_app.services import agents as agents_svc
from voxie_app.services import auth
from voxie_app.services import tools as tools_svc
from voxie_app.settings import Settings
from voxie_app.state import agent_form, guard
from voxie_app.state.agents import AgentsState


def _form(name: str = "Clinic Desk") -> dict[str, str]:
    form = agent_form.blank_form()
    form.update(name=name, instructions="You book appointments.")
    return form


def test_custom_tools_round_trip_through_the_form() -> None:
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    stored = agents_svc.parse_spec(
        {"name": "A", "instructions": "i", "custom_tools": ids}
    ).model_dump(mode="json")
    assert agent_form.custom_tools_from_spec(stored) == ids
    assert agent_form.custom_tools_from_spec({"name": "old spec"}) == []
    spec, errors = agent_form.spec_from_form(_form(), ["end_call"], [], ids)
    assert errors == {} and spec["custom_tools"] == ids
    assert agents_svc.parse_spec(spec).custom_tools == [uuid.UUID(i) for i in ids]


def test_an_unknown_tool_is_reported_on_its_field_with_the_others(db: str) -> None:
    """One pass: the missing tool and a bad number show together."""
    missing = str(uuid.uuid4())

    def references(spec: Any) -> list:
        with session_scope() as session:
            return agents_svc.reference_problems(session=session, spec=spec, agent_id=None)

    form = _form()
    form["temperature"] = "9"
    _, errors = agent_form.validate_form(form, ["end_call"], [], references, [missing])
    assert set(errors) == {"temperature", "custom_tools"}
    assert missing in errors["custom_tools"]
    assert agent_form.first_field(errors) == "temperature"
    _, errors = agent_form.validate_form(_form(), ["end_call"], [], None, ["not-a-uuid"])
    assert set(errors) == {"custom_tools"}


def test_tool_choices_list_every_tool_and_a_ticked_id_that_is_gone() -> None:
    http = Tool(name="check_slots", description="Free slots", url="http://x", status="ready")
    mcp = Tool(name="crm", description="The CRM", url="http://y", kind="mcp", status="needs_setup")
    gone = str(uuid.uuid4())
    rows = agent_form.tool_choices([http, mcp], [str(mcp.id), gone])
    assert [(r["name"], r["kind"], r["needs_setup"]) for r in rows] == [
        ("check_slots", "HTTP", ""),
        ("crm", "MCP server", "yes"),
        ("Deleted tool", "", ""),
    ]
    assert rows[2]["id"] == gone


@pytest.fixture
def admin_tab(db: str, configure: Callable[..., Settings]) -> Iterator[statetab.Tab]:
    configure(VOXIE_URL_ALLOWLIST="127.0.0.1")
    guard.reset_caches()
    with session_scope() as s:
        auth.create_user(session=s, email="admin@example.com", password="p" * 12, role="admin")
        token, _ = auth.login(session=s, email="admin@example.com", password="p" * 12, hours=1)
    yield statetab.Tab("agent-form-tab", token, "/agents/new")
    guard.reset_caches()


def _tool(name: str, status: str = "ready") -> str:
    with session_scope() as session:
        body = tools_svc.parse(
            {
                "name": name,
                "description": f"{name} for the test",
                "url": f"http://127.0.0.1:9/{name}",
                "status": status,
            }
        )
        return str(tools_svc.create_tool(session=session, body=body).id)


def _spec(name: str) -> dict[str, Any]:
    with session_scope() as session:
        agent = session.exec(select(Agent).where(Agent.name == name)).one()
        return dict(agent.processed_spec)


async def test_ticking_tools_saves_custom_tools_and_they_load_ticked(
    admin_tab: statetab.Tab,
) -> None:
    slots, book, crm = _tool("check_slots"), _tool("book_slot"), _tool("crm", "needs_setup")
    tab = admin_tab
    _, state = await tab.run(AgentsState, "open_create")
    assert [c["name"] for c in state.tool_choices] == ["book_slot", "check_slots", "crm"]
    assert [c["needs_setup"] for c in state.tool_choices] == ["", "", "yes"]
    assert state.form_custom_tools == []
    for key, value in _form().items():
        await tab.run(AgentsState, "set_field", key, value)
    await tab.run(AgentsState, "toggle_custom_tool", slots, True)
    await tab.run(AgentsState, "toggle_custom_tool", crm, True)
    await tab.run(AgentsState, "toggle_custom_tool", book, True)
    _, state = await tab.run(AgentsState, "toggle_custom_tool", book, False)
    _, state = await tab.run(AgentsState, "toggle_custom_tool", str(uuid.uuid4()), True)
    assert state.form_custom_tools == [slots, crm]  # listed ids only, in the list's order
    result, state = await tab.run(AgentsState, "save")
    assert state.errors == {} and "created" in str(result)
    spec = _spec("Clinic Desk")
    assert spec["custom_tools"] == [slots, crm]

    with session_scope() as session:
        agent_id = str(session.exec(select(Agent.id).where(Agent.name == "Clinic Desk")).one())
    _, state = await tab.run(AgentsState, "open_edit", agent_id)
    assert state.form_custom_tools == [slots, crm]
    await tab.run(AgentsState, "toggle_custom_tool", slots, False)
    await tab.run(AgentsState, "save")
    assert _spec("Clinic Desk")["custom_tools"] == [crm]


async def test_a_deleted_tool_shows_ticked_and_saving_names_the_field(
    admin_tab: statetab.Tab,
) -> None:
    slots = _tool("check_slots")
    tab = admin_tab
    await tab.run(AgentsState, "open_create")
    for key, value in _form("Desk Two").items():
        await tab.run(AgentsState, "set_field", key, value)
    await tab.run(AgentsState, "toggle_custom_tool", slots, True)
    await tab.run(AgentsState, "save")
    with session_scope() as session:
        agent = session.exec(select(Agent).where(Agent.name == "Desk Two")).one()
        agent_id = str(agent.id)
        session.delete(session.get(Tool, uuid.UUID(slots)))  # as if removed behind its back

    _, state = await tab.run(AgentsState, "open_edit", agent_id)
    assert [(c["id"], c["name"]) for c in state.tool_choices] == [(slots, "Deleted tool")]
    assert state.form_custom_tools == [slots]
    await tab.run(AgentsState, "set_field", "temperature", "7")
    result, state = await tab.run(AgentsState, "save")
    assert set(state.errors) == {"temperature", "custom_tools"}
    assert "2 highlighted fields" in str(result)
    await tab.run(AgentsState, "toggle_custom_tool", slots, False)
    await tab.run(AgentsState, "set_field", "temperature", "0.5")
    _, state = await tab.run(AgentsState, "save")
    assert state.errors == {} and _spec("Desk Two")["custom_tools"] == []
