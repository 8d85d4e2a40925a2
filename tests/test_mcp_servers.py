"""MCP servers as a resource: rules checked on save, Refresh against a real MCP server,
`/api/tools/mcp` and `/api/tools/{id}/refresh`, who may do what."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from tests.doubles.mcp_server import McpDouble
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.services import mcp_servers as mcp_svc
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import tools as tools_svc
from voxie_app.services.errors import Conflict, InvalidInput, ProviderFailed
from voxie_app.settings import Settings

SECRET = "mcp-key-77c1-never-shown"
LISTED = [
    {"name": "check_slots", "description": "Free appointment slots on a date (YYYY-MM-DD)."},
    {"name": "cancel_all_bookings", "description": "Cancel every booking of the clinic."},
]


@pytest.fixture
def allowed(db: str, configure: Callable[..., Settings], tmp_path: Path) -> Iterator[str]:
    """A migrated database, a key file, 127.0.0.1 allow-listed, the secret MCP_KEY."""
    configure(
        VOXIE_URL_ALLOWLIST="127.0.0.1",
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )
    with session_scope() as session:
        secrets_svc.put(session=session, name="MCP_KEY", value=SECRET)
    yield db


@pytest.fixture
def client(allowed: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


@pytest.fixture(params=["streamable_http", "sse"])
def server(request: pytest.FixtureRequest) -> Iterator[McpDouble]:
    with McpDouble(transport=request.param) as double:
        yield double


def body(url: str = "http://127.0.0.1:9/mcp", **change: Any) -> dict[str, Any]:
    return {
        "name": "clinic_mcp",
        "url": url,
        "transport": "streamable_http",
        "headers": {"X-Api-Key": "{{secret:MCP_KEY}}"},
        "timeout_s": 5,
        **change,
    }


def create(data: dict[str, Any]) -> uuid.UUID:
    with session_scope() as session:
        return mcp_svc.create_server(session=session, body=mcp_svc.parse(data)).id


def _error(response: Any) -> tuple[str, str]:
    detail = response.json()["detail"][0]
    return ".".join(str(p) for p in detail["loc"][1:]), detail["msg"]


# ------------------------------------------------------------------ the service


async def test_refresh_lists_both_tools_and_allowed_tools_must_be_listed(
    allowed: str, server: McpDouble
) -> None:
    data = body(server.url, transport=server.transport)
    tool_id = create(data)
    with session_scope() as session, pytest.raises(InvalidInput) as before:
        mcp_svc.update_server(
            session=session,
            tool_id=tool_id,
            body=mcp_svc.parse({**data, "allowed_tools": ["check_slots"]}),
        )
    assert before.value.field == "allowed_tools.0" and "Refresh" in before.value.message

    tool = await mcp_svc.refresh(tool_id)
    assert tool.discovered_tools == LISTED
    assert any(h.get("x-api-key") == SECRET for h in server.headers)  # resolved on connect
    with session_scope() as session:
        saved = mcp_svc.update_server(
            session=session,
            tool_id=tool_id,
            body=mcp_svc.parse({**data, "allowed_tools": ["check_slots"]}),
        )
        assert saved.allowed_tools == ["check_slots"] and saved.kind == "mcp"
        with pytest.raises(InvalidInput) as unknown:
            mcp_svc.update_server(
                session=session,
                tool_id=tool_id,
                body=mcp_svc.parse({**data, "allowed_tools": ["check_slots", "drop_tables"]}),
            )
    assert unknown.value.field == "allowed_tools.1" and "drop_tables" in unknown.value.message


async def test_refresh_drops_allowed_tools_the_server_no_longer_lists(allowed: str) -> None:
    with McpDouble() as double:
        tool_id = create(body(double.url))
        with session_scope() as session:
            row = mcp_svc.get_server(session=session, tool_id=tool_id)
            row.discovered_tools = [*LISTED, {"name": "old_tool", "description": ""}]
            row.allowed_tools = ["old_tool", "check_slots"]
            session.add(row)
        tool = await mcp_svc.refresh(tool_id)
    assert tool.allowed_tools == ["check_slots"]
    assert [t["name"] for t in tool.discovered_tools] == ["check_slots", "cancel_all_bookings"]


async def test_refresh_of_a_server_that_is_down_says_so(allowed: str) -> None:
    with McpDouble() as double:
        tool_id = create(body(double.url))
    with pytest.raises(ProviderFailed, match="could not reach the MCP server"):
        await mcp_svc.refresh(tool_id)


async def test_refresh_with_the_wrong_transport_says_what_the_server_answered(
    allowed: str,
) -> None:
    with McpDouble(transport="sse") as double:
        tool_id = create(body(double.url.replace("/sse", "/mcp"), transport="streamable_http"))
        with pytest.raises(ProviderFailed, match=r"answered: Not Found \(check the URL"):
            await mcp_svc.refresh(tool_id)


async def test_refresh_is_refused_when_the_address_is_no_longer_allowed(
    allowed: str, configure: Callable[..., Settings]
) -> None:
    with McpDouble() as double:
        tool_id = create(body(double.url))
        configure(VOXIE_URL_ALLOWLIST=None)
        with pytest.raises(InvalidInput) as refused:
            await mcp_svc.refresh(tool_id)
        assert double.headers == []
    assert refused.value.field == "url" and "loopback" in refused.value.message


async def test_discover_is_refused_at_connect_time(configure: Callable[..., Settings]) -> None:
    """The connect-time check alone (the save-time one is skipped here): nothing is sent."""
    configure(VOXIE_URL_ALLOWLIST=None)
    with McpDouble() as double:
        with pytest.raises(InvalidInput, match=r"not allowed: 127\.0\.0\.1 is a loopback"):
            await mcp_svc.discover(url=double.url, transport="sse", headers={}, timeout_s=2)
        assert double.headers == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:8000/mcp", "loopback"),
        ("http://10.0.0.1/mcp", "private"),
        ("http://169.254.169.254/mcp", "metadata"),
        ("http://[::1]:8000/mcp", "loopback"),
        ("http://localhost:8000/mcp", "local or metadata host name"),
    ],
)
def test_internal_urls_are_refused_on_save(
    db: str, configure: Callable[..., Settings], url: str, words: str
) -> None:
    configure(VOXIE_URL_ALLOWLIST=None)
    with pytest.raises(InvalidInput) as refused:
        create(body(url, headers={}))
    assert refused.value.field == "url" and words in refused.value.message
    assert "VOXIE_URL_ALLOWLIST" in refused.value.message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "end_call"}, "name", "built-in"),
        ({"name": "Clinic MCP"}, "name", "snake_case"),
        ({"transport": "websocket"}, "transport", "streamable_http"),
        ({"timeout_s": 31}, "timeout_s", "30"),
        ({"timeout_s": 0.5}, "timeout_s", "1"),
        ({"headers": {"Host": "x"}}, "headers", "set by Voxie"),
        ({"headers": {"X-Api-Key": "{{secret:NOPE}}"}}, "headers.X-Api-Key", "NOPE"),
        ({"url": "http://127.0.0.1:9/mcp?key={{secret:MCP_KEY}}"}, "url", "header"),
        ({"url": "ftp://127.0.0.1/mcp"}, "url", "http"),
    ],
)
def test_bad_fields_are_refused_naming_them(
    allowed: str, change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as bad:
        create(body(**change))
    assert bad.value.field == field and words in bad.value.message


def test_names_are_unique_across_http_tools_and_servers(allowed: str) -> None:
    with session_scope() as session:
        tools_svc.create_tool(
            session=session,
            body=tools_svc.parse(
                {"name": "clinic_mcp", "description": "x", "url": "http://127.0.0.1:9/x"}
            ),
        )
    with pytest.raises(Conflict, match="clinic_mcp"):
        create(body())


def test_the_http_and_mcp_writes_do_not_cross(allowed: str) -> None:
    tool_id = create(body())
    with session_scope() as session:
        with pytest.raises(Conflict, match="MCP server"):
            tools_svc.update_tool(
                session=session,
                tool_id=tool_id,
                body=tools_svc.parse(
                    {"name": "clinic_mcp", "description": "x", "url": "http://127.0.0.1:9/x"}
                ),
            )
        http_id = tools_svc.create_tool(
            session=session,
            body=tools_svc.parse(
                {"name": "slots", "description": "x", "url": "http://127.0.0.1:9/x"}
            ),
        ).id
        with pytest.raises(Conflict, match="HTTP tool"):
            mcp_svc.update_server(session=session, tool_id=http_id, body=mcp_svc.parse(body()))


def test_viewers_get_no_headers_and_http_tools_leave_servers_out(allowed: str) -> None:
    tool_id = create(body())
    with session_scope() as session:
        tool = mcp_svc.get_server(session=session, tool_id=tool_id)
        shown = tools_svc.view(tool, with_headers=False)
        assert shown.headers is None and shown.kind == "mcp"
        assert shown.transport == "streamable_http" and shown.allowed_tools == []
        assert tools_svc.tools_for(session=session, ids=[tool_id], kind="http") == []


# ------------------------------------------------------------------ the API


def test_api_create_refresh_allow_and_list(client: TestClient) -> None:
    with McpDouble(transport="sse") as double:
        data = body(double.url, transport="sse")
        created = client.post("/api/tools/mcp", json=data)
        assert created.status_code == 201, created.text
        server = created.json()
        assert server["kind"] == "mcp" and server["transport"] == "sse"
        assert server["headers"] == {"X-Api-Key": "{{secret:MCP_KEY}}"}
        assert server["discovered_tools"] == [] and server["allowed_tools"] == []

        premature = client.put(
            f"/api/tools/mcp/{server['id']}", json={**data, "allowed_tools": ["check_slots"]}
        )
        assert premature.status_code == 422 and _error(premature)[0] == "allowed_tools.0"

        refreshed = client.post(f"/api/tools/{server['id']}/refresh")
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["tools"] == LISTED
        assert SECRET not in refreshed.text

        saved = client.put(
            f"/api/tools/mcp/{server['id']}", json={**data, "allowed_tools": ["check_slots"]}
        )
        assert saved.status_code == 200 and saved.json()["allowed_tools"] == ["check_slots"]
        wrong = client.put(
            f"/api/tools/mcp/{server['id']}", json={**data, "allowed_tools": ["nope"]}
        )
        assert wrong.status_code == 422 and _error(wrong)[0] == "allowed_tools.0"

    http = client.post(
        "/api/tools",
        json={"name": "check_hours", "description": "Hours.", "url": "http://127.0.0.1:9/h"},
    )
    assert http.status_code == 201
    listed = client.get("/api/tools").json()
    assert {(t["name"], t["kind"]) for t in listed} == {
        ("clinic_mcp", "mcp"),
        ("check_hours", "http"),
    }
    down = client.post(f"/api/tools/{server['id']}/refresh")
    assert down.status_code == 502 and "could not reach" in down.json()["detail"]


def test_api_refuses_internal_urls_with_a_clear_message(
    client: TestClient, configure: Callable[..., Settings]
) -> None:
    configure(VOXIE_URL_ALLOWLIST=None)
    for url in ("http://127.0.0.1:8000/mcp", "http://10.0.0.1/mcp", "http://[::1]/mcp"):
        refused = client.post("/api/tools/mcp", json=body(url))
        assert refused.status_code == 422
        field, message = _error(refused)
        assert field == "url" and "VOXIE_URL_ALLOWLIST" in message


def test_viewers_read_without_headers_and_cannot_write_or_refresh(client: TestClient) -> None:
    server = client.post("/api/tools/mcp", json=body()).json()
    viewer = TestClient(create_api(), headers=admin_headers("viewer"))
    [listed] = viewer.get("/api/tools").json()
    assert listed["kind"] == "mcp" and listed["headers"] is None
    assert "MCP_KEY" not in viewer.get(f"/api/tools/{server['id']}").text
    assert viewer.post("/api/tools/mcp", json={**body(), "name": "x"}).status_code == 403
    assert viewer.put(f"/api/tools/mcp/{server['id']}", json=body()).status_code == 403
    assert viewer.post(f"/api/tools/{server['id']}/refresh").status_code == 403
    assert viewer.delete(f"/api/tools/{server['id']}").status_code == 403
    assert client.delete(f"/api/tools/{server['id']}").status_code == 204
