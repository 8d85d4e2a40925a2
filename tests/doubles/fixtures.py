"""Pytest fixtures for the test doubles, loaded via `pytest_plugins` in conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.openai_server import OpenAIServerDouble


@pytest.fixture
def openai_double() -> Iterator[OpenAIServerDouble]:
    """A fresh OpenAI-compatible server per test: empty script, no recorded requests."""
    with OpenAIServerDouble() as server:
        yield server
