"""Cold transfer of a phone call: LiveKit's `TransferSIPParticipant` (a SIP REFER).

The caller's SIP leg is handed to another number by the SIP service; the caller
leaves the room when the far end takes the call. Only numbers Voxie picked from the
agent's spec come here (`voice_worker.human_transfer`), never one the model chose.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from livekit import api
from livekit.protocol import sip as proto_sip

from voxie_app.services.errors import NotConfigured
from voxie_app.services.livekit_gateway import _describe, require_livekit
from voxie_app.settings import Settings

# Dialling the far end rings for a while: longer than an ordinary API request.
TRANSFER_TIMEOUT_S = 60
_ERRORS = (api.TwirpError, aiohttp.ClientError, TimeoutError, OSError)


@dataclass(frozen=True)
class TransferOutcome:
    """How a transfer went; `detail` is short, for the caller-facing apology and the log."""

    ok: bool
    detail: str = ""


def tel_uri(number: str) -> str:
    """The `transfer_to` LiveKit expects for a phone number: `tel:+14155550123`."""
    return f"tel:{number}"


async def transfer_sip_participant(
    settings: Settings, *, room_name: str, participant_identity: str, number: str
) -> TransferOutcome:
    """Ask LiveKit to transfer the caller's SIP participant to `number` (E.164)."""
    try:
        require_livekit(settings)
    except NotConfigured as exc:
        return TransferOutcome(False, exc.message)
    assert settings.livekit_api_secret is not None
    request = api.TransferSIPParticipantRequest(
        participant_identity=participant_identity,
        room_name=room_name,
        transfer_to=tel_uri(number),
        play_dialtone=False,
    )
    try:
        async with (
            asyncio.timeout(TRANSFER_TIMEOUT_S),
            api.LiveKitAPI(
                url=settings.livekit_url,
                api_key=settings.livekit_api_key,
                api_secret=settings.livekit_api_secret.get_secret_value(),
            ) as lk,
        ):
            response = await lk.sip.transfer_sip_participant(request)
    except api.SipCallError as exc:
        code, status = exc.sip_status_code, exc.sip_status or exc.sip_transfer_reason or ""
        return TransferOutcome(False, f"SIP {code} {status}".strip() if code else _describe(exc))
    except _ERRORS as exc:
        return TransferOutcome(False, _describe(exc))
    if response.status == proto_sip.STS_TRANSFER_FAILED:
        reason = proto_sip.SIPTransferReason.Name(response.reason)
        code = response.sip_status.code if response.HasField("sip_status") else 0
        return TransferOutcome(False, f"{reason} (SIP {code})" if code else reason)
    return TransferOutcome(True)
