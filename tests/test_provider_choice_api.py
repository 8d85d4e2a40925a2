"""Provider choices through the API (issue 17): refused naming the setting when the agent
is saved and again when a call starts; cost lines name each line's provider and model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient

from tests.doubles.livekit_server import LiveKitDouble
from tests.test_calls import call_rows, client, create_agent, livekit  # noqa: F401 - fixtures
from voxie_app import provider_catalog as catalog
from voxie_app.db import session_scope
from voxie_app.models import CallSession
from voxie_app.services import pricing, recording, reports
from voxie_app.settings import Settings

ANTHROPIC = {"llm": {"provider": "anthropic"}}


def test_every_default_model_is_priced_as_its_kind(configure: Callable[..., Settings]) -> None:
    s = configure()
    for p in catalog.CATALOG:
        price = pricing.find_price(p.default_model, s)
        assert price is not None and price.kind == p.kind, p


def test_an_unconfigured_choice_is_a_422_at_save(
    client: TestClient,  # noqa: F811
    configure: Callable[..., Settings],
) -> None:
    r = client.post(
        "/api/agents/create",
        json={
            "user_requirements": {},
            "processed_spec": {"name": "A", "instructions": "x", **ANTHROPIC},
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {
            "loc": ["body", "processed_spec", "llm", "provider"],
            "msg": "ANTHROPIC_API_KEY is not set",
            "type": "value_error",
        }
    ]


def test_a_choice_unconfigured_since_is_a_422_at_call_start(
    client: TestClient,  # noqa: F811
    livekit: LiveKitDouble,  # noqa: F811
    configure: Callable[..., Settings],
) -> None:
    configure(ANTHROPIC_API_KEY="an-key")
    agent_id = create_agent(client, **ANTHROPIC)
    configure(ANTHROPIC_API_KEY=None)
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "llm", "provider"]
    assert r.json()["detail"][0]["msg"] == "ANTHROPIC_API_KEY is not set"
    assert call_rows() == [] and livekit.requests == []
    configure(ANTHROPIC_API_KEY="an-key")
    assert client.post("/api/call/start", json={"agent_id": agent_id}).status_code == 200


def test_cost_lines_name_the_provider_and_model(
    db: str, configure: Callable[..., Settings]
) -> None:
    settings = configure()
    call_id = uuid.uuid4()
    with session_scope() as s:
        s.add(CallSession(id=call_id, session_id=uuid.uuid4().hex, room_name="r"))
        s.flush()
        for kind, model, extra in (
            ("llm", "claude-3-5-haiku-20241022", {"input_tokens": 1000, "output_tokens": 100}),
            ("llm", "gpt-4o-mini", {"input_tokens": 10_000}),
            ("stt", "nova-3", {"audio_seconds": 60.0}),
        ):
            recording.set_usage(
                session=s,
                call_session_id=call_id,
                usage_type=kind,
                model_name=model,
                settings=settings,
                **extra,
            )
    with session_scope() as s:
        detail = reports.call_detail(session=s, call_id=call_id)
    assert detail is not None
    lines = [(c.usage_type, c.provider, c.model_name, c.cost_usd) for c in detail.costs]
    assert lines == [
        ("llm", "Anthropic", "claude-3-5-haiku-20241022", Decimal("0.0012")),
        ("llm", "OpenAI-compatible", "gpt-4o-mini", Decimal("0.0015")),
        ("stt", "Deepgram", "nova-3", Decimal("0.0077")),
        ("tts", "", "", Decimal("0")),
    ]


def test_a_realtime_agent_is_a_422_at_call_start_once_the_openai_key_is_gone(
    client: TestClient,  # noqa: F811
    livekit: LiveKitDouble,  # noqa: F811
    configure: Callable[..., Settings],
) -> None:
    configure(OPENAI_API_KEY="k", DEEPGRAM_API_KEY="dg", CARTESIA_API_KEY="ca")
    agent_id = create_agent(client, pipeline="realtime")
    configure(OPENAI_API_KEY=None)
    r = client.post("/api/call/start", json={"agent_id": agent_id})
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "pipeline"]
    assert error["msg"] == "a realtime pipeline needs OPENAI_API_KEY (the OpenAI Realtime API)"
    assert call_rows() == [] and livekit.requests == []
