"""`/call` and `/call/[id]`: pick a ready agent, then call it from the browser.

The call itself runs in the browser (`components/livekit_call.py`); this state
only starts it (`services.calls.start_call`), hands the component the server
URL and the participant token, and records the end (`services.calls.end_call`)
when the component reports one. API keys and secrets never reach the browser.

Anyone signed in sees the pages; starting a call (a room, a worker, costs) and
the call's events are for admins (the guard's default).

Phases of `/call/[id]`: loading → idle → checking (microphone) → starting (room,
dispatch, token) → connecting → connected → ended; or `error`, with `problem`
naming what went wrong (not_found, not_ready, not_configured, microphone,
unreachable, failed).
"""

from __future__ import annotations

import logging
import uuid

import reflex as rx
import sqlalchemy as sa

from voxie_app import routes
from voxie_app.components.livekit_call import MIC_CHECK_JS
from voxie_app.db import session_scope
from voxie_app.services import agents as agents_svc
from voxie_app.services import calls, reports
from voxie_app.services.errors import (
    Conflict,
    NotConfigured,
    NotFound,
    ProviderFailed,
    RateLimited,
    ServiceError,
)
from voxie_app.services.livekit_gateway import require_livekit
from voxie_app.settings import get_settings
from voxie_app.state import fmt, guard
from voxie_app.state.base import AppState

log = logging.getLogger(__name__)

PICKER_LIMIT = 200
LIVE_PHASES = ("connecting", "connected")
RETRYABLE = ("microphone", "unreachable", "failed")  # problems "Try again" may fix

# The microphone, by what the browser (a DOMException name) or LiveKit
# (a MediaDeviceFailure) calls the failure: (title, what to do).
_MIC_FAILURES = {
    "NotAllowedError": "PermissionDenied",
    "PermissionDeniedError": "PermissionDenied",
    "SecurityError": "PermissionDenied",
    "NotFoundError": "NotFound",
    "DevicesNotFoundError": "NotFound",
    "OverconstrainedError": "NotFound",
    "NotReadableError": "DeviceInUse",
    "TrackStartError": "DeviceInUse",
    "AbortError": "DeviceInUse",
}
MIC_MESSAGES = {
    "PermissionDenied": (
        "Microphone access is blocked",
        "Your browser did not let Voxie use the microphone. Allow microphone access for "
        "this site (the icon at the left of the address bar), then try again.",
    ),
    "NotFound": (
        "No microphone found",
        "Your browser found no microphone. Connect one, or pick an input device in your "
        "system settings, then try again.",
    ),
    "DeviceInUse": (
        "The microphone is busy",
        "Another application or tab is using the microphone. Close it there, then try again.",
    ),
    "InsecureContext": (
        "The microphone needs a secure page",
        "Browsers only allow the microphone on HTTPS pages (or on localhost). Open Voxie "
        "over HTTPS to call.",
    ),
    "Other": (
        "The microphone could not be started",
        "Your browser could not start the microphone. Check your audio settings, then try again.",
    ),
}

# LiveKit's DisconnectReason names that mean the other side ended the call.
_AGENT_ENDED = {"ROOM_DELETED", "ROOM_CLOSED", "PARTICIPANT_REMOVED"}


def mic_problem(failure: str) -> tuple[str, str]:
    """(title, text) for a microphone failure named by the browser or by LiveKit."""
    return MIC_MESSAGES.get(_MIC_FAILURES.get(failure, failure), MIC_MESSAGES["Other"])


def unreachable_text(url: str) -> str:
    return (
        f"Your browser could not connect to the LiveKit server at {url or 'LIVEKIT_URL'}. "
        "Check that LIVEKIT_URL (or LIVEKIT_PUBLIC_URL, the address browsers use) points "
        "at a running LiveKit server that this browser can reach."
    )


def ended_text(reason: str, duration: float | None) -> str:
    length = fmt.duration(duration) if duration is not None else ""
    after = f" after {length}" if length and length != fmt.DASH else ""
    if reason == "CLIENT_INITIATED":
        return f"You ended the call{after}."
    if reason in _AGENT_ENDED:
        return f"The agent ended the call{after}."
    if reason == "PARTICIPANT_LEFT_PAGE":
        return f"The call ended when you left the page{after}."
    return f"The call was disconnected{after} ({reason.replace('_', ' ').lower()})."


def missing_livekit_settings() -> list[str]:
    """The LiveKit settings still to set (the calls service's own check)."""
    try:
        require_livekit(get_settings())
    except NotConfigured as exc:
        return exc.missing
    return []


