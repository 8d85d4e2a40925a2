"""The "Your account" card on /settings: change one's password, sign out elsewhere.

Any signed-in user may do both, for their own account only: the user and the
session to keep come from the request's cookie (`guard`), never from the form.
"""

from __future__ import annotations

import asyncio
import uuid

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.db import session_scope
from voxie_app.services import auth
from voxie_app.services.errors import ServiceError
from voxie_app.state import guard
from voxie_app.state.base import AppState


class AccountState(AppState):
    error: str = ""
    error_field: str = ""

    @rx.event
    @guard.viewer
    async def change_password(self, form: dict):
        self.error = self.error_field = ""
        current = str(form.get("current", ""))[:512]
        new = str(form.get("password", ""))[:512]
        if new != str(form.get("confirm", ""))[:512]:
            self.error, self.error_field = "The two new passwords differ.", "confirm"
            return None
        token = guard.request_token()
        principal = guard.principal_for(token)
        if principal is None or principal.kind != "user":
            return rx.redirect(routes.LOGIN)

        def change() -> int:  # argon2 runs in a thread, not on the event loop
            with session_scope() as session:
                return auth.change_password(
                    session=session,
                    user_id=uuid.UUID(principal.id),
                    current=current,
                    new=new,
                    keep_token=token,
                )

        try:
            ended = await asyncio.to_thread(change)
        except ServiceError as exc:
            self.error, self.error_field = exc.message, getattr(exc, "field", "")
            return None
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        others = f" {ended} other session(s) signed out." if ended else ""
        return [
            rx.call_script("document.getElementById('password-form')?.reset()"),
            self._toast_ok("Password changed." + others),
        ]

    @rx.event
    @guard.viewer
    def sign_out_others(self):
        token = guard.request_token()
        principal = guard.principal_for(token)
        if principal is None or principal.kind != "user":
            return rx.redirect(routes.LOGIN)
        try:
            with session_scope() as session:
                ended = auth.end_sessions(
                    session=session, user_id=uuid.UUID(principal.id), keep_token=token
                )
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        return self._toast_ok(f"Signed out {ended} other session(s); this one stays.")
