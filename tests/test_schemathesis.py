"""Schemathesis against `/api/openapi.json`, in process, with an admin API key.

Every operation of `create_api()` gets generated requests (valid and invalid,
from the schema): no 5xx but the documented 502/503, every response matches
the schema (status code, content type, body), invalid input is rejected with a
4xx. LiveKit points at the Twirp double, so the call routes answer normally.
About half the requests use ids that exist (an agent, a call, a knowledge
document, a webhook), the rest random ones (404).

Bounded: a fixed seed, deterministic generation, a few examples per operation.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    positive_data_acceptance,
    unsupported_method,
)

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import CallSession
from voxie_app.services import agent_creation, knowledge
from voxie_app.services import webhooks as webhooks_svc
from voxie_app.settings import Settings

# A longer hunt: VOXIE_SCHEMATHESIS_EXAMPLES=200 VOXIE_SCHEMATHESIS_SEED=1 pytest <this file>
MAX_EXAMPLES = int(os.environ.get("VOXIE_SCHEMATHESIS_EXAMPLES", "25"))
SEED = int(os.environ.get("VOXIE_SCHEMATHESIS_SEED", "20240607"))
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # The API refuses a NUL character in any string (422 naming the field: PostgreSQL
        # cannot store one), which no JSON Schema of a free-form object can say; NUL
        # handling is tested route by route in tests/test_bad_input.py.
        "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES, "allow-x00": False},
    }
)
schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_api(), config=CONFIG)

SPEC = {
    "name": "Schema Bot",
    "instructions": "You answer calls for the schema test.",
    "greeting": "Hello from the schema test!",
}


# The admin key of the running test; schemathesis adds it to every request except
# the ones it sends without (or with a broken) `Authorization` on purpose.
_KEY: dict[str, str] = {}


@schema.auth(refresh_interval=None, retry_on=[])
class AdminKey:
    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return _KEY.get("raw", "")

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def known_ids(
    db: str, livekit_configured: LiveKitDouble, configure: Callable[..., Settings]
) -> Iterator[dict[str, str]]:
    """An admin key, and ids that exist: requests use them about half the time."""
    configure(VOXIE_CALL_START_RATE_LIMIT="100000/60")
    agent = agent_creation.submit(user_requirements={"business": "schema"}, processed_spec=SPEC)
    with session_scope() as session:
        call = CallSession(session_id=uuid.uuid4().hex, agent_id=agent.id, room_name="room-schema")
        session.add(call)
        doc = knowledge.add_document(
            session=session,
            agent_id=agent.id,
            upload=knowledge.check_text(name="faq.md", text="# Hours\nNine to five."),
        )
        hook = webhooks_svc.register(
            session=session, url="https://hooks.example.com/voxie", events=["call.ended"]
        )
    _KEY["raw"] = admin_headers()["Authorization"].removeprefix("Bearer ")
    yield {
        "agent_id": str(agent.id),
        "call_session_id": str(call.id),
        "document_id": str(doc.id),
        "webhook_id": str(hook.id),
    }
    _KEY.clear()


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _use_known_ids(case: schemathesis.Case, known: dict[str, str]) -> None:
    """Swap generated (valid) ids for existing ones in about half the cases, deterministically."""
    for params in (case.path_parameters, case.body if isinstance(case.body, dict) else None):
        for name, value in list((params or {}).items()):
            if name in known and _is_uuid(value) and zlib.crc32(value.encode()) % 2 == 0:
                params[name] = known[name]


def _documented(case: schemathesis.Case, status: int) -> bool:
    return str(status) in case.operation.definition.raw.get("responses", {})


# Checks left out, and why (each is a known, accepted behaviour, not a crash):
# - 5xx: checked below instead (only a documented 502/503 is allowed);
# - `Allow` on a 405: Starlette lists only the methods of the first route that
#   matched the path (`GET`), not all of them (`GET, PUT, DELETE`);
ALWAYS_EXCLUDED = [not_a_server_error, allow_header_conformance]
EXCLUDED = {
    # `PUT /api/agents/create` reaches `PUT /api/agents/{agent_id}` (422, "create" is not a
    # UUID) and `DELETE .../knowledge/search` reaches `.../knowledge/{document_id}`: 422,
    # where schemathesis expects 405 for a method the path does not declare.
    # `processed_spec` is documented as a free-form object but validated as an `AgentSpec`
    # (known keys only, each with its limits): a schema gap, reported, not fixed here.
    "POST /api/agents/create": [unsupported_method, positive_data_acceptance],
    "PUT /api/agents/{agent_id}": [positive_data_acceptance],
    "GET /api/agents/{agent_id}/knowledge/search": [unsupported_method],
    # The schema says `url` is a string; the service also wants http(s), a host, no
    # credentials and no fragment (422 naming `url`), which a JSON Schema cannot say well.
    "POST /api/webhooks": [positive_data_acceptance],
    # The schema says "a binary file"; the service takes only .txt/.md/.html/.pdf files that
    # are what their names say (415), and no empty ones (422).
    "POST /api/agents/{agent_id}/knowledge": [positive_data_acceptance],
    # `from` and `to` are each a valid date, but a `to` before `from` is 422 naming `to`
    # (tests/test_calls_api.py), which a JSON Schema cannot say.
    "GET /api/calls": [positive_data_acceptance],
    "GET /api/calls/export.csv": [positive_data_acceptance],
}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, known_ids: dict[str, str]) -> None:
    _use_known_ids(case, known_ids)
    excluded = ALWAYS_EXCLUDED + EXCLUDED.get(case.operation.label, [])
    response = case.call_and_validate(excluded_checks=excluded)
    if response.status_code >= 500:
        assert response.status_code in (502, 503) and _documented(case, response.status_code), (
            f"{case.operation.label} answered {response.status_code}: {response.text[:500]}"
        )
