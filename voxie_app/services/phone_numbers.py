"""Phone numbers: an E.164 number callers dial, bound to the agent that answers it.

The database is the truth; LiveKit's SIP service is made to agree with it. A number
needs, in LiveKit, an inbound trunk that accepts calls to it (Voxie creates one, or an
admin names an existing trunk) and an individual dispatch rule on that trunk: each
call gets a room of its own (prefix per number) with Voxie's worker dispatched, its
metadata naming the number and the agent (`{phone_number_id, agent_id}`).

Writes are ordered so that a LiveKit failure part-way leaves a row a retry or a sync
finishes:
- create: the row is committed first (no trunk or rule id yet), then the trunk is
  created and its id stored, then the rule and its id. A failure stores `sync_error`
  and raises `ProviderFailed` saying the number is saved and what to do.
- rebind: the row is changed first, then the rule is replaced (or recreated).
- delete: LiveKit first (rule, then the trunk if Voxie made it; "already gone" is
  fine), the row last, so a failed delete keeps the number and can be retried.
- sync: every row is converged (missing trunk or rule created, a rule that says
  something else replaced, an object whose id was never stored adopted through its
  metadata) and objects Voxie made that no row owns are deleted.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import Agent, PhoneNumber, SipOutboundTrunk
from voxie_app.services import e164
from voxie_app.services.errors import Conflict, InvalidInput, NotFound, ProviderFailed
from voxie_app.services.sip_gateway import RuleSpec, SipGateway, marker, owner_of
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

KIND = "phone_number"
TRUNK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_NUMBERS = 500
MAX_ERROR = 500
RETRY_HINT = "the number is saved: press Sync with LiveKit (POST /api/phone-numbers/sync) to retry"


class PhoneNumberIn(BaseModel):
    """A number as an admin adds it."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(
        min_length=1,
        max_length=e164.MAX_INPUT_CHARS,
        description="E.164, e.g. +14155550123 (spaces and dashes are allowed).",
    )
    label: str = Field(default="", max_length=80, description="For admins, e.g. 'Front desk'.")
    agent_id: uuid.UUID = Field(description="The agent that answers calls to this number.")
    inbound_trunk_id: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "An existing LiveKit inbound trunk (ST_...) to use; Voxie then never deletes it. "
            "Empty: Voxie creates a trunk for this number and deletes it with the number."
        ),
        json_schema_extra={"pattern": TRUNK_ID_RE.pattern},
    )
    outbound_trunk_id: uuid.UUID | None = Field(
        default=None, description="The outbound trunk calls from this number go out through."
    )


class PhoneNumberUpdate(BaseModel):
    """What may change on a number (rebinding it, mostly). On PATCH an absent field
    stays as it is; on PUT `agent_id` is required and absent fields are cleared."""

    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID | None = Field(default=None, description="The agent to bind.")
    label: str | None = Field(default=None, max_length=80)
    outbound_trunk_id: uuid.UUID | None = None


@dataclass(frozen=True)
class PhoneNumberView:
    """A number as shown: its agent's and outbound trunk's names, and its state."""

    id: uuid.UUID
    number: str
    display: str
    label: str
    agent_id: uuid.UUID | None
    agent_name: str
    inbound_trunk_id: str | None
    trunk_managed: bool
    dispatch_rule_id: str | None
    outbound_trunk_id: uuid.UUID | None
    outbound_trunk_name: str
    room_prefix: str
    status: str  # ready, pending, no_agent, error
    sync_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass
