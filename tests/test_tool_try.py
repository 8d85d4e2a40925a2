"""Test a tool: `POST /api/tools/{id}/test` and `http_tools.try_tool`, against the
local clinic service of tests/test_http_tools.py (127.0.0.1 allow-listed there)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests import test_http_tools
from tests.conftest import admin_headers
from tests.test_http_tools import (
    BOOK_ARGS,
    SECRET,
    Clinic,
    booking_tool,
    save_tool,
    slots_tool,
    stored_invocations,
)
from voice_worker import http_tools
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import Tool
from voxie_app.settings import Settings

# The clinic service and its environment (secret stored, 127.0.0.1 allow-listed).
clinic = test_http_tools.clinic
env = test_http_tools.env


@pytest.fixture
def api(env: Settings) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def test_a_test_run_books_through_the_real_path_and_shows_status_latency_result(
    api: TestClient, clinic: Clinic
) -> None:
    tool_id = save_tool(booking_tool(clinic))
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": BOOK_ARGS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["ok"] is True and body["http_status"] == 201
    assert isinstance(body["latency_ms"], int) and body["latency_ms"] >= 0
    assert json.loads(body["result"]) == {"id": "B1", **BOOK_ARGS}  # narrowed by result_path
    # It really ran: the service got the booking with the secret header.
    assert clinic.bookings == [{"id": "B1", **BOOK_ARGS}]
    assert clinic.requests[-1]["headers"]["X-Clinic-Key"] == SECRET
    assert SECRET not in r.text
    [record] = stored_invocations()
    assert record.call_session_id is None and record.status == "ok"


def test_a_500_is_a_tool_error_not_an_api_error(api: TestClient, clinic: Clinic) -> None:
    tool_id = save_tool(slots_tool(clinic, url=f"{clinic.base}/fail", result_path=""))
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": {"date": "2026-12-03"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "http_error" and body["ok"] is False
    assert body["http_status"] == 500 and "HTTP 500" in body["result"]


def test_arguments_that_do_not_fit_send_nothing(api: TestClient, clinic: Clinic) -> None:
    tool_id = save_tool(booking_tool(clinic))
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": {"date": "tomorrow"}})
    assert r.status_code == 200 and r.json()["status"] == "invalid_arguments"
    assert clinic.requests == []


def test_a_secret_the_service_echoes_never_reaches_the_answer(
    api: TestClient, clinic: Clinic
) -> None:
    tool_id = save_tool(
        slots_tool(
            clinic,
            url=f"{clinic.base}/echo",
            result_path="",
            headers={"X-Clinic-Key": "{{secret:CLINIC_KEY}}"},
        )
    )
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": {"date": "2026-12-03"}})
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert clinic.requests[-1]["headers"]["X-Clinic-Key"] == SECRET  # it was sent
    assert SECRET not in r.text and "[secret]" in r.json()["result"]


def test_viewers_cannot_run_a_tool_and_unknown_or_unready_tools_are_clear(
    api: TestClient, clinic: Clinic
) -> None:
    tool_id = save_tool(booking_tool(clinic))
    viewer = admin_headers("viewer")
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": BOOK_ARGS}, headers=viewer)
    assert r.status_code == 403
    assert api.get(f"/api/tools/{tool_id}", headers=viewer).status_code == 200  # may see
    assert clinic.requests == []
    assert api.post(f"/api/tools/{uuid.uuid4()}/test", json={}).status_code == 404
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": [1]})
    assert r.status_code == 422
    with session_scope() as s:  # a drafted tool with no URL yet (the builder's)
        row = s.get(Tool, tool_id)
        row.url, row.status = "", "needs_setup"
        s.add(row)
    r = api.post(f"/api/tools/{tool_id}/test", json={"arguments": BOOK_ARGS})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "url"]


async def test_try_tool_latency_comes_from_the_clock_it_is_given(
    env: Settings, clinic: Clinic
) -> None:
    tool_id = save_tool(slots_tool(clinic))
    with session_scope() as s:
        tool = http_tools.HttpTool.of(s.get(Tool, tool_id))
    ticks = iter([100.0, 100.25])
    tried = await http_tools.try_tool(tool, {"date": "2026-12-03"}, clock=lambda: next(ticks))
    assert (tried.status, tried.http_status, tried.latency_ms) == ("ok", 200, 250)
    assert tried.result == '["09:00", "10:30"]'
