"""The Reflex app: builds the app, mounts the REST API, imports the pages."""

import reflex as rx

from voxie_app.api.app import create_api
from voxie_app.pages import home  # noqa: F401  (registers the page)

app = rx.App(api_transformer=create_api())
