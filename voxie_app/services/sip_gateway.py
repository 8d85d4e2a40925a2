"""LiveKit's SIP service (trunks and dispatch rules) through `livekit-api`'s `SipService`.

The phone services (`phone_numbers`, `sip_trunks`) keep the database as the truth and
call this to make LiveKit agree; this module only speaks the protocol. Settings,
timeouts and errors are handled as in `livekit_gateway`: `NotConfigured` (503) when a
LiveKit setting is missing, `ProviderFailed` (502, a message without the request)
when LiveKit refuses, fails or is too slow. A delete of something LiveKit no longer
has counts as done, so a retried delete or a sync after a half-finished one converges.

Every trunk and rule Voxie creates carries `metadata` naming Voxie, the worker's agent
name and the database row (`marker`), so a sync can adopt an object whose id was
never stored (a crash between LiveKit's answer and the database write) and remove
the ones no row owns, without touching objects someone else made.

An outbound trunk's password is passed in by the caller, read from the secrets store
at the moment of sending; it is put in the request and nowhere else (no log line,
no error message, no return value holds it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from livekit import api
from livekit.protocol import sip as proto_sip

from voxie_app.services.errors import ProviderFailed
from voxie_app.services.livekit_gateway import (
    _LIVEKIT_ERRORS,
    REQUEST_TIMEOUT_S,
    _describe,
    require_livekit,
)
from voxie_app.settings import Settings

T = TypeVar("T")

MANAGED_BY = "voxie"
TRANSPORTS: dict[str, int] = {
    "auto": proto_sip.SIP_TRANSPORT_AUTO,
    "udp": proto_sip.SIP_TRANSPORT_UDP,
    "tcp": proto_sip.SIP_TRANSPORT_TCP,
    "tls": proto_sip.SIP_TRANSPORT_TLS,
}
TRANSPORT_NAMES = {value: name for name, value in TRANSPORTS.items()}


def marker(settings: Settings, kind: str, row_id: str) -> str:
    """The `metadata` Voxie puts on what it creates: who made it, for which row."""
    return json.dumps(
        {"managed_by": MANAGED_BY, "agent_name": settings.agent_name, "kind": kind, "id": row_id},
        separators=(",", ":"),
    )


def owner_of(settings: Settings, metadata: str, kind: str) -> str | None:
    """The row id in a LiveKit object's metadata when this Voxie made it (same worker
    name), for `kind`; None for anything else (someone else's trunk, another Voxie)."""
    try:
        data = json.loads(metadata or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    ours = data.get("managed_by") == MANAGED_BY and data.get("agent_name") == settings.agent_name
    row_id = data.get("id")
    return str(row_id) if ours and data.get("kind") == kind and row_id else None


@dataclass(frozen=True)
class RuleSpec:
    """What a number's dispatch rule must say (compared on sync, sent on create/update)."""

    trunk_id: str
    room_prefix: str
    name: str
    metadata: str  # the `marker`
    agent_name: str
    dispatch_metadata: str  # JSON {phone_number_id, agent_id}, what the worker reads

    def info(self, rule_id: str = "") -> proto_sip.SIPDispatchRuleInfo:
        return proto_sip.SIPDispatchRuleInfo(
            sip_dispatch_rule_id=rule_id,
            rule=proto_sip.SIPDispatchRule(
                dispatch_rule_individual=proto_sip.SIPDispatchRuleIndividual(
                    room_prefix=self.room_prefix
                )
            ),
            trunk_ids=[self.trunk_id],
            name=self.name,
            metadata=self.metadata,
            room_config=api.RoomConfiguration(
                agents=[
                    api.RoomAgentDispatch(
                        agent_name=self.agent_name, metadata=self.dispatch_metadata
                    )
                ]
            ),
        )

    def matches(self, rule: proto_sip.SIPDispatchRuleInfo) -> bool:
        """Whether LiveKit's `rule` already routes as this spec says."""
        agents = list(rule.room_config.agents)
        return (
            rule.rule.WhichOneof("rule") == "dispatch_rule_individual"
            and rule.rule.dispatch_rule_individual.room_prefix == self.room_prefix
            and list(rule.trunk_ids) == [self.trunk_id]
            and len(agents) == 1
            and agents[0].agent_name == self.agent_name
            and _same_json(agents[0].metadata, self.dispatch_metadata)
        )


@dataclass(frozen=True)
class OutboundSpec:
    """An outbound trunk as LiveKit gets it; `auth_password` is the resolved secret."""

    name: str
    address: str
    transport: str
    numbers: list[str]
    auth_username: str
    auth_password: str
    metadata: str

    def info(self, trunk_id: str = "") -> proto_sip.SIPOutboundTrunkInfo:
        return proto_sip.SIPOutboundTrunkInfo(
            sip_trunk_id=trunk_id,
            name=self.name,
            metadata=self.metadata,
            address=self.address,
            transport=TRANSPORTS.get(self.transport, proto_sip.SIP_TRANSPORT_AUTO),
            numbers=list(self.numbers),
            auth_username=self.auth_username,
            auth_password=self.auth_password,
        )

    def __repr__(self) -> str:  # never show the password in a traceback or a log
        return f"OutboundSpec(name={self.name!r}, address={self.address!r})"


def _same_json(a: str, b: str) -> bool:
    try:
        return json.loads(a or "null") == json.loads(b or "null")
    except ValueError:
        return a == b


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, api.TwirpError) and exc.code == api.TwirpErrorCode.NOT_FOUND


class SipGateway:
    """Inbound and outbound trunks and dispatch rules on LiveKit's SIP service."""

    def __init__(self, settings: Settings) -> None:
        require_livekit(settings)
        self.settings = settings

    def _client(self) -> api.LiveKitAPI:
        assert self.settings.livekit_api_secret is not None
        return api.LiveKitAPI(
            url=self.settings.livekit_url,
            api_key=self.settings.livekit_api_key,
            api_secret=self.settings.livekit_api_secret.get_secret_value(),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        )

    async def _run(
        self, what: str, call: Callable[[api.SipService], Awaitable[T]], *, gone_ok: bool = False
    ) -> T | None:
        """One request, bounded in time; a failure is `ProviderFailed` saying `what`.
        With `gone_ok`, LiveKit's not_found is an answer (None), not a failure."""
        try:
            # livekit-api passes `timeout=None` per request (no session timeout): bound it here.
            async with asyncio.timeout(REQUEST_TIMEOUT_S), self._client() as lk:
                return await call(lk.sip)
        except _LIVEKIT_ERRORS as exc:
            if gone_ok and _is_not_found(exc):
                return None
            raise ProviderFailed(f"LiveKit could not {what}: {_describe(exc)}") from None

    # ------------------------------------------------------------- inbound trunks

    async def create_inbound_trunk(self, *, number: str, name: str, metadata: str) -> str:
        """A trunk that accepts calls to `number` from any address; returns its id."""
        info = await self._run(
            f"create the inbound trunk for {number}",
            lambda sip: sip.create_inbound_trunk(
                proto_sip.CreateSIPInboundTrunkRequest(
                    trunk=proto_sip.SIPInboundTrunkInfo(
                        name=name, metadata=metadata, numbers=[number]
                    )
                )
            ),
        )
        assert info is not None
        return info.sip_trunk_id

    async def list_inbound_trunks(self) -> list[proto_sip.SIPInboundTrunkInfo]:
        out = await self._run(
            "list inbound trunks",
            lambda sip: sip.list_inbound_trunk(proto_sip.ListSIPInboundTrunkRequest()),
        )
        assert out is not None
        return list(out.items)

    async def delete_trunk(self, trunk_id: str) -> bool:
        """Delete an inbound or outbound trunk; False when LiveKit did not have it."""
        done = await self._run(
            f"delete trunk {trunk_id}",
            lambda sip: sip.delete_trunk(proto_sip.DeleteSIPTrunkRequest(sip_trunk_id=trunk_id)),
            gone_ok=True,
        )
        return done is not None

    # ------------------------------------------------------------- dispatch rules

    async def create_dispatch_rule(self, spec: RuleSpec) -> str:
        info = await self._run(
            "create the dispatch rule",
            lambda sip: sip.create_dispatch_rule(
                proto_sip.CreateSIPDispatchRuleRequest(dispatch_rule=spec.info())
            ),
        )
        assert info is not None
        return info.sip_dispatch_rule_id

    async def update_dispatch_rule(self, rule_id: str, spec: RuleSpec) -> bool:
        """Replace rule `rule_id` with `spec`; False when LiveKit no longer has it."""
        done = await self._run(
            f"update dispatch rule {rule_id}",
            lambda sip: sip.update_dispatch_rule(rule_id, spec.info(rule_id)),
            gone_ok=True,
        )
        return done is not None

    async def list_dispatch_rules(self) -> list[proto_sip.SIPDispatchRuleInfo]:
        out = await self._run(
            "list dispatch rules",
            lambda sip: sip.list_dispatch_rule(proto_sip.ListSIPDispatchRuleRequest()),
        )
        assert out is not None
        return list(out.items)

    async def delete_dispatch_rule(self, rule_id: str) -> bool:
        """False when LiveKit did not have it."""
        done = await self._run(
            f"delete dispatch rule {rule_id}",
            lambda sip: sip.delete_dispatch_rule(
                proto_sip.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule_id)
            ),
            gone_ok=True,
        )
        return done is not None

    # ------------------------------------------------------------- outbound trunks

    async def create_outbound_trunk(self, spec: OutboundSpec) -> str:
        info = await self._run(
            f"create the outbound trunk {spec.name!r}",
            lambda sip: sip.create_outbound_trunk(
                proto_sip.CreateSIPOutboundTrunkRequest(trunk=spec.info())
            ),
        )
        assert info is not None
        return info.sip_trunk_id

    async def update_outbound_trunk(self, trunk_id: str, spec: OutboundSpec) -> bool:
        """Replace the trunk with `spec`; False when LiveKit no longer has it."""
        done = await self._run(
            f"update the outbound trunk {spec.name!r}",
            lambda sip: sip.update_outbound_trunk(trunk_id, spec.info(trunk_id)),
            gone_ok=True,
        )
        return done is not None

    async def list_outbound_trunks(self) -> list[proto_sip.SIPOutboundTrunkInfo]:
        out = await self._run(
            "list outbound trunks",
            lambda sip: sip.list_outbound_trunk(proto_sip.ListSIPOutboundTrunkRequest()),
        )
        assert out is not None
        return list(out.items)


def transport_name(value: Any) -> str:
    return TRANSPORT_NAMES.get(int(value), "auto")
