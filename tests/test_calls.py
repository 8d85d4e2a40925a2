"""`/api/call/start` and `/api/call/end` against a local LiveKit double, on both databases.

The LiveKit double (tests/doubles/livekit_server.py) checks the JWT each API
request carries and records what it was asked, so these tests see exactly
which rooms and dispatches Voxie creates and which token the browser gets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import aiohttp
import jwt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from livekit import api
from sqlmodel import Session, select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble, closed_port_url
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Agent, CallSession, Event
from voxie_app.services import call_limits, livekit_gateway
from voxie_app.services.errors import NotConfigured
from voxie_app.services.livekit_gateway import browser_url, participant_token
from voxie_app.settings import Settings

API_KEY = "devkey"
API_SECRET = "a-secret-of-at-least-32-characters-long!"
INSTRUCTIONS = "You are a receptionist."
SPEC = {"name": "Dental Bot", "instructions": INSTRUCTIONS, "greeting": "Hi!"}
LIVEKIT_SETTINGS = ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]
# A failing LiveKit must answer quickly: no retry storm, no long backoff.
FAIL_FAST_S = 3.0
# Grants a browser participant must never get.
FORBIDDEN_GRANTS = ("roomAdmin", "roomCreate", "roomRecord", "roomList", "agent", "ingressAdmin")


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


@pytest.fixture
def livekit(
    db: str, configure: Callable[..., Settings], livekit_double: LiveKitDouble
) -> LiveKitDouble:
    """LiveKit configured to point at the double (after the database is set up)."""
    configure(
        LIVEKIT_URL=livekit_double.url,
        LIVEKIT_API_KEY=API_KEY,
        LIVEKIT_API_SECRET=API_SECRET,
        VOXIE_AGENT_NAME=None,
        VOXIE_TOKEN_TTL_SECONDS=None,
    )
    return livekit_double


def create_agent(client: TestClient, **spec: object) -> str:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {"business": "dental"}, "processed_spec": {**SPEC, **spec}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ready"
    return r.json()["agent_id"]


def call_rows() -> list[CallSession]:
    with session_scope() as session:
        return list(session.exec(select(CallSession)).all())


def call_row(call_id: str) -> CallSession:
    with session_scope() as session:
        row = session.get(CallSession, uuid.UUID(call_id))
        assert row is not None
        return row


def decode_token(token: str, secret: str = API_SECRET) -> dict:
    return jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        issuer=API_KEY,
        options={"require": ["exp", "nbf", "sub", "iss"]},
    )


def assert_ttl(claims: dict, seconds: int) -> None:
    # livekit-api reads the clock twice (nbf, then exp), whole seconds: allow +1.
    assert seconds <= claims["exp"] - claims["nbf"] <= seconds + 1, claims


def timed_post(client: TestClient, url: str, body: dict) -> tuple[object, float]:
    started = time.monotonic()
    r = client.post(url, json=body)
    return r, time.monotonic() - started


# ---- starting a call ----------------------------------------------------------


def test_start_call_creates_room_dispatch_and_browser_token(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = create_agent(client)
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"server_url", "room_name", "participant_token", "call_session_id"}
    assert body["server_url"] == livekit.ws_url
    room_name = body["room_name"]
    call_id = body["call_session_id"]
    uuid.UUID(call_id)
    assert room_name
    assert API_SECRET not in r.text and INSTRUCTIONS not in r.text

    # LiveKit was asked for exactly: the room, then the dispatch into it.
    assert [(q.service, q.method) for q in livekit.requests] == [
        ("RoomService", "CreateRoom"),
        ("AgentDispatchService", "CreateDispatch"),
    ]
    create_room, dispatch = livekit.requests
    assert create_room.body["name"] == room_name
    assert create_room.body.get("empty_timeout", 0) > 0
    assert dispatch.body["agent_name"] == "voxie"
    assert dispatch.body["room"] == room_name
    assert json.loads(dispatch.body["metadata"]) == {
        "call_session_id": call_id,
        "agent_id": agent_id,
    }
    assert INSTRUCTIONS not in dispatch.body["metadata"]
    # Server-side requests are signed with the configured key (checked by the double).
    assert create_room.claims["iss"] == API_KEY and dispatch.claims["iss"] == API_KEY
    assert room_name in livekit.rooms
    assert [d.room for d in livekit.dispatches] == [room_name]

    # The browser token: join this one room, nothing more, for 15 minutes.
    token = body["participant_token"]
    claims = decode_token(token)
    video = claims["video"]
    assert video["roomJoin"] is True
    assert video["room"] == room_name
    for grant in FORBIDDEN_GRANTS:
        assert not video.get(grant), f"browser token has {grant}"
    for section in ("sip", "agent", "inference", "observability", "agentEndpoint"):
        assert not claims.get(section), f"browser token has {section} grants"
    assert claims["sub"]
    assert claims["sub"] != API_KEY
    assert_ttl(claims, 900)
    decoded_text = json.dumps(claims)
    assert API_SECRET not in decoded_text and INSTRUCTIONS not in decoded_text
    assert INSTRUCTIONS not in claims.get("metadata", "")
    with pytest.raises(jwt.InvalidSignatureError):
        decode_token(token, secret="another-secret-of-at-least-32-characters")

    # The call is on record as active, for this agent and room.
    rows = call_rows()
    assert len(rows) == 1
    row = rows[0]
    assert str(row.id) == call_id
    assert str(row.agent_id) == agent_id
    assert row.room_name == room_name
    assert row.call_status == "active"
    assert row.ended_at is None and row.end_reason is None
    assert isinstance(row.started_at, datetime)


def test_start_call_publishes_event_and_rooms_are_unique(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = create_agent(client)
    first = client.post("/api/call/start", json={"agent_id": agent_id}).json()
    second = client.post("/api/call/start", json={"agent_id": agent_id}).json()
    assert first["room_name"] != second["room_name"]
    assert first["call_session_id"] != second["call_session_id"]
    assert first["participant_token"] != second["participant_token"]
    assert (
        decode_token(first["participant_token"])["sub"]
        != (decode_token(second["participant_token"])["sub"])
    )
    assert len(call_rows()) == 2
    with session_scope() as session:
        kinds = session.exec(select(Event.kind).where(Event.stream == "calls")).all()
    assert list(kinds).count("call_started") == 2


def test_custom_agent_name_is_dispatched(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_AGENT_NAME="dental-worker")
    agent_id = create_agent(client)
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 200, r.text
    (dispatch,) = livekit.calls("CreateDispatch")
    assert dispatch.body["agent_name"] == "dental-worker"
    assert dispatch.body["room"] == r.json()["room_name"]


def test_token_ttl_setting_and_public_url(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_TOKEN_TTL_SECONDS="120", LIVEKIT_PUBLIC_URL="wss://calls.example.com")
    r = client.post("/api/call/start", json={"agent_id": create_agent(client)})
    assert r.status_code == 200, r.text
    assert r.json()["server_url"] == "wss://calls.example.com"
    assert_ttl(decode_token(r.json()["participant_token"]), 120)


def test_websocket_livekit_url_works_for_the_server_api(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    """LIVEKIT_URL is often given as ws://; the API calls still reach the server."""
    configure(LIVEKIT_URL=livekit.ws_url)
    r = client.post("/api/call/start", json={"agent_id": create_agent(client)})
    assert r.status_code == 200, r.text
    assert r.json()["server_url"] == livekit.ws_url
    assert [q.method for q in livekit.requests] == ["CreateRoom", "CreateDispatch"]


