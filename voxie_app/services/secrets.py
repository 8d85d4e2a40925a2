"""The secrets store: named values (API keys tools send), encrypted at rest.

Values are encrypted with Fernet (`cryptography`) under one key: `VOXIE_SECRET_KEY`
when set, else a key file (`VOXIE_SECRET_KEY_FILE`, default `data/secret.key`,
mode 0600) created on first use or by `python -m voxie_app.manage secret-key`.
Losing the key loses every stored value, so the README says to back it up.

A value goes in once and comes out only through `value_of` / `resolve`, which the
agent runtime calls at the moment it sends a request. Nothing here logs a value,
and the rows' `repr` leaves the ciphertext out.

Headers and URLs refer to a secret as `{{secret:NAME}}`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, col, select

from voxie_app.dbtypes import utcnow
from voxie_app.models import Secret, Tool
from voxie_app.services.errors import InvalidInput, NotConfigured, NotFound
from voxie_app.settings import Settings, get_settings

NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
NAME_RULE = "upper-case letters, digits and _, starting with a letter, at most 64 characters"
MAX_VALUE = 8000
MAX_SECRETS = 200
REFERENCE_RE = re.compile(r"\{\{\s*secret:([A-Za-z0-9_]*)\s*\}\}")
REDACTED = "[secret]"


class UnknownSecret(InvalidInput):
    """A `{{secret:NAME}}` reference to a name the store does not hold."""

    def __init__(self, name: str, *, field: str = "secret") -> None:
        super().__init__(f"unknown secret {name!r}: add it on /settings first", field=field)
        self.name = name


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never its value."""

    name: str
    created_at: datetime
    updated_at: datetime


# ------------------------------------------------------------------------ the key


def _read_or_create_key_file(path: Path) -> bytes:
    """The key in `path`, creating it (0600, exclusively: two processes agree) if absent."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def ensure_key(settings: Settings | None = None) -> str:
    """Where the key comes from ("VOXIE_SECRET_KEY" or the file path), creating the file
    when needed. `make run` calls it so the key exists before anyone adds a secret."""
    settings = settings or get_settings()
    if settings.secret_key is not None:
        _fernet(settings.secret_key.get_secret_value(), None)
        return "VOXIE_SECRET_KEY"
    _fernet(None, str(settings.secret_key_file))
    return str(settings.secret_key_file)


@lru_cache(maxsize=8)
def _fernet(env_key: str | None, key_file: str | None) -> Fernet:
    raw = (
        env_key.encode() if env_key is not None else _read_or_create_key_file(Path(key_file or ""))
    )
    try:
        return Fernet(raw)
    except (ValueError, TypeError):
        where = "VOXIE_SECRET_KEY" if env_key is not None else f"the key file {key_file}"
        raise NotConfigured(
            f"the secrets store ({where} is not a Fernet key: 44 url-safe base64 "
            "characters, from `cryptography.fernet.Fernet.generate_key()`)",
            ["VOXIE_SECRET_KEY"],
        ) from None


def fernet(settings: Settings | None = None) -> Fernet:
    settings = settings or get_settings()
    env_key = settings.secret_key.get_secret_value() if settings.secret_key else None
    return _fernet(env_key, None if env_key is not None else str(settings.secret_key_file))


# ------------------------------------------------------------------------ the store


def check_name(name: str, *, field: str = "name") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(f"a secret name is {NAME_RULE}", field=field)
    return name


# One line of text: no NUL, CR or LF anywhere (the API schema states it as this pattern).
VALUE_PATTERN = r"^[^\x00\r\n]+$"


def _check_value(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("give the secret's value as text", field="value")
    if len(value) > MAX_VALUE:
        raise InvalidInput(f"a secret value is at most {MAX_VALUE} characters", field="value")
    if "\x00" in value or "\r" in value or "\n" in value:
        raise InvalidInput("a secret value must be one line", field="value")
    return value


def _info(row: Secret) -> SecretInfo:
    return SecretInfo(name=row.name, created_at=row.created_at, updated_at=row.updated_at)


def put(
    *, session: Session, name: str, value: str, now: datetime | None = None
) -> tuple[SecretInfo, bool]:
    """Create or replace secret `name`; returns its info and whether it is new."""
    check_name(name)
    _check_value(value)
    now = now or utcnow()
    token = fernet().encrypt(value.encode()).decode()
    row = session.get(Secret, name)
    created = row is None
    if row is None:
        count = len(session.exec(select(Secret.name)).all())
        if count >= MAX_SECRETS:
            raise InvalidInput(f"at most {MAX_SECRETS} secrets can be stored", field="name")
        row = Secret(name=name, ciphertext=token, created_at=now, updated_at=now)
    else:
        row.ciphertext = token
        row.updated_at = now
    session.add(row)
    session.flush()
    return _info(row), created


def list_all(*, session: Session) -> list[SecretInfo]:
    rows = session.exec(select(Secret).order_by(col(Secret.name))).all()
    return [_info(r) for r in rows]


def used_by(*, session: Session) -> dict[str, list[str]]:
    """Secret name -> names of the tools (HTTP and MCP) whose URL or headers refer to it,
    so an admin sees what a change or a deletion affects (names with no tool are absent)."""
    out: dict[str, list[str]] = {}
    for tool in session.exec(select(Tool).order_by(col(Tool.name))).all():
        texts = [tool.url, *(tool.headers or {}).values()]
        for name in dict.fromkeys(n for text in texts for n in references(str(text))):
            out.setdefault(name, []).append(tool.name)
    return out


def delete(*, session: Session, name: str) -> None:
    row = session.get(Secret, name)
    if row is None:
        raise NotFound(f"no secret named {name!r}")
    session.delete(row)
    session.flush()


def value_of(*, session: Session, name: str) -> str:
    """The plain value of `name` (for sending, at send time only)."""
    row = session.get(Secret, name)
    if row is None:
        raise UnknownSecret(name)
    try:
        return fernet().decrypt(row.ciphertext.encode()).decode()
    except InvalidToken:
        raise NotConfigured(
            f"the secrets store (secret {name!r} was encrypted with another key)",
            ["VOXIE_SECRET_KEY"],
        ) from None


def references(text: str) -> list[str]:
    """The secret names `text` refers to, in order, each once."""
    return list(dict.fromkeys(m.group(1) for m in REFERENCE_RE.finditer(text)))


def check_references(*, session: Session, text: str, field: str) -> None:
    """Refuse (422 naming `field`) a text that names an unknown or malformed secret."""
    for name in references(text):
        if not NAME_RE.match(name):
            raise InvalidInput(f"{{{{secret:{name}}}}}: a secret name is {NAME_RULE}", field=field)
        if session.get(Secret, name) is None:
            raise UnknownSecret(name, field=field)


def resolve(text: str, *, session: Session, field: str = "secret") -> str:
    """`text` with every `{{secret:NAME}}` replaced by its value; an unknown name is
    an `UnknownSecret` naming it."""
    values: dict[str, str] = {}
    for name in references(text):
        if session.get(Secret, name) is None:
            raise UnknownSecret(name, field=field)
        values[name] = value_of(session=session, name=name)
    if not values:
        return text
    return REFERENCE_RE.sub(lambda m: values[m.group(1)], text)


def redact(text: str, values: list[str]) -> str:
    """`text` with each of `values` (resolved secrets) replaced by a marker."""
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
