"""Edges of the REST API (issue 12, H15), on SQLite and PostgreSQL where data is involved.

Every `/api` path and method answers JSON (404, 405 with `Allow`, HEAD as GET
without a body), keys are checked before a body is parsed, a search matches
`%` and `_` literally, and model and voice names have known forms.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app.api.app import create_api
from voxie_app.models import OPENAI_VOICES, AgentSpec
from voxie_app.services import agent_creation, pricing
from voxie_app.settings import Settings

SPEC = {"name": "Edge Bot", "instructions": "You answer calls.", "greeting": "Hi!"}

# A fixed id: test ids must be the same in every process (`pytest -n` compares them).
FIXED_ID = "5f0c8a52-3b7e-4d1a-9c2e-7a1b6d4e8f90"


@pytest.fixture
def anonymous(db: str) -> Iterator[TestClient]:
    with TestClient(create_api()) as c:
        yield c


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def _create(client: TestClient, **spec: object) -> dict:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {"b": "edge"}, "processed_spec": {**SPEC, **spec}},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _allow(response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


# ---- every /api path and method answers JSON -----------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
def test_unknown_api_path_is_json_404(
    client: TestClient, anonymous: TestClient, method: str
) -> None:
    for c in (client, anonymous):
        r = c.request(method, "/api/no/such/thing")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/json"
        if method != "HEAD":
            assert "no API endpoint" in r.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/api/agents", {"GET", "HEAD", "OPTIONS"}),
        ("DELETE", "/api/health", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", f"/api/agents/{FIXED_ID}", {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
        # A literal segment wins over a parameter: not `PUT /api/agents/{agent_id}`.
        ("PUT", "/api/agents/create", {"POST", "OPTIONS"}),
        ("GET", "/api/agents/create", {"POST", "OPTIONS"}),
        ("DELETE", f"/api/agents/{FIXED_ID}/knowledge/search", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/api/call/start", {"POST", "OPTIONS"}),
    ],
)
def test_wrong_method_is_json_405_with_allow(
    anonymous: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    r = anonymous.request(method, path)
    assert r.status_code == 405
    assert _allow(r) == allowed
    assert r.json() == {"detail": f"{method} is not allowed here"}


def test_a_trailing_slash_still_redirects(anonymous: TestClient) -> None:
    r = anonymous.get("/api/agents/", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"].endswith("/api/agents")


def test_options_lists_the_methods(anonymous: TestClient) -> None:
    r = anonymous.options(f"/api/webhooks/{uuid.uuid4()}")
    assert r.status_code == 204
    assert _allow(r) == {"DELETE", "OPTIONS"}


def test_head_is_get_without_a_body(client: TestClient, anonymous: TestClient) -> None:
    _create(client)
    for c, path in ((anonymous, "/api/health"), (client, "/api/agents")):
        got, head = c.get(path), c.head(path)
        assert head.status_code == got.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(got.content))
        assert head.headers["content-type"] == got.headers["content-type"]
    assert anonymous.head("/api/agents").status_code == 401


def test_head_of_a_live_stream_answers_and_ends(client: TestClient) -> None:
    """A creation still in progress: GET would stream until it ends; HEAD must not."""
    agent = agent_creation.submit(
        user_requirements={"business": "still processing"}, processed_spec=None
    )
    r = client.head(f"/api/agents/create-stream/{agent.session_id}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.content == b""


# ---- authentication before the body is parsed ---------------------------------


def test_malformed_json_without_a_key_is_401(anonymous: TestClient) -> None:
    for method, path in (
        ("POST", "/api/agents/create"),
        ("POST", "/api/call/start"),
        ("PUT", f"/api/agents/{FIXED_ID}"),
    ):
        r = anonymous.request(
            method, path, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


def test_malformed_json_with_a_viewer_key_is_403_and_with_admin_422(db: str) -> None:
    bad = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    with TestClient(create_api(), headers=admin_headers("viewer")) as viewer:
        assert viewer.post("/api/agents/create", **bad).status_code == 403
    with TestClient(create_api(), headers=admin_headers()) as admin:
        assert admin.post("/api/agents/create", **bad).status_code == 422


# ---- search matches wildcards literally ----------------------------------------


def test_search_escapes_like_wildcards(client: TestClient) -> None:
    for name in ("100% Pizza", "Dental_Bot", "Dental Bot", "Back\\slash"):
        _create(client, name=name)

    def found(search: str) -> set[str]:
        r = client.get("/api/agents", params={"search": search})
        assert r.status_code == 200
        return {a["name"] for a in r.json()}

    assert found("_") == {"Dental_Bot"}
    assert found("%") == {"100% Pizza"}
    assert found("\\") == {"Back\\slash"}
    assert found("l_b") == {"Dental_Bot"}
    assert found("dental") == {"Dental_Bot", "Dental Bot"}
    assert found("0%") == {"100% Pizza"}


# ---- model and voice names have known forms ------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("voice", "robot"),
        ("voice", "Coral"),
        ("voice", " coral"),
        ("voice", "alloy; drop table"),
        ("voice", "not-a-uuid-0000"),
        ("llm_model", "gpt 4o"),
        ("llm_model", "-flag"),
        ("llm_model", "model\u2028name"),
        ("llm_model", "x" * 101),
    ],
)
def test_unknown_voice_or_model_is_422_naming_the_field(
    client: TestClient, field: str, value: str
) -> None:
    r = client.post(
        "/api/agents/create",
        json={"user_requirements": {}, "processed_spec": {**SPEC, field: value}},
    )
    assert r.status_code == 422, r.text
    assert ["body", "processed_spec", field] in [e["loc"] for e in r.json()["detail"]]
    assert client.get("/api/agents").json() == []


def test_known_voices_and_model_names_are_accepted(client: TestClient) -> None:
    cartesia = "A0E99841-438C-4A64-B679-AE501E7D6091"
    for voice, model in (
        ("coral", "gpt-4.1-mini"),
        (cartesia, "llama3.1:8b"),
        ("verse", "meta-llama/Llama-3.1-8B-Instruct"),
    ):
        spec = _create(client, voice=voice, llm_model=model)
        stored = client.get(f"/api/agents/{spec['agent_id']}").json()["processed_spec"]
        assert stored["voice"] == voice.lower()
        assert stored["llm_model"] == model


def test_models_the_admin_configured_are_always_valid(configure: Callable[..., Settings]) -> None:
    assert all(re.match(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$", m) for m in pricing.DEFAULT_PRICES)
    configure(VOXIE_PRICING=json.dumps({"my house model": {"kind": "llm", "input": 1}}))
    spec = AgentSpec(name="x", instructions="y", llm_model="my house model")
    assert spec.llm_model == "my house model"


# ---- the schema states the limits the API enforces ------------------------------


def test_openapi_states_the_enforced_limits(configure: Callable[..., Settings]) -> None:
    configure(VOXIE_MAX_BODY_BYTES="123456")
    schema = TestClient(create_api()).get("/api/openapi.json").json()
    parts = schema["components"]["schemas"]
    for model in ("AgentCreate", "AgentUpdate"):
        (spec,) = [
            s
            for s in parts[model]["properties"]["processed_spec"]["anyOf"]
            if s != {"type": "null"}
        ]
        fields = spec["properties"]
        assert spec["additionalProperties"] is False and "required" not in spec
        assert fields["name"]["maxLength"] == 80 and fields["instructions"]["maxLength"] == 8000
        assert fields["temperature"] == {**fields["temperature"], "minimum": 0.0, "maximum": 2.0}
        assert fields["tools"]["maxItems"] == 10 and fields["transfer_targets"]["maxItems"] == 10
        assert fields["transfer_targets"]["items"]["properties"]["when"]["maxLength"] == 300
        assert fields["llm_model"]["pattern"].startswith("^[A-Za-z0-9]")
        assert {"enum": sorted(OPENAI_VOICES)} in fields["voice"]["anyOf"]
        requirements = parts[model]["properties"]["user_requirements"]
        assert "16 levels deep" in json.dumps(requirements)
    create = schema["paths"]["/api/agents/create"]["post"]["responses"]
    assert "123456 bytes" in create["413"]["description"]
    upload = schema["paths"]["/api/agents/{agent_id}/knowledge"]["post"]["requestBody"]
    assert upload["content"]["multipart/form-data"]["schema"]["additionalProperties"] is False
    pasted = upload["content"]["application/json"]["schema"]["properties"]
    assert pasted["name"]["pattern"] and pasted["text"]["pattern"] == r"\S"


def test_upload_form_has_only_the_file_field(client: TestClient) -> None:
    agent_id = _create(client)["agent_id"]
    r = client.post(
        f"/api/agents/{agent_id}/knowledge",
        files={"file": ("faq.txt", b"Open nine to five.")},
        data={"note": "x"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "note"]


def test_api_paths_never_reach_the_app_mounted_behind(db: str) -> None:
    """Reflex mounts its own app at "" inside the API app (`api_transformer`): a wrong
    method or unknown /api path must not fall through to its HTML 404."""
    from starlette.responses import HTMLResponse

    async def frontend(scope, receive, send) -> None:
        await HTMLResponse("<h1>404</h1>", status_code=404)(scope, receive, send)

    api = create_api()
    api.mount("", frontend)
    with TestClient(api, headers=admin_headers()) as c:
        assert c.patch("/api/agents").headers["content-type"] == "application/json"
        assert c.get("/api/nope").json() == {"detail": "no API endpoint at /api/nope"}
        assert c.head("/api/agents").status_code == 200
        assert c.get("/elsewhere").text == "<h1>404</h1>"


def test_a_voice_stored_before_the_check_falls_back_to_the_default(client: TestClient) -> None:
    """Specs stored before voices and models were checked still start calls."""
    from voxie_app.db import session_scope
    from voxie_app.models import Agent
    from voxie_app.services import agents as agents_svc

    agent_id = uuid.UUID(_create(client, voice="coral", temperature=0.3)["agent_id"])
    with session_scope() as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.processed_spec = {**agent.processed_spec, "voice": "Robot", "llm_model": "gpt 4o"}
        session.add(agent)
    with session_scope() as session:
        spec = agents_svc.get_spec(session=session, agent_id=agent_id)
    assert (spec.voice, spec.llm_model, spec.temperature) == ("alloy", "gpt-4o-mini", 0.3)
    with pytest.raises(ValueError):
        agents_svc.stored_spec({**spec.model_dump(), "voice": "Robot", "temperature": 9})


def test_pasted_text_that_is_not_utf8_is_422(client: TestClient) -> None:
    agent_id = _create(client)["agent_id"]
    r = client.post(
        f"/api/agents/{agent_id}/knowledge",
        content=b'{"name": "a.txt", "text": "\x80\xcc"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text


def test_the_webhook_limit_is_a_409(client: TestClient) -> None:
    from voxie_app.db import session_scope
    from voxie_app.services import webhooks

    with session_scope() as session:
        for i in range(webhooks.MAX_WEBHOOKS):
            webhooks.register(
                session=session, url=f"https://h{i}.example.com/x", events=["call.ended"]
            )
    r = client.post(
        "/api/webhooks", json={"url": "https://x.example.com/", "events": ["call.ended"]}
    )
    assert r.status_code == 409
    assert "delete one first" in r.json()["detail"]


def test_the_docs_assets_pass_the_gate(db: str) -> None:
    """The API docs' local assets are a mounted folder under /api: GET works, others 405."""
    from fastapi.testclient import TestClient

    from voxie_app.api.app import create_api

    with TestClient(create_api()) as client:
        assert client.get("/api/docs").status_code == 200
        css = client.get("/api/docs/assets/swagger-ui.css")
        assert css.status_code == 200 and "swagger" in css.text.lower()
        refused = client.post("/api/docs/assets/swagger-ui.css")
        assert refused.status_code == 405 and "GET" in refused.headers["allow"]