class SyncReport:
    """What a sync did; `errors` maps a number (or "LiveKit") to why it still disagrees."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def merge(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            created=[*self.created, *other.created],
            updated=[*self.updated, *other.updated],
            adopted=[*self.adopted, *other.adopted],
            deleted=[*self.deleted, *other.deleted],
            errors={**self.errors, **other.errors},
        )


# ------------------------------------------------------------------------ reading


def room_prefix(number: str) -> str:
    """The rooms calls to `number` get: `phone-14155550123-` (LiveKit adds the rest)."""
    return f"phone-{number.lstrip('+')}-"


def status_of(row: PhoneNumber) -> str:
    if row.sync_error:
        return "error"
    if row.agent_id is None:
        return "no_agent"
    if not row.inbound_trunk_id or not row.dispatch_rule_id:
        return "pending"
    return "ready"


def get_number(*, session: Session, number_id: uuid.UUID) -> PhoneNumber:
    row = session.get(PhoneNumber, number_id)
    if row is None:
        raise NotFound(f"no phone number with id {number_id}")
    return row


def list_numbers(*, session: Session) -> list[PhoneNumber]:
    return list(session.exec(select(PhoneNumber).order_by(col(PhoneNumber.number))).all())


def find_by_number(*, session: Session, number: str) -> PhoneNumber | None:
    """The row of an E.164 number (what the inbound call path looks up)."""
    return session.exec(select(PhoneNumber).where(PhoneNumber.number == number)).first()


def views(*, session: Session, rows: list[PhoneNumber] | None = None) -> list[PhoneNumberView]:
    """Rows as shown, with agent and trunk names read once for all of them."""
    rows = list_numbers(session=session) if rows is None else rows
    agents = {a.id: a.name for a in session.exec(select(Agent)).all()}
    trunks = {t.id: t.name for t in session.exec(select(SipOutboundTrunk)).all()}
    return [
        PhoneNumberView(
            id=r.id,
            number=r.number,
            display=e164.display(r.number),
            label=r.label,
            agent_id=r.agent_id,
            agent_name=(agents.get(r.agent_id, "") or str(r.agent_id)) if r.agent_id else "",
            inbound_trunk_id=r.inbound_trunk_id,
            trunk_managed=r.trunk_managed,
            dispatch_rule_id=r.dispatch_rule_id,
            outbound_trunk_id=r.outbound_trunk_id,
            outbound_trunk_name=trunks.get(r.outbound_trunk_id, "") if r.outbound_trunk_id else "",
            room_prefix=room_prefix(r.number),
            status=status_of(r),
            sync_error=r.sync_error,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def view(*, session: Session, number_id: uuid.UUID) -> PhoneNumberView:
    return views(session=session, rows=[get_number(session=session, number_id=number_id)])[0]


# ------------------------------------------------------------------------ checks


def _check_agent(session: Session, agent_id: uuid.UUID) -> None:
    if session.get(Agent, agent_id) is None:
        raise InvalidInput(f"no agent with id {agent_id}", field="agent_id")


def _check_outbound(session: Session, trunk_id: uuid.UUID | None) -> None:
    if trunk_id is not None and session.get(SipOutboundTrunk, trunk_id) is None:
        raise InvalidInput(f"no outbound trunk with id {trunk_id}", field="outbound_trunk_id")


def _trunk_id(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if not TRUNK_ID_RE.match(text):
        raise InvalidInput(
            "a LiveKit trunk id is letters, digits, _ and - (e.g. ST_abc123)",
            field="inbound_trunk_id",
        )
    return text


# ------------------------------------------------------------------------ LiveKit


def rule_spec(row: PhoneNumber, settings: Settings) -> RuleSpec:
    """The dispatch rule `row` needs (it must have a trunk and an agent)."""
    assert row.inbound_trunk_id and row.agent_id
    return RuleSpec(
        trunk_id=row.inbound_trunk_id,
        room_prefix=room_prefix(row.number),
        name=f"Voxie {row.number}",
        metadata=marker(settings, KIND, str(row.id)),
        agent_name=settings.agent_name,
        dispatch_metadata=json.dumps(
            {"phone_number_id": str(row.id), "agent_id": str(row.agent_id)},
            separators=(",", ":"),
        ),
    )


def _load(number_id: uuid.UUID) -> PhoneNumber | None:
    with session_scope() as session:
        return session.get(PhoneNumber, number_id)


def _store(number_id: uuid.UUID, **values: object) -> None:
    """Write LiveKit's answer to the row at once (its own transaction), so what LiveKit
    holds is known even if a later step fails."""
    with session_scope() as session:
        row = session.get(PhoneNumber, number_id)
        if row is None:
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        session.add(row)


def _error_text(message: str) -> str:
    return message[:MAX_ERROR]


@dataclass
class _Listing:
    """What LiveKit holds (read once per sync)."""

    trunks: dict[str, str]  # inbound trunk id -> owning row id ("" if not ours)
    rules: dict[str, object]  # rule id -> SIPDispatchRuleInfo
    rule_owner: dict[str, str]  # rule id -> owning row id ("" if not ours)


async def _listing(gw: SipGateway, settings: Settings) -> _Listing:
    trunks = await gw.list_inbound_trunks()
    rules = await gw.list_dispatch_rules()
    return _Listing(
        trunks={t.sip_trunk_id: owner_of(settings, t.metadata, KIND) or "" for t in trunks},
        rules={r.sip_dispatch_rule_id: r for r in rules},
        rule_owner={
            r.sip_dispatch_rule_id: owner_of(settings, r.metadata, KIND) or "" for r in rules
        },
    )


async def _converge(
    number_id: uuid.UUID,
    gw: SipGateway,
    settings: Settings,
    report: SyncReport,
    listing: _Listing | None = None,
) -> None:
    """Make LiveKit hold what row `number_id` says; each answer stored as it comes.

    Without `listing` (create, rebind) ids are trusted and a rule LiveKit lost is
    recreated; with it (sync) ids LiveKit does not have are replaced, and objects this
    Voxie made for the row are adopted instead of duplicated.
    """
    row = _load(number_id)
    if row is None:
        return
    key = row.number
    # ---- the inbound trunk
    if row.trunk_managed:
        have = row.inbound_trunk_id
        if have and listing is not None and have not in listing.trunks:
            have = None  # deleted in LiveKit: make another
        if not have:
            adopt = None
            if listing is not None:
                adopt = next((t for t, o in listing.trunks.items() if o == str(row.id)), None)
            if adopt:
                report.adopted.append(f"{key}: trunk {adopt}")
                have = adopt
            else:
                have = await gw.create_inbound_trunk(
                    number=row.number,
                    name=f"Voxie {row.number}",
                    metadata=marker(settings, KIND, str(row.id)),
                )
                report.created.append(f"{key}: trunk {have}")
            _store(number_id, inbound_trunk_id=have)
            row.inbound_trunk_id = have
    elif listing is not None and row.inbound_trunk_id not in listing.trunks:
        raise ProviderFailed(
            f"LiveKit has no inbound trunk {row.inbound_trunk_id}: create it there, or delete "
            "this number and add it again without a trunk id so Voxie makes one"
        )
    # ---- the dispatch rule
    rule_id = row.dispatch_rule_id
    if row.agent_id is None:  # nobody answers: no rule (calls are refused by LiveKit)
        if rule_id:
            await gw.delete_dispatch_rule(rule_id)
            _store(number_id, dispatch_rule_id=None)
            report.deleted.append(f"{key}: rule {rule_id} (no agent)")
        return
    spec = rule_spec(row, settings)
    if rule_id and listing is not None:
        existing = listing.rules.get(rule_id)
        if existing is None:
            rule_id = None
        elif not spec.matches(existing):  # type: ignore[arg-type]
            await gw.update_dispatch_rule(rule_id, spec)
            report.updated.append(f"{key}: rule {rule_id}")
    elif rule_id:
        if await gw.update_dispatch_rule(rule_id, spec):
            report.updated.append(f"{key}: rule {rule_id}")
        else:
            rule_id = None  # LiveKit lost it
    if not rule_id:
        adopt = None
        if listing is not None:
            adopt = next((r for r, o in listing.rule_owner.items() if o == str(row.id)), None)
        if adopt:
            existing = listing.rules[adopt] if listing is not None else None
            if existing is not None and not spec.matches(existing):  # type: ignore[arg-type]
                await gw.update_dispatch_rule(adopt, spec)
            report.adopted.append(f"{key}: rule {adopt}")
            rule_id = adopt
        else:
            rule_id = await gw.create_dispatch_rule(spec)
            report.created.append(f"{key}: rule {rule_id}")
        _store(number_id, dispatch_rule_id=rule_id)


async def _converge_or_record(
    number_id: uuid.UUID,
    gw: SipGateway,
    settings: Settings,
    report: SyncReport,
    listing: _Listing | None = None,
) -> None:
    """`_converge`, storing the outcome in `sync_error` (cleared on success)."""
    try:
        await _converge(number_id, gw, settings, report, listing)
    except ProviderFailed as exc:
        row = _load(number_id)
        report.errors[row.number if row else str(number_id)] = exc.message
        _store(number_id, sync_error=_error_text(exc.message))
        log.warning("phone number %s: %s", number_id, exc.message)
        raise
    _store(number_id, sync_error=None)


# ------------------------------------------------------------------------ writes


async def create_number(*, body: PhoneNumberIn, settings: Settings) -> PhoneNumber:
    """Add a number bound to an agent, and make LiveKit route its calls.

    422 naming the field for a bad number, agent, trunk id or outbound trunk; 409
    when the number exists; 503 (nothing written) without LiveKit settings; 502 when
    LiveKit fails part-way: the row is kept with `sync_error`, and a sync finishes it.
    """
    number = e164.parse(body.number, field="number")
    trunk_id = _trunk_id(body.inbound_trunk_id)
    gw = SipGateway(settings)  # NotConfigured before anything is written
    with session_scope() as session:
        _check_agent(session, body.agent_id)
        _check_outbound(session, body.outbound_trunk_id)
        if find_by_number(session=session, number=number) is not None:
            raise Conflict(f"{number} is already added")
        if len(session.exec(select(PhoneNumber.id)).all()) >= MAX_NUMBERS:
            raise Conflict(f"at most {MAX_NUMBERS} phone numbers can be stored")
        now = utcnow()
        row = PhoneNumber(
            number=number,
            label=body.label.strip(),
            agent_id=body.agent_id,
            inbound_trunk_id=trunk_id,
            trunk_managed=trunk_id is None,
            outbound_trunk_id=body.outbound_trunk_id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        try:
            session.flush()
        except sa.exc.IntegrityError:
            raise Conflict(f"{number} is already added") from None
        number_id = row.id
    await _provision(number_id, gw, settings)
    with session_scope() as session:
        return get_number(session=session, number_id=number_id)


async def _provision(number_id: uuid.UUID, gw: SipGateway, settings: Settings) -> None:
    try:
        await _converge_or_record(number_id, gw, settings, SyncReport())
    except ProviderFailed as exc:
        raise ProviderFailed(f"{exc.message}; {RETRY_HINT}") from None


async def update_number(
    *,
    number_id: uuid.UUID,
    body: PhoneNumberUpdate,
    settings: Settings,
    replace: bool = False,
) -> PhoneNumber:
    """Rebind a number (and change its label or outbound trunk); the rule follows.

    `replace` (PUT): every field is set, `agent_id` required. Otherwise (PATCH) only
    the fields sent change. The row is written first, then LiveKit's rule is replaced;
    a LiveKit failure is a 502 with the change kept and `sync_error` set.
    """
    sent = body.model_fields_set if not replace else {"agent_id", "label", "outbound_trunk_id"}
    if ("agent_id" in sent or replace) and body.agent_id is None:
        raise InvalidInput("choose the agent that answers this number", field="agent_id")
    gw = SipGateway(settings)
    with session_scope() as session:
        row = get_number(session=session, number_id=number_id)
        if "agent_id" in sent and body.agent_id is not None:
            _check_agent(session, body.agent_id)
            row.agent_id = body.agent_id
        if "label" in sent:
            row.label = (body.label or "").strip()
        if "outbound_trunk_id" in sent:
            _check_outbound(session, body.outbound_trunk_id)
            row.outbound_trunk_id = body.outbound_trunk_id
        row.updated_at = utcnow()
        session.add(row)
    await _provision(number_id, gw, settings)
    with session_scope() as session:
        return get_number(session=session, number_id=number_id)


async def delete_number(*, number_id: uuid.UUID, settings: Settings) -> None:
    """Delete the rule, the trunk if Voxie made it, then the row.

    LiveKit goes first so a failure keeps the number (with `sync_error`) and the
    delete can simply be repeated; what LiveKit already dropped counts as deleted.
    """
    gw = SipGateway(settings)
    with session_scope() as session:
        row = get_number(session=session, number_id=number_id)
        rule_id, trunk_id, managed = row.dispatch_rule_id, row.inbound_trunk_id, row.trunk_managed
    try:
        if rule_id:
            await gw.delete_dispatch_rule(rule_id)
            _store(number_id, dispatch_rule_id=None)
        if managed and trunk_id:
            await gw.delete_trunk(trunk_id)
            _store(number_id, inbound_trunk_id=None)
    except ProviderFailed as exc:
        _store(number_id, sync_error=_error_text(exc.message))
        raise ProviderFailed(f"{exc.message}; the number is kept: try deleting it again") from None
    with session_scope() as session:
        row = session.get(PhoneNumber, number_id)
        if row is not None:
            session.delete(row)


async def sync(*, settings: Settings) -> SyncReport:
    """Repair every disagreement between the numbers here and LiveKit.

    Reads LiveKit's trunks and rules once, converges each number (its failure is
    recorded on its row and in the report; the others go on), then deletes the
    trunks and rules this Voxie made that no number owns any more.
    """
    gw = SipGateway(settings)
    report = SyncReport()
    with session_scope() as session:
        ids = [r.id for r in list_numbers(session=session)]
    try:
        listing = await _listing(gw, settings)
    except ProviderFailed as exc:
        for number_id in ids:
            _store(number_id, sync_error=_error_text(exc.message))
        report.errors["LiveKit"] = exc.message
        return report
    for number_id in ids:
        try:
            await _converge_or_record(number_id, gw, settings, report, listing)
        except ProviderFailed:
            continue
    with session_scope() as session:
        rows = list_numbers(session=session)
        keep_trunks = {r.inbound_trunk_id for r in rows if r.inbound_trunk_id}
        keep_rules = {r.dispatch_rule_id for r in rows if r.dispatch_rule_id}
    # Only what this Voxie made (its marker) that no row holds: its row is gone, or the
    # row holds another id (a duplicate left by a crash between LiveKit and the database).
    for rule_id, owner in listing.rule_owner.items():
        if owner and rule_id not in keep_rules:
            try:
                await gw.delete_dispatch_rule(rule_id)
                report.deleted.append(f"rule {rule_id}")
            except ProviderFailed as exc:
                report.errors[f"rule {rule_id}"] = exc.message
    for trunk_id, owner in listing.trunks.items():
        if owner and trunk_id not in keep_trunks:
            try:
                await gw.delete_trunk(trunk_id)
                report.deleted.append(f"trunk {trunk_id}")
            except ProviderFailed as exc:
                report.errors[f"trunk {trunk_id}"] = exc.message
    return report
