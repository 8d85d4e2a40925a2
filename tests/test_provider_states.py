"""The per-kind provider pickers and "Check providers" as one browser tab runs them: the
LLM model follows its vendor, a speech model is cleared with `auto`, and the check is for
admins only (refused in the handler itself), its rows never holding a key."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests import statetab
from tests.doubles.provider_server import ProviderDouble
from voxie_app.settings import Settings
from voxie_app.state.agents import AgentsState
from voxie_app.state.settings import SettingsState

KEY = "sk-the-llm-secret"


@pytest.fixture
def tokens(db: str) -> Iterator[dict[str, str]]:
    with statetab.role_tokens() as out:
        yield out


async def test_the_llm_model_follows_the_vendor_and_speech_models_need_one(
    tokens: dict[str, str], configure: Callable[..., Settings]
) -> None:
    configure(OPENAI_API_KEY="k", ANTHROPIC_API_KEY="a")
    tab = statetab.Tab("providers-form", tokens["admin"], "/agents/new")
    _, state = await tab.run(AgentsState, "open_create")
    assert [o["value"] for o in state.provider_options["llm"]] == [
        "auto", "openai", "anthropic", "google",
    ]  # fmt: skip
    _, state = await tab.run(AgentsState, "set_field", "llm_provider", "anthropic")
    assert state.form["llm_model"] == "claude-3-5-haiku-20241022"
    assert state.model_options and all(m.startswith("claude") for m in state.model_options)
    _, state = await tab.run(AgentsState, "set_field", "llm_provider", "auto")
    assert state.form["llm_model"] == "gpt-4o-mini"
    assert not [m for m in state.model_options if m.startswith(("claude", "gemini"))]
    await tab.run(AgentsState, "set_field", "stt_provider", "openai")
    _, state = await tab.run(AgentsState, "set_field", "stt_model", "whisper-1")
    assert state.form["stt_model"] == "whisper-1"
    _, state = await tab.run(AgentsState, "set_field", "stt_provider", "auto")
    assert state.form["stt_model"] == ""


async def test_check_providers_is_for_admins_and_shows_no_key(
    tokens: dict[str, str], configure: Callable[..., Settings]
) -> None:
    with ProviderDouble("ok") as server:
        configure(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        viewer = statetab.Tab("providers-viewer", tokens["viewer"], "/settings")
        events, state = await viewer.run(SettingsState, "check_providers")
        assert "Only admins can check providers." in str(events)
        assert state.provider_checks == [] and server.requests == []

        admin = statetab.Tab("providers-admin", tokens["admin"], "/settings")
        _, state = await admin.run(SettingsState, "check_providers")
        assert [(r["key"], r["ok"], r["message"]) for r in state.provider_checks] == [
            ("stt-openai", True, "ok: 2 models listed"),
            ("llm-openai", True, "ok: 2 models listed"),
            ("tts-openai", True, "ok: 2 models listed"),
        ]
        assert len(server.requests) == 3
        assert state.checking_providers is False
        assert KEY not in admin.dump


async def test_nothing_to_check_says_so(
    tokens: dict[str, str], configure: Callable[..., Settings]
) -> None:
    configure()
    admin = statetab.Tab("providers-none", tokens["admin"], "/settings")
    events, state = await admin.run(SettingsState, "check_providers")
    assert state.provider_checks == []
    assert "No speech or language provider is configured." in str(events)


def test_the_agent_page_names_each_kinds_provider() -> None:
    from voxie_app.state.agent_detail import providers_fact

    assert providers_fact({"name": "old agent"}) == (
        "Speech-to-text: automatic · LLM: automatic · Text-to-speech: automatic"
    )
    assert providers_fact(
        {"stt": {"provider": "deepgram", "model": "nova-2"}, "llm": {"provider": "google"}}
    ) == ("Speech-to-text: Deepgram (nova-2) · LLM: Google Gemini · Text-to-speech: automatic")
