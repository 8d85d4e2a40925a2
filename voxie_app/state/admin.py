"""Admin panels on /settings: users, API keys (shown once), outbound webhooks."""

from __future__ import annotations

import asyncio
import uuid

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.services import auth, webhooks
from voxie_app.services.errors import ServiceError
from voxie_app.state import guard
from voxie_app.state.base import AppState


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"  # type: ignore[attr-defined]


class AdminState(AppState):
    is_admin: bool = False
    me: str = ""
    users: list[dict[str, str]] = []
    keys: list[dict[str, str]] = []
    hooks: list[dict[str, str]] = []
    # A just-made API key, webhook secret or reset password: shown once in a dialog,
    # emptied when the admin confirms (and on every load). No other var holds it.
    shown_secret: str = ""
    shown_title: str = ""
    shown_hint: str = ""

    def _refresh(self) -> None:
        with session_scope() as session:
            self.users = [
                {
                    "id": str(u.id),
                    "email": u.email,
                    "name": u.name,
                    "role": u.role,
                    "last_login": _when(u.last_login_at),
                    "disabled": "yes" if u.disabled else "",
                }
                for u in auth.list_users(session=session)
            ]
            self.keys = [
                {
                    "id": str(k.id),
                    "name": k.name,
                    "prefix": f"vx_{k.prefix}_…",
                    "role": k.role,
                    "last_used": _when(k.last_used_at),
                    "created": _when(k.created_at),
                    "revoked": _when(k.revoked_at) if k.revoked_at else "",
                }
                for k in auth.list_api_keys(session=session)
            ]
            self.hooks = [
                {
                    "id": str(h.id),
                    "url": h.url,
                    "events": ", ".join(h.events),
                    "created": _when(h.created_at),
                }
                for h in webhooks.list_webhooks(session=session)
            ]

    @rx.event
    @guard.viewer
    async def load(self):
        """Viewers see no admin panels: their data is never loaded into the page."""
        principal = guard.current()
        self.is_admin = principal is not None and principal.can("admin")
        self.me = principal.id if principal else ""
        self._forget_secret()
        if not self.is_admin:
            self.users, self.keys, self.hooks = [], [], []
            return None
        try:
            self._refresh()
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        return None

    def _show_secret(self, secret: str, title: str, hint: str) -> None:
        self.shown_secret, self.shown_title, self.shown_hint = secret, title, hint

    def _forget_secret(self) -> None:
        self.shown_secret = self.shown_title = self.shown_hint = ""

    def _run(self, action, ok: str):
        try:
            with session_scope() as session:
                result = action(session)
            self._refresh()
        except ServiceError as exc:
            return self._toast_error(exc.message), None
        except ValueError:  # a malformed id sent by hand
            return self._toast_error("That item does not exist."), None
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc), None
        return self._toast_ok(ok), result

    @rx.event
    def add_user(self, form: dict):
        role = str(form.get("role", "viewer"))
        toast, _ = self._run(
            lambda s: auth.create_user(
                session=s,
                email=str(form.get("email", ""))[:254],
                password=str(form.get("password", ""))[:512],
                role=role,
                name=str(form.get("name", ""))[:100],
            ),
            "User added.",
        )
        return toast

    @rx.event
    def set_role(self, user_id: str, role: str):
        toast, _ = self._run(
            lambda s: auth.set_role(session=s, user_id=uuid.UUID(user_id), role=role),
            "Role changed.",
        )
        return toast

    @rx.event
    def delete_user(self, user_id: str):
        if user_id == self.me:
            return self._toast_error("You cannot delete your own account.")
        toast, _ = self._run(
            lambda s: auth.delete_user(session=s, user_id=uuid.UUID(user_id)), "User deleted."
        )
        return toast

    @rx.event
    def set_disabled(self, user_id: str, disabled: bool):
        if user_id == self.me:
            return self._toast_error("You cannot disable your own account.")
        toast, _ = self._run(
            lambda s: auth.set_disabled(
                session=s, user_id=uuid.UUID(user_id), disabled=bool(disabled)
            ),
            "User disabled: their sessions ended." if disabled else "User enabled.",
        )
        return toast

    @rx.event
    async def reset_password(self, user_id: str):
        """A new random password for another user, shown once; their sessions end."""
        if user_id == self.me:
            return self._toast_error("Change your own password under Your account.")
        self._forget_secret()

        def reset() -> str:  # argon2 runs in a thread, not on the event loop
            with session_scope() as session:
                return auth.reset_password(session=session, user_id=uuid.UUID(user_id))

        try:
            password = await asyncio.to_thread(reset)
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except ValueError:
            return self._toast_error("That item does not exist.")
        except sa.exc.SQLAlchemyError as exc:
            return self._db_failed(exc)
        email = next((u["email"] for u in self.users if u["id"] == user_id), "the user")
        self._show_secret(
            password,
            f"New password for {email}",
            "Their sessions have ended. Give them this password; it is shown only once.",
        )
        return None

    @rx.event
    def confirm_secret(self) -> None:
        """The admin has copied the secret: it leaves the page state for good."""
        self._forget_secret()

    @rx.event
    async def create_key(self, form: dict):
        principal = guard.current()
        creator = uuid.UUID(principal.id) if principal and principal.kind == "user" else None
        toast, made = self._run(
            lambda s: auth.create_api_key(
                session=s,
                name=str(form.get("name", ""))[:100],
                role=str(form.get("role", "viewer")),
                created_by=creator,
            ),
            "API key created.",
        )
        if made is not None:
            self._show_secret(
                made[0],
                "New API key",
                "Copy it now: it is shown only once. Send it as Authorization: Bearer <key>.",
            )
        return toast

    @rx.event
    def revoke_key(self, key_id: str):
        toast, _ = self._run(
            lambda s: auth.revoke_api_key(session=s, key_id=uuid.UUID(key_id)), "Key revoked."
        )
        return toast

    @rx.event
    def add_webhook(self, form: dict):
        events = [e for e in ("call.ended", "agent.created") if form.get(e)]
        toast, made = self._run(
            lambda s: webhooks.register(
                session=s, url=str(form.get("url", ""))[:2000], events=events
            ),
            "Webhook added.",
        )
        if made is not None:
            self._show_secret(
                made.secret,
                "Webhook signing secret",
                "Copy it now: it is shown only once. Use it to verify the signature of "
                "each delivery.",
            )
        return toast

    @rx.event
    def delete_webhook(self, webhook_id: str):
        toast, _ = self._run(
            lambda s: webhooks.delete_webhook(session=s, webhook_id=uuid.UUID(webhook_id)),
            "Webhook deleted.",
        )
        return toast
