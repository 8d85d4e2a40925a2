"""LiveKit server API access (rooms, dispatch, tokens) through `livekit-api`.

Kept behind one small class so the calls service reads as bookkeeping and the
tests can point it at a local Twirp double by changing `LIVEKIT_URL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

import aiohttp
from livekit import api

from voxie_app.services.errors import NotConfigured, ProviderFailed
from voxie_app.settings import Settings

ROOM_EMPTY_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 10


def require_livekit(settings: Settings) -> None:
    missing = settings.missing_livekit_settings()
    if missing:
        raise NotConfigured("LiveKit", missing)


def participant_token(
    settings: Settings, *, room_name: str, identity: str, display_name: str
) -> str:
    """A browser token for one room and one identity: join only, short TTL, no admin."""
    require_livekit(settings)
    assert settings.livekit_api_secret is not None and settings.livekit_api_key
    grants = api.VideoGrants(
        room_join=True,
        room=room_name,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        room_create=False,
        room_admin=False,
        room_record=False,
        room_list=False,
        agent=False,
    )
    return (
        api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
        .with_identity(identity)
        .with_name(display_name)
        .with_ttl(timedelta(seconds=settings.token_ttl_seconds))
        .with_grants(grants)
        .to_jwt()
    )


def browser_url(settings: Settings) -> str:
    """The websocket URL the browser connects to (may differ from the server-side URL)."""
    url = settings.livekit_public_url or settings.livekit_url or ""
    return url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)


_LIVEKIT_ERRORS = (api.TwirpError, aiohttp.ClientError, TimeoutError, OSError)


class LiveKitGateway:
    """Create rooms, dispatch the worker, delete rooms."""

    def __init__(self, settings: Settings) -> None:
        require_livekit(settings)
        self.settings = settings

    def _client(self) -> api.LiveKitAPI:
        assert self.settings.livekit_api_secret is not None
        return api.LiveKitAPI(
            url=self.settings.livekit_url,
            api_key=self.settings.livekit_api_key,
            api_secret=self.settings.livekit_api_secret.get_secret_value(),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        )

    async def create_room_and_dispatch(self, *, room_name: str, metadata: dict[str, Any]) -> str:
        """Create the room and dispatch the worker into it; returns the dispatch id.

        If the dispatch fails after the room exists, the room is deleted (best
        effort) so no empty room waits for a worker that will never come.
        """
        payload = json.dumps(metadata)
        room_created = False
        try:
            # livekit-api passes `timeout=None` per request, which disables the
            # session timeout in aiohttp; bound the whole exchange ourselves.
            async with asyncio.timeout(REQUEST_TIMEOUT_S), self._client() as lk:
                await lk.room.create_room(
                    api.CreateRoomRequest(
                        name=room_name, empty_timeout=ROOM_EMPTY_TIMEOUT_S, max_participants=4
                    )
                )
                room_created = True
                dispatch = await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(
                        agent_name=self.settings.agent_name, room=room_name, metadata=payload
                    )
                )
                return dispatch.id
        except _LIVEKIT_ERRORS as exc:
            if room_created:
                with contextlib.suppress(ProviderFailed):
                    await self.delete_room(room_name)
            raise ProviderFailed(f"LiveKit request failed: {_describe(exc)}") from exc

    async def delete_room(self, room_name: str) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S), self._client() as lk:
                await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))
        except _LIVEKIT_ERRORS as exc:
            raise ProviderFailed(f"LiveKit request failed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, api.TwirpError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {REQUEST_TIMEOUT_S}s"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
