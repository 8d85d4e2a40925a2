"""The agent form's phone fields: transfer numbers (rows) and the voicemail policy.

Pure form functions first (spec <-> rows, E.164 errors naming the row), then
`AgentsState` run as a tab would: add rows, save, the stored spec holds them, and
editing loads them back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import select

from tests import statetab
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import agents as agents_svc
from voxie_app.services import auth
from voxie_app.settings import Settings
from voxie_app.state import agent_form, guard
from voxie_app.state.agents import AgentsState

BILLING = {"label": "billing", "number": "+1 415-555-0100", "when": "billing", "mode": "warm"}


def _form(name: str = "Phone Desk", **extra: str) -> dict[str, str]:
    form = agent_form.blank_form()
    form.update(name=name, instructions="You answer the phone.", **extra)
    return form


def test_numbers_and_voicemail_round_trip_through_the_form() -> None:
    form = _form(voicemail_policy="leave_message", voicemail_message="Hi {{first_name|there}}")
    spec, errors = agent_form.spec_from_form(form, ["end_call"], [], (), [BILLING])
    assert errors == {}
    parsed = agents_svc.parse_spec(spec)
    assert [(n.label, n.number, n.mode) for n in parsed.transfer_numbers] == [
        ("billing", "+14155550100", "warm")
    ]
    assert parsed.voicemail_policy == "leave_message"
    assert parsed.voicemail_message == "Hi {{first_name|there}}"

    stored = parsed.model_dump(mode="json")
    form2, _, _ = agent_form.form_from_spec(stored)
    assert form2["voicemail_policy"] == "leave_message"
    assert form2["voicemail_message"] == "Hi {{first_name|there}}"
    assert agent_form.numbers_from_spec(stored) == [{**BILLING, "number": "+14155550100"}]
    assert agent_form.numbers_from_spec({"name": "old spec"}) == []
    assert agent_form.blank_form()["voicemail_policy"] == "hang_up"


def test_a_bad_number_names_its_row_and_other_errors_still_show() -> None:
    rows = [BILLING, {"label": "sales", "number": "4155550101", "when": "", "mode": "cold"}]
    form = _form(temperature="9")
    _, errors = agent_form.validate_form(form, ["end_call"], [], None, (), rows)
    assert set(errors) == {"temperature", "transfer_numbers"}
    assert errors["transfer_numbers"].startswith("Row 2, number: ")
    assert "E.164" in errors["transfer_numbers"]
    assert agent_form.first_field(errors) == "temperature"

    twice = [BILLING, {**BILLING, "number": "+14155550101"}]
    _, errors = agent_form.validate_form(_form(), ["end_call"], [], None, (), twice)
    assert "used twice" in errors["transfer_numbers"]


def test_leave_message_without_a_message_is_refused_on_the_message() -> None:
    form = _form(voicemail_policy="leave_message", temperature="x")
    _, errors = agent_form.validate_form(form, ["end_call"], [], None)
    assert set(errors) == {"voicemail_message", "temperature"}
    assert "required" in errors["voicemail_message"]


@pytest.fixture
def admin_tab(db: str, configure: Callable[..., Settings]) -> Iterator[statetab.Tab]:
    configure()
    guard.reset_caches()
    with session_scope() as s:
        auth.create_user(session=s, email="admin@example.com", password="p" * 12, role="admin")
        token, _ = auth.login(session=s, email="admin@example.com", password="p" * 12, hours=1)
    yield statetab.Tab("agent-phone-tab", token, "/agents/new")
    guard.reset_caches()


def _spec(name: str) -> dict[str, Any]:
    with session_scope() as session:
        agent = session.exec(select(Agent).where(Agent.name == name)).one()
        return dict(agent.processed_spec)


async def test_rows_save_into_the_spec_and_load_back(admin_tab: statetab.Tab) -> None:
    tab = admin_tab
    await tab.run(AgentsState, "open_create")
    for key, value in _form().items():
        await tab.run(AgentsState, "set_field", key, value)
    await tab.run(AgentsState, "add_number")
    for key, value in BILLING.items():
        await tab.run(AgentsState, "set_number", 0, key, value)
    _, state = await tab.run(AgentsState, "set_number", 0, "mode", "lukewarm")
    assert state.form_numbers[0]["mode"] == "warm"  # only the listed modes
    await tab.run(AgentsState, "add_number")
    await tab.run(AgentsState, "set_number", 1, "label", "sales")
    await tab.run(AgentsState, "set_number", 1, "number", "+1 555")
    await tab.run(AgentsState, "set_field", "voicemail_policy", "leave_message")
    result, state = await tab.run(AgentsState, "save")
    assert set(state.errors) == {"transfer_numbers", "voicemail_message"}
    assert state.errors["transfer_numbers"].startswith("Row 2, number: ")
    assert "2 highlighted fields" in str(result)

    _, state = await tab.run(AgentsState, "remove_number", 1)
    assert "transfer_numbers" not in state.errors and len(state.form_numbers) == 1
    _, state = await tab.run(AgentsState, "set_field", "voicemail_policy", "hang_up")
    assert state.errors == {}  # hang up needs no message
    await tab.run(AgentsState, "set_field", "voicemail_policy", "leave_message")
    await tab.run(AgentsState, "set_field", "voicemail_message", "Call us back, {{first_name}}.")
    result, state = await tab.run(AgentsState, "save")
    assert state.errors == {} and "created" in str(result)
    spec = _spec("Phone Desk")
    assert spec["transfer_numbers"] == [{**BILLING, "number": "+14155550100"}]
    assert spec["voicemail_policy"] == "leave_message"
    assert spec["voicemail_message"] == "Call us back, {{first_name}}."

    with session_scope() as session:
        agent_id = str(session.exec(select(Agent.id).where(Agent.name == "Phone Desk")).one())
    _, state = await tab.run(AgentsState, "open_edit", agent_id)
    assert state.form_numbers == [{**BILLING, "number": "+14155550100"}]
    assert state.form["voicemail_policy"] == "leave_message"
    await tab.run(AgentsState, "remove_number", 0)
    await tab.run(AgentsState, "set_field", "voicemail_policy", "hang_up")
    _, state = await tab.run(AgentsState, "save")
    assert state.errors == {}
    spec = _spec("Phone Desk")
    assert spec["transfer_numbers"] == [] and spec["voicemail_policy"] == "hang_up"
