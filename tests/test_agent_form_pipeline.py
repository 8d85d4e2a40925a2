"""The agent form's Pipeline group: cascade or realtime, with the Realtime model and voice.

Pure form functions first (spec <-> form, errors on the field), then `AgentsState`
run as a tab would: a realtime choice without `OPENAI_API_KEY` is refused on the
pipeline field naming the setting; with it, the choice is stored and loads back.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from tests import statetab
from tests.test_agent_form_phone import _spec, admin_tab  # noqa: F401 - the fixture
from voxie_app.db import session_scope
from voxie_app.models import Agent
from voxie_app.services import agents as agents_svc
from voxie_app.settings import Settings
from voxie_app.state import agent_form
from voxie_app.state.agents import AgentsState


def _form(**extra: str) -> dict[str, str]:
    form = agent_form.blank_form()
    form.update(name="Fast Desk", instructions="You answer the phone.", **extra)
    return form


def test_the_pipeline_round_trips_through_the_form(configure: Callable[..., Settings]) -> None:
    configure(OPENAI_API_KEY="k")
    blank = agent_form.blank_form()
    assert (blank["pipeline"], blank["realtime_model"], blank["realtime_voice"]) == (
        "cascade",
        "gpt-realtime",
        "marin",
    )
    form = _form(pipeline="realtime", realtime_model="gpt-realtime-mini", realtime_voice="cedar")
    spec, errors = agent_form.spec_from_form(form, ["end_call"], [])
    assert errors == {}
    parsed = agents_svc.parse_spec(spec)
    assert (parsed.pipeline, parsed.realtime_model, parsed.realtime_voice) == (
        "realtime",
        "gpt-realtime-mini",
        "cedar",
    )
    form2, _, _ = agent_form.form_from_spec(parsed.model_dump(mode="json"))
    assert (form2["pipeline"], form2["realtime_model"], form2["realtime_voice"]) == (
        "realtime",
        "gpt-realtime-mini",
        "cedar",
    )
    # A spec stored before the pipeline existed loads as a cascade agent.
    old, _, _ = agent_form.form_from_spec({"name": "old", "instructions": "x"})
    assert old["pipeline"] == "cascade"


def test_an_unknown_realtime_voice_is_refused_on_its_field() -> None:
    _, errors = agent_form.validate_form(
        _form(pipeline="realtime", realtime_voice="nova", temperature="x"), ["end_call"], [], None
    )
    assert set(errors) == {"realtime_voice", "temperature"}
    assert agent_form.first_field(errors) == "temperature"
    assert {o["value"] for o in agent_form.REALTIME_VOICE_OPTIONS} >= {"marin", "cedar"}
    assert "higher per-minute cost" in agent_form.PIPELINE_LABELS["realtime"]


async def test_realtime_is_refused_without_the_key_and_saved_with_it(
    admin_tab: statetab.Tab,  # noqa: F811 - the fixture imported above
    configure: Callable[..., Settings],
) -> None:
    tab = admin_tab
    await tab.run(AgentsState, "open_create")
    for key, value in _form(pipeline="realtime", realtime_voice="cedar").items():
        await tab.run(AgentsState, "set_field", key, value)
    result, state = await tab.run(AgentsState, "save")
    assert set(state.errors) == {"pipeline"}
    assert "OPENAI_API_KEY" in state.errors["pipeline"]
    with session_scope() as session:
        assert session.exec(select(Agent)).all() == []

    configure(OPENAI_API_KEY="k")
    result, state = await tab.run(AgentsState, "save")
    assert state.errors == {} and "created" in str(result)
    spec = _spec("Fast Desk")
    assert (spec["pipeline"], spec["realtime_voice"]) == ("realtime", "cedar")

    with session_scope() as session:
        agent_id = str(session.exec(select(Agent.id).where(Agent.name == "Fast Desk")).one())
    _, state = await tab.run(AgentsState, "open_edit", agent_id)
    assert (state.form["pipeline"], state.form["realtime_voice"]) == ("realtime", "cedar")
    await tab.run(AgentsState, "set_field", "pipeline", "cascade")
    _, state = await tab.run(AgentsState, "save")
    assert state.errors == {}
    assert _spec("Fast Desk")["pipeline"] == "cascade"
