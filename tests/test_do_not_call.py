"""The do-not-call list: service and `/api/do-not-call`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests import statetab
from tests.conftest import admin_headers
from tests.statetab import role_tokens
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import DoNotCall
from voxie_app.services import do_not_call as dnc
from voxie_app.services.errors import InvalidInput, InvalidRows, NotFound
from voxie_app.state.do_not_call import DoNotCallState, bulk_entries

A = "+14155550123"
B = "+442071838750"
C = "+4930901820"


def numbers() -> list[str]:
    with session_scope() as s:
        return sorted(r.number for r in s.exec(select(DoNotCall)).all())


# ---- service ------------------------------------------------------------------------


def test_add_normalises_to_e164_and_is_idempotent(db: str) -> None:
    with session_scope() as s:
        row, created = dnc.add(session=s, number="+1 (415) 555-0123", reason="asked us")
        assert (row.number, row.reason, created) == (A, "asked us", True)
    with session_scope() as s:
        row, created = dnc.add(session=s, number=A)
        assert created is False
        assert row.reason == "asked us"  # an empty reason keeps the old one
        row, created = dnc.add(session=s, number="+14155550123", reason="  lawyer   letter ")
        assert (created, row.reason) == (False, "lawyer letter")
    assert numbers() == [A]


@pytest.mark.parametrize(
    ("number", "why"),
    [("4155550123", "E.164"), ("+1415", "not a valid"), ("", "required"), ("+1 abc", "")],
)
def test_add_refuses_what_is_not_e164(db: str, number: str, why: str) -> None:
    with session_scope() as s, pytest.raises(InvalidInput) as info:
        dnc.add(session=s, number=number)
    assert info.value.field == "number"
    assert why in info.value.message
    assert numbers() == []


def test_add_refuses_a_long_reason(db: str) -> None:
    with session_scope() as s, pytest.raises(InvalidInput) as info:
        dnc.add(session=s, number=A, reason="x" * 201)
    assert info.value.field == "reason"


def test_is_listed_reads_any_form(db: str) -> None:
    with session_scope() as s:
        dnc.add(session=s, number=A)
    with session_scope() as s:
        assert dnc.is_listed(session=s, number=A)
        assert dnc.is_listed(session=s, number="14155550123")  # a caller id without "+"
        assert not dnc.is_listed(session=s, number=B)
        assert not dnc.is_listed(session=s, number="")


def test_remove(db: str) -> None:
    with session_scope() as s:
        dnc.add(session=s, number=A)
    with session_scope() as s:
        dnc.remove(session=s, number="+1 415 555 0123")
    assert numbers() == []
    with session_scope() as s, pytest.raises(NotFound):
        dnc.remove(session=s, number=A)


def test_bulk_add_reports_every_bad_row_and_adds_nothing(db: str) -> None:
    entries = [
        dnc.Entry(A),
        dnc.Entry("0207 183 8750"),
        dnc.Entry(C),
        dnc.Entry("+1415", reason="short"),
        dnc.Entry(B, reason="y" * 300),
    ]
    with session_scope() as s, pytest.raises(InvalidRows) as info:
        dnc.add_many(session=s, entries=entries)
    fields = [field for field, _ in info.value.problems]
    assert fields == ["numbers.1.number", "numbers.3.number", "numbers.4.reason"]
    assert info.value.problems[0][1].startswith("row 2:")
    assert numbers() == []


def test_bulk_add_all_good_counts_new_and_known(db: str) -> None:
    with session_scope() as s:
        dnc.add(session=s, number=A, reason="old")
    with session_scope() as s:
        result = dnc.add_many(
            session=s,
            entries=[dnc.Entry(A), dnc.Entry(B, "opt-out"), dnc.Entry("+44 20 7183 8750")],
        )
    assert (result.added, result.already_listed) == (1, 1)
    assert numbers() == sorted([A, B])
    with session_scope() as s:
        rows, total = dnc.list_entries(session=s, search="opt")
        assert total == 1 and rows[0].number == B and rows[0].reason == "opt-out"


def test_bulk_add_needs_rows_and_caps_them(db: str) -> None:
    with session_scope() as s, pytest.raises(InvalidInput) as info:
        dnc.add_many(session=s, entries=[])
    assert info.value.field == "numbers"


def test_list_searches_digits_and_pages(db: str) -> None:
    with session_scope() as s:
        dnc.add_many(
            session=s,
            entries=[dnc.Entry(A, "spam complaint"), dnc.Entry(B), dnc.Entry(C, "50%_off")],
        )
    with session_scope() as s:
        rows, total = dnc.list_entries(session=s, search="555 01")
        assert total == 1 and [r.number for r in rows] == [A]
        rows, total = dnc.list_entries(session=s, search="SPAM")
        assert [r.number for r in rows] == [A]
        rows, total = dnc.list_entries(session=s, search="%_")  # LIKE wildcards are literal
        assert [r.number for r in rows] == [C]
        first, total = dnc.list_entries(session=s, limit=2, offset=0)
        rest, _ = dnc.list_entries(session=s, limit=2, offset=2)
        assert total == 3 and len(first) == 2 and len(rest) == 1
        assert {r.number for r in first + rest} == {A, B, C}


# ---- API ----------------------------------------------------------------------------


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def test_api_add_one_list_and_delete(client: TestClient) -> None:
    r = client.post("/api/do-not-call", json={"number": "+1 415-555-0123", "reason": "asked"})
    assert r.status_code == 201, r.text
    assert r.json() == {"added": 1, "already_listed": 0}
    r = client.post("/api/do-not-call", json={"number": A})
    assert r.status_code == 200 and r.json() == {"added": 0, "already_listed": 1}
    page = client.get("/api/do-not-call").json()
    assert page["total"] == 1 and page["items"][0]["number"] == A
    assert page["items"][0]["reason"] == "asked"
    assert client.delete("/api/do-not-call/%2B14155550123").status_code == 204
    assert client.delete("/api/do-not-call/%2B14155550123").status_code == 404
    assert client.get("/api/do-not-call").json()["total"] == 0


def test_api_bulk_add_names_each_bad_row(client: TestClient) -> None:
    r = client.post(
        "/api/do-not-call",
        json={"numbers": [{"number": A}, {"number": "12"}, {"number": "+44 20 7183 875"}]},
    )
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert locs == [["body", "numbers", "1", "number"], ["body", "numbers", "2", "number"]]
    assert numbers() == []
    r = client.post("/api/do-not-call", json={"numbers": [{"number": A}, {"number": B}]})
    assert r.status_code == 201 and r.json() == {"added": 2, "already_listed": 0}


def test_api_bad_single_number_is_422_naming_the_field(client: TestClient) -> None:
    r = client.post("/api/do-not-call", json={"number": "4155550123"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "number"]
    assert "E.164" in r.json()["detail"][0]["msg"]
    r = client.post("/api/do-not-call", json={"number": A, "numbers": [{"number": B}]})
    assert r.status_code == 422
    assert client.delete("/api/do-not-call/nonsense").status_code == 422


def test_api_viewer_reads_but_cannot_change(client: TestClient) -> None:
    client.post("/api/do-not-call", json={"number": A})
    viewer = admin_headers("viewer")
    assert client.get("/api/do-not-call", headers=viewer).json()["total"] == 1
    r = client.post("/api/do-not-call", json={"number": B}, headers=viewer)
    assert r.status_code == 403
    assert client.delete("/api/do-not-call/%2B14155550123", headers=viewer).status_code == 403
    assert numbers() == [A]


# ---- the panel's state ----------------------------------------------------------------


@pytest.fixture
def tokens(db: str) -> Iterator[dict[str, str]]:
    """An admin's and a viewer's session token."""
    with role_tokens() as out:
        yield out


class Tab(statetab.Tab):
    def __init__(self, name: str, token: str) -> None:
        super().__init__(name, token, "/do-not-call")

    async def run(self, name: str, *args: Any) -> tuple[Any, Any]:  # type: ignore[override]
        return await super().run(DoNotCallState, name, *args)


async def test_panel_admin_adds_searches_and_removes(tokens: dict[str, str]) -> None:
    tab = Tab("dnc-a", tokens["admin"])
    _, state = await tab.run("load")
    assert state.is_admin and state.rows == [] and state.loaded
    result, state = await tab.run("add", {"number": "+1 415 555 0123", "reason": "asked"})
    assert "+1 415-555-0123 added" in str(result)
    assert [(r["number"], r["display"], r["reason"]) for r in state.rows] == [
        (A, "+1 415-555-0123", "asked")
    ]
    result, _ = await tab.run("add", {"number": A})
    assert "already on" in str(result)
    result, state = await tab.run("add_many", {"numbers": f"{B}, opt-out\n\n{C}\n"})
    assert "Added 2 numbers" in str(result) and state.total == 3
    _, state = await tab.run("set_search", "opt")
    assert [r["number"] for r in state.rows] == [B]
    _, state = await tab.run("set_search", "")
    await tab.run("ask_remove", A)
    result, state = await tab.run("confirm_remove")
    assert "can be called again" in str(result) and not state.remove_open
    assert numbers() == sorted([B, C]) and state.total == 2


async def test_panel_bad_rows_are_a_toast_and_nothing_is_added(tokens: dict[str, str]) -> None:
    tab = Tab("dnc-b", tokens["admin"])
    await tab.run("load")
    result, _ = await tab.run("add", {"number": "4155550123"})
    assert "Number: " in str(result) and "E.164" in str(result)
    result, state = await tab.run("add_many", {"numbers": f"{A}\n12\n{B}\n+1415, x"})
    assert "Nothing was added" in str(result)
    assert "row 2:" in str(result) and "row 4:" in str(result)
    assert numbers() == [] and state.rows == []
    result, _ = await tab.run("add_many", {"numbers": "\n\n"})
    assert "Numbers: give at least one number" in str(result)


async def test_panel_viewer_reads_but_every_change_is_refused(tokens: dict[str, str]) -> None:
    from voxie_app.state import guard

    with session_scope() as s:
        dnc.add(session=s, number=A, reason="asked")
    tab = Tab("dnc-v", tokens["viewer"])
    _, state = await tab.run("load")
    assert not state.is_admin and [r["number"] for r in state.rows] == [A]
    for name, args in (
        ("add", ({"number": B},)),
        ("add_many", ({"numbers": B},)),
        ("ask_remove", (A,)),
        ("set_remove_open", (True,)),
        ("confirm_remove", ()),
    ):
        # The middleware refuses the event; the handler refuses it again on its own.
        assert guard.decide(DoNotCallState, name, tokens["viewer"]) is not None
        assert guard.decide(DoNotCallState, "load", tokens["viewer"]) is None
        result, state = await tab.run(name, *args)
        assert "Only an admin" in str(result), name
    assert numbers() == [A] and not state.remove_open


def test_bulk_lines_are_number_then_reason() -> None:
    assert bulk_entries(f" {A} , said no\n\n{B}\n") == [dnc.Entry(A, "said no"), dnc.Entry(B)]