# ---- ending a call --------------------------------------------------------------


def test_end_call_completes_deletes_room_and_is_idempotent(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    started = client.post("/api/call/start", json={"agent_id": create_agent(client)}).json()
    call_id, room_name = started["call_session_id"], started["room_name"]

    r = client.post("/api/call/end", json={"call_session_id": call_id})
    assert r.status_code == 200, r.text
    ended = r.json()
    assert ended["id"] == call_id
    assert ended["room_name"] == room_name
    assert ended["call_status"] == "completed"
    assert ended["ended_at"] is not None
    assert ended["duration_seconds"] is not None and ended["duration_seconds"] >= 0
    assert ended["end_reason"]
    assert datetime.fromisoformat(ended["ended_at"]) >= datetime.fromisoformat(ended["started_at"])
    (delete,) = livekit.calls("DeleteRoom")
    assert delete.body == {"room": room_name}
    assert room_name not in livekit.rooms

    row = call_row(call_id)
    assert row.call_status == "completed"
    assert row.ended_at is not None and row.end_reason == ended["end_reason"]

    again = client.post("/api/call/end", json={"call_session_id": call_id})
    assert again.status_code == 200, again.text
    assert again.json()["ended_at"] == ended["ended_at"]
    assert again.json()["call_status"] == "completed"
    assert again.json()["duration_seconds"] == ended["duration_seconds"]
    assert call_row(call_id).ended_at == row.ended_at
    with session_scope() as session:
        kinds = session.exec(select(Event.kind).where(Event.stream == "calls")).all()
    assert list(kinds).count("call_ended") == 1


def test_end_call_still_ends_when_livekit_cannot_delete_the_room(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    call_id = client.post("/api/call/start", json={"agent_id": create_agent(client)}).json()[
        "call_session_id"
    ]
    livekit.fail_next("DeleteRoom", 500, "internal", "room service down")
    r, elapsed = timed_post(client, "/api/call/end", {"call_session_id": call_id})
    assert r.status_code == 200, r.text
    assert r.json()["call_status"] == "completed"
    assert elapsed < FAIL_FAST_S
    assert len(livekit.calls("DeleteRoom")) == 1


def test_end_call_without_livekit_settings_still_ends(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    call_id = client.post("/api/call/start", json={"agent_id": create_agent(client)}).json()[
        "call_session_id"
    ]
    configure(LIVEKIT_URL=None)
    r = client.post("/api/call/end", json={"call_session_id": call_id})
    assert r.status_code == 200, r.text
    assert r.json()["call_status"] == "completed"
    assert livekit.calls("DeleteRoom") == []


# ---- LiveKit not configured ------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, LIVEKIT_SETTINGS),
        ({"LIVEKIT_URL": "http://127.0.0.1:7880"}, ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]),
        (
            {"LIVEKIT_URL": "http://127.0.0.1:7880", "LIVEKIT_API_KEY": API_KEY},
            ["LIVEKIT_API_SECRET"],
        ),
        (
            {"LIVEKIT_API_KEY": API_KEY, "LIVEKIT_API_SECRET": "   "},
            ["LIVEKIT_URL", "LIVEKIT_API_SECRET"],
        ),
    ],
    ids=["nothing", "url-only", "no-secret", "blank-secret"],
)
def test_start_call_without_livekit_settings_is_503_and_writes_nothing(
    client: TestClient,
    configure: Callable[..., Settings],
    env: dict[str, str],
    missing: list[str],
) -> None:
    agent_id = create_agent(client)
    configure(**env)
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["missing_settings"] == missing
    for name in missing:
        assert name in body["detail"]
    for name in set(LIVEKIT_SETTINGS) - set(missing):
        assert name not in body["missing_settings"]
    assert "LiveKit" in body["detail"]
    assert call_rows() == []


