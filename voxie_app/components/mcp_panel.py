"""The MCP servers part of `/tools` (its own state; the HTTP tools list is beside it)."""

from __future__ import annotations

import reflex as rx


def mcp_panel() -> rx.Component:
    """MCP servers: add, refresh the listed tools, tick those agents may use."""
    return rx.fragment()
