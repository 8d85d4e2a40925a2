"""The Secrets panel's state (/settings): admins add, replace and delete; viewers get nothing.

Handlers run as the middleware lets them (a tab's state, the request's cookie);
the refusal is checked twice: the middleware's decision and the handler's own check.
A value goes from the submit data into the store and is found in no state var,
toast or log line afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import statetab
from tests.statetab import role_tokens
from voxie_app.db import session_scope
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.settings import Settings
from voxie_app.state import guard

VALUE = "sk-live-PanelTest-8c1f4e2a9b7d"
OTHER = "sk-live-PanelTest-replaced-55e0"


@pytest.fixture
def tokens(db: str, configure: Callable[..., Settings], tmp_path: Path) -> Iterator[dict[str, str]]:
    """An admin's and a viewer's session token; a key file under tmp_path."""
    configure(
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
        VOXIE_URL_ALLOWLIST="127.0.0.1",
    )
    with role_tokens() as out:
        yield out


class Tab(statetab.Tab):
    """A tab on /settings running `SecretsState` handlers."""

    def __init__(self, name: str, token: str) -> None:
        super().__init__(name, token, "/settings")

    async def run(self, name: str, *args: Any) -> tuple[Any, Any]:  # type: ignore[override]
        from voxie_app.state.secrets import SecretsState

        return await super().run(SecretsState, name, *args)


def _stored(name: str) -> str | None:
    with session_scope() as session:
        try:
            return secrets_svc.value_of(session=session, name=name)
        except secrets_svc.UnknownSecret:
            return None


async def test_admin_adds_replaces_and_deletes_a_secret(
    tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tab = Tab("tab-a", tokens["admin"])
    _, state = await tab.run("load")
    assert state.is_admin and state.secrets == []

    result, state = await tab.run("save", {"name": "CLINIC_KEY", "value": VALUE})
    assert "CLINIC_KEY saved" in str(result)
    assert [s["name"] for s in state.secrets] == ["CLINIC_KEY"]
    assert state.secrets[0]["used_by"] == "" and state.secrets[0]["created"]
    assert _stored("CLINIC_KEY") == VALUE

    # A tool that sends it: the panel says so (HTTP and MCP tools alike are scanned).
    with session_scope() as session:
        tools_svc.create_tool(
            session=session,
            body=tools_svc.parse(
                {
                    "name": "check_slots",
                    "description": "Free slots on a date.",
                    "url": "http://127.0.0.1:9/slots",
                    "headers": {"X-Clinic-Key": "{{secret:CLINIC_KEY}}"},
                }
            ),
        )
    await tab.run("replace", "CLINIC_KEY")
    result, state = await tab.run("save", {"name": "CLINIC_KEY", "value": OTHER})
    assert "CLINIC_KEY replaced" in str(result) and state.draft_name == ""
    assert state.secrets[0]["used_by"] == "check_slots"
    assert _stored("CLINIC_KEY") == OTHER

    await tab.run("ask_delete", "CLINIC_KEY")
    result, state = await tab.run("confirm_delete")
    assert "deleted" in str(result) and state.secrets == [] and not state.delete_open
    assert _stored("CLINIC_KEY") is None

    assert "CLINIC_KEY" in tab.dump and "check_slots" in tab.dump  # the scan sees the state
    for value in (VALUE, OTHER):
        assert value not in tab.dump
        assert not [r for r in tab.results if value in r]
        assert value not in caplog.text


async def test_bad_input_is_a_toast_naming_the_field(tokens: dict[str, str]) -> None:
    tab = Tab("tab-b", tokens["admin"])
    await tab.run("load")
    result, state = await tab.run("save", {"name": "clinic key", "value": VALUE})
    assert "Name: a secret name is" in str(result) and state.secrets == []
    result, _ = await tab.run("save", {"name": "CLINIC_KEY", "value": ""})
    assert "Value: " in str(result)
    result, _ = await tab.run("save", {"name": "CLINIC_KEY"})
    assert "Value: " in str(result)
    two_lines = VALUE + "\nsecond line"
    result, state = await tab.run("save", {"name": "CLINIC_KEY", "value": two_lines})
    assert "Value: a secret value must be one line" in str(result)
    assert state.secrets == [] and _stored("CLINIC_KEY") is None
    assert VALUE not in tab.dump and not [r for r in tab.results if VALUE in r]
    # The name typed stays in the form to be fixed; the value is never kept.
    _, state = await tab.run("set_draft_name", "CLINIC_KEY")
    assert state.draft_name == "CLINIC_KEY"


def test_the_middleware_refuses_viewers_every_handler_but_load(tokens: dict[str, str]) -> None:
    from voxie_app.state.secrets import SecretsState

    names = set(SecretsState.event_handlers) - {"setvar"}
    assert {"load", "save", "replace", "ask_delete", "confirm_delete"} <= names
    for name in names:
        viewer = guard.decide(SecretsState, name, tokens["viewer"])
        if name == "load":
            assert viewer is None  # opening /settings is fine; load loads nothing for them
        else:
            assert viewer is not None and "cannot" in str(viewer), name
            assert guard.access_of(SecretsState.event_handlers[name].fn) == "admin", name
        assert guard.decide(SecretsState, name, tokens["admin"]) is None, name
        assert guard.decide(SecretsState, name, "") is not None, name


async def test_each_handler_refuses_a_viewer_itself(tokens: dict[str, str]) -> None:
    """Even if the middleware let a viewer's event through, no handler acts for them."""
    admin = Tab("tab-c", tokens["admin"])
    await admin.run("save", {"name": "CLINIC_KEY", "value": VALUE})

    viewer = Tab("tab-d", tokens["viewer"])
    _, state = await viewer.run("load")
    assert not state.is_admin and state.secrets == []
    state.delete_name = "CLINIC_KEY"  # as if the tab had been told the name somehow
    for name, args in (
        ("confirm_delete", ()),
        ("save", ({"name": "CLINIC_KEY", "value": OTHER},)),
        ("save", ({"name": "VIEWER_KEY", "value": OTHER},)),
        ("replace", ("CLINIC_KEY",)),
        ("set_draft_name", ("CLINIC_KEY",)),
        ("ask_delete", ("CLINIC_KEY",)),
        ("set_delete_open", (True,)),
    ):
        result, state = await viewer.run(name, *args)
        assert "Only an admin" in str(result), name
        assert state.secrets == [] and not state.delete_open and state.draft_name == "", name
    assert _stored("CLINIC_KEY") == VALUE and _stored("VIEWER_KEY") is None
    assert "CLINIC_KEY" not in viewer.dump
    assert VALUE not in admin.dump + viewer.dump
