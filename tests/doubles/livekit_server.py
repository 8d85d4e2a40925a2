"""A local stand-in for the LiveKit server API (Twirp over HTTP), for tests.

It speaks what `livekit-api` sends: `POST /twirp/livekit.<Service>/<Method>`
with a protobuf body (`application/protobuf`; JSON is accepted too) and an
`Authorization: Bearer <JWT>` signed with the API secret. It checks the token
and the grants a real server would require, answers with protobuf (or JSON),
records every request, and can be told to fail.

    with LiveKitDouble() as lk:
        configure(LIVEKIT_URL=lk.url, LIVEKIT_API_KEY=lk.api_key,
                  LIVEKIT_API_SECRET=lk.api_secret)
        ...
        assert lk.calls("CreateRoom")[0].body["name"] == room_name

Implemented: RoomService/CreateRoom, RoomService/DeleteRoom,
AgentDispatchService/CreateDispatch; the SIP service's trunks and dispatch rules
(`SIP/CreateSIPInboundTrunk`, `ListSIPInboundTrunk`, `CreateSIPOutboundTrunk`,
`UpdateSIPOutboundTrunk`, `ListSIPOutboundTrunk`, `DeleteSIPTrunk`,
`CreateSIPDispatchRule`, `UpdateSIPDispatchRule`, `ListSIPDispatchRule`,
`DeleteSIPDispatchRule`: the `sip.admin` grant required, state kept in
`inbound_trunks`, `outbound_trunks`, `dispatch_rules`, a missing id answered
`not_found`, two rules on one trunk refused as LiveKit does);
SIP/CreateSIPParticipant (outbound calls and a warm transfer's second leg,
scripted: `script_dial("busy")`; see `SipDialing`) and SIP/TransferSIPParticipant
(answering from `sip_transfer_outcomes`, `SipOutcome`). Anything else answers 404
`bad_route`.

It also accepts the browser's signalling websocket (`GET /rtc` and `/rtc/v1`,
what `livekit-client` opens with `?access_token=...`) and records each one in
`ws_connections` (path, query, token, its verified claims). It does not speak
the signalling protocol: the socket stays open and silent (`ws_behaviour =
"idle"`, the client gives up waiting for the join response) or is closed at
once (`"close"`). `/rtc/validate` (what the client asks after a failed
upgrade) answers like a server that accepted the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

import jwt
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit.protocol import agent_dispatch as proto_dispatch
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from tests.doubles.http_server import ThreadedServer

DEFAULT_API_KEY = "devkey"
DEFAULT_API_SECRET = "a-secret-of-at-least-32-characters-long!"


class Recorded(NamedTuple):
    """One request the double received (also unpacks as a 4-tuple)."""

    service: str
    method: str
    body: dict[str, Any]  # the parsed request message (proto field names)
    claims: dict[str, Any]  # the decoded JWT (empty when the token was rejected)


@dataclass
class WsConnection:
    """One signalling websocket the double accepted."""

    path: str
    query: dict[str, str]
    access_token: str
    claims: dict[str, Any]  # the verified JWT claims (empty when the token was rejected)
    error: str = ""  # why the token was rejected


@dataclass
class Failure:
    status: int = 503
    code: str = "unavailable"
    msg: str = "injected failure"
    delay: float = 0.0  # seconds to wait before answering (to test client timeouts)


class _TwirpError(Exception):
    def __init__(
        self, status: int, code: str, msg: str, meta: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg
        self.meta = meta or {}


# ---- transfer to a person (issue 15, items 5-6): scripted SIP outcomes -------------


@dataclass
class SipOutcome:
    """How the double answers one TransferSIPParticipant / warm-transfer
    CreateSIPParticipant: `ok`, a SIP error (`sip_code`, `sip_status`: LiveKit's
    error metadata, which livekit-api turns into a `SipCallError`), or a transfer
    the server reports as failed in its response (`failed_reason`, e.g.
    "STR_RINGING_TIMEOUT")."""

    sip_code: int = 0
    sip_status: str = ""
    failed_reason: str = ""

    @classmethod
    def ok(cls) -> SipOutcome:
        return cls()

    @classmethod
    def busy(cls) -> SipOutcome:
        return cls(486, "Busy Here")

    @classmethod
    def no_answer(cls) -> SipOutcome:
        return cls(480, "Temporarily Unavailable")


def free_port() -> int:
    """A port that was free a moment ago (nothing listens on it after return)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