# ---- LiveKit failing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status", "code"),
    [
        ("CreateRoom", 503, "unavailable"),
        ("CreateRoom", 500, "internal"),
        ("CreateDispatch", 503, "unavailable"),
        ("CreateDispatch", 500, "internal"),
        ("CreateDispatch", 400, "invalid_argument"),
    ],
)
def test_livekit_error_is_502_and_call_marked_failed(
    client: TestClient, livekit: LiveKitDouble, method: str, status: int, code: str
) -> None:
    agent_id = create_agent(client)
    livekit.fail_next(method, status, code, f"{method} exploded")
    r, elapsed = timed_post(client, "/api/call/start", {"agent_id": agent_id})
    assert r.status_code == 502, r.text
    detail = r.json()["detail"]
    assert "LiveKit" in detail and f"{method} exploded" in detail and code in detail
    assert "participant_token" not in r.json()
    assert elapsed < FAIL_FAST_S, f"failing call/start took {elapsed:.1f}s"
    # No silent retries against the failing method.
    assert len(livekit.calls(method)) == 1
    if method == "CreateRoom":
        assert livekit.calls("CreateDispatch") == []
        assert livekit.calls("DeleteRoom") == []
    else:  # the room made for a failed dispatch is removed again
        (deleted,) = livekit.calls("DeleteRoom")
        assert deleted.body["room"] == livekit.calls("CreateRoom")[0].body["name"]

    (row,) = call_rows()
    assert str(row.agent_id) == agent_id
    assert row.call_status == "failed"
    assert row.ended_at is not None
    assert row.end_reason and f"{method} exploded" in row.end_reason
    assert row.duration_seconds is not None and row.duration_seconds >= 0
    assert row.room_name == livekit.calls("CreateRoom")[0].body["name"]


