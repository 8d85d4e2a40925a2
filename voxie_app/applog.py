"""What the web app lets into its log: no client tokens, no lines forged by strangers.

- Reflex names a tab's client token in some log lines ("Attempting to send delta
  to disconnected client '...'"), and servers log the websocket URL, which
  carries it (`?token=`). A client token picks a tab's server-side state, so
  these are redacted in every record of Reflex, its socket and HTTP servers.
- Reflex's default frontend-exception handler logs whatever any client sends,
  newlines included, so anyone could write lines into the log. Ours logs a
  report only from a signed-in user, one line, control characters escaped,
  capped in length; anything else is dropped.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger(__name__)

MAX_REPORT_CHARS = 2000
REDACTED = "<client-token>"
# Loggers that may print client tokens: Reflex (reflex, reflex_base, ...) and its servers.
_TOKEN_LOGGERS = ("reflex", "uvicorn", "granian", "engineio", "socketio", "starlette")
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_TOKEN_PARAM = re.compile(r"(\btoken=)[^&\s'\"]+")
_CLIENT_QUOTED = re.compile(r"(\bclient )('[^']*'|\"[^\"]*\")")
_SID = re.compile(r"^\[SID: ([A-Za-z0-9_-]{1,64})\] ")
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_ESCAPES.update({ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def redact(text: str) -> str:
    """`text` with client tokens replaced by a placeholder."""
    text = _CLIENT_QUOTED.sub(rf"\1'{REDACTED}'", text)
    text = _TOKEN_PARAM.sub(rf"\1{REDACTED}", text)
    return _UUID.sub(REDACTED, text)


def redact_client_tokens() -> None:
    """Install a record factory that redacts client tokens (idempotent).

    A factory rather than a filter: Reflex attaches and swaps its own handlers,
    and a logger's filter does not see its children's records; every record is
    made by the factory.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_voxie_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith(_TOKEN_LOGGERS):
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a malformed record stays as it was
                return record
            record.msg, record.args = redact(message), ()
        return record

    factory._voxie_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def one_line(text: str, limit: int = MAX_REPORT_CHARS) -> str:
    """`text` as one log line: control characters escaped, at most `limit` characters."""
    escaped = text[: limit * 4].translate(_ESCAPES)
    if len(escaped) <= limit and len(text) <= limit * 4:
        return escaped
    return escaped[:limit] + f"... [{len(text)} characters, cut]"


def _socket_principal(report: str) -> Any:
    """The principal of the socket that sent a `client_error` report.

    Reflex routes those through this handler outside any event, with the
    server-assigned socket id first ("[SID: ...] "); its handshake's cookie says
    who sent it.
    """
    from reflex_base.registry import RegistrationContext

    from voxie_app.state import guard

    match = _SID.match(report)
    if match is None:
        return None
    try:
        app = RegistrationContext.get().app
        namespace = app.event_namespace
        environ = app.sio.get_environ(match.group(1), namespace.namespace) if app.sio else None
    except (AttributeError, LookupError, RuntimeError, KeyError):  # nothing to ask: anonymous
        return None
    if not environ:
        return None
    cookie = ""
    for name, value in (environ.get("asgi.scope") or {}).get("headers") or []:
        if name.lower() == b"cookie":
            cookie = f"{cookie}; {value.decode('latin-1')}" if cookie else value.decode("latin-1")
    return guard.principal_for(guard.session_cookie(cookie or environ.get("HTTP_COOKIE", "")))


def _event_principal() -> Any:
    """The principal of the event being processed (Reflex's handle_frontend_exception)."""
    from voxie_app.state import guard

    return guard.current()


def frontend_exception_handler(exception: Exception) -> None:
    """Log a browser's error report: signed-in users only, one escaped, capped line."""
    report = str(exception)
    principal = _event_principal() or _socket_principal(report)
    if principal is None:
        return  # a stranger's text never reaches the log
    log.warning("frontend error (user %s): %s", principal.id, one_line(report))
