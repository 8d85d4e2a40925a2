"""Reflex configuration. Values come from voxie_app.settings (one source of truth)."""

import reflex as rx

from voxie_app.db import normalize_url
from voxie_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="voxie_app",
    db_url=normalize_url(_settings.database_url),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[rx.plugins.SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                appearance="inherit", accent_color="violet", gray_color="slate", radius="large"
            )
        )
    ],
)
