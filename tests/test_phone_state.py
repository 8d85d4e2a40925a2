"""The /phone page state: every handler but `load` refuses a viewer by itself (not only
through the middleware), a viewer's state never holds a trunk's username, its secret's
name or the secret names; an admin adds, rebinds, syncs and deletes against the double.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from tests.statetab import Tab, role_tokens
from tests.test_phone_numbers import NUMBER, TRUNK, make_agent
from tests.test_phone_numbers import livekit as livekit
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import PhoneNumber
from voxie_app.state.phone import NONE, REFUSED, PhoneState


@pytest.fixture
def tokens(livekit: LiveKitDouble) -> dict[str, str]:
    with role_tokens() as out:
        yield out


def run(tab: Tab, name: str, *args: Any, prepare: Callable[[Any], None] | None = None) -> Any:
    async def go() -> Any:
        if prepare is not None:
            _, state = await tab.run(PhoneState, "load")
            prepare(state)
        result, state = await tab.run(PhoneState, name, *args)
        return result, state

    result, state = asyncio.run(go())
    if inspect.isasyncgen(result):  # pragma: no cover (no handler yields)
        raise AssertionError("unexpected generator")
    return result, state


def test_viewer_sees_lists_without_auth_and_is_refused_by_every_handler(
    tokens: dict[str, str],
    livekit: LiveKitDouble,
) -> None:
    with TestClient(create_api(), headers=admin_headers()) as api:
        agent_id = make_agent(api)
        trunk = api.post("/api/sip-trunks", json=TRUNK).json()
        api.post(
            "/api/phone-numbers",
            json={"number": NUMBER, "agent_id": agent_id, "outbound_trunk_id": trunk["id"]},
        )
    tab = Tab("viewer-tab", tokens["viewer"], "/phone")
    _, state = run(tab, "load")
    assert [n["number"] for n in state.numbers] == [NUMBER]
    assert state.numbers[0]["outbound"] == "Telnyx"
    assert state.trunks[0]["auth_username"] == "" and state.secret_names == []
    livekit.requests.clear()
    calls = {
        "open_add": (),
        "set_add_open": (True,),
        "set_add_field": ("number", "+1"),
        "save_number": (),
        "rebind": (state.numbers[0]["id"], agent_id),
        "ask_delete": (state.numbers[0]["id"], NUMBER),
        "set_delete_open": (True,),
        "confirm_delete": (),
        "sync": (),
        "open_trunk_create": (),
        "open_trunk_edit": (trunk["id"],),
        "set_trunk_open": (True,),
        "set_trunk_field": ("name", "x"),
        "save_trunk": (),
        "ask_delete_trunk": (trunk["id"], "Telnyx"),
        "set_trunk_delete_open": (True,),
        "confirm_delete_trunk": (),
    }
    assert set(calls) | {"load", "setvar"} >= set(PhoneState.event_handlers) - {"setvar"}
    for name, args in calls.items():
        result, state = run(tab, name, *args)
        assert REFUSED in str(result), name
    assert not (state.add_open or state.delete_open or state.trunk_open)
    assert livekit.requests == []
    assert "TRUNK_PASS" not in tab.dump and 'voxie"' not in json.dumps(state.trunks)
    with session_scope() as session:
        assert len(session.exec(select(PhoneNumber)).all()) == 1


def test_admin_adds_rebinds_syncs_and_deletes(
    tokens: dict[str, str],
    livekit: LiveKitDouble,
) -> None:
    with TestClient(create_api(), headers=admin_headers()) as api:
        first, second = make_agent(api), make_agent(api, "Night Line")
    tab = Tab("admin-tab", tokens["admin"], "/phone")
    _, state = run(tab, "load")
    assert state.secret_names == ["TRUNK_PASS"] and state.trunk_options[0]["id"] == NONE

    def fill(form: dict[str, str]) -> Callable[[Any], None]:
        def prepare(s: Any) -> None:
            s.add_form = form

        return prepare

    bad = {
        "number": "12",
        "label": "",
        "agent_id": first,
        "inbound_trunk_id": "",
        "outbound_trunk_id": NONE,
    }
    result, state = run(tab, "save_number", prepare=fill(bad))
    assert "Number:" in str(result) and "number" in state.add_errors
    good = {**bad, "number": NUMBER, "label": "Front desk"}
    result, state = run(tab, "save_number", prepare=fill(good))
    assert "now answers" in str(result), result
    (row,) = state.numbers
    assert row["agent_name"] == "Front Desk" and row["status_label"] == "ready"

    result, state = run(tab, "rebind", row["id"], second)
    assert "Night Line" in str(result) and state.numbers[0]["agent_name"] == "Night Line"
    assert len(livekit.calls("UpdateSIPDispatchRule")) == 1

    livekit.dispatch_rules.clear()
    result, state = run(tab, "sync")
    assert "in step again" in str(result), result
    assert len(livekit.dispatch_rules) == 1

    livekit.fail_next("ListSIPInboundTrunk", msg="maintenance")
    result, state = run(tab, "sync")
    assert "maintenance" in str(result) and state.numbers[0]["status_label"] == "out of sync"

    def ask(s: Any) -> None:
        s.delete_id, s.delete_name = row["id"], NUMBER

    result, state = run(tab, "confirm_delete", prepare=ask)
    assert "Deleted" in str(result) and state.numbers == []
    assert livekit.inbound_trunks == {} and livekit.dispatch_rules == {}


def test_admin_trunk_editor_refuses_an_unknown_secret_by_field(
    tokens: dict[str, str],
    livekit: LiveKitDouble,
) -> None:
    tab = Tab("admin-trunks", tokens["admin"], "/phone")

    def form(secret: str) -> Callable[[Any], None]:
        def prepare(s: Any) -> None:
            s.trunk_form = {
                "name": "Twilio",
                "address": "example.pstn.twilio.com",
                "transport": "udp",
                "numbers": "+14155550123",
                "auth_username": "voxie",
                "auth_password_secret": secret,
            }

        return prepare

    result, state = run(tab, "save_trunk", prepare=form("MISSING"))
    assert "Password secret:" in str(result) and "auth_password_secret" in state.trunk_errors
    result, state = run(tab, "save_trunk", prepare=form("TRUNK_PASS"))
    assert "created" in str(result), result
    assert state.trunks[0]["auth_password_secret"] == "TRUNK_PASS"
    assert livekit.calls("CreateSIPOutboundTrunk")[0].body["trunk"]["auth_username"] == "voxie"
