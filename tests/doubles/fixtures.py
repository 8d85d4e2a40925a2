"""Pytest fixtures for the test doubles, loaded via `pytest_plugins` in conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.doubles.openai_server import OpenAIServerDouble
from tests.doubles.tool_service import ToolService, run_tool_service


@pytest.fixture
def openai_double() -> Iterator[OpenAIServerDouble]:
    """A fresh OpenAI-compatible server per test: empty script, no recorded requests."""
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture
async def tool_service() -> AsyncIterator[ToolService]:
    """A custom HTTP tool's service whose `/slow` answers when the test says so."""
    async for state in run_tool_service():
        yield state
