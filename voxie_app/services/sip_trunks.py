"""SIP outbound trunks: how Voxie places phone calls through a carrier (Twilio, Telnyx...).

A trunk is a row here (name, the carrier's SIP address, transport, the numbers it may
call from, the username, and the NAME of the secret holding the password) mirrored as
a LiveKit outbound trunk. The password lives only in the secrets store: it is read at
the moment a request to LiveKit is built, put in that request, and never stored here,
returned, or logged. A secret name the store does not hold is a 422 naming
`auth_password_secret`.

As for numbers, the row is written first and LiveKit after; a LiveKit failure keeps
the row with `sync_error` (502), and `sync` (or saving again) finishes the job. Delete
goes to LiveKit first, so a failed delete keeps the row and can be repeated.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from voxie_app.db import session_scope
from voxie_app.dbtypes import utcnow
from voxie_app.models import Secret, SipOutboundTrunk
from voxie_app.services import e164
from voxie_app.services import secrets as secrets_svc
from voxie_app.services.errors import Conflict, InvalidInput, NotFound, ProviderFailed, parse_model
from voxie_app.services.phone_numbers import SyncReport
from voxie_app.services.sip_gateway import OutboundSpec, SipGateway, marker, owner_of
from voxie_app.settings import Settings

log = logging.getLogger(__name__)

KIND = "outbound_trunk"
MAX_TRUNKS = 50
MAX_NUMBERS = 100
MAX_ERROR = 500
# A SIP host (name or IPv4) with an optional port; no scheme, user or path: what
# LiveKit's `address` takes, e.g. "example.pstn.twilio.com" or "sip.telnyx.com:5061".
ADDRESS_RE = re.compile(
    r"^(?=.{1,255}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*(:[0-9]{1,5})?$"
)
Transport = Literal["auto", "udp", "tcp", "tls"]
RETRY_HINT = "the trunk is saved: press Sync with LiveKit to retry"


class SipTrunkIn(BaseModel):
    """An outbound trunk as an admin writes it (create or full replace)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, description="Unique, e.g. 'Telnyx'.")
    address: str = Field(
        min_length=1,
        max_length=255,
        description="The carrier's SIP host, e.g. example.pstn.twilio.com (no sip: prefix).",
    )
    transport: Transport = Field(default="udp", description="udp, tcp, tls or auto.")
    numbers: list[str] = Field(
        default_factory=list,
        max_length=MAX_NUMBERS,
        description="E.164 numbers calls may come from (the carrier's numbers).",
    )
    auth_username: str = Field(default="", max_length=128)
    auth_password_secret: str = Field(
        default="",
        max_length=64,
        description="The NAME of the secret (Settings > Secrets) holding the password.",
    )

    @field_validator("name", "address", "auth_username", "auth_password_secret")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def parse(data: dict) -> SipTrunkIn:
    """Validate a trunk dict (for callers without pydantic at the edge): InvalidInput."""
    return parse_model(SipTrunkIn, data)


@dataclass(frozen=True)
class SipTrunkView:
    """A trunk as shown; the username and the secret's name only for admins."""

    id: uuid.UUID
    name: str
    address: str
    transport: str
    numbers: list[str]
    auth_username: str | None
    auth_password_secret: str | None
    livekit_trunk_id: str | None
    status: str  # ready, pending, error
    sync_error: str | None
    created_at: datetime
    updated_at: datetime


