"""What a call is (web, chat, phone) and who took it, in the words every list uses.

Text chats are stored as calls of kind "chat" so they can be read back later,
but "calls" in counts, lists and rollups means voice calls (web and phone)
unless a kind is asked for: one condition, `kind_condition`, says so for
every query. A call without an agent is Voxie, the builder, when its agent
type says so, and otherwise a call of an agent since deleted.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from voxie_app.models import CALL_KINDS, VOICE_KINDS, CallSession

BUILDER_NAME = "Voxie builder"  # `primary_agent_type` of a voice call with the builder
KIND_FILTERS = ("voice", "all", *CALL_KINDS)  # "voice" (web and phone) is the default
KIND_LABELS = {"web": "Web call", "chat": "Text chat", "phone": "Phone call"}
# The /calls kind filter's choices (its "all" choice is the page's own).
KIND_FILTER_LABELS = {
    "voice": "Voice calls",
    "chat": "Text chats",
    "web": "Web calls",
    "phone": "Phone calls",
}
BUILDER_LABEL = "Voxie (builder)"
DELETED_LABEL = "Deleted agent"
# The daily rollups keep one bucket for calls without an agent: the builder's and
# deleted agents' together, so per-agent aggregates name that bucket for both.
NO_AGENT_LABEL = "Voxie (builder) or deleted agent"


def kind_condition(kind: str) -> Any:
    """WHERE condition for calls of `kind`: "voice", "all" or one of `CALL_KINDS`."""
    kinds = col(CallSession.kind)
    if kind == "all":
        return sa.true()
    if kind == "voice":
        return kinds.in_(VOICE_KINDS)
    if kind in CALL_KINDS:
        return kinds == kind
    raise ValueError(f"kind must be one of {KIND_FILTERS}")


def agent_label(agent_name: str | None, agent_id: uuid.UUID | None, agent_type: str | None) -> str:
    """Who took a call: the agent's name, Voxie the builder, or a deleted agent."""
    if agent_name:
        return agent_name
    if agent_id is None and agent_type == BUILDER_NAME:
        return BUILDER_LABEL
    return DELETED_LABEL
