"""Phone numbers and outbound trunks against the LiveKit Twirp double, on both databases.

The double (tests/doubles/livekit_server.py) keeps trunks and dispatch rules as LiveKit's
SIP service does and records every request, so these tests assert exactly what Voxie
sent (the dispatch rule, the outbound trunk with its password), and script failures
part-way to check that a sync repairs what was left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import PhoneNumber, SipOutboundTrunk
from voxie_app.services import phone_numbers as numbers_svc
from voxie_app.services import secrets as secrets_svc
from voxie_app.services import sip_trunks as trunks_svc
from voxie_app.services.errors import InvalidInput, NotConfigured, ProviderFailed
from voxie_app.services.phone_numbers import PhoneNumberIn, PhoneNumberUpdate
from voxie_app.settings import Settings, get_settings

NUMBER = "+14155550123"
OTHER = "+442071838750"
PASSWORD = "trunk-pass-7Qx!-never-shown"
SPEC = {"name": "Front Desk", "instructions": "You answer the phone.", "greeting": "Hello!"}


@pytest.fixture
def livekit(
    db: str, configure: Callable[..., Settings], livekit_double: LiveKitDouble, tmp_path: Path
) -> LiveKitDouble:
    """The database, LiveKit pointing at the double, a secrets key file and the trunk
    password stored as the secret TRUNK_PASS."""
    configure(
        LIVEKIT_URL=livekit_double.url,
        LIVEKIT_API_KEY=livekit_double.api_key,
        LIVEKIT_API_SECRET=livekit_double.api_secret,
        VOXIE_AGENT_NAME="voxie-test",
        VOXIE_SECRET_KEY=None,
        VOXIE_SECRET_KEY_FILE=str(tmp_path / "secret.key"),
    )
    with session_scope() as session:
        secrets_svc.put(session=session, name="TRUNK_PASS", value=PASSWORD)
    return livekit_double


@pytest.fixture
def client(livekit: LiveKitDouble) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def make_agent(client: TestClient, name: str = "Front Desk") -> str:
    r = client.post(
        "/api/agents/create",
        json={
            "user_requirements": {"business": "clinic"},
            "processed_spec": {**SPEC, "name": name},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["agent_id"]


def rows() -> list[PhoneNumber]:
    with session_scope() as session:
        return list(session.exec(select(PhoneNumber)).all())


def error_field(response: Any) -> str:
    detail = response.json()["detail"][0]
    return ".".join(str(p) for p in detail["loc"][1:])


def rule_sent(livekit: LiveKitDouble, index: int = -1) -> dict[str, Any]:
    return livekit.calls("CreateSIPDispatchRule")[index].body["dispatch_rule"]


# ---- adding a number ---------------------------------------------------------------


def test_add_number_creates_trunk_and_the_exact_rule(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = make_agent(client)
    r = client.post(
        "/api/phone-numbers",
        json={"number": "+1 415-555-0123", "label": "Front desk", "agent_id": agent_id},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["number"] == NUMBER and out["display"] == "+1 415-555-0123"
    assert out["status"] == "ready" and out["sync_error"] is None
    assert out["trunk_managed"] is True and out["agent_name"] == "Front Desk"

    (trunk_call,) = livekit.calls("CreateSIPInboundTrunk")
    trunk = trunk_call.body["trunk"]
    assert trunk["numbers"] == [NUMBER] and trunk["name"] == f"Voxie {NUMBER}"
    assert trunk_call.claims["sip"]["admin"] is True
    assert out["inbound_trunk_id"] in livekit.inbound_trunks

    rule = rule_sent(livekit)
    assert rule["rule"] == {"dispatch_rule_individual": {"room_prefix": "phone-14155550123-"}}
    assert rule["trunk_ids"] == [out["inbound_trunk_id"]]
    (dispatch,) = rule["room_config"]["agents"]
    assert dispatch["agent_name"] == "voxie-test"
    assert json.loads(dispatch["metadata"]) == {"phone_number_id": out["id"], "agent_id": agent_id}
    assert json.loads(rule["metadata"])["id"] == out["id"]
    assert out["dispatch_rule_id"] in livekit.dispatch_rules
    assert [n["number"] for n in client.get("/api/phone-numbers").json()] == [NUMBER]
    assert client.get(f"/api/phone-numbers/{out['id']}").json()["id"] == out["id"]


def test_add_number_with_an_existing_trunk_creates_only_the_rule(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = make_agent(client)
    r = client.post(
        "/api/phone-numbers",
        json={"number": NUMBER, "agent_id": agent_id, "inbound_trunk_id": "ST_carrier1"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["trunk_managed"] is False and r.json()["inbound_trunk_id"] == "ST_carrier1"
    assert livekit.calls("CreateSIPInboundTrunk") == []
    assert rule_sent(livekit)["trunk_ids"] == ["ST_carrier1"]

    # Deleting it removes the rule but never the trunk Voxie did not make.
    assert client.delete(f"/api/phone-numbers/{r.json()['id']}").status_code == 204
    assert livekit.calls("DeleteSIPTrunk") == []
    assert livekit.dispatch_rules == {} and rows() == []


def test_rebind_updates_the_rule(client: TestClient, livekit: LiveKitDouble) -> None:
    first, second = make_agent(client), make_agent(client, "Night Line")
    out = client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": first}).json()
    r = client.patch(f"/api/phone-numbers/{out['id']}", json={"agent_id": second})
    assert r.status_code == 200, r.text
    assert r.json()["agent_name"] == "Night Line" and r.json()["label"] == ""
    (update,) = livekit.calls("UpdateSIPDispatchRule")
    assert update.body["sip_dispatch_rule_id"] == out["dispatch_rule_id"]
    agents = update.body["replace"]["room_config"]["agents"]
    assert json.loads(agents[0]["metadata"]) == {"phone_number_id": out["id"], "agent_id": second}
    stored = livekit.dispatch_rules[out["dispatch_rule_id"]]
    assert json.loads(stored.room_config.agents[0].metadata)["agent_id"] == second
    assert len(livekit.dispatch_rules) == 1 and len(livekit.calls("CreateSIPDispatchRule")) == 1

    # PUT replaces: agent required, the label cleared when absent.
    client.patch(f"/api/phone-numbers/{out['id']}", json={"label": "Desk"})
    put = client.put(f"/api/phone-numbers/{out['id']}", json={"agent_id": first})
    assert put.status_code == 200 and put.json()["label"] == "" and put.json()["agent_id"] == first
    missing = client.put(f"/api/phone-numbers/{out['id']}", json={"label": "x"})
    assert missing.status_code == 422 and error_field(missing) == "agent_id"


def test_delete_removes_rule_and_managed_trunk(client: TestClient, livekit: LiveKitDouble) -> None:
    out = client.post(
        "/api/phone-numbers", json={"number": NUMBER, "agent_id": make_agent(client)}
    ).json()
    assert client.delete(f"/api/phone-numbers/{out['id']}").status_code == 204
    assert livekit.calls("DeleteSIPDispatchRule")[0].body == {
        "sip_dispatch_rule_id": out["dispatch_rule_id"]
    }
    assert livekit.calls("DeleteSIPTrunk")[0].body == {"sip_trunk_id": out["inbound_trunk_id"]}
    assert livekit.dispatch_rules == {} and livekit.inbound_trunks == {}
    assert client.get(f"/api/phone-numbers/{out['id']}").status_code == 404


def test_failed_delete_keeps_the_number_and_a_retry_finishes(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    out = client.post(
        "/api/phone-numbers", json={"number": NUMBER, "agent_id": make_agent(client)}
    ).json()
    livekit.fail_next("DeleteSIPTrunk")
    r = client.delete(f"/api/phone-numbers/{out['id']}")
    assert r.status_code == 502
    assert "delete trunk" in r.json()["detail"] and "try deleting it again" in r.json()["detail"]
    (row,) = rows()
    assert row.dispatch_rule_id is None and row.sync_error  # the rule went; the trunk did not
    assert client.delete(f"/api/phone-numbers/{out['id']}").status_code == 204
    assert livekit.inbound_trunks == {} and rows() == []


# ---- LiveKit failing part-way, then sync --------------------------------------------


def test_rule_failure_keeps_the_row_and_sync_finishes_it(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = make_agent(client)
    livekit.fail_next("CreateSIPDispatchRule", msg="SIP service restarting")
    r = client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": agent_id})
    assert r.status_code == 502
    detail = r.json()["detail"]
    assert "dispatch rule" in detail and "SIP service restarting" in detail
    assert "Sync" in detail and "Traceback" not in detail
    (row,) = rows()
    assert row.inbound_trunk_id in livekit.inbound_trunks  # the trunk step was stored
    assert row.dispatch_rule_id is None and "SIP service restarting" in (row.sync_error or "")
    listed = client.get("/api/phone-numbers").json()[0]
    assert listed["status"] == "error" and listed["sync_error"] == row.sync_error

    # The same number again is a conflict, not a second row.
    assert (
        client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": agent_id}).status_code
        == 409
    )

    synced = client.post("/api/phone-numbers/sync")
    assert synced.status_code == 200, synced.text
    assert synced.json()["ok"] is True
    (row,) = rows()
    assert row.sync_error is None and row.dispatch_rule_id in livekit.dispatch_rules
    assert len(livekit.calls("CreateSIPInboundTrunk")) == 1  # the trunk was not made twice
    assert client.get("/api/phone-numbers").json()[0]["status"] == "ready"


def test_trunk_failure_then_a_retry_by_rebinding(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = make_agent(client)
    livekit.fail_next("CreateSIPInboundTrunk")
    r = client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": agent_id})
    assert r.status_code == 502 and "inbound trunk" in r.json()["detail"]
    (row,) = rows()
    assert row.inbound_trunk_id is None and livekit.dispatch_rules == {}
    again = client.patch(f"/api/phone-numbers/{row.id}", json={"agent_id": agent_id})
    assert again.status_code == 200 and again.json()["status"] == "ready"


def test_sync_repairs_what_livekit_lost_and_removes_stale_objects(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    agent_id = make_agent(client)
    kept = client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": agent_id}).json()
    lost = client.post("/api/phone-numbers", json={"number": OTHER, "agent_id": agent_id}).json()
    # LiveKit lost one number's rule and another's trunk; a rule someone changed by hand.
    livekit.dispatch_rules.pop(lost["dispatch_rule_id"])
    livekit.inbound_trunks.pop(lost["inbound_trunk_id"])
    livekit.dispatch_rules[
        kept["dispatch_rule_id"]
    ].rule.dispatch_rule_individual.room_prefix = "x-"
    # A trunk and rule Voxie made for a number whose row is gone, and someone else's trunk.
    ghost = str(uuid.uuid4())
    marker = numbers_svc.marker(get_settings(), numbers_svc.KIND, ghost)
    asyncio.run(_make_stale(marker))
    foreign = asyncio.run(_foreign_trunk())

    report = client.post("/api/phone-numbers/sync").json()
    assert report["ok"] is True, report
    by_number = {r.number: r for r in rows()}
    repaired = by_number[OTHER]
    assert repaired.inbound_trunk_id in livekit.inbound_trunks
    assert repaired.inbound_trunk_id != lost["inbound_trunk_id"]
    rule = livekit.dispatch_rules[repaired.dispatch_rule_id or ""]
    assert list(rule.trunk_ids) == [repaired.inbound_trunk_id]
    fixed = livekit.dispatch_rules[kept["dispatch_rule_id"]]
    assert fixed.rule.dispatch_rule_individual.room_prefix == "phone-14155550123-"
    # Stale objects with Voxie's marker are gone; the foreign trunk stays.
    ours = {r.inbound_trunk_id for r in by_number.values()}
    assert set(livekit.inbound_trunks) == ours | {foreign}
    assert set(livekit.dispatch_rules) == {r.dispatch_rule_id for r in by_number.values()}
    assert any("rule" in d for d in report["deleted"]) and any(
        "trunk" in d for d in report["deleted"]
    )

    # A second sync has nothing to do.
    livekit.requests.clear()
    again = client.post("/api/phone-numbers/sync").json()
    assert again["ok"] and again["created"] == [] and again["deleted"] == []
    assert again["updated"] == [] and livekit.calls("UpdateSIPDispatchRule") == []


async def _make_stale(marker: str) -> None:
    gw = numbers_svc.SipGateway(get_settings())
    trunk = await gw.create_inbound_trunk(number="+15005550006", name="old", metadata=marker)
    spec = numbers_svc.RuleSpec(trunk, "phone-1-", "old", marker, "voxie-test", "{}")
    await gw.create_dispatch_rule(spec)


async def _foreign_trunk() -> str:
    gw = numbers_svc.SipGateway(get_settings())
    return await gw.create_inbound_trunk(number="+15005550007", name="theirs", metadata="")


def test_sync_adopts_a_trunk_whose_id_was_never_stored(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    out = client.post(
        "/api/phone-numbers", json={"number": NUMBER, "agent_id": make_agent(client)}
    ).json()
    # As if the process died between LiveKit's answer and the database write.
    with session_scope() as session:
        row = session.get(PhoneNumber, uuid.UUID(out["id"]))
        assert row is not None
        row.inbound_trunk_id = row.dispatch_rule_id = None
    assert client.post("/api/phone-numbers/sync").json()["ok"]
    (row,) = rows()
    assert row.inbound_trunk_id == out["inbound_trunk_id"]
    assert row.dispatch_rule_id == out["dispatch_rule_id"]
    assert len(livekit.inbound_trunks) == 1 and len(livekit.dispatch_rules) == 1
    assert len(livekit.calls("CreateSIPInboundTrunk")) == 1


def test_sync_records_errors_when_livekit_fails(client: TestClient, livekit: LiveKitDouble) -> None:
    out = client.post(
        "/api/phone-numbers", json={"number": NUMBER, "agent_id": make_agent(client)}
    ).json()
    livekit.fail_next("ListSIPInboundTrunk", msg="down for maintenance")
    report = client.post("/api/phone-numbers/sync").json()
    assert report["ok"] is False and "down for maintenance" in report["errors"]["LiveKit"]
    assert (
        "down for maintenance" in client.get(f"/api/phone-numbers/{out['id']}").json()["sync_error"]
    )
    assert client.post("/api/phone-numbers/sync").json()["ok"] is True
    assert client.get(f"/api/phone-numbers/{out['id']}").json()["sync_error"] is None


def test_existing_trunk_missing_in_livekit_is_a_sync_error(
    client: TestClient, livekit: LiveKitDouble
) -> None:
    client.post(
        "/api/phone-numbers",
        json={"number": NUMBER, "agent_id": make_agent(client), "inbound_trunk_id": "ST_gone"},
    )
    report = client.post("/api/phone-numbers/sync").json()
    assert report["ok"] is False and "ST_gone" in report["errors"][NUMBER]
    (row,) = rows()
    assert "ST_gone" in (row.sync_error or "")


# ---- bad input, roles, configuration ------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"number": "4155550123"}, "number"),
        ({"number": "+1415"}, "number"),
        ({"agent_id": str(uuid.uuid4())}, "agent_id"),
        ({"agent_id": "not-a-uuid"}, "agent_id"),
        ({"inbound_trunk_id": "ST bad id"}, "inbound_trunk_id"),
        ({"outbound_trunk_id": str(uuid.uuid4())}, "outbound_trunk_id"),
        ({"label": "x" * 81}, "label"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, livekit: LiveKitDouble, change: dict[str, Any], field: str
) -> None:
    body = {"number": NUMBER, "agent_id": make_agent(client), **change}
    r = client.post("/api/phone-numbers", json=body)
    assert r.status_code == 422, r.text
    assert error_field(r) == field
    assert rows() == [] and livekit.requests == []


def test_viewer_reads_but_cannot_write(client: TestClient, livekit: LiveKitDouble) -> None:
    agent_id = make_agent(client)
    out = client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": agent_id}).json()
    trunk = client.post(
        "/api/sip-trunks",
        json={
            "name": "Telnyx",
            "address": "sip.telnyx.com",
            "auth_username": "voxie",
            "auth_password_secret": "TRUNK_PASS",
        },
    ).json()
    viewer = TestClient(create_api(), headers=admin_headers("viewer"))
    assert viewer.get("/api/phone-numbers").status_code == 200
    assert viewer.get(f"/api/phone-numbers/{out['id']}").status_code == 200
    listed = viewer.get("/api/sip-trunks").json()
    assert listed[0]["auth_password_secret"] is None and listed[0]["auth_username"] is None
    assert (
        viewer.post("/api/phone-numbers", json={"number": OTHER, "agent_id": agent_id}).status_code
        == 403
    )
    assert (
        viewer.patch(f"/api/phone-numbers/{out['id']}", json={"agent_id": agent_id}).status_code
        == 403
    )
    assert (
        viewer.put(f"/api/phone-numbers/{out['id']}", json={"agent_id": agent_id}).status_code
        == 403
    )
    assert viewer.delete(f"/api/phone-numbers/{out['id']}").status_code == 403
    assert viewer.post("/api/phone-numbers/sync").status_code == 403
    assert viewer.post("/api/sip-trunks", json={"name": "x", "address": "a.b"}).status_code == 403
    assert (
        viewer.put(
            f"/api/sip-trunks/{trunk['id']}", json={"name": "x", "address": "a.b"}
        ).status_code
        == 403
    )
    assert viewer.delete(f"/api/sip-trunks/{trunk['id']}").status_code == 403
    assert len(rows()) == 1


def test_without_livekit_settings_is_503_and_writes_nothing(
    client: TestClient, livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    agent_id = make_agent(client)
    configure(LIVEKIT_URL=None)
    r = client.post("/api/phone-numbers", json={"number": NUMBER, "agent_id": agent_id})
    assert r.status_code == 503 and r.json()["missing_settings"] == ["LIVEKIT_URL"]
    assert client.post("/api/phone-numbers/sync").status_code == 503
    t = client.post("/api/sip-trunks", json={"name": "Telnyx", "address": "sip.telnyx.com"})
    assert t.status_code == 503
    assert rows() == [] and livekit.requests == []


# ---- outbound trunks ------------------------------------------------------------------


TRUNK = {
    "name": "Telnyx",
    "address": "sip.telnyx.com",
    "transport": "tls",
    "numbers": ["+1 415 555 0123"],
    "auth_username": "voxie",
    "auth_password_secret": "TRUNK_PASS",
}


def test_outbound_trunk_crud_sends_the_password_only_to_livekit(
    client: TestClient, livekit: LiveKitDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = client.post("/api/sip-trunks", json=TRUNK)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["numbers"] == [NUMBER] and out["status"] == "ready"
    assert out["auth_password_secret"] == "TRUNK_PASS" and PASSWORD not in r.text
    (sent,) = livekit.calls("CreateSIPOutboundTrunk")
    trunk = sent.body["trunk"]
    assert trunk["address"] == "sip.telnyx.com" and trunk["transport"] == "SIP_TRANSPORT_TLS"
    assert trunk["numbers"] == [NUMBER] and trunk["auth_username"] == "voxie"
    assert trunk["auth_password"] == PASSWORD
    with session_scope() as session:
        row = session.get(SipOutboundTrunk, uuid.UUID(out["id"]))
        assert row is not None and PASSWORD not in repr(row.model_dump())

    # A new secret value reaches LiveKit on the next save.
    with session_scope() as session:
        secrets_svc.put(session=session, name="TRUNK_PASS", value="rotated-pass")
    changed = client.put(f"/api/sip-trunks/{out['id']}", json={**TRUNK, "transport": "tcp"})
    assert changed.status_code == 200 and changed.json()["transport"] == "tcp"
    (update,) = livekit.calls("UpdateSIPOutboundTrunk")
    assert update.body["sip_trunk_id"] == out["livekit_trunk_id"]
    assert update.body["replace"]["auth_password"] == "rotated-pass"
    assert [t["name"] for t in client.get("/api/sip-trunks").json()] == ["Telnyx"]

    # A number may go out through it; deleting the trunk leaves the number without one.
    number = client.post(
        "/api/phone-numbers",
        json={"number": NUMBER, "agent_id": make_agent(client), "outbound_trunk_id": out["id"]},
    ).json()
    assert number["outbound_trunk_name"] == "Telnyx"
    assert client.delete(f"/api/sip-trunks/{out['id']}").status_code == 204
    assert livekit.outbound_trunks == {}
    assert client.get(f"/api/phone-numbers/{number['id']}").json()["outbound_trunk_id"] is None
    assert PASSWORD not in caplog.text and "rotated-pass" not in caplog.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"auth_password_secret": "NO_SUCH_SECRET"}, "auth_password_secret"),
        ({"auth_password_secret": "lower"}, "auth_password_secret"),
        ({"auth_password_secret": ""}, "auth_password_secret"),  # a username needs it
        ({"address": "sip:user@sip.telnyx.com"}, "address"),
        ({"address": "https://sip.telnyx.com/x"}, "address"),
        ({"numbers": ["+14155550123", "12"]}, "numbers.1"),
        ({"numbers": [NUMBER, NUMBER]}, "numbers.1"),
        ({"transport": "sctp"}, "transport"),
        ({"name": ""}, "name"),
    ],
)
def test_outbound_trunk_bad_input_is_422(
    client: TestClient, livekit: LiveKitDouble, change: dict[str, Any], field: str
) -> None:
    r = client.post("/api/sip-trunks", json={**TRUNK, **change})
    assert r.status_code == 422, r.text
    assert error_field(r) == field
    assert livekit.requests == []


def test_outbound_trunk_failure_then_sync(client: TestClient, livekit: LiveKitDouble) -> None:
    livekit.fail_next("CreateSIPOutboundTrunk")
    r = client.post("/api/sip-trunks", json=TRUNK)
    assert r.status_code == 502 and "outbound trunk" in r.json()["detail"]
    assert PASSWORD not in r.text
    (listed,) = client.get("/api/sip-trunks").json()
    assert listed["status"] == "error" and listed["livekit_trunk_id"] is None
    assert client.post("/api/sip-trunks", json=TRUNK).status_code == 409
    report = client.post("/api/sip-trunks/sync").json()
    assert report["ok"] is True
    (listed,) = client.get("/api/sip-trunks").json()
    assert listed["status"] == "ready" and listed["livekit_trunk_id"] in livekit.outbound_trunks
    # LiveKit lost it: the sync (the page's one button) makes it again.
    livekit.outbound_trunks.clear()
    assert client.post("/api/phone-numbers/sync").json()["ok"] is True
    assert len(livekit.outbound_trunks) == 1


# ---- the services directly --------------------------------------------------------------


def test_services_refuse_before_writing(
    livekit: LiveKitDouble, configure: Callable[..., Settings]
) -> None:
    settings = get_settings()
    with pytest.raises(InvalidInput) as bad:
        asyncio.run(
            numbers_svc.create_number(
                body=PhoneNumberIn(number="+1 555", agent_id=uuid.uuid4()), settings=settings
            )
        )
    assert bad.value.field == "number"
    with pytest.raises(InvalidInput) as no_agent:
        asyncio.run(
            numbers_svc.update_number(
                number_id=uuid.uuid4(), body=PhoneNumberUpdate(agent_id=None), settings=settings
            )
        )
    assert no_agent.value.field == "agent_id"
    with pytest.raises(NotConfigured):
        asyncio.run(numbers_svc.sync(settings=configure(LIVEKIT_API_SECRET=None)))
    assert rows() == [] and livekit.requests == []


def test_gateway_errors_name_the_step_not_the_password(livekit: LiveKitDouble) -> None:
    settings = get_settings()
    gw = numbers_svc.SipGateway(settings)
    livekit.fail_next("CreateSIPOutboundTrunk", status=400, code="invalid_argument", msg="bad")
    spec = trunks_svc.OutboundSpec("T", "sip.telnyx.com", "udp", [], "u", PASSWORD, "")
    with pytest.raises(ProviderFailed) as failed:
        asyncio.run(gw.create_outbound_trunk(spec))
    assert "create the outbound trunk 'T'" in failed.value.message
    assert PASSWORD not in failed.value.message and PASSWORD not in repr(spec)
    assert asyncio.run(gw.delete_trunk("ST_missing")) is False
    assert asyncio.run(gw.delete_dispatch_rule("SDR_missing")) is False