def view(row: SipOutboundTrunk, *, admin: bool) -> SipTrunkView:
    return SipTrunkView(
        id=row.id,
        name=row.name,
        address=row.address,
        transport=row.transport,
        numbers=list(row.numbers or []),
        auth_username=row.auth_username if admin else None,
        auth_password_secret=row.auth_password_secret if admin else None,
        livekit_trunk_id=row.livekit_trunk_id,
        status="error" if row.sync_error else ("ready" if row.livekit_trunk_id else "pending"),
        sync_error=row.sync_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_trunk(*, session: Session, trunk_id: uuid.UUID) -> SipOutboundTrunk:
    row = session.get(SipOutboundTrunk, trunk_id)
    if row is None:
        raise NotFound(f"no outbound trunk with id {trunk_id}")
    return row


def list_trunks(*, session: Session) -> list[SipOutboundTrunk]:
    return list(session.exec(select(SipOutboundTrunk).order_by(col(SipOutboundTrunk.name))).all())


# ------------------------------------------------------------------------ checks


def _check(session: Session, body: SipTrunkIn, *, trunk_id: uuid.UUID | None) -> list[str]:
    """Every rule of a saved trunk; returns its numbers in E.164."""
    if not ADDRESS_RE.match(body.address):
        raise InvalidInput(
            "give the carrier's SIP host, e.g. example.pstn.twilio.com or sip.telnyx.com:5061 "
            "(no sip: prefix, no user, no path)",
            field="address",
        )
    numbers: list[str] = []
    for index, text in enumerate(body.numbers):
        number = e164.parse(text, field=f"numbers.{index}")
        if number in numbers:
            raise InvalidInput(f"{number} is listed twice", field=f"numbers.{index}")
        numbers.append(number)
    if body.auth_password_secret:
        secrets_svc.check_name(body.auth_password_secret, field="auth_password_secret")
        if session.get(Secret, body.auth_password_secret) is None:
            raise secrets_svc.UnknownSecret(body.auth_password_secret, field="auth_password_secret")
    elif body.auth_username:
        raise InvalidInput(
            "a username needs its password: pick the secret that holds it",
            field="auth_password_secret",
        )
    clash = session.exec(select(SipOutboundTrunk).where(SipOutboundTrunk.name == body.name)).first()
    if clash is not None and clash.id != trunk_id:
        raise Conflict(f"an outbound trunk named {body.name!r} exists")
    return numbers


def _apply(row: SipOutboundTrunk, body: SipTrunkIn, numbers: list[str]) -> None:
    row.name = body.name
    row.address = body.address
    row.transport = body.transport
    row.numbers = numbers
    row.auth_username = body.auth_username
    row.auth_password_secret = body.auth_password_secret


# ------------------------------------------------------------------------ LiveKit


def _spec(row: SipOutboundTrunk, settings: Settings) -> OutboundSpec:
    """What LiveKit gets for `row`, the password read from the store now (send time)."""
    password = ""
    if row.auth_password_secret:
        with session_scope() as session:
            password = secrets_svc.value_of(session=session, name=row.auth_password_secret)
    return OutboundSpec(
        name=row.name,
        address=row.address,
        transport=row.transport,
        numbers=list(row.numbers or []),
        auth_username=row.auth_username,
        auth_password=password,
        metadata=marker(settings, KIND, str(row.id)),
    )


def _store(trunk_id: uuid.UUID, **values: object) -> None:
    with session_scope() as session:
        row = session.get(SipOutboundTrunk, trunk_id)
        if row is None:
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        session.add(row)


async def _push(
    trunk_id: uuid.UUID,
    gw: SipGateway,
    settings: Settings,
    report: SyncReport,
    listed: dict[str, str] | None = None,
) -> None:
    """Create or replace the LiveKit trunk of row `trunk_id`; the outcome in `sync_error`.

    The password cannot be compared (LiveKit does not hand it back), so an existing
    trunk is always replaced: that also carries a changed secret value to LiveKit.
    """
    with session_scope() as session:
        row = session.get(SipOutboundTrunk, trunk_id)
    if row is None:
        return
    try:
        spec = _spec(row, settings)
        have = row.livekit_trunk_id
        if have and listed is not None and have not in listed:
            have = None
        if have and await gw.update_outbound_trunk(have, spec):
            report.updated.append(f"{row.name}: outbound trunk {have}")
        else:
            adopt = None
            if listed is not None:
                adopt = next((t for t, o in listed.items() if o == str(row.id)), None)
            if adopt:
                await gw.update_outbound_trunk(adopt, spec)
                report.adopted.append(f"{row.name}: outbound trunk {adopt}")
                have = adopt
            else:
                have = await gw.create_outbound_trunk(spec)
                report.created.append(f"{row.name}: outbound trunk {have}")
            _store(trunk_id, livekit_trunk_id=have)
    except (ProviderFailed, InvalidInput) as exc:  # LiveKit, or the secret was deleted
        message = exc.message[:MAX_ERROR]
        report.errors[row.name] = message
        _store(trunk_id, sync_error=message)
        log.warning("outbound trunk %s: %s", trunk_id, message)
        raise
    _store(trunk_id, sync_error=None)


async def _provision(trunk_id: uuid.UUID, gw: SipGateway, settings: Settings) -> None:
    try:
        await _push(trunk_id, gw, settings, SyncReport())
    except ProviderFailed as exc:
        raise ProviderFailed(f"{exc.message}; {RETRY_HINT}") from None


# ------------------------------------------------------------------------ writes


async def create_trunk(*, body: SipTrunkIn, settings: Settings) -> SipOutboundTrunk:
    """Save a trunk and create it in LiveKit (503 with nothing written without LiveKit
    settings; 502 with the row kept when LiveKit fails)."""
    gw = SipGateway(settings)
    with session_scope() as session:
        numbers = _check(session, body, trunk_id=None)
        if len(session.exec(select(SipOutboundTrunk.id)).all()) >= MAX_TRUNKS:
            raise Conflict(f"at most {MAX_TRUNKS} outbound trunks can be stored")
        now = utcnow()
        row = SipOutboundTrunk(name=body.name, address=body.address, created_at=now, updated_at=now)
        _apply(row, body, numbers)
        session.add(row)
        try:
            session.flush()
        except sa.exc.IntegrityError:
            raise Conflict(f"an outbound trunk named {body.name!r} exists") from None
        trunk_id = row.id
    await _provision(trunk_id, gw, settings)
    with session_scope() as session:
        return get_trunk(session=session, trunk_id=trunk_id)


async def update_trunk(
    *, trunk_id: uuid.UUID, body: SipTrunkIn, settings: Settings
) -> SipOutboundTrunk:
    """Replace every field, then LiveKit's trunk (502 with the change kept on failure)."""
    gw = SipGateway(settings)
    with session_scope() as session:
        row = get_trunk(session=session, trunk_id=trunk_id)
        numbers = _check(session, body, trunk_id=trunk_id)
        _apply(row, body, numbers)
        row.updated_at = utcnow()
        session.add(row)
        try:
            session.flush()
        except sa.exc.IntegrityError:
            raise Conflict(f"an outbound trunk named {body.name!r} exists") from None
    await _provision(trunk_id, gw, settings)
    with session_scope() as session:
        return get_trunk(session=session, trunk_id=trunk_id)


async def delete_trunk(*, trunk_id: uuid.UUID, settings: Settings) -> None:
    """Delete LiveKit's trunk (already gone is fine), then the row; numbers that used it
    keep no outbound trunk (the foreign key sets theirs to null)."""
    gw = SipGateway(settings)
    with session_scope() as session:
        livekit_id = get_trunk(session=session, trunk_id=trunk_id).livekit_trunk_id
    if livekit_id:
        try:
            await gw.delete_trunk(livekit_id)
        except ProviderFailed as exc:
            _store(trunk_id, sync_error=exc.message[:MAX_ERROR])
            raise ProviderFailed(f"{exc.message}; the trunk is kept: try again") from None
    with session_scope() as session:
        row = session.get(SipOutboundTrunk, trunk_id)
        if row is not None:
            session.delete(row)


async def sync(*, settings: Settings) -> SyncReport:
    """Push every trunk to LiveKit (created if LiveKit lacks it, replaced otherwise) and
    delete the outbound trunks this Voxie made that no row holds."""
    gw = SipGateway(settings)
    report = SyncReport()
    with session_scope() as session:
        ids = [r.id for r in list_trunks(session=session)]
    try:
        listed = {
            t.sip_trunk_id: owner_of(settings, t.metadata, KIND) or ""
            for t in await gw.list_outbound_trunks()
        }
    except ProviderFailed as exc:
        for trunk_id in ids:
            _store(trunk_id, sync_error=exc.message[:MAX_ERROR])
        report.errors["LiveKit"] = exc.message
        return report
    for trunk_id in ids:
        try:
            await _push(trunk_id, gw, settings, report, listed)
        except (ProviderFailed, InvalidInput):
            continue
    with session_scope() as session:
        keep = {r.livekit_trunk_id for r in list_trunks(session=session) if r.livekit_trunk_id}
    for livekit_id, owner in listed.items():
        if owner and livekit_id not in keep:
            try:
                await gw.delete_trunk(livekit_id)
                report.deleted.append(f"outbound trunk {livekit_id}")
            except ProviderFailed as exc:
                report.errors[f"outbound trunk {livekit_id}"] = exc.message
    return report
