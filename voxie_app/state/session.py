"""Signing in and out, and the first-run setup of the first admin."""

from __future__ import annotations

import json

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import auth, signin
from voxie_app.services.errors import ServiceError
from voxie_app.settings import get_settings
from voxie_app.state import guard


def _safe_next(raw: str) -> str:
    """Only paths on this site (no `//host` or `scheme:`), default the dashboard."""
    if raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return routes.HOME


def _load_page(path: str) -> rx.event.EventSpec:
    """Open `path` as a new page load, not a client-side route change.

    Events are authorised by the cookie of the websocket that sends them (see
    `guard`), so after the cookie changes the page must connect again to use it.
    """
    return rx.call_script(f"window.location.replace({json.dumps(path)})")


class SessionState(rx.State):
    """The browser's session cookie and who it belongs to (for showing, not for checks)."""

    # The browser forgets the cookie when the server forgets the session
    # (VOXIE_SESSION_HOURS); Secure when users reach the app over https.
    token: str = rx.Cookie(
        "",
        name="voxie_session",
        same_site="strict",
        max_age=get_settings().session_seconds,
        secure=get_settings().public_url_is_https,
        path="/",
    )
    user_name: str = ""
    user_role: str = ""
    error: str = ""
    working: bool = False
    # Whom each of the tab's states was last filled for (see middleware.bind_state_to).
    _owners: dict[str, str] = {}

    def _signed_in(self, token: str, user_name: str, role: str) -> None:
        self.token, self.user_name, self.user_role, self.error = token, user_name, role, ""

    @rx.event
    @guard.public
    def load_login(self):
        """`/login`: go to setup if nobody exists yet, home if already signed in."""
        self.error = ""
        if guard.setup_needed():
            return rx.redirect(routes.SETUP)
        principal = guard.current()
        if principal is not None:
            self.user_name, self.user_role = principal.name, principal.role
            return rx.redirect(_safe_next(self._query_next()))
        return None

    @rx.event
    @guard.public
    def load_setup(self):
        self.error = ""
        if not guard.setup_needed():
            return rx.redirect(routes.LOGIN)
        return None

    def _query_next(self) -> str:
        return str(self.router.url.query_parameters.get("next", ""))

    @rx.event
    @guard.public
    async def login(self, form: dict):
        """Throttled, and checked off the event loop (`services.signin`)."""
        email = str(form.get("email", ""))[:254]
        password = str(form.get("password", ""))[:512]
        try:
            done = await signin.sign_in(
                email=email,
                password=password,
                address=self.router.session.client_ip,
                settings=get_settings(),
            )
        except ServiceError as exc:  # wrong password, or RateLimited with the wait
            self.error = exc.message
            return None
        except sa.exc.SQLAlchemyError:
            self.error = "The database is not reachable; try again."
            return None
        self._signed_in(done.token, done.name, done.role)
        return _load_page(_safe_next(self._query_next()))

    @rx.event
    @guard.public
    def setup(self, form: dict):
        email = str(form.get("email", ""))[:254]
        password = str(form.get("password", ""))[:512]
        if password != str(form.get("confirm", "")):
            self.error = "The two passwords differ."
            return None
        try:
            with session_scope() as session:
                auth.create_first_admin(
                    session=session, email=email, password=password, name=str(form.get("name", ""))
                )
            with session_scope() as session:
                token, user = auth.login(
                    session=session,
                    email=email,
                    password=password,
                    hours=get_settings().session_hours,
                )
                name = user.name or user.email
        except ServiceError as exc:
            self.error = exc.message
            return None
        guard.reset_caches()
        self._signed_in(token, name, "admin")
        return _load_page(routes.HOME)

    @rx.event
    @guard.public
    def logout(self):
        token = guard.request_token()  # the cookie this tab sent, not the stored copy
        if token:
            try:
                with session_scope() as session:
                    auth.logout(session=session, token=token)
            except sa.exc.SQLAlchemyError:
                pass
        self.token, self.user_name, self.user_role = "", "", ""
        return _load_page(routes.LOGIN)

    @rx.event
    @guard.viewer
    def load_user(self) -> None:
        """Fill in who is signed in (for the sidebar); the middleware already checked it."""
        principal = guard.current()
        if principal is not None:
            self.user_name, self.user_role = principal.name, principal.role
