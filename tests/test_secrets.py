"""The secrets store: encrypted at rest, a value never returned, `{{secret:NAME}}` resolved."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from voxie_app import manage
from voxie_app.api.app import create_api
from voxie_app.db import get_engine, session_scope
from voxie_app.models import Secret
from voxie_app.services import secrets
from voxie_app.services.errors import InvalidInput, NotConfigured
from voxie_app.settings import Settings

VALUE = "sk-live-Zq8-very-secret-value"


@pytest.fixture
def store(db: str, configure: Callable[..., Settings], tmp_path: Path) -> Iterator[Path]:
    """A migrated database and a key file under tmp_path (VOXIE_SECRET_KEY unset)."""
    key_file = tmp_path / "keys" / "secret.key"
    configure(VOXIE_SECRET_KEY=None, VOXIE_SECRET_KEY_FILE=str(key_file))
    yield key_file


def test_key_file_created_0600_on_first_use_and_reused(store: Path) -> None:
    assert not store.exists()
    with session_scope() as session:
        secrets.put(session=session, name="CLINIC_KEY", value=VALUE)
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    key = store.read_bytes()
    assert manage.secret_key() == 0
    assert store.read_bytes() == key
    with session_scope() as session:
        assert secrets.value_of(session=session, name="CLINIC_KEY") == VALUE


def test_manage_secret_key_creates_the_file(store: Path, capsys: pytest.CaptureFixture) -> None:
    assert manage.main(["secret-key"]) == 0
    assert store.exists() and stat.S_IMODE(os.stat(store).st_mode) == 0o600
    assert "back it up" in capsys.readouterr().out


def test_value_is_encrypted_at_rest_and_not_in_repr(store: Path, db: str) -> None:
    with session_scope() as session:
        secrets.put(session=session, name="CLINIC_KEY", value=VALUE)
    with get_engine(db).connect() as conn:
        stored = conn.execute(sa.text("SELECT ciphertext FROM secrets")).scalar_one()
    assert VALUE not in stored
    assert Fernet(store.read_bytes().strip()).decrypt(stored.encode()).decode() == VALUE
    with session_scope() as session:
        row = session.get(Secret, "CLINIC_KEY")
        assert stored not in repr(row) and VALUE not in repr(row)


def test_env_key_is_used(db: str, configure: Callable[..., Settings], tmp_path: Path) -> None:
    key = Fernet.generate_key()
    configure(VOXIE_SECRET_KEY=key.decode(), VOXIE_SECRET_KEY_FILE=str(tmp_path / "none.key"))
    with session_scope() as session:
        secrets.put(session=session, name="A", value=VALUE)
    assert not (tmp_path / "none.key").exists()
    with get_engine(db).connect() as conn:
        stored = conn.execute(sa.text("SELECT ciphertext FROM secrets")).scalar_one()
    assert Fernet(key).decrypt(stored.encode()).decode() == VALUE


def test_bad_env_key_is_a_clear_error(db: str, configure: Callable[..., Settings]) -> None:
    configure(VOXIE_SECRET_KEY="not-a-key")
    with (
        pytest.raises(NotConfigured, match="VOXIE_SECRET_KEY is not a Fernet key"),
        session_scope() as session,
    ):
        secrets.put(session=session, name="A", value=VALUE)


def test_put_replaces_and_resolve_substitutes(store: Path) -> None:
    with session_scope() as session:
        _, created = secrets.put(session=session, name="TOKEN", value="one")
        assert created
        _, created = secrets.put(session=session, name="TOKEN", value=VALUE)
        assert not created
        assert secrets.resolve("Bearer {{secret:TOKEN}}", session=session) == f"Bearer {VALUE}"
        assert secrets.resolve("{{ secret:TOKEN }}/x", session=session) == f"{VALUE}/x"
        assert secrets.resolve("no refs", session=session) == "no refs"
        with pytest.raises(secrets.UnknownSecret, match="'MISSING'"):
            secrets.resolve("{{secret:MISSING}}", session=session)


@pytest.mark.parametrize("name", ["lower", "1ABC", "A-B", "", "A" * 65, "ÄB"])
def test_bad_names_are_refused(store: Path, name: str) -> None:
    with session_scope() as session, pytest.raises(InvalidInput) as info:
        secrets.put(session=session, name=name, value=VALUE)
    assert info.value.field == "name"


def test_redact() -> None:
    assert secrets.redact(f"a {VALUE} b", [VALUE]) == "a [secret] b"


# ------------------------------------------------------------------------- API


@pytest.fixture
def client(store: Path) -> Iterator[TestClient]:
    with TestClient(create_api(), headers=admin_headers()) as c:
        yield c


def test_api_create_list_replace_delete_never_returns_value(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.post("/api/secrets", json={"name": "CLINIC_KEY", "value": VALUE})
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"name", "created_at", "updated_at"}
    replaced = client.post("/api/secrets", json={"name": "CLINIC_KEY", "value": VALUE + "2"})
    assert replaced.status_code == 200
    listed = client.get("/api/secrets")
    assert [s["name"] for s in listed.json()] == ["CLINIC_KEY"]
    for response in (created, replaced, listed):
        assert VALUE not in response.text
    assert VALUE not in caplog.text
    assert client.delete("/api/secrets/CLINIC_KEY").status_code == 204
    assert client.delete("/api/secrets/CLINIC_KEY").status_code == 404
    assert client.get("/api/secrets").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "bad name", "value": VALUE}, "name"),
        ({"name": "OK", "value": ""}, "value"),
        ({"name": "OK", "value": VALUE * 1000}, "value"),
        ({"name": "OK", "value": VALUE + "\nx"}, "value"),
    ],
)
def test_api_bad_input_is_422_naming_field_without_the_value(
    client: TestClient, body: dict, field: str
) -> None:
    response = client.post("/api/secrets", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    assert VALUE not in response.text


def test_api_type_error_does_not_echo_input(client: TestClient) -> None:
    for value in ([VALUE], {"v": VALUE}, 12, None):
        response = client.post("/api/secrets", json={"name": "A", "value": value})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "value"
        assert VALUE not in response.text


def test_api_is_admin_only(client: TestClient) -> None:
    viewer = TestClient(create_api(), headers=admin_headers("viewer"))
    assert viewer.get("/api/secrets").status_code == 403
    assert viewer.post("/api/secrets", json={"name": "A", "value": VALUE}).status_code == 403
