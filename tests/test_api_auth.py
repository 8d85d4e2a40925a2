"""Every API route behind the API-key gate: no key, revoked key, viewer key, admin key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.services import auth

# Reads that are still admin-only: webhook URLs and delivery payloads are admin settings,
# and so is the list of secret names.
ADMIN_READS = {
    ("GET", "/api/webhooks"),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"),
    ("GET", "/api/secrets"),
}
OPEN = {("GET", "/api/health"), ("POST", "/api/livekit/webhook")}


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) in the OpenAPI schema: the documented API."""
    paths = create_api().openapi()["paths"]
    return sorted((m.upper(), p) for p, ops in paths.items() for m in ops)


def _url(path: str) -> str:
    return (
        path.replace("{agent_id}", str(uuid.uuid4()))
        .replace("{session_id}", "s1")
        .replace("{id}", str(uuid.uuid4()))
        .replace("{webhook_id}", str(uuid.uuid4()))
    )


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api()) as c:
        yield c


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]):
    kwargs = {"json": {}} if method in ("POST", "PUT") else {}
    return client.request(method, _url(path), headers=headers, **kwargs)


def test_route_list_is_complete() -> None:
    routes = _routes()
    assert ("POST", "/api/agents/create") in routes and ("POST", "/api/call/start") in routes
    assert len(routes) >= 12


@pytest.mark.parametrize(("method", "path"), [r for r in _routes() if r not in OPEN])
def test_matrix(client: TestClient, method: str, path: str) -> None:
    no_key = _call(client, method, path, {})
    assert no_key.status_code == 401, no_key.text
    assert no_key.headers["www-authenticate"] == "Bearer"

    garbage = _call(client, method, path, {"Authorization": "Bearer vx_12345678_" + "x" * 40})
    assert garbage.status_code == 401

    with session_scope() as s:
        raw, key = auth.create_api_key(session=s, name="old", role="admin")
    with session_scope() as s:
        auth.revoke_api_key(session=s, key_id=key.id)
    revoked = _call(client, method, path, {"Authorization": f"Bearer {raw}"})
    assert revoked.status_code == 401

    viewer = _call(client, method, path, admin_headers("viewer"))
    if method == "GET" and (method, path) not in ADMIN_READS:
        assert viewer.status_code not in (401, 403), viewer.text
    else:
        assert viewer.status_code == 403, viewer.text

    admin = _call(client, method, path, admin_headers())
    assert admin.status_code not in (401, 403), admin.text
    # 503 only as the documented "provider not configured" answer, never a crash
    assert admin.status_code < 500 or "missing_settings" in admin.json(), admin.text


def test_health_is_open(client: TestClient) -> None:
    assert client.get("/api/health").status_code == 200


def test_last_used_is_recorded_and_key_is_stored_hashed(client: TestClient) -> None:
    headers = admin_headers()
    raw = headers["Authorization"].split()[1]
    assert client.get("/api/agents", headers=headers).status_code == 200
    with session_scope() as s:
        (key,) = [k for k in auth.list_api_keys(session=s) if raw.startswith(f"vx_{k.prefix}_")]
        assert key.last_used_at is not None
        assert raw not in (key.key_hash, key.prefix) and len(key.key_hash) == 64