async def _close(call_id: str, *, failed_reason: str = "") -> float | None:
    """Record the end of a call (as failed when it never got going), then close its room.

    Returns the call's duration in seconds (None if it could not be recorded).
    """
    try:
        call_uuid = uuid.UUID(call_id)
    except ValueError:
        return None
    try:
        if failed_reason:
            with session_scope() as session:
                calls.end_call_record(
                    session=session,
                    call_session_id=call_uuid,
                    status="failed",
                    reason=failed_reason,
                )
        call = await calls.end_call(call_session_id=call_uuid, settings=get_settings())
    except (ServiceError, sa.exc.SQLAlchemyError) as exc:
        log.warning("could not record the end of call %s: %s", call_id, exc)
        return None
    return call.duration_seconds


class CallState(AppState):
    # `/call`: the agents one can call.
    choices: list[dict[str, str]] = []
    choices_loaded: bool = False
    livekit_missing: list[str] = []

    # `/call/[id]`
    agent_id: str = ""
    agent_name: str = ""
    agent_description: str = ""
    agent_greeting: str = ""
    phase: str = "loading"
    problem: str = ""
    problem_title: str = ""
    problem_text: str = ""
    problem_detail: str = ""  # what the browser or LiveKit said, as is
    server_url: str = ""
    token: str = ""
    call_id: str = ""
    summary: str = ""

    @rx.var
    def chat_href(self) -> str:
        return routes.agent_chat(self.agent_id)

    @rx.var
    def agent_href(self) -> str:
        return routes.agent(self.agent_id)

    @rx.var
    def call_href(self) -> str:
        return routes.call(self.call_id) if self.call_id else ""

    # ------------------------------------------------------------------ /call

    @rx.event
    @guard.viewer
    def load_choices(self):
        self.livekit_missing = missing_livekit_settings()
        tz = self._tz()
        try:
            with session_scope() as session:
                rows = reports.agents_overview(session=session, limit=PICKER_LIMIT)
        except sa.exc.SQLAlchemyError as exc:
            self.choices_loaded = True
            return self._db_failed(exc)
        self.choices = [
            {
                "id": str(r.id),
                "name": r.name,
                "description": r.description,
                "calls": fmt.count(r.calls, "call"),
                "last_call": fmt.when(r.last_call_at, tz) if r.last_call_at else "never",
                "href": routes.call_agent(str(r.id)),
                "chat_href": routes.agent_chat(str(r.id)),
            }
            for r in rows
            if r.status == "ready"
        ]
        self.choices_loaded = True
        return None

    # ------------------------------------------------------------- /call/[id]

    def _set_problem(self, problem: str, title: str, text: str, detail: str = "") -> None:
        self.phase, self.problem, self.problem_title, self.problem_text = (
            "error",
            problem,
            title,
            text,
        )
        self.problem_detail = detail[:400]
        self.server_url = self.token = ""

    def _not_configured(self, missing: list[str]) -> None:
        self.livekit_missing = missing
        self._set_problem(
            "not_configured",
            "Voice calls are not set up yet",
            "Browser calls go through a LiveKit server, and Voxie has no LiveKit settings. "
            "Set these in .env.local and restart Voxie:",
        )

    @rx.event
    @guard.viewer
    async def on_load(self):
        if self.phase in LIVE_PHASES and self.call_id:  # a call still open from before
            await _close(self.call_id)
        raw = self._path_part(1)
        self.agent_id = raw
        self.agent_name = self.agent_description = self.agent_greeting = ""
        self.call_id = self.server_url = self.token = self.summary = ""
        self.problem = self.problem_title = self.problem_text = self.problem_detail = ""
        self.livekit_missing = []
        self.phase = "loading"
        try:
            with session_scope() as session:
                agent = agents_svc.get_agent(session=session, agent_id=uuid.UUID(raw))
                name, status, spec = agent.name, agent.status, dict(agent.processed_spec or {})
        except (ValueError, NotFound):
            self._set_problem(
                "not_found",
                "No such agent",
                "This agent does not exist; it may have been deleted. Pick another one to call.",
            )
            return None
        except sa.exc.SQLAlchemyError as exc:
            self._set_problem("failed", "The database is not reachable", "Try again shortly.")
            return self._db_failed(exc)
        self.agent_name = name or str(spec.get("name") or "Untitled agent")
        self.agent_description = str(spec.get("description") or "")
        self.agent_greeting = str(spec.get("greeting") or "")
        if status != "ready":
            self._set_problem(
                "not_ready",
                f"{self.agent_name} is not ready",
                f"This agent is {status}; it can take calls once its spec is ready.",
            )
            return None
        if missing := missing_livekit_settings():
            self._not_configured(missing)
            return None
        self.phase = "idle"
        return None

    @rx.event
    def start(self):
        """Check the microphone in the page; `mic_checked` starts the call."""
        retry = self.phase == "error" and self.problem in RETRYABLE
        if self.phase not in ("idle", "ended") and not retry:
            return None
        if not self.agent_name:  # the agent could not be loaded: load it again
            return CallState.on_load
        self.problem = self.problem_title = self.problem_text = self.problem_detail = ""
        self.call_id = self.summary = ""
        self.phase = "checking"
        return rx.call_script(MIC_CHECK_JS, callback=CallState.mic_checked)

    @rx.event
    async def mic_checked(self, result: str):
        if self.phase != "checking":
            return
        if result != "ok":
            self._set_problem("microphone", *mic_problem(str(result)))
            return
        principal = guard.current()
        if principal is None:  # the guard let the event through: the session just ended
            self._set_problem("failed", "You are signed out", "Sign in again to call.")
            return
        self.phase = "starting"
        yield
        try:
            started = await calls.start_call(
                agent_id=uuid.UUID(self.agent_id), settings=get_settings(), caller=principal
            )
        except RateLimited as exc:  # nothing was started: the caller may try again later
            self.phase = "idle"
            yield self._toast_error(exc.message)
            return
        except NotConfigured as exc:
            self._not_configured(exc.missing)
            return
        except NotFound:
            self._set_problem("not_found", "No such agent", "This agent was deleted.")
            return
        except Conflict as exc:
            self._set_problem("not_ready", f"{self.agent_name} is not ready", exc.message)
            return
        except ProviderFailed as exc:
            self._set_problem(
                "unreachable",
                "LiveKit is unreachable",
                "Voxie could not set up the call room on the LiveKit server. Check that "
                "LIVEKIT_URL points at a running LiveKit server and that LIVEKIT_API_KEY "
                "and LIVEKIT_API_SECRET are its keys.",
                exc.message,
            )
            return
        except (ServiceError, sa.exc.SQLAlchemyError) as exc:
            log.warning("starting a call with %s failed: %s", self.agent_id, exc)
            self._set_problem(
                "failed", "The call could not start", "Something went wrong; try again.", str(exc)
            )
            return
        self.server_url = started.server_url
        self.token = started.participant_token
        self.call_id = str(started.call_session_id)
        self.phase = "connecting"

    @rx.event
    def on_connected(self) -> None:
        if self.phase == "connecting":
            self.phase = "connected"

    @rx.event
    async def on_disconnected(self, reason: str):
        if self.phase not in LIVE_PHASES:
            return
        never_connected = self.phase == "connecting"
        duration = await _close(self.call_id)
        self.server_url = self.token = ""
        self.phase = "ended"
        self.summary = (
            "You ended the call before it connected."
            if never_connected
            else ended_text(str(reason), duration)
        )

    @rx.event
    async def on_error(self, kind: str, detail: str):
        if self.phase not in LIVE_PHASES:
            return
        url, was_connected = self.server_url, self.phase == "connected"
        await _close(
            self.call_id, failed_reason="" if was_connected else f"browser: {detail}"[:500]
        )
        if kind == "connection":
            self._set_problem(
                "unreachable", "LiveKit is unreachable", unreachable_text(url), detail
            )
        else:
            self._set_problem(
                "failed", "The call failed", "Something went wrong in the call.", detail
            )

    @rx.event
    async def on_media_device_failure(self, failure: str, detail: str):
        if self.phase not in LIVE_PHASES:
            return
        await _close(self.call_id, failed_reason=f"microphone: {failure}")
        self._set_problem("microphone", *mic_problem(str(failure)), str(detail))


class EmbeddedCallState(AppState):
    """Records the end of a call that another page runs with the call component.

    The builder's "Talk to Voxie" wires the component's events here, with the
    call's id (its own state only keeps the URL, the token and the id).
    """

    @rx.event
    async def finish(self, call_id: str, reason: str) -> None:
        await _close(call_id)

    @rx.event
    async def fail(self, call_id: str, kind: str, detail: str):
        await _close(call_id, failed_reason=f"browser: {detail}"[:500])
        if kind == "connection":
            return self._toast_error(f"LiveKit is unreachable: {detail}"[:300])
        return self._toast_error(f"The call failed: {detail}"[:300])

    @rx.event
    async def mic_failed(self, call_id: str, failure: str, detail: str):
        await _close(call_id, failed_reason=f"microphone: {failure}")
        title, text = mic_problem(failure)
        return self._toast_error(f"{title}. {text}")
