"""`/tools`: for now only the MCP servers panel (the HTTP tools page replaces this
module at merge and includes `mcp_panel()`)."""

from __future__ import annotations

import reflex as rx

from voxie_app import routes
from voxie_app.components.layout import layout
from voxie_app.components.mcp_panel import mcp_panel


@rx.page(route=routes.TOOLS, title="Tools · Voxie")
def tools_page() -> rx.Component:
    return layout(mcp_panel(), title="Tools")
