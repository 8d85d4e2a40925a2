"""Accounts, sign-in sessions and API keys. Every rule about who may do what lives here.

Passwords are hashed with argon2. Session tokens and API keys are random and
only their SHA-256 is stored, so a database leak reveals no usable credential.
Roles: `admin` (everything) and `viewer` (read calls and analytics only).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import ApiKey, User, UserSession
from voxie_app.services.errors import Conflict, InvalidInput, NotFound

ROLES = ("admin", "viewer")
RANK = {"viewer": 1, "admin": 2}
MIN_PASSWORD = 10
MAX_PASSWORD = 256
KEY_PREFIX = "vx_"
RESET_PASSWORD_BYTES = 12  # 16 URL-safe characters
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
_hasher = PasswordHasher()
# Verified when the email is unknown, so a wrong email costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("voxie-dummy-password")


@dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user or an API key."""

    id: str
    name: str
    role: str
    kind: str  # "user" or "api_key"

    def can(self, role: str) -> bool:
        return RANK.get(self.role, 0) >= RANK[role]


def _sha(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    return role


def _check_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL_RE.match(email):
        raise InvalidInput("enter a valid email address", field="email")
    return email


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"use at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise InvalidInput("that password cannot be used", field="password")
    return password


# --------------------------------------------------------------------- users


def needs_setup(*, session: Session) -> bool:
    """True until the first admin exists: then only the setup page is reachable."""
    return session.exec(select(sa.func.count()).select_from(User)).one() == 0


def create_first_admin(*, session: Session, email: str, password: str, name: str = "") -> User:
    if not needs_setup(session=session):
        raise Conflict("setup is already done; sign in instead")
    return create_user(session=session, email=email, password=password, role="admin", name=name)


def create_user(*, session: Session, email: str, password: str, role: str, name: str = "") -> User:
    email = _check_email(email)
    _check_password(password)
    _check_role(role)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise InvalidInput("a user with this email exists", field="email")
    user = User(
        email=email, name=name.strip()[:100], password_hash=_hasher.hash(password), role=role
    )
    session.add(user)
    session.flush()
    return user


def ensure_admin(
    *, session: Session, email: str, password: str, name: str = ""
) -> tuple[User, bool]:
    """Headless set-up (`manage create-admin`, the first-start bootstrap): the admin with
    this email, and whether it was created now. Run again it changes nothing (the
    password given is neither checked nor set), so a deployment script can run it on
    every start; an email that belongs to a non-admin is refused, not promoted."""
    email = _check_email(email)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        return create_user(
            session=session, email=email, password=password, role="admin", name=name
        ), True
    if user.role != "admin":
        raise InvalidInput(f"a user with this email exists with role {user.role}", field="email")
    return user, False


def list_users(*, session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.created_at))).all())


def _admins(session: Session) -> int:
    return session.exec(
        select(sa.func.count()).where(User.role == "admin", col(User.disabled).is_(False))
    ).one()


def _is_last_admin(session: Session, user: User) -> bool:
    """True when `user` is the only enabled admin: they must stay one."""
    return user.role == "admin" and not user.disabled and _admins(session) <= 1


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def set_role(*, session: Session, user_id: uuid.UUID, role: str) -> User:
    user = _user(session, user_id)
    _check_role(role)
    if role != "admin" and _is_last_admin(session, user):
        raise Conflict("the last admin cannot be demoted")
    user.role = role
    session.add(user)
    session.flush()
    return user


def delete_user(*, session: Session, user_id: uuid.UUID) -> None:
    user = _user(session, user_id)
    if _is_last_admin(session, user):
        raise Conflict("the last admin cannot be deleted")
    session.delete(user)
    session.flush()


def set_disabled(*, session: Session, user_id: uuid.UUID, disabled: bool) -> User:
    """Disable (or enable again) an account: a disabled user cannot sign in, and
    their open sessions are ended, so nothing they had open keeps working."""
    user = _user(session, user_id)
    if disabled and _is_last_admin(session, user):
        raise Conflict("the last admin cannot be disabled")
    user.disabled = disabled
    session.add(user)
    if disabled:
        end_sessions(session=session, user_id=user.id)
    session.flush()
    return user


