"""Place one outbound phone call: LiveKit's `CreateSIPParticipant`, and what came of it.

LiveKit's SIP service dials the callee through an outbound trunk and brings the call
into a room as a SIP participant. With `wait_until_answered` the request returns once
the callee picks up, or fails with a Twirp error whose metadata carries the SIP final
response (`sip_status_code`, `sip_status`; e.g. "486" / "Busy Here"), which
`livekit-api` surfaces as `SipCallError`. This module turns that into one of Voxie's
dial statuses (`DIAL_STATUSES`); anything that is not a SIP answer (LiveKit
unreachable, a bad token, our own timeout) is `ProviderFailed`.

Region failover is off for this request: a retried dial can ring a person twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from livekit import api
from livekit.protocol import sip as proto_sip

from voxie_app.services.errors import ProviderFailed
from voxie_app.services.livekit_gateway import require_livekit
from voxie_app.settings import Settings

# ringing: dialled, no final answer yet (what the row says while the request waits).
DIAL_STATUSES = ("ringing", "answered", "no_answer", "busy", "failed")
# SIP final responses that mean the callee was reached but would not take the call
# now (486 Busy Here, 600 Busy Everywhere, 603 Decline), or never picked up (408
# Request Timeout, 480 Temporarily Unavailable, 487 Request Terminated: our ringing
# timeout cancelled the INVITE). Everything else (404, 403, 5xx) is `failed`.
BUSY_CODES = frozenset({486, 600, 603})
NO_ANSWER_CODES = frozenset({408, 480, 487})
# How long the phone may ring before LiveKit gives up (sent as `ringing_timeout`).
RINGING_TIMEOUT_S = 30
# The request outlasts the ringing by this much (livekit-api adds 2 s; so do we, for
# the whole exchange including the connection).
REQUEST_MARGIN_S = 10
MAX_CALL_DURATION_S = 60 * 60


@dataclass(frozen=True)
class DialOutcome:
    """How the dial ended: `status` is one of `DIAL_STATUSES` but `ringing`."""

    status: str
    sip_status_code: int | None = None
    sip_status_reason: str = ""
    sip_call_id: str | None = None
    participant_identity: str = ""

    @property
    def answered(self) -> bool:
        return self.status == "answered"

    def describe(self) -> str:
        """ "busy (486 Busy Here)": what the row's end reason and the UI say."""
        if self.sip_status_code is None and not self.sip_status_reason:
            return self.status
        sip = " ".join(p for p in (str(self.sip_status_code or ""), self.sip_status_reason) if p)
        return f"{self.status} ({sip})"


def classify(code: int | None) -> str:
    """A SIP final response code as a dial status."""
    if code is None:
        return "failed"
    if 200 <= code < 300:
        return "answered"
    if code in BUSY_CODES:
        return "busy"
    if code in NO_ANSWER_CODES:
        return "no_answer"
    return "failed"


def _sip_outcome(err: api.SipCallError, identity: str) -> DialOutcome:
    code = err.sip_status_code
    reason = (err.sip_status or err.message or "")[:200]
    return DialOutcome(
        status=classify(code),
        sip_status_code=code,
        sip_status_reason=reason,
        participant_identity=identity,
    )


class SipDialer:
    """`dial` one number; one instance per call is fine (it holds no connection)."""

    def __init__(self, settings: Settings, *, ringing_timeout_s: int = RINGING_TIMEOUT_S) -> None:
        require_livekit(settings)
        self.settings = settings
        self.ringing_timeout_s = ringing_timeout_s

    def request(
        self,
        *,
        trunk_id: str,
        to: str,
        from_number: str,
        room_name: str,
        identity: str,
        display_name: str,
        attributes: dict[str, str] | None = None,
    ) -> proto_sip.CreateSIPParticipantRequest:
        """The `CreateSIPParticipantRequest` Voxie sends (separate so tests can read it)."""
        req = proto_sip.CreateSIPParticipantRequest(
            sip_trunk_id=trunk_id,
            sip_call_to=to,
            sip_number=from_number,
            room_name=room_name,
            participant_identity=identity,
            participant_name=display_name,
            participant_attributes=attributes or {},
            wait_until_answered=True,
            play_dialtone=False,
            krisp_enabled=True,
        )
        req.ringing_timeout.seconds = self.ringing_timeout_s
        req.max_call_duration.seconds = MAX_CALL_DURATION_S
        return req

    async def dial(self, req: proto_sip.CreateSIPParticipantRequest) -> DialOutcome:
        """Send `req` and wait for the answer; a SIP refusal is an outcome, not an error."""
        assert self.settings.livekit_api_secret is not None
        budget = self.ringing_timeout_s + REQUEST_MARGIN_S
        try:
            async with (
                asyncio.timeout(budget),
                api.LiveKitAPI(
                    url=self.settings.livekit_url,
                    api_key=self.settings.livekit_api_key,
                    api_secret=self.settings.livekit_api_secret.get_secret_value(),
                    timeout=aiohttp.ClientTimeout(total=budget),
                    failover=False,
                ) as lk,
            ):
                info = await lk.sip.create_sip_participant(req, timeout=budget)
        except api.SipCallError as err:
            return _sip_outcome(err, req.participant_identity)
        except api.TwirpError as err:
            if err.code == api.TwirpErrorCode.DEADLINE_EXCEEDED:  # rang out, no SIP code
                return DialOutcome(
                    status="no_answer",
                    sip_status_reason=(err.message or "no answer")[:200],
                    participant_identity=req.participant_identity,
                )
            raise ProviderFailed(
                f"LiveKit could not place the call: {err.code}: {err.message}"
            ) from err
        except TimeoutError as err:
            raise ProviderFailed(f"LiveKit gave no answer within {budget} s") from err
        except (aiohttp.ClientError, OSError) as err:
            raise ProviderFailed(
                f"LiveKit could not place the call: {err.__class__.__name__}"
            ) from err
        return DialOutcome(
            status="answered",
            sip_status_code=200,
            sip_status_reason="OK",
            sip_call_id=info.sip_call_id or None,
            participant_identity=info.participant_identity or req.participant_identity,
        )