def test_livekit_unreachable_is_502_quickly(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    agent_id = create_agent(client)
    configure(LIVEKIT_URL=closed_port_url())
    r, elapsed = timed_post(client, "/api/call/start", {"agent_id": agent_id})
    assert r.status_code == 502, r.text
    assert "LiveKit" in r.json()["detail"]
    assert elapsed < FAIL_FAST_S, f"failing call/start took {elapsed:.1f}s"
    (row,) = call_rows()
    assert row.call_status == "failed"
    assert row.end_reason and "LiveKit" in row.end_reason
    assert livekit.requests == []


def test_livekit_rejecting_credentials_is_502(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    agent_id = create_agent(client)
    configure(LIVEKIT_API_SECRET="not-the-secret-the-server-knows-about!!")
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 502, r.text
    assert "unauthenticated" in r.json()["detail"]
    assert "not-the-secret" not in r.text
    (request,) = livekit.requests
    assert request.method == "CreateRoom" and request.claims == {}
    assert call_rows()[0].call_status == "failed"


def test_livekit_hanging_times_out_to_502(
    client: TestClient, livekit: LiveKitDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LiveKit that never answers is cut off by the request timeout."""
    monkeypatch.setattr(livekit_gateway, "REQUEST_TIMEOUT_S", 0.5)
    agent_id = create_agent(client)
    livekit.fail_next("CreateRoom", delay=30)
    r, elapsed = timed_post(client, "/api/call/start", {"agent_id": agent_id})
    assert r.status_code == 502, r.text
    assert "no answer within" in r.json()["detail"]
    assert elapsed < FAIL_FAST_S, f"hanging LiveKit held call/start for {elapsed:.1f}s"
    (row,) = call_rows()
    assert row.call_status == "failed" and row.end_reason
    assert len(livekit.calls("CreateRoom")) == 1


def test_livekit_hanging_on_delete_does_not_hold_call_end(
    client: TestClient, livekit: LiveKitDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = client.post("/api/call/start", json={"agent_id": create_agent(client)}).json()[
        "call_session_id"
    ]
    monkeypatch.setattr(livekit_gateway, "REQUEST_TIMEOUT_S", 0.5)
    livekit.fail_next("DeleteRoom", delay=30)
    r, elapsed = timed_post(client, "/api/call/end", {"call_session_id": call_id})
    assert r.status_code == 200, r.text
    assert r.json()["call_status"] == "completed"
    assert elapsed < FAIL_FAST_S, f"hanging LiveKit held call/end for {elapsed:.1f}s"


# ---- bad requests ------------------------------------------------------------------


def test_unknown_agent_is_404_and_writes_nothing(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    r = client.post("/api/call/start", json={"agent_id": str(uuid.uuid4())})
    assert r.status_code == 404, r.text
    assert "not found" in r.json()["detail"]
    assert call_rows() == []
    assert livekit.requests == []


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/call/start", {"agent_id": "not-a-uuid"}, "agent_id"),
        ("/api/call/start", {"agent_id": 42}, "agent_id"),
        ("/api/call/start", {}, "agent_id"),
        ("/api/call/start", {"agent_id": None}, "agent_id"),
        ("/api/call/end", {"call_session_id": "nope"}, "call_session_id"),
        ("/api/call/end", {}, "call_session_id"),
    ],
)
def test_malformed_ids_are_422_naming_the_field(
    client: TestClient, livekit: LiveKitDouble, url: str, body: dict, field: str
) -> None:
    r = client.post(url, json=body)
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == field for e in r.json()["detail"]), r.json()
    assert call_rows() == []
    assert livekit.requests == []


def test_extra_fields_are_rejected(client: TestClient, livekit: LiveKitDouble) -> None:
    agent_id = create_agent(client)
    r = client.post("/api/call/start", json={"agent_id": agent_id, "room_name": "mine"})
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == "room_name" for e in r.json()["detail"])
    r = client.post(
        "/api/call/end", json={"call_session_id": str(uuid.uuid4()), "status": "completed"}
    )
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == "status" for e in r.json()["detail"])
    assert call_rows() == []
    assert livekit.requests == []


def test_end_unknown_call_is_404(client: TestClient, livekit: LiveKitDouble) -> None:
    r = client.post("/api/call/end", json={"call_session_id": str(uuid.uuid4())})
    assert r.status_code == 404, r.text
    assert "not found" in r.json()["detail"]
    assert livekit.requests == []


def test_agent_not_ready_is_409(client: TestClient, livekit: LiveKitDouble) -> None:
    # Requirements only and no OPENAI_API_KEY: the creation pipeline ends `failed`.
    r = client.post("/api/agents/create", json={"user_requirements": {"business": "dental"}})
    assert r.status_code == 202, r.text
    agent_id = r.json()["agent_id"]
    agent = client.get(f"/api/agents/{agent_id}").json()
    assert agent["status"] == "failed"

    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 409, r.text
    assert "failed" in r.json()["detail"] and "not ready" in r.json()["detail"]
    assert call_rows() == []
    assert livekit.requests == []


def test_processing_agent_is_409(client: TestClient, livekit: LiveKitDouble) -> None:
    agent_id = create_agent(client)
    with session_scope() as session:
        agent = session.get(Agent, uuid.UUID(agent_id))
        assert agent is not None
        agent.status = "processing"
        session.add(agent)
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 409, r.text
    assert call_rows() == []


# ---- the token and URL helpers, directly ---------------------------------------------


def test_participant_token_unit(configure: Callable[..., Settings]) -> None:
    settings = configure(
        LIVEKIT_URL="http://127.0.0.1:7880",
        LIVEKIT_API_KEY=API_KEY,
        LIVEKIT_API_SECRET=API_SECRET,
        VOXIE_TOKEN_TTL_SECONDS="60",
    )
    assert settings.token_ttl_seconds == 60
    token = participant_token(
        settings, room_name="room-a", identity="caller-1", display_name="Caller"
    )
    claims = decode_token(token)
    assert claims["sub"] == "caller-1"
    assert claims["name"] == "Caller"
    assert claims["video"]["roomJoin"] is True
    assert claims["video"]["room"] == "room-a"
    for grant in FORBIDDEN_GRANTS:
        assert not claims["video"].get(grant)
    assert_ttl(claims, 60)
    assert claims["exp"] > time.time()

    default = configure(VOXIE_TOKEN_TTL_SECONDS=None)
    assert_ttl(
        decode_token(participant_token(default, room_name="r", identity="i", display_name="n")),
        900,
    )


def test_participant_token_requires_livekit(configure: Callable[..., Settings]) -> None:
    settings = configure(LIVEKIT_URL="http://127.0.0.1:7880")
    with pytest.raises(NotConfigured) as info:
        participant_token(settings, room_name="r", identity="i", display_name="n")
    assert info.value.missing == ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]


@pytest.mark.parametrize(
    ("url", "public", "expected"),
    [
        ("http://127.0.0.1:7880", None, "ws://127.0.0.1:7880"),
        ("https://lk.example.com", None, "wss://lk.example.com"),
        ("wss://lk.example.com", None, "wss://lk.example.com"),
        ("http://livekit:7880", "wss://calls.example.com", "wss://calls.example.com"),
    ],
)
def test_browser_url(
    configure: Callable[..., Settings], url: str, public: str | None, expected: str
) -> None:
    settings = configure(
        LIVEKIT_URL=url,
        LIVEKIT_API_KEY=API_KEY,
        LIVEKIT_API_SECRET=API_SECRET,
        LIVEKIT_PUBLIC_URL=public,
    )
    assert browser_url(settings) == expected


# ---- the double itself -----------------------------------------------------------------


def test_livekit_double_speaks_json_and_checks_tokens(livekit_double: LiveKitDouble) -> None:
    """The double must reject what a real server rejects, or the tests above prove little."""

    async def exercise() -> list[tuple[int, dict]]:
        url = f"{livekit_double.url}/twirp/livekit.RoomService/CreateRoom"
        good = api.AccessToken(API_KEY, API_SECRET).with_grants(api.VideoGrants(room_create=True))
        join_only = api.AccessToken(API_KEY, API_SECRET).with_identity("x")
        join_only.with_grants(api.VideoGrants(room_join=True, room="json-room"))
        forged = api.AccessToken(API_KEY, "forged-secret-forged-secret-forged-secret")
        forged.with_grants(api.VideoGrants(room_create=True))
        answers = []
        async with aiohttp.ClientSession() as http:
            for token in (good, join_only, forged, None):
                headers = {"Authorization": f"Bearer {token.to_jwt()}"} if token else {}
                async with http.post(url, json={"name": "json-room"}, headers=headers) as resp:
                    answers.append((resp.status, await resp.json()))
        return answers

    ok, no_grant, forged, missing = asyncio.run(exercise())
    assert ok[0] == 200 and ok[1]["name"] == "json-room" and ok[1]["sid"].startswith("RM_")
    assert no_grant == (403, no_grant[1]) and no_grant[1]["code"] == "permission_denied"
    assert forged[0] == 401 and forged[1]["code"] == "unauthenticated"
    assert missing[0] == 401 and missing[1]["code"] == "unauthenticated"
    assert [r.body.get("name") for r in livekit_double.requests] == ["json-room"] * 4
    assert list(livekit_double.rooms) == ["json-room"]


def test_builder_call_dispatches_voxie_with_its_log_session(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    r = client.post("/api/call/builder", json={"session_id": "builder-abc"})
    assert r.status_code == 200, r.text
    body = r.json()
    (dispatch,) = livekit.calls("CreateDispatch")
    assert json.loads(dispatch.body["metadata"]) == {
        "call_session_id": body["call_session_id"],
        "agent_id": None,
        "builder": True,
        "session_id": "builder-abc",
    }
    (row,) = call_rows()
    assert row.agent_id is None and row.primary_agent_type == "Voxie builder"
    bad = client.post("/api/call/builder", json={"session_id": "../../etc"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "session_id"]


def test_builder_call_without_livekit_is_503(
    client: TestClient, configure: Callable[..., Settings]
) -> None:
    r = client.post("/api/call/builder", json={})
    assert r.status_code == 503
    assert "LIVEKIT_URL" in r.json()["missing_settings"]
    assert call_rows() == []


# ---- concurrent-call limits (services.call_limits) ----------------------------------


def test_over_the_deployment_limit_call_start_is_429_naming_it(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_MAX_CONCURRENT_CALLS="2")
    agent_id = create_agent(client)
    with session_scope() as s:  # a text chat is not a call: it takes no slot
        s.add(
            CallSession(
                session_id="chat", agent_id=uuid.UUID(agent_id), room_name="chat-1", kind="chat"
            )
        )
    first = client.post("/api/call/start", json={"agent_id": agent_id}).json()
    assert client.post("/api/call/start", json={"agent_id": agent_id}).status_code == 200
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 429
    assert "takes 2 at once (VOXIE_MAX_CONCURRENT_CALLS)" in r.json()["detail"]
    assert r.headers["Retry-After"] == "10"
    builder = client.post("/api/call/builder", json={"session_id": "s1"})
    assert builder.status_code == 429  # a call with the builder takes a slot too
    assert len([c for c in call_rows() if c.kind == "web"]) == 2  # nothing written
    client.post("/api/call/end", json={"call_session_id": first["call_session_id"]})
    assert client.post("/api/call/start", json={"agent_id": agent_id}).status_code == 200


def test_over_an_agents_own_limit_only_that_agent_is_refused(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    limited = create_agent(client, max_concurrent_calls=1)
    other = create_agent(client, name="Other Bot")
    assert client.post("/api/call/start", json={"agent_id": limited}).status_code == 200
    r = client.post("/api/call/start", json={"agent_id": limited})
    assert r.status_code == 429
    assert "agent 'Dental Bot' takes 1 at once (its max_concurrent_calls)" in r.json()["detail"]
    assert client.post("/api/call/start", json={"agent_id": other}).status_code == 200


def test_an_agents_limit_must_be_a_positive_whole_number(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    for bad in (0, "2", 1.5):
        r = client.post(
            "/api/agents/create",
            json={"user_requirements": {}, "processed_spec": {**SPEC, "max_concurrent_calls": bad}},
        )
        assert r.status_code == 422, bad
        assert "max_concurrent_calls" in r.text


def _web_call(session: Session) -> None:
    session.add(CallSession(session_id=uuid.uuid4().hex, room_name=f"r-{uuid.uuid4().hex}"))
    session.flush()


def test_two_starts_cannot_both_take_the_last_slot_on_postgresql(
    postgres_url: str, configure: Callable[..., Settings]
) -> None:
    """The second start's count waits for the first's transaction (the advisory lock), so
    it sees the first's row: without the lock it would count 0 and insert a second."""
    settings = configure(DATABASE_URL=postgres_url, VOXIE_MAX_CONCURRENT_CALLS="1")
    inserted, commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with session_scope() as s:
            call_limits.claim(session=s, settings=settings)
            _web_call(s)
            inserted.set()
            commit.wait()

    def second() -> None:
        try:
            with session_scope() as s:
                call_limits.claim(session=s, settings=settings)
                _web_call(s)
            outcome["second"] = "inserted"
        except call_limits.CallLimitReached as exc:
            outcome["second"] = exc.message

    def waiting_on_the_lock() -> bool:
        with session_scope() as s:
            return bool(
                s.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'"
                        " AND datname = current_database()"
                    )
                ).scalar()
            )

    a = threading.Thread(target=first)
    a.start()
    inserted.wait()
    b = threading.Thread(target=second)
    b.start()
    while b.is_alive() and not waiting_on_the_lock():
        time.sleep(0.01)
    assert b.is_alive(), f"the second start did not wait: {outcome}"
    commit.set()
    a.join()
    b.join()
    assert "VOXIE_MAX_CONCURRENT_CALLS" in str(outcome["second"])
    with session_scope() as s:
        assert call_limits.active_calls(session=s) == 1
    with session_scope() as s:  # the test's rows go, for the next test on this database
        s.execute(sa.delete(CallSession))


def test_on_sqlite_the_count_holds_the_database_write_lock(
    sqlite_url: str, configure: Callable[..., Settings]
) -> None:
    settings = configure(DATABASE_URL=sqlite_url, VOXIE_MAX_CONCURRENT_CALLS="1")
    with session_scope() as s:
        call_limits.claim(session=s, settings=settings)
        raw = s.connection().connection.dbapi_connection
        assert raw is not None and raw.in_transaction  # BEGIN IMMEDIATE before the count
    with session_scope() as s:  # no limit: no lock taken
        call_limits.claim(session=s, settings=configure(VOXIE_MAX_CONCURRENT_CALLS="0"))
        assert not s.connection().connection.dbapi_connection.in_transaction
