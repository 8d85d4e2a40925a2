"""Schemathesis against `/api/openapi.json`, in process, with an admin API key.

Every operation of `create_api()` gets generated requests (valid and invalid,
from the schema): no 5xx but the documented 502/503, every response matches
the schema (status code, content type, body), invalid input is rejected with a
4xx. LiveKit points at the Twirp double, so the call routes answer normally.
About half the requests use ids that exist (an agent, a call, a knowledge
document, a webhook), the rest random ones (404). Every check runs on every
operation; the few rules JSON Schema cannot state are applied to the valid
requests only (`_obey_rules_the_schema_cannot_state`).

Bounded: a fixed seed, deterministic generation, a few examples per operation.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Callable, Iterator
from zoneinfo import available_timezones

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.file_samples import FILE_SAMPLES
from schemathesis.transport.serialization import Binary

from tests.conftest import admin_headers
from tests.doubles.livekit_server import LiveKitDouble
from voxie_app.api.app import create_api
from voxie_app.db import session_scope
from voxie_app.models import CallSession, PhoneNumber, SipOutboundTrunk
from voxie_app.services import agent_creation, knowledge
from voxie_app.services import tools as tools_svc
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
        # LiveKit failing (502) or not configured (503) are answers, not crashes; the test
        # below also requires them to be documented on the operation.
        "checks": {
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503"]}
        },
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
    colleague = agent_creation.submit(
        user_requirements={"business": "schema"}, processed_spec={**SPEC, "name": "Colleague"}
    )
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
        tool = tools_svc.create_tool(
            session=session,
            body=tools_svc.parse({"name": "schema_tool", "description": "d", "url": TOOL_URL}),
        )
        trunk = SipOutboundTrunk(name="schema", address="sip.example.com", livekit_trunk_id="ST_s")
        session.add(trunk)
        session.flush()
        number = PhoneNumber(number="+14155550100", outbound_trunk_id=trunk.id)
        session.add(number)
        session.flush()
    _KEY["raw"] = admin_headers()["Authorization"].removeprefix("Bearer ")
    yield {
        "from_number_id": str(number.id),
        "agent_id": str(agent.id),
        "call_session_id": str(call.id),
        "document_id": str(doc.id),
        "webhook_id": str(hook.id),
        "colleague_id": str(colleague.id),
        "tool_id": str(tool.id),
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


# Rules JSON Schema cannot state, applied to valid (positive) requests only, so that
# every check runs on every operation. Everything else the API enforces is in the schema.
WEBHOOK_URL = "https://hooks.example.com/voxie"
TOOL_URL = "https://tools.example.com/slots"
TOOL_WRITES = ("POST /api/tools", "PUT /api/tools/{tool_id}")
MCP_WRITES = ("POST /api/tools/mcp", "PUT /api/tools/mcp/{tool_id}")
# Phone numbers must be real ones (libphonenumber's data, not a pattern); the one
# called is never the one put on the do-not-call list.
DNC_NUMBER = "+14155550123"
CALLED_NUMBER = "+14155550188"


PHONE_NUMBER_WRITES = {
    "POST /api/phone-numbers",
    "PATCH /api/phone-numbers/{number_id}",
    "PUT /api/phone-numbers/{number_id}",
}
SIP_TRUNK_WRITES = {"POST /api/sip-trunks", "PUT /api/sip-trunks/{trunk_id}"}
CAMPAIGN_CSV = f"phone,first_name\n{CALLED_NUMBER},Ann\n"


def _obey_rules_the_schema_cannot_state(case: schemathesis.Case, known: dict[str, str]) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    body = case.body if isinstance(case.body, dict) else {}
    spec = body.get("processed_spec")
    if isinstance(spec, dict):
        _obey_spec_rules(spec, known)
    if case.operation.label == "POST /api/webhooks" and isinstance(body.get("url"), str):
        body["url"] = WEBHOOK_URL  # a public http(s) URL the server accepts
    if case.operation.label in TOOL_WRITES:
        # A public URL, a JSON Schema object, headers without secrets, not a built-in name.
        body.update(url=TOOL_URL, parameters={"type": "object", "properties": {}}, headers={})
        if body.get("name") in tools_svc.BUILTIN_TOOL_NAMES:
            body["name"] = "custom_" + str(body["name"])[:50]
    if case.operation.label in MCP_WRITES:
        # A public URL, headers without secrets, no tools allowed before a Refresh.
        body.update(url=TOOL_URL, headers={}, allowed_tools=[])
        if body.get("name") in tools_svc.BUILTIN_TOOL_NAMES:
            body["name"] = "custom_" + str(body["name"])[:50]
    if case.operation.label == "POST /api/secrets" and isinstance(body.get("value"), str):
        # The pattern's `$` also matches before a final newline (Python's regex, which the
        # generator uses), so a "valid" value can end in one; the rule is one line.
        body["value"] = body["value"].rstrip("\n") or "x"
    if case.operation.label == "POST /api/do-not-call":
        if "number" in body:
            body["number"] = DNC_NUMBER
        for row in body.get("numbers") or []:
            if isinstance(row, dict):
                row["number"] = DNC_NUMBER
    if case.operation.label == "DELETE /api/do-not-call/{number}" and case.path_parameters:
        case.path_parameters["number"] = DNC_NUMBER
    if case.operation.label == "POST /api/call/outbound":
        body.update(to=CALLED_NUMBER, from_number_id=known["from_number_id"])
    if case.operation.label in PHONE_NUMBER_WRITES:
        # A valid E.164 number (phonenumbers' data, not a pattern), an existing agent, no
        # trunk ids (an existing one must exist in LiveKit, an outbound one here).
        if "number" in body or case.operation.label == "POST /api/phone-numbers":
            body["number"] = "+14155550123"
        if "agent_id" in body or case.operation.label.startswith("PUT"):
            body["agent_id"] = known["agent_id"]
        body.pop("inbound_trunk_id", None)
        body.pop("outbound_trunk_id", None)
    if case.operation.label in SIP_TRUNK_WRITES:
        # A SIP host, E.164 numbers, and no credentials (a password names a stored secret).
        body.update(address="sip.example.com", numbers=[], auth_username="")
        body["auth_password_secret"] = ""
    if case.operation.label == "POST /api/campaigns":
        _obey_campaign_rules(body, known)
    if "file" in body and isinstance(body["file"], bytes | Binary):
        body["file"] = FILE_SAMPLES["pdf"]  # a real document of a supported type
    query = case.query if isinstance(case.query, dict) else {}
    if isinstance(query.get("from"), str) and isinstance(query.get("to"), str):
        # A `to` before `from` is a 422 naming `to` (tests/test_calls_api.py).
        query["from"], query["to"] = sorted((query["from"], query["to"]))
    if isinstance(query.get("number"), str):
        # A number must exist (libphonenumber), which no pattern states: a 422 naming
        # `number` otherwise (tests/test_phone_inbound.py).
        query["number"] = "+14155550123"


def _obey_campaign_rules(body: dict, known: dict[str, str]) -> None:
    """An agent and a number that can call, a CSV whose cells keep the rules, a real
    time zone and a window that ends after it starts (tests/test_campaigns.py)."""
    body.update(agent_id=known["agent_id"], from_number_id=known["from_number_id"])
    body["csv"] = CAMPAIGN_CSV
    if not isinstance(body.get("timezone"), str) or body["timezone"] not in available_timezones():
        body["timezone"] = "UTC"
    start, end = body.get("window_start", "09:00"), body.get("window_end", "17:00")
    if isinstance(start, str) and isinstance(end, str) and end <= start:
        body["window_start"], body["window_end"] = "09:00", "17:00"


def _obey_spec_rules(spec: dict, known: dict[str, str]) -> None:
    """min <= max endpointing delay, also against the stored spec (both are always sent);
    transfer targets are another existing agent, and enable the tool they need; provider
    choices `auto` (a named one needs its key, a speech model a named provider); people
    to transfer to have valid numbers and unique labels; leave_message has a message."""
    low, high = spec.get("min_endpointing_delay"), spec.get("max_endpointing_delay")
    if isinstance(low, int | float) or isinstance(high, int | float):
        low = low if isinstance(low, int | float) else 0.0
        high = high if isinstance(high, int | float) else 10.0
        spec["min_endpointing_delay"], spec["max_endpointing_delay"] = sorted((low, high))
    if isinstance(spec.get("custom_tools"), list) and spec["custom_tools"]:
        spec["custom_tools"] = [known["tool_id"]]  # an existing tool
    targets = spec.get("transfer_targets")
    if isinstance(targets, list) and targets:
        for target in targets:
            if isinstance(target, dict):
                target["agent_id"] = known["colleague_id"]
        tools = spec.get("tools") if isinstance(spec.get("tools"), list) else ["end_call"]
        spec["tools"] = [*list(dict.fromkeys(tools))[:9], "transfer_to_agent"]
    elif isinstance(spec.get("tools"), list) and "transfer_to_agent" not in spec["tools"]:
        spec["transfer_targets"] = []  # none stored from an earlier request either
    for kind in ("stt", "llm", "tts"):
        choice = spec.get(kind)
        if isinstance(choice, dict):
            # A named provider must be configured, and a speech model needs a named
            # provider (tests/test_provider_choice.py): `auto`, no model, is always valid.
            spec[kind] = {"provider": "auto"}
    people = spec.get("transfer_numbers")
    if isinstance(people, list):
        # Labels unique and plain, numbers that exist (libphonenumber): rules no schema
        # states (tests/test_transfer_spec.py).
        spec["transfer_numbers"] = [
            {**p, "label": f"Person {i}", "number": "+14155550100", "when": "when asked"}
            for i, p in enumerate(people[:10])
            if isinstance(p, dict)
        ]
    if (
        spec.get("voicemail_policy") == "leave_message"
        and not str(spec.get("voicemail_message") or "").strip()
    ):
        spec["voicemail_message"] = "Please call us back."


def _documented(case: schemathesis.Case, status: int) -> bool:
    return str(status) in case.operation.definition.raw.get("responses", {})


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, known_ids: dict[str, str]) -> None:
    _use_known_ids(case, known_ids)
    _obey_rules_the_schema_cannot_state(case, known_ids)
    response = case.call_and_validate()
    if response.status_code >= 500:
        assert response.status_code in (502, 503) and _documented(case, response.status_code), (
            f"{case.operation.label} answered {response.status_code}: {response.text[:500]}"
        )
