"""Settings: file precedence, provider detection, database URL handling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voxie_app.db import normalize_url
from voxie_app.settings import DEFAULT_SQLITE_URL, Settings, providers


def _settings(tmp_path: Path, env: str = "", local: str = "") -> Settings:
    (tmp_path / ".env").write_text(env)
    (tmp_path / ".env.local").write_text(local)
    return Settings(_env_file=(tmp_path / ".env", tmp_path / ".env.local"))


def test_env_local_beats_env_and_environment_beats_both(
    tmp_path: Path, configure: Callable[..., Settings]
) -> None:
    s = _settings(
        tmp_path, "OPENAI_MODEL=from-env\nOPENAI_BASE_URL=http://env\n", "OPENAI_MODEL=from-local\n"
    )
    assert s.openai_model == "from-local"
    assert s.openai_base_url == "http://env"
    configure(OPENAI_MODEL="from-process")
    assert _settings(tmp_path, "OPENAI_MODEL=a\n", "OPENAI_MODEL=b\n").openai_model == (
        "from-process"
    )


def test_defaults_use_embedded_sqlite(configure: Callable[..., Settings]) -> None:
    s = configure(DATABASE_URL=None)
    assert s.database_url == DEFAULT_SQLITE_URL
    assert s.database_url.endswith("data/voxie.db")
    status = providers(s)
    assert status.database == "sqlite"
    assert not any([status.openai, status.deepgram, status.cartesia, status.ragie, status.livekit])


def test_providers_report_booleans_only(configure: Callable[..., Settings]) -> None:
    s = configure(
        OPENAI_API_KEY="sk-secret-value",
        DEEPGRAM_API_KEY="dg-secret",
        LIVEKIT_URL="wss://example.livekit.cloud",
        LIVEKIT_API_KEY="key",
        LIVEKIT_API_SECRET="   ",
    )
    status = providers(s)
    assert status.openai and status.deepgram
    assert not status.livekit  # a blank secret is not a secret
    assert s.missing_livekit_settings() == ["LIVEKIT_API_SECRET"]
    dumped = status.model_dump_json()
    assert "sk-secret-value" not in dumped and "dg-secret" not in dumped
    assert "sk-secret-value" not in repr(s)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p@db.abc.supabase.co:5432/postgres",
            "postgresql+psycopg://u:p@db.abc.supabase.co:5432/postgres",
        ),
        ("postgresql://u@localhost/voxie", "postgresql+psycopg://u@localhost/voxie"),
        ("postgresql+psycopg://u@localhost/voxie", "postgresql+psycopg://u@localhost/voxie"),
        ("sqlite:///data/voxie.db", "sqlite:///data/voxie.db"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_copied_env_example_means_defaults(tmp_path: Path) -> None:
    from voxie_app.settings import ROOT_DIR

    s = _settings(tmp_path, (ROOT_DIR / ".env.example").read_text())
    assert s.database_url == DEFAULT_SQLITE_URL
    assert s.openai_base_url is None
    assert not providers(s).openai
    assert s.agent_name == "voxie"
