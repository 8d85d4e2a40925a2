"""`state.live`: which tabs are still connected, asked of the app the app module
registered (this layer never imports the app module)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from voxie_app.state import live


@pytest.fixture
def served():
    before = list(live._served)
    yield
    live._served[:] = before


def test_without_a_served_app_every_tab_counts_as_connected(served) -> None:
    live._served.clear()
    assert live.client_connected("tab-1")


def test_a_served_app_answers_from_its_websocket_namespace(served) -> None:
    live.register_app(SimpleNamespace(event_namespace=SimpleNamespace(token_to_sid={"tab-1": "s"})))
    assert live.client_connected("tab-1")
    assert not live.client_connected("tab-2")
    live.register_app(SimpleNamespace(event_namespace=None))  # registered, not yet serving
    assert live.client_connected("tab-2")


def test_the_app_module_registers_itself() -> None:
    from voxie_app.voxie_app import app

    assert live._served == [app]


def test_one_watcher_per_key(served) -> None:
    with live.claim("k") as first, live.claim("k") as second:
        assert (first, second) == (True, False)
    with live.claim("k") as again:
        assert again