def change_password(
    *, session: Session, user_id: uuid.UUID, current: str, new: str, keep_token: str = ""
) -> int:
    """Change one's own password after re-entering the current one.

    Every other session of the user ends (whoever knew the old password is
    signed out); the one given as `keep_token` (the caller's) stays. Returns
    how many sessions ended.
    """
    user = _user(session, user_id)
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise InvalidInput("the current password is wrong", field="current") from None
    _check_password(new)
    if new == current:
        raise InvalidInput("choose a password different from the current one", field="password")
    user.password_hash = _hasher.hash(new)
    session.add(user)
    session.flush()
    return end_sessions(session=session, user_id=user.id, keep_token=keep_token)


def reset_password(*, session: Session, user_id: uuid.UUID) -> str:
    """An admin's reset: a new random password (returned once, never stored in
    clear) replaces the old one, and every session of that user ends."""
    user = _user(session, user_id)
    password = secrets.token_urlsafe(RESET_PASSWORD_BYTES)
    user.password_hash = _hasher.hash(password)
    session.add(user)
    session.flush()
    end_sessions(session=session, user_id=user.id)
    return password


# ------------------------------------------------------------------ sessions


def login(*, session: Session, email: str, password: str, hours: float) -> tuple[str, User]:
    """Check the password and open a session; returns the raw token (given to the browser)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or user.disabled:
        raise InvalidInput("wrong email or password", field="password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            token_hash=_sha(token), user_id=user.id, expires_at=now + timedelta(hours=hours)
        )
    )
    user.last_login_at = now
    session.add(user)
    session.flush()
    return token, user


def session_principal(
    *, session: Session, token: str, now: datetime | None = None
) -> Principal | None:
    """The user behind a browser session token, if it is valid and not expired."""
    if not token or len(token) > 200:
        return None
    row = session.exec(
        select(User)
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(
            UserSession.token_hash == _sha(token),
            col(UserSession.expires_at) > (now or utcnow()),
            col(User.disabled).is_(False),
        )
    ).first()
    if row is None:
        return None
    return Principal(id=str(row.id), name=row.name or row.email, role=row.role, kind="user")


def logout(*, session: Session, token: str) -> None:
    session.execute(sa.delete(UserSession).where(col(UserSession.token_hash) == _sha(token)))


def end_sessions(*, session: Session, user_id: uuid.UUID, keep_token: str = "") -> int:
    """End the user's sessions, except the one `keep_token` opened ("sign out
    other sessions"); returns how many ended."""
    query = sa.delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep_token:
        query = query.where(col(UserSession.token_hash) != _sha(keep_token))
    return session.execute(query).rowcount or 0


def purge_expired_sessions(*, session: Session, now: datetime | None = None) -> int:
    """Delete expired sessions (they already fail to authenticate); returns how many."""
    result = session.execute(
        sa.delete(UserSession).where(col(UserSession.expires_at) <= (now or utcnow()))
    )
    return result.rowcount or 0


# ------------------------------------------------------------------ API keys


def create_api_key(
    *, session: Session, name: str, role: str, created_by: uuid.UUID | None = None
) -> tuple[str, ApiKey]:
    """A new key: returns the raw key (shown once) and the stored row."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("give the key a name (up to 100 characters)", field="name")
    _check_role(role)
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=_sha(raw), role=role, created_by=created_by)
    session.add(key)
    session.flush()
    return raw, key


def active_api_key_named(*, session: Session, name: str) -> ApiKey | None:
    """The unrevoked key with this name, if any (`manage create-api-key` makes one per
    name, so running it again does not pile up keys)."""
    return session.exec(
        select(ApiKey)
        .where(ApiKey.name == name.strip(), col(ApiKey.revoked_at).is_(None))
        .order_by(col(ApiKey.created_at))
    ).first()


def list_api_keys(*, session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all())


def revoke_api_key(*, session: Session, key_id: uuid.UUID) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key


def api_key_principal(*, session: Session, raw: str) -> Principal | None:
    """The principal for a raw API key, if it is valid and not revoked; notes its use."""
    match = re.fullmatch(rf"{KEY_PREFIX}([0-9a-f]{{8}})_[A-Za-z0-9_-]{{20,100}}", raw or "")
    if match is None:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.prefix == match.group(1))).first()
    if key is None or key.revoked_at is not None:
        return None
    if not secrets.compare_digest(key.key_hash, _sha(raw)):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=60):
        key.last_used_at = now  # written at most once a minute per key
        session.add(key)
        session.flush()
    return Principal(id=str(key.id), name=f"key {key.name}", role=key.role, kind="api_key")
