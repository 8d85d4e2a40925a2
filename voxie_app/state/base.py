"""`AppState`: the shared base of every page state (helpers only, no page data)."""

from __future__ import annotations

import logging

import reflex as rx
import sqlalchemy as sa

from voxie_app.settings import get_settings

log = logging.getLogger(__name__)

DB_ERROR = "The database is not reachable right now; check DATABASE_URL and try again."


class AppState(rx.State):
    """Helpers shared by the page states; each page state subclasses this."""

    def _tz(self) -> str:
        return get_settings().timezone

    def _path_part(self, index: int) -> str:
        """A segment of the current URL path: `/agents/<id>` -> index 1 is the id."""
        parts = [p for p in str(self.router.url.path).split("/") if p]
        return parts[index] if len(parts) > index else ""

    @staticmethod
    def _is_editor() -> bool:
        """Whether the user behind this event may change things (an admin).

        Pages a viewer may open but not use (chat, builder) mark their `on_load`
        viewer-safe and do nothing past this check, so loading never fires a
        refused event; the page shows a notice instead.
        """
        from voxie_app.state import guard

        principal = guard.current()
        return principal is not None and principal.can("admin")

    def _query(self, name: str) -> str:
        return str(self.router.url.query_parameters.get(name, ""))

    @staticmethod
    def _toast_error(message: str) -> rx.event.EventSpec:
        return rx.toast.error(message, close_button=True, duration=6000)

    @staticmethod
    def _toast_ok(message: str) -> rx.event.EventSpec:
        return rx.toast.success(message, duration=3000)

    def _db_failed(self, exc: sa.exc.SQLAlchemyError) -> rx.event.EventSpec:
        log.warning("database error on %s: %s", self.router.url.path, exc)
        return self._toast_error(DB_ERROR)
