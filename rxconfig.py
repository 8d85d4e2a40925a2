"""Reflex configuration. Values come from voxie_app.settings (one source of truth)."""

import os

import reflex as rx

from voxie_app.db import normalize_url
from voxie_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="voxie_app",
    db_url=normalize_url(_settings.database_url),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # An explicit list (VOXIE_ALLOWED_ORIGINS), never "*": CORS and the app's websocket.
    cors_allowed_origins=_settings.origins(os.environ.get("PORT")),
    disable_plugins=[rx.plugins.SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                appearance="inherit", accent_color="violet", gray_color="slate", radius="large"
            )
        )
    ],
)