# ==== SIP dialling (CreateSIPParticipant) ===============================================
# Outbound calls. Kept in this block (a mixin of `LiveKitDouble`) so the SIP trunk and
# dispatch-rule methods can sit in a block of their own.


@dataclass(frozen=True)
class DialScript:
    """How one scripted dial ends: answered, or a SIP final response as LiveKit sends
    it (a Twirp error with the SIP status in its metadata: `livekit.SIPStatus`
    `GRPCStatus` / `TwirpErrorMeta` in livekit/protocol)."""

    sip_status_code: int = 200
    sip_status: str = "OK"
    twirp_code: str = ""  # the Twirp code for the SIP code (LiveKit's own mapping)
    http_status: int = 200
    delay: float = 0.0  # seconds the phone "rings" before the answer


# LiveKit maps 486/480 to ResourceExhausted (HTTP 429), 408 and 504 to DeadlineExceeded
# (408), 5xx from the far end to FailedPrecondition (412), 603 to PermissionDenied (403).
DIAL_OUTCOMES: dict[str, DialScript] = {
    "answered": DialScript(),
    "busy": DialScript(486, "Busy Here", "resource_exhausted", 429),
    "no_answer": DialScript(480, "Temporarily Unavailable", "resource_exhausted", 429),
    "timeout": DialScript(408, "Request Timeout", "deadline_exceeded", 408),
    "declined": DialScript(603, "Decline", "permission_denied", 403),
    "failed": DialScript(503, "Service Unavailable", "failed_precondition", 412),
}


class SipDialing:
    """`SIP/CreateSIPParticipant`: records each request (`dials`) and answers as
    scripted: `script_dial("busy", "answered")` sets the next outcomes (names in
    `DIAL_OUTCOMES` or `DialScript`s); unscripted dials are answered at once."""

    _SIP_DIAL_ROUTES: dict[tuple[str, str], tuple[type[Message], str]] = {
        ("SIP", "CreateSIPParticipant"): (
            proto_sip.CreateSIPParticipantRequest,
            "_create_sip_participant",
        ),
    }

    def _init_sip_dialing(self) -> None:
        self.dials: list[proto_sip.CreateSIPParticipantRequest] = []
        self.sip_participants: list[proto_sip.SIPParticipantInfo] = []
        self._dial_script: list[DialScript] = []
        self._dial_lock = threading.Lock()

    def script_dial(self, *outcomes: str | DialScript) -> None:
        """The next dials end like this, in order."""
        with self._dial_lock:
            self._dial_script.extend(
                DIAL_OUTCOMES[o] if isinstance(o, str) else o for o in outcomes
            )

    def _reset_sip_dialing(self) -> None:
        with self._dial_lock:
            self.dials.clear()
            self.sip_participants.clear()
            self._dial_script.clear()

    @staticmethod
    def _check_sip_call_grant(claims: dict[str, Any]) -> None:
        if not (claims.get("sip") or {}).get("call"):
            raise _TwirpError(403, "permission_denied", "SIP call grant required")

    async def _create_sip_participant(
        self, req: proto_sip.CreateSIPParticipantRequest
    ) -> proto_sip.SIPParticipantInfo:
        if not req.sip_trunk_id and not req.HasField("trunk"):
            raise _TwirpError(400, "invalid_argument", "trunk id is required")
        if not req.sip_call_to:
            raise _TwirpError(400, "invalid_argument", "call-to number is required")
        if not req.room_name:
            raise _TwirpError(400, "invalid_argument", "room name is required")
        with self._dial_lock:
            self.dials.append(req)
            script = self._dial_script.pop(0) if self._dial_script else DIAL_OUTCOMES["answered"]
        if script.delay:
            await asyncio.sleep(script.delay)
        if script.sip_status_code >= 300:
            raise _TwirpError(
                script.http_status,
                script.twirp_code,
                f"sip status {script.sip_status_code}: {script.sip_status}",
                meta={
                    "sip_status_code": str(script.sip_status_code),
                    "sip_status": script.sip_status,
                },
            )
        info = proto_sip.SIPParticipantInfo(
            participant_id=f"PA_{uuid.uuid4().hex[:12]}",
            participant_identity=req.participant_identity or f"sip_{req.sip_call_to}",
            room_name=req.room_name,
            sip_call_id=f"SCL_{uuid.uuid4().hex[:12]}",
        )
        with self._dial_lock:
            self.sip_participants.append(info)
        return info


