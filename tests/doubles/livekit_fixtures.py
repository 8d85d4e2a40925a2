"""Pytest fixtures for the LiveKit double, loaded via `pytest_plugins` in conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.settings import Settings


@pytest.fixture
def livekit_double() -> Iterator[LiveKitDouble]:
    """A fresh LiveKit Twirp API per test: no rooms, no recorded requests, no failures."""
    with LiveKitDouble() as server:
        yield server


@pytest.fixture
def livekit_configured(
    livekit_double: LiveKitDouble, configure: Callable[..., Settings]
) -> LiveKitDouble:
    """The double, with LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET pointing at it.

    Request it after `db` (e.g. `def test_x(db, livekit_configured)`); either order
    works since `configure` only adds variables.
    """
    configure(
        LIVEKIT_URL=livekit_double.url,
        LIVEKIT_API_KEY=livekit_double.api_key,
        LIVEKIT_API_SECRET=livekit_double.api_secret,
    )
    return livekit_double
