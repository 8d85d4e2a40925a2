"""The Reflex app: builds the app, mounts the REST API, imports the pages."""

import reflex as rx

from voxie_app.api.app import create_api
from voxie_app.pages import (  # noqa: F401  (importing a page module registers its pages)
    agent_chat,
    agent_detail,
    agents,
    analytics,
    builder,
    call_detail,
    calls,
    dashboard,
    settings,
)

app = rx.App(api_transformer=create_api(), stylesheets=["/voxie.css"])
