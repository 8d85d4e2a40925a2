"""Per-session state shared by the agents and their tools (`session.userdata`).

Dependencies reach tools through here (database writes, how to build another
agent), so tests can run the same agent class with fakes or a test database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voxie_app.db import session_scope
from voxie_app.models import AgentSpec
from voxie_app.services import agents as agents_svc
from voxie_app.services import recording
from voxie_app.services.errors import NotFound
from voxie_app.settings import Settings

if TYPE_CHECKING:
    from livekit.agents import Agent

    from voice_worker.human_transfer import PhoneLine


@dataclass
class TargetInfo:
    """A transfer target as the model sees it."""

    agent_id: uuid.UUID
    name: str
    when: str


@dataclass
class CallData:
    """Everything a running call needs besides the framework itself."""

    settings: Settings
    spec: AgentSpec
    agent_id: uuid.UUID | None = None
    call_session_id: uuid.UUID | None = None
    # Builds the agent for a stored agent id (used for transfers); set by the runner.
    agent_factory: Callable[..., Agent] | None = None
    caller: dict[str, str] = field(default_factory=dict)
    transfers: list[str] = field(default_factory=list)
    end_reason: str | None = None
    # The call's final status when it ended some other way than `completed`
    # (e.g. `transferred` after a hand-off to a person).
    end_status: str | None = None
    # Phone calls only: the line the phone tools use (`voice_worker.human_transfer`).
    phone: PhoneLine | None = None
    # The call's recorder when it is recorded (set by `CallRecorder.attach`): tools queue
    # their own rows on it so they keep the call's order.
    recorder: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The knowledge-base retriever the `search_knowledge_base` tool uses (anything with
    # `async search(agent_id, query)`); None = `KnowledgeRetriever` from settings.
    knowledge: Any = None
    # The LiveKit room of a voice call (anything with `local_participant.publish_dtmf`;
    # tests give a fake), for tools that act on the line (`send_dtmf`). None in a chat.
    room: Any = None
    # A voice call's filler rule (`voice_worker.filler.TurnFiller`); None in a chat.
    filler: Any = None

    async def save_caller_details(self, **details: str) -> None:
        """Keep details in memory and, for a recorded call, on the call row."""
        self.caller.update({k: v for k, v in details.items() if v})
        if self.call_session_id is None:
            return
        call_id = self.call_session_id

        def _write() -> None:
            with session_scope() as session:
                recording.save_caller_details(session=session, call_session_id=call_id, **details)

        await asyncio.to_thread(_write)


def load_targets(spec: AgentSpec) -> list[TargetInfo]:
    """Resolve the spec's transfer targets to names; targets deleted since are dropped."""
    if not spec.transfer_targets:
        return []
    with session_scope() as session:
        found = []
        for target in spec.transfer_targets:
            try:
                agent = agents_svc.get_agent(session=session, agent_id=target.agent_id)
            except NotFound:
                continue
            if agent.status == "ready":
                found.append(TargetInfo(agent.id, agent.name, target.when))
        return found
