"""`/api/docs`: Swagger UI served from this app, not a CDN (works offline, no third-party script).

The assets are the ones the pinned `fastapi-offline` package ships; only they
and the page's one inline script (allowed by its hash) may run on the page.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from voxie_app.api.security_headers import script_hash, strict_policy

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _page(app: FastAPI) -> tuple[str, str]:
    """The docs page and the policy that allows exactly its inline script."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/api/openapi.json",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )
    html = bytes(page.body).decode()
    return html, strict_policy(*(script_hash(s) for s in _INLINE_SCRIPT.findall(html)))


def install(app: FastAPI) -> None:
    """Serve the docs page and its assets (build the app with `docs_url=None`)."""
    html, policy = _page(app)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})