# ==== end of SIP dialling ===============================================================


# ---- SIP service: trunks and dispatch rules (issue 15, numbers and trunks) -----------
# Method -> (request message, handler). Placing and transferring calls
# (CreateSIPParticipant, TransferSIPParticipant) are a separate block.
SIP_TRUNK_ROUTES: dict[str, tuple[type[Message], str]] = {
    "CreateSIPInboundTrunk": (proto_sip.CreateSIPInboundTrunkRequest, "_sip_create_inbound"),
    "ListSIPInboundTrunk": (proto_sip.ListSIPInboundTrunkRequest, "_sip_list_inbound"),
    "CreateSIPOutboundTrunk": (proto_sip.CreateSIPOutboundTrunkRequest, "_sip_create_outbound"),
    "UpdateSIPOutboundTrunk": (proto_sip.UpdateSIPOutboundTrunkRequest, "_sip_update_outbound"),
    "ListSIPOutboundTrunk": (proto_sip.ListSIPOutboundTrunkRequest, "_sip_list_outbound"),
    "DeleteSIPTrunk": (proto_sip.DeleteSIPTrunkRequest, "_sip_delete_trunk"),
    "CreateSIPDispatchRule": (proto_sip.CreateSIPDispatchRuleRequest, "_sip_create_rule"),
    "UpdateSIPDispatchRule": (proto_sip.UpdateSIPDispatchRuleRequest, "_sip_update_rule"),
    "ListSIPDispatchRule": (proto_sip.ListSIPDispatchRuleRequest, "_sip_list_rules"),
    "DeleteSIPDispatchRule": (proto_sip.DeleteSIPDispatchRuleRequest, "_sip_delete_rule"),
}


