"""The Reflex app: builds the app, mounts the REST API, imports the pages."""

import reflex as rx

from voxie_app.api.app import create_api
from voxie_app.applog import frontend_exception_handler, redact_client_tokens
from voxie_app.pages import (  # noqa: F401  (importing a page module registers its pages)
    agent_chat,
    agent_detail,
    agents,
    analytics,
    builder,
    call,
    call_detail,
    calls,
    campaign_detail,
    campaigns,
    dashboard,
    do_not_call,
    login,
    not_found,
    phone,
    settings,
    tools,
)
from voxie_app.services.campaign_scheduler import scheduler_lifespan
from voxie_app.services.session_purge import purger_lifespan
from voxie_app.services.webhooks import deliverer_lifespan
from voxie_app.state.knowledge import upload_refused_update
from voxie_app.state.live import register_app
from voxie_app.state.middleware import AuthMiddleware
from voxie_app.state.upload_guard import UploadGuard

# UploadGuard wraps everything: `/_upload` answers only to the request's own session cookie.
# A refused file drop (over the UI upload limit) answers with a toast (state/knowledge.py).
app = rx.App(
    api_transformer=[create_api(ui_upload_refused=upload_refused_update), UploadGuard],
    stylesheets=["/voxie.css"],
    # Chats and live logs follow their newest line unless the reader scrolled up.
    head_components=[rx.script(src="/chat_scroll.js")],
    frontend_exception_handler=frontend_exception_handler,
)
# Every event of our states is checked on the server (session and role) before it runs.
app.add_middleware(AuthMiddleware())
# Sends queued outbound webhooks while the web app runs (safe with several processes).
app.register_lifespan_task(deliverer_lifespan)
# Deletes expired sign-in sessions every VOXIE_SESSION_PURGE_MINUTES.
app.register_lifespan_task(purger_lifespan)
# Places campaign calls inside their windows (VOXIE_CAMPAIGN_SCHEDULER).
app.register_lifespan_task(scheduler_lifespan)
# Live views (builder log, knowledge, campaign progress) ask it which tabs are still open.
register_app(app)
# Reflex's own log lines name client tokens (tab ids that reach a tab's state): redacted.
redact_client_tokens()
