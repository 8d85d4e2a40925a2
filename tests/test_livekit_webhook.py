"""LiveKit webhooks: signature checked, stale and bad ones refused, each handled once."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from google.protobuf.json_format import MessageToJson
from livekit import api

from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import CallSession
from voxie_app.settings import Settings

KEY, SECRET = "devkey", "a-secret-of-at-least-32-characters-long!"


@pytest.fixture
def client(db: str, configure: Callable[..., Settings]) -> Iterator[TestClient]:
    configure(LIVEKIT_URL="http://127.0.0.1:9", LIVEKIT_API_KEY=KEY, LIVEKIT_API_SECRET=SECRET)
    with TestClient(create_api()) as c:
        yield c


def _call(room: str) -> uuid.UUID:
    with session_scope() as s:
        call = CallSession(session_id="s", room_name=room)
        s.add(call)
    return call.id


def _status(call_id: uuid.UUID) -> tuple[str, str | None]:
    with session_scope() as s:
        call = s.get(CallSession, call_id)
        return call.call_status, call.end_reason


def _send(
    client: TestClient,
    event: str,
    room: str,
    *,
    identity: str = "",
    event_id: str | None = None,
    created_at: int | None = None,
    secret: str = SECRET,
    tamper: bool = False,
):
    ev = api.WebhookEvent(
        event=event,
        id=event_id or uuid.uuid4().hex,
        created_at=created_at or int(time.time()),
        room=api.Room(name=room),
        participant=api.ParticipantInfo(identity=identity),
    )
    body = MessageToJson(ev)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = api.AccessToken(KEY, secret).with_sha256(digest).to_jwt()
    if tamper:
        body = body.replace(room, room + "-x")
    return client.post(
        "/api/livekit/webhook",
        content=body,
        headers={"Authorization": token, "Content-Type": "application/webhook+json"},
    )


def test_room_finished_ends_the_call_once(client: TestClient) -> None:
    call_id = _call("room-a")
    r = _send(client, "room_finished", "room-a", event_id="ev-1")
    assert r.status_code == 200 and r.json()["outcome"] == "call ended"
    assert _status(call_id) == ("completed", "room_finished")
    again = _send(client, "room_finished", "room-a", event_id="ev-1")
    assert again.json()["outcome"] == "duplicate"


def test_caller_leaving_ends_the_call_but_not_the_agent_leaving(client: TestClient) -> None:
    call_id = _call("room-b")
    assert (
        _send(client, "participant_left", "room-b", identity="agent-AJ_x").json()["outcome"]
        == "ignored"
    )
    assert _status(call_id)[0] == "active"
    r = _send(client, "participant_left", "room-b", identity="caller-abc")
    assert r.json()["outcome"] == "call ended"
    assert _status(call_id) == ("completed", "caller_left")


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"secret": "not-the-right-secret-but-long-enough!!"}, "signature"),
        ({"tamper": True}, "hash mismatch"),
        ({"created_at": int(time.time()) - 3600}, "stale"),
    ],
)
def test_bad_or_stale_webhooks_are_refused(client: TestClient, kwargs: dict, why: str) -> None:
    call_id = _call("room-c")
    r = _send(client, "room_finished", "room-c", **kwargs)
    assert r.status_code == 401
    assert why in r.json()["detail"]
    assert _status(call_id)[0] == "active"


def test_missing_signature_is_refused(client: TestClient) -> None:
    r = client.post("/api/livekit/webhook", content=b"{}")
    assert r.status_code == 401