def _sip_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class LiveKitDouble(SipDialing, ThreadedServer):
    """A LiveKit Twirp API on 127.0.0.1, served from a background thread."""

    thread_name = "livekit-double"

    def __init__(
        self, api_key: str = DEFAULT_API_KEY, api_secret: str = DEFAULT_API_SECRET
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.requests: list[Recorded] = []
        self.rooms: dict[str, proto_models.Room] = {}
        self.dispatches: list[proto_dispatch.AgentDispatch] = []
        self.deleted_rooms: list[str] = []
        # The browser side: signalling websockets accepted, and what to do with them.
        self.ws_connections: list[WsConnection] = []
        self.ws_behaviour: str = "idle"  # "idle" (open, silent) or "close" (closed at once)
        # Set to True (every request fails with `fail_all_with`) or to a Failure.
        self.fail_all: bool | Failure = False
        self.fail_all_with = Failure()
        self._fail_next: dict[str, list[Failure]] = {}
        # SIP service state (trunks and dispatch rules), by LiveKit id.
        self.inbound_trunks: dict[str, proto_sip.SIPInboundTrunkInfo] = {}
        self.outbound_trunks: dict[str, proto_sip.SIPOutboundTrunkInfo] = {}
        self.dispatch_rules: dict[str, proto_sip.SIPDispatchRuleInfo] = {}
        self._lock = threading.Lock()
        self._closing: asyncio.Event | None = None
        self._init_sip_dialing()
        # Transfer to a person: outcomes consumed one per SIP transfer (then ok).
        self.sip_transfer_outcomes: list[SipOutcome] = []

    # ---- public helpers -------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def fail_next(
        self,
        method: str,
        status: int = 503,
        code: str = "unavailable",
        msg: str = "injected failure",
        *,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` calls of `method` (e.g. "CreateRoom") fail."""
        with self._lock:
            self._fail_next.setdefault(method, []).extend(
                Failure(status, code, msg, delay) for _ in range(times)
            )

    def calls(self, method: str) -> list[Recorded]:
        """The recorded requests of one method, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def websockets(self) -> list[WsConnection]:
        """The signalling websockets accepted so far, in order."""
        with self._lock:
            return list(self.ws_connections)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.rooms.clear()
            self.dispatches.clear()
            self.deleted_rooms.clear()
            self.ws_connections.clear()
            self.inbound_trunks.clear()
            self.outbound_trunks.clear()
            self.dispatch_rules.clear()
            self._fail_next.clear()
            self.fail_all = False
            self.sip_transfer_outcomes.clear()
        self._reset_sip_dialing()

    # ---- lifecycle ----------------------------------------------------------

    def build_app(self) -> web.Application:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/twirp/livekit.{service}/{method}", self._handle)
        for path in ("/rtc", "/rtc/v1"):
            app.router.add_get(path, self._rtc)
            app.router.add_get(path + "/validate", self._validate)
        return app

    def runner_options(self) -> dict[str, Any]:
        # Open signalling websockets must not hold up the shutdown.
        return {"access_log": None, "handler_cancellation": True, "shutdown_timeout": 1.0}

    async def before_stop(self) -> None:
        if self._closing is not None:
            self._closing.set()

    # ---- request handling ---------------------------------------------------

    _ROUTES: dict[tuple[str, str], tuple[type[Message], str]] = {
        ("RoomService", "CreateRoom"): (proto_room.CreateRoomRequest, "_create_room"),
        ("RoomService", "DeleteRoom"): (proto_room.DeleteRoomRequest, "_delete_room"),
        ("AgentDispatchService", "CreateDispatch"): (
            proto_dispatch.CreateAgentDispatchRequest,
            "_create_dispatch",
        ),
        **SipDialing._SIP_DIAL_ROUTES,
        # transfer to a person (issue 15, items 5-6)
        ("SIP", "TransferSIPParticipant"): (
            proto_sip.TransferSIPParticipantRequest,
            "_transfer_sip_participant",
        ),
        **{("SIP", method): route for method, route in SIP_TRUNK_ROUTES.items()},
    }

    async def _handle(self, request: web.Request) -> web.Response:
        service = request.match_info["service"]
        method = request.match_info["method"]
        content_type = request.content_type
        body: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        recorded = False
        try:
            route = self._ROUTES.get((service, method))
            if route is None:
                raise _TwirpError(404, "bad_route", f"no handler for {service}/{method}")
            request_class, handler_name = route
            message = self._parse(request_class, await request.read(), content_type)
            body = json_format.MessageToDict(message, preserving_proto_field_name=True)
            claims = self._verify(request.headers.get("Authorization", ""))
            failure = self._take_failure(method)
            if failure is not None:
                if failure.delay:
                    # Record first so a test can see the request the client gave up on.
                    self._record(service, method, body, claims)
                    recorded = True
                    assert self._closing is not None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), failure.delay)
                raise _TwirpError(failure.status, failure.code, failure.msg)
            self._check_grants(method, message, claims)
            if service == "SIP" and method == "CreateSIPParticipant":
                self._check_sip_call_grant(claims)
            result: Message = getattr(self, handler_name)(message)
            if asyncio.iscoroutine(result):  # a handler that takes time (a ringing phone)
                result = await result
        except _TwirpError as err:
            if not recorded:
                self._record(service, method, body, claims)
            return web.json_response(
                {"code": err.code, "msg": err.msg, "meta": err.meta}, status=err.status
            )
        self._record(service, method, body, claims)
        if content_type == "application/json":
            return web.Response(
                text=json_format.MessageToJson(result), content_type="application/json"
            )
        return web.Response(body=result.SerializeToString(), content_type="application/protobuf")

    async def _rtc(self, request: web.Request) -> web.StreamResponse:
        """The signalling websocket: record who connected, then stay silent or close."""
        token = request.query.get("access_token", "")
        claims: dict[str, Any] = {}
        error = ""
        try:
            claims = self._verify(f"Bearer {token}")
        except _TwirpError as err:
            error = err.msg
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        with self._lock:
            self.ws_connections.append(
                WsConnection(request.path, dict(request.query), token, claims, error)
            )
        if self.ws_behaviour == "close":
            await ws.close(code=1011, message=b"test double: no signalling")
            return ws
        assert self._closing is not None
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while not ws.closed:
                receive = asyncio.ensure_future(ws.receive())
                done, _ = await asyncio.wait(
                    {receive, closing}, return_when=asyncio.FIRST_COMPLETED
                )
                if closing in done:
                    receive.cancel()
                    break
                if receive.result().type in (
                    web.WSMsgType.CLOSE,
                    web.WSMsgType.CLOSING,
                    web.WSMsgType.CLOSED,
                    web.WSMsgType.ERROR,
                ):
                    break
        finally:
            closing.cancel()
            await ws.close()
        return ws

    async def _validate(self, request: web.Request) -> web.Response:
        """What a server says about a token after a failed upgrade (CORS open, as LiveKit's)."""
        headers = {"Access-Control-Allow-Origin": "*"}
        try:
            self._verify(f"Bearer {request.query.get('access_token', '')}")
        except _TwirpError as err:
            return web.Response(status=401, text=err.msg, headers=headers)
        return web.Response(text="success", headers=headers)

    def _record(
        self, service: str, method: str, body: dict[str, Any], claims: dict[str, Any]
    ) -> None:
        with self._lock:
            self.requests.append(Recorded(service, method, body, claims))

    def _take_failure(self, method: str) -> Failure | None:
        with self._lock:
            queued = self._fail_next.get(method)
            if queued:
                return queued.pop(0)
            if isinstance(self.fail_all, Failure):
                return self.fail_all
            return self.fail_all_with if self.fail_all else None

    @staticmethod
    def _parse(request_class: type[Message], raw: bytes, content_type: str) -> Message:
        message = request_class()
        try:
            if content_type == "application/json":
                json_format.Parse(raw.decode() or "{}", message)
            elif content_type == "application/protobuf":
                message.ParseFromString(raw)
            else:
                raise _TwirpError(400, "malformed", f"unexpected Content-Type {content_type!r}")
        except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
            raise _TwirpError(400, "malformed", f"could not parse body: {exc}") from exc
        return message

    def _verify(self, authorization: str) -> dict[str, Any]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _TwirpError(401, "unauthenticated", "missing bearer token")
        try:
            return jwt.decode(
                token,
                self.api_secret,
                algorithms=["HS256"],
                issuer=self.api_key,
                options={"require": ["exp", "iss"]},
                leeway=60,
            )
        except jwt.PyJWTError as exc:
            raise _TwirpError(401, "unauthenticated", f"invalid token: {exc}") from exc

    @staticmethod
    def _check_grants(method: str, message: Any, claims: dict[str, Any]) -> None:
        video = claims.get("video") or {}
        if method in SIP_TRUNK_ROUTES:
            if not (claims.get("sip") or {}).get("admin"):
                raise _TwirpError(403, "permission_denied", "sip admin grant required")
        elif method in ("CreateRoom", "DeleteRoom"):
            if not video.get("roomCreate"):
                raise _TwirpError(403, "permission_denied", "roomCreate grant required")
        elif method == "CreateDispatch" and (
            not video.get("roomAdmin") or video.get("room") != message.room
        ):
            raise _TwirpError(403, "permission_denied", "roomAdmin grant for the room required")
        elif method == "TransferSIPParticipant" and (
            not video.get("roomAdmin")
            or video.get("room") != message.room_name
            or not (claims.get("sip") or {}).get("call")
        ):
            raise _TwirpError(
                403, "permission_denied", "roomAdmin for the room and sip.call grants required"
            )
        elif method == "CreateSIPParticipant" and not (claims.get("sip") or {}).get("call"):
            raise _TwirpError(403, "permission_denied", "sip.call grant required")

    # ---- the methods ------------------------------------------------------------

    def _create_room(self, req: proto_room.CreateRoomRequest) -> proto_models.Room:
        if not req.name:
            raise _TwirpError(400, "invalid_argument", "room name is required")
        with self._lock:
            existing = self.rooms.get(req.name)
            if existing is not None:  # LiveKit returns the existing room
                return existing
            now = time.time()
            room = proto_models.Room(
                sid=f"RM_{uuid.uuid4().hex[:12]}",
                name=req.name,
                empty_timeout=req.empty_timeout,
                departure_timeout=req.departure_timeout,
                max_participants=req.max_participants,
                metadata=req.metadata,
                creation_time=int(now),
                creation_time_ms=int(now * 1000),
            )
            self.rooms[req.name] = room
            return room

    def _delete_room(self, req: proto_room.DeleteRoomRequest) -> proto_room.DeleteRoomResponse:
        if not req.room:
            raise _TwirpError(400, "invalid_argument", "room is required")
        with self._lock:
            self.rooms.pop(req.room, None)
            self.deleted_rooms.append(req.room)
        return proto_room.DeleteRoomResponse()

    def _create_dispatch(
        self, req: proto_dispatch.CreateAgentDispatchRequest
    ) -> proto_dispatch.AgentDispatch:
        if not req.room:
            raise _TwirpError(400, "invalid_argument", "room is required")
        dispatch = proto_dispatch.AgentDispatch(
            id=f"AD_{uuid.uuid4().hex[:12]}",
            agent_name=req.agent_name,
            room=req.room,
            metadata=req.metadata,
        )
        with self._lock:
            self.dispatches.append(dispatch)
        return dispatch

    # ---- transfer to a person (issue 15, items 5-6) -------------------------------

    def _next_sip_outcome(self) -> SipOutcome:
        with self._lock:
            return self.sip_transfer_outcomes.pop(0) if self.sip_transfer_outcomes else SipOutcome()

    @staticmethod
    def _raise_sip_error(outcome: SipOutcome) -> None:
        if outcome.sip_code:
            raise _TwirpError(
                400 if outcome.sip_code < 500 else 503,
                "unavailable",
                f"SIP {outcome.sip_code} {outcome.sip_status}",
                {"sip_status_code": str(outcome.sip_code), "sip_status": outcome.sip_status},
            )

    def _transfer_sip_participant(
        self, req: proto_sip.TransferSIPParticipantRequest
    ) -> proto_sip.TransferSIPParticipantResponse:
        if not req.room_name or not req.participant_identity:
            raise _TwirpError(
                400, "invalid_argument", "room_name and participant_identity required"
            )
        if not req.transfer_to.startswith(("tel:", "sip:")):
            raise _TwirpError(400, "invalid_argument", "transfer_to must be a tel: or sip: URI")
        outcome = self._next_sip_outcome()
        self._raise_sip_error(outcome)
        if outcome.failed_reason:
            return proto_sip.TransferSIPParticipantResponse(
                transfer_id=f"TR_{uuid.uuid4().hex[:12]}",
                status=proto_sip.STS_TRANSFER_FAILED,
                reason=proto_sip.SIPTransferReason.Value(outcome.failed_reason),
            )
        return proto_sip.TransferSIPParticipantResponse(
            transfer_id=f"TR_{uuid.uuid4().hex[:12]}",
            status=proto_sip.STS_TRANSFER_SUCCESSFUL,
            reason=proto_sip.STR_COMPLETED,
        )

    # ---- SIP service: trunks and dispatch rules ----------------------------------------
    # What LiveKit's SIP service keeps; requests are recorded like any other (so tests
    # assert exactly what Voxie sent, an outbound trunk's password included).

    def _sip_create_inbound(
        self, req: proto_sip.CreateSIPInboundTrunkRequest
    ) -> proto_sip.SIPInboundTrunkInfo:
        trunk = proto_sip.SIPInboundTrunkInfo()
        trunk.CopyFrom(req.trunk)
        if not trunk.numbers:
            raise _TwirpError(400, "invalid_argument", "an inbound trunk needs numbers")
        trunk.sip_trunk_id = _sip_id("ST")
        with self._lock:
            self.inbound_trunks[trunk.sip_trunk_id] = trunk
        return trunk

    def _sip_list_inbound(
        self, req: proto_sip.ListSIPInboundTrunkRequest
    ) -> proto_sip.ListSIPInboundTrunkResponse:
        with self._lock:
            items = [
                t
                for t in self.inbound_trunks.values()
                if not req.trunk_ids or t.sip_trunk_id in req.trunk_ids
            ]
        return proto_sip.ListSIPInboundTrunkResponse(items=items)

    def _sip_create_outbound(
        self, req: proto_sip.CreateSIPOutboundTrunkRequest
    ) -> proto_sip.SIPOutboundTrunkInfo:
        trunk = proto_sip.SIPOutboundTrunkInfo()
        trunk.CopyFrom(req.trunk)
        if not trunk.address:
            raise _TwirpError(400, "invalid_argument", "an outbound trunk needs an address")
        trunk.sip_trunk_id = _sip_id("ST")
        with self._lock:
            self.outbound_trunks[trunk.sip_trunk_id] = trunk
        return trunk

    def _sip_update_outbound(
        self, req: proto_sip.UpdateSIPOutboundTrunkRequest
    ) -> proto_sip.SIPOutboundTrunkInfo:
        with self._lock:
            trunk = self.outbound_trunks.get(req.sip_trunk_id)
            if trunk is None:
                raise _TwirpError(404, "not_found", f"no trunk {req.sip_trunk_id}")
            if req.HasField("replace"):
                trunk.CopyFrom(req.replace)
                trunk.sip_trunk_id = req.sip_trunk_id
            else:
                update = req.update
                for name in ("address", "auth_username", "auth_password", "name", "metadata"):
                    if update.HasField(name):
                        setattr(trunk, name, getattr(update, name))
                if update.HasField("transport"):
                    trunk.transport = update.transport
                if update.HasField("numbers") and update.numbers.set:
                    del trunk.numbers[:]
                    trunk.numbers.extend(update.numbers.set)
            return trunk

    def _sip_list_outbound(
        self, req: proto_sip.ListSIPOutboundTrunkRequest
    ) -> proto_sip.ListSIPOutboundTrunkResponse:
        with self._lock:
            items = [
                t
                for t in self.outbound_trunks.values()
                if not req.trunk_ids or t.sip_trunk_id in req.trunk_ids
            ]
        return proto_sip.ListSIPOutboundTrunkResponse(items=items)

    def _sip_delete_trunk(self, req: proto_sip.DeleteSIPTrunkRequest) -> proto_sip.SIPTrunkInfo:
        with self._lock:
            inbound = self.inbound_trunks.pop(req.sip_trunk_id, None)
            outbound = self.outbound_trunks.pop(req.sip_trunk_id, None)
        if inbound is None and outbound is None:
            raise _TwirpError(404, "not_found", f"no trunk {req.sip_trunk_id}")
        kind = (
            proto_sip.SIPTrunkInfo.TRUNK_INBOUND
            if inbound
            else proto_sip.SIPTrunkInfo.TRUNK_OUTBOUND
        )
        return proto_sip.SIPTrunkInfo(sip_trunk_id=req.sip_trunk_id, kind=kind)

    def _sip_check_rule(self, rule: proto_sip.SIPDispatchRuleInfo) -> None:
        """LiveKit refuses a rule that would compete with another for the same calls
        (same trunk, or both on every trunk, neither with a PIN); the lock is held."""
        if rule.rule.WhichOneof("rule") is None:
            raise _TwirpError(400, "invalid_argument", "a dispatch rule needs a rule")
        mine = set(rule.trunk_ids)
        for other in self.dispatch_rules.values():
            if other.sip_dispatch_rule_id == rule.sip_dispatch_rule_id:
                continue
            theirs = set(other.trunk_ids)
            if (mine & theirs) or not mine or not theirs:  # no trunks: every trunk
                raise _TwirpError(
                    400,
                    "invalid_argument",
                    f"Conflicting SIP Dispatch Rules: same trunk as {other.sip_dispatch_rule_id}",
                )

    def _sip_create_rule(
        self, req: proto_sip.CreateSIPDispatchRuleRequest
    ) -> proto_sip.SIPDispatchRuleInfo:
        rule = proto_sip.SIPDispatchRuleInfo()
        if req.HasField("dispatch_rule"):
            rule.CopyFrom(req.dispatch_rule)
        else:  # the older flat fields
            rule.rule.CopyFrom(req.rule)
            rule.trunk_ids.extend(req.trunk_ids)
            rule.name, rule.metadata = req.name, req.metadata
            rule.room_config.CopyFrom(req.room_config)
        rule.sip_dispatch_rule_id = _sip_id("SDR")
        with self._lock:
            self._sip_check_rule(rule)
            self.dispatch_rules[rule.sip_dispatch_rule_id] = rule
        return rule

    def _sip_update_rule(
        self, req: proto_sip.UpdateSIPDispatchRuleRequest
    ) -> proto_sip.SIPDispatchRuleInfo:
        with self._lock:
            rule = self.dispatch_rules.get(req.sip_dispatch_rule_id)
            if rule is None:
                raise _TwirpError(404, "not_found", f"no dispatch rule {req.sip_dispatch_rule_id}")
            changed = proto_sip.SIPDispatchRuleInfo()
            changed.CopyFrom(rule)
            if req.HasField("replace"):
                changed.CopyFrom(req.replace)
            else:
                update = req.update
                if update.HasField("rule"):
                    changed.rule.CopyFrom(update.rule)
                for name in ("name", "metadata"):
                    if update.HasField(name):
                        setattr(changed, name, getattr(update, name))
                if update.HasField("trunk_ids") and update.trunk_ids.set:
                    del changed.trunk_ids[:]
                    changed.trunk_ids.extend(update.trunk_ids.set)
            changed.sip_dispatch_rule_id = req.sip_dispatch_rule_id
            self._sip_check_rule(changed)
            rule.CopyFrom(changed)
            return rule

    def _sip_list_rules(
        self, req: proto_sip.ListSIPDispatchRuleRequest
    ) -> proto_sip.ListSIPDispatchRuleResponse:
        with self._lock:
            items = [
                r
                for r in self.dispatch_rules.values()
                if (not req.dispatch_rule_ids or r.sip_dispatch_rule_id in req.dispatch_rule_ids)
                and (not req.trunk_ids or set(r.trunk_ids) & set(req.trunk_ids))
            ]
        return proto_sip.ListSIPDispatchRuleResponse(items=items)

    def _sip_delete_rule(
        self, req: proto_sip.DeleteSIPDispatchRuleRequest
    ) -> proto_sip.SIPDispatchRuleInfo:
        with self._lock:
            rule = self.dispatch_rules.pop(req.sip_dispatch_rule_id, None)
        if rule is None:
            raise _TwirpError(404, "not_found", f"no dispatch rule {req.sip_dispatch_rule_id}")
        return rule
