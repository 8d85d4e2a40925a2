"""Spec fields for phone work: `transfer_numbers` and the voicemail policy, validated
in `AgentSpec` and refused by the API with a 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.models import MAX_TRANSFER_NUMBERS, AgentSpec

SPEC = {"name": "Front Desk", "instructions": "You answer the phone for Acme."}
GOOD = {"label": "Billing", "number": "+1 (415) 555-0123", "when": "bills", "mode": "warm"}


def locs(exc: ValidationError) -> list[tuple]:
    return [tuple(e["loc"]) for e in exc.errors()]


def test_numbers_are_stored_in_e164_with_cold_by_default() -> None:
    spec = AgentSpec.model_validate(
        {**SPEC, "transfer_numbers": [GOOD, {"label": "Desk", "number": "+442079460958"}]}
    )
    assert [(t.label, t.number, t.mode) for t in spec.transfer_numbers] == [
        ("Billing", "+14155550123", "warm"),
        ("Desk", "+442079460958", "cold"),
    ]
    assert (spec.voicemail_policy, spec.voicemail_message) == ("hang_up", "")


@pytest.mark.parametrize(
    ("entries", "loc"),
    [
        ([{**GOOD, "number": "4155550123"}], ("transfer_numbers", 0, "number")),
        ([{**GOOD, "number": "+1 415"}], ("transfer_numbers", 0, "number")),
        ([{**GOOD, "mode": "hot"}], ("transfer_numbers", 0, "mode")),
        ([{**GOOD, "label": ""}], ("transfer_numbers", 0, "label")),
        ([{**GOOD, "label": "a\nb"}], ("transfer_numbers", 0, "label")),
        ([{**GOOD, "when": "x" * 301}], ("transfer_numbers", 0, "when")),
        ([{**GOOD, "extra": 1}], ("transfer_numbers", 0, "extra")),
        ([GOOD, {**GOOD, "label": "BILLING", "number": "+442079460958"}], ("transfer_numbers",)),
        (
            [{**GOOD, "label": f"L{i}"} for i in range(MAX_TRANSFER_NUMBERS + 1)],
            ("transfer_numbers",),
        ),
    ],
)
def test_bad_transfer_numbers_name_the_field(entries: list, loc: tuple) -> None:
    with pytest.raises(ValidationError) as err:
        AgentSpec.model_validate({**SPEC, "transfer_numbers": entries})
    assert loc in locs(err.value)


def test_voicemail_policy_rules() -> None:
    with pytest.raises(ValidationError) as err:
        AgentSpec.model_validate({**SPEC, "voicemail_policy": "leave_message"})
    assert ("voicemail_message",) in locs(err.value)
    with pytest.raises(ValidationError) as err:
        AgentSpec.model_validate({**SPEC, "voicemail_policy": "beep"})
    assert ("voicemail_policy",) in locs(err.value)
    spec = AgentSpec.model_validate(
        {**SPEC, "voicemail_policy": "leave_message", "voicemail_message": " Hi {{first_name}} "}
    )
    assert spec.voicemail_message == "Hi {{first_name}}"


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def test_api_refuses_a_bad_number_with_422_naming_it(client: TestClient) -> None:
    r = client.post(
        "/api/agents/create",
        json={
            "user_requirements": {},
            "processed_spec": {**SPEC, "transfer_numbers": [{**GOOD, "number": "call me"}]},
        },
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-4:] == ["processed_spec", "transfer_numbers", 0, "number"]
    assert client.get("/api/agents").json() == []


def test_api_keeps_transfer_numbers_and_voicemail(client: TestClient) -> None:
    r = client.post(
        "/api/agents/create",
        json={
            "user_requirements": {},
            "processed_spec": {
                **SPEC,
                "transfer_numbers": [GOOD],
                "voicemail_policy": "leave_message",
                "voicemail_message": "Please call Acme back.",
            },
        },
    )
    assert r.status_code == 201, r.text
    spec = client.get(f"/api/agents/{r.json()['agent_id']}").json()["processed_spec"]
    assert spec["transfer_numbers"] == [
        {"label": "Billing", "number": "+14155550123", "when": "bills", "mode": "warm"}
    ]
    assert spec["voicemail_policy"] == "leave_message"
