""" "Check LiveKit" on the settings page: can we reach the server API with our keys?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
from livekit import api

from voxie_app.settings import Settings

CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveKitCheck:
    ok: bool
    message: str
    missing: list[str] = field(default_factory=list)
    rooms: int | None = None


async def check_livekit(settings: Settings, *, limit_s: float = CHECK_TIMEOUT_S) -> LiveKitCheck:
    """List rooms with the configured URL and keys; never raises, never shows a secret."""
    missing = settings.missing_livekit_settings()
    if missing:
        return LiveKitCheck(False, f"LiveKit is not configured: set {', '.join(missing)}.", missing)
    assert settings.livekit_api_secret is not None
    try:
        async with asyncio.timeout(limit_s):
            lk = api.LiveKitAPI(
                url=settings.livekit_url,
                api_key=settings.livekit_api_key,
                api_secret=settings.livekit_api_secret.get_secret_value(),
                timeout=aiohttp.ClientTimeout(total=limit_s),
            )
            async with lk:
                response = await lk.room.list_rooms(api.ListRoomsRequest())
    except api.TwirpError as exc:
        detail = f"{exc.code}: {exc.message}" if exc.message else str(exc.code)
        return LiveKitCheck(False, f"LiveKit answered with an error: {detail}")
    except TimeoutError:
        return LiveKitCheck(False, f"LiveKit did not answer within {limit_s:g} seconds.")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return LiveKitCheck(False, f"Could not reach LiveKit: {exc.__class__.__name__}: {exc}")
    n = len(response.rooms)
    return LiveKitCheck(
        True, f"Connected: LiveKit answered ({n} active room{'s' * (n != 1)}).", rooms=n
    )
