"""The Secrets panel on /settings (admin only): names and dates, never a value.

A value travels once, from the form's submit data straight into
`services.secrets.put`: it is never assigned to a state var (not even a
backend-only `_` one), never put in a toast and never logged. The password
input is uncontrolled and the form resets on submit, so the browser forgets it
too. Every handler checks the admin role itself, on top of the middleware
(`guard`), because a viewer must not even learn which names exist.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx
import sqlalchemy as sa

from voxie_app.db import session_scope
from voxie_app.services import secrets as secrets_svc
from voxie_app.services.errors import InvalidInput, ServiceError
from voxie_app.state import fmt, guard
from voxie_app.state.base import DB_ERROR, AppState

log = logging.getLogger(__name__)

FIELD_LABELS = {"name": "Name", "value": "Value"}
NOT_ADMIN = "Only an admin can manage secrets."


def field_message(exc: InvalidInput) -> str:
    """ "Name: a secret name is ..." (the message names the field; never the value)."""
    label = FIELD_LABELS.get(exc.field, exc.field.capitalize() or "Secret")
    return f"{label}: {exc.message}"


class SecretsState(AppState):
    is_admin: bool = False
    # {name, created, updated, used_by}: what may be shown about a secret.
    secrets: list[dict[str, str]] = []
    # The name typed in the form (a name is not secret; "Replace" fills it in).
    draft_name: str = ""
    delete_open: bool = False
    delete_name: str = ""

    def _admin(self) -> bool:
        """The handler's own role check: anyone but an admin is refused here too."""
        return self._is_editor()

    def _refresh(self) -> None:
        tz = self._tz()
        with session_scope() as session:
            users = secrets_svc.used_by(session=session)
            rows = secrets_svc.list_all(session=session)
        self.secrets = [
            {
                "name": r.name,
                "created": fmt.when(r.created_at, tz),
                "updated": fmt.when(r.updated_at, tz),
                "used_by": ", ".join(users.get(r.name, [])),
            }
            for r in rows
        ]

    def _failed(self, exc: sa.exc.SQLAlchemyError) -> rx.event.EventSpec:
        # The class only: a statement's parameters are no business of a log line here.
        log.warning("database error in the secrets panel: %s", type(exc).__name__)
        return self._toast_error(DB_ERROR)

    def _refuse(self) -> rx.event.EventSpec:
        self.is_admin, self.secrets, self.delete_open, self.delete_name = False, [], False, ""
        return self._toast_error(NOT_ADMIN)

    @rx.event
    @guard.viewer
    def load(self):
        """Viewers may open /settings, but the panel (and its names) is never loaded for them."""
        self.delete_open, self.delete_name = False, ""
        self.is_admin = self._admin()
        if not self.is_admin:
            self.secrets, self.draft_name = [], ""
            return None
        try:
            self._refresh()
        except sa.exc.SQLAlchemyError as exc:
            return self._failed(exc)
        return None

    @rx.event
    def set_draft_name(self, value: str):
        if not self._admin():
            return self._refuse()
        self.draft_name = str(value)[:64]
        return None

    @rx.event
    def replace(self, name: str):
        """Fill the form with `name`: saving then replaces that secret's value."""
        if not self._admin():
            return self._refuse()
        self.draft_name = str(name)[:64]
        return rx.set_focus("secret-value")

    @rx.event
    def save(self, form: dict[str, Any]):
        """Create or replace a secret from the submitted form; the value goes straight on."""
        if not self._admin():
            return self._refuse()
        name = str(form.get("name", "")).strip()[:100]
        try:
            with session_scope() as session:
                _, created = secrets_svc.put(session=session, name=name, value=form.get("value"))
            self._refresh()
        except InvalidInput as exc:
            return self._toast_error(field_message(exc))
        except ServiceError as exc:
            return self._toast_error(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._failed(exc)
        self.draft_name = ""
        verb = "saved" if created else "replaced"
        return self._toast_ok(f"Secret {name} {verb}. Its value is not shown again.")

    @rx.event
    def ask_delete(self, name: str):
        if not self._admin():
            return self._refuse()
        self.delete_name, self.delete_open = str(name)[:64], True
        return None

    @rx.event
    def set_delete_open(self, value: bool):
        if not self._admin():
            return self._refuse()
        self.delete_open = bool(value)
        return None

    @rx.event
    def confirm_delete(self):
        if not self._admin():
            return self._refuse()
        name, self.delete_open = self.delete_name, False
        try:
            with session_scope() as session:
                secrets_svc.delete(session=session, name=name)
            self._refresh()
        except ServiceError as exc:
            self._refresh()
            return self._toast_error(exc.message)
        except sa.exc.SQLAlchemyError as exc:
            return self._failed(exc)
        return self._toast_ok(f"Secret {name} deleted.")
