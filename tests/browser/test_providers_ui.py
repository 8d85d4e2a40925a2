"""Provider per agent, per kind, in Chromium (issue 17): the form's pickers, and
"Check providers" on /settings reporting each local double.

The app runs with an OpenAI-compatible LLM double that answers, an Anthropic double
that answers, an STT server double that refuses the key (401) and a TTS server double
that never answers (the check's 10 s cap ends it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SeededApp, seeded_app
from tests.browser.test_agent_form_ui import _field, _pick
from tests.doubles.provider_server import UNAUTHORIZED_MESSAGE, ProviderDouble
from voxie_app.db import session_scope
from voxie_app.services import agents as agents_svc

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 1000}
KEYS = ("llm-secret-key", "anthropic-secret-key", "stt-secret-key", "tts-secret-key")


@pytest.fixture(scope="module")
def doubles() -> Iterator[dict[str, ProviderDouble]]:
    with (
        ProviderDouble("ok") as llm,
        ProviderDouble("ok") as claude,
        ProviderDouble("unauthorized") as stt,
        ProviderDouble("hang") as tts,
    ):
        yield {"llm": llm, "anthropic": claude, "stt": stt, "tts": tts}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, doubles: dict[str, ProviderDouble]):
    with seeded_app(
        tmp_path_factory.mktemp("providers"),
        OPENAI_API_KEY=KEYS[0],
        OPENAI_BASE_URL=doubles["llm"].base_url,
        ANTHROPIC_API_KEY=KEYS[1],
        ANTHROPIC_BASE_URL=doubles["anthropic"].root_url,
        STT_API_KEY=KEYS[2],
        STT_BASE_URL=doubles["stt"].base_url,
        TTS_API_KEY=KEYS[3],
        TTS_BASE_URL=doubles["tts"].base_url,
    ) as running:
        yield running


def test_a_provider_per_kind_is_picked_and_check_providers_reports_each_double(
    site: SeededApp, doubles: dict[str, ProviderDouble], make_browse
) -> None:
    browse = make_browse(site.base, viewport=DESKTOP)
    page = browse.goto("/agents/new")
    expect(page.get_by_test_id("agent-dialog")).to_be_visible()
    _field(page, "name").fill("Claude Desk")
    _field(page, "instructions").fill("You answer questions about the desk.")

    # Unconfigured providers are offered, marked with the setting they need.
    _field(page, "llm_provider").click()
    expect(
        page.get_by_role("option", name="Google Gemini (not set up: GOOGLE_API_KEY)")
    ).to_be_visible()
    page.get_by_role("option", name="Anthropic", exact=True).click()
    # The model follows the vendor: its default, and only its models offered.
    expect(_field(page, "llm_model-pick")).to_have_text("claude-3-5-haiku-20241022")
    _pick(page, "stt_provider", "OpenAI-compatible")
    _field(page, "stt_model").fill("Systran/faster-whisper-small")
    expect(_field(page, "tts_model")).to_be_disabled()  # auto: each provider's default
    page.locator("#agent-field-llm_provider").scroll_into_view_if_needed()
    browse.shot("form")
    page.get_by_test_id("save-agent").click()
    expect(page.get_by_test_id("agent-dialog")).to_be_hidden()
    with session_scope(site.url) as session:
        rows = agents_svc.list_agents(session=session, search="Claude Desk")
        spec, agent_id = rows[0].processed_spec, rows[0].id
    assert spec["llm"] == {"provider": "anthropic"}
    assert spec["llm_model"] == "claude-3-5-haiku-20241022"
    assert spec["stt"] == {"provider": "openai", "model": "Systran/faster-whisper-small"}
    assert spec["tts"] == {"provider": "auto", "model": ""}
    page = browse.goto(f"/agents/{agent_id}")
    expect(page.get_by_text("Providers", exact=True)).to_be_visible()
    expect(page.get_by_text("LLM: Anthropic", exact=False)).to_contain_text(
        "Speech-to-text: OpenAI-compatible (Systran/faster-whisper-small) · LLM: Anthropic"
        " · Text-to-speech: automatic"
    )
    browse.shot("agent-detail", full_page=False)

    page = browse.goto("/settings")
    page.get_by_test_id("check-providers").click()
    results = page.get_by_test_id("provider-checks")
    # The hanging TTS server is cut off by the 10 s cap; every row is shown together.
    expect(results).to_be_visible(timeout=30_000)
    llm = page.get_by_test_id("provider-check-llm-openai")
    expect(llm).to_contain_text("ok: 2 models listed")
    expect(llm).to_contain_text(f"127.0.0.1:{doubles['llm'].port}")
    expect(page.get_by_test_id("provider-check-llm-anthropic")).to_contain_text(
        "ok: 2 models listed"
    )
    expect(page.get_by_test_id("provider-check-stt-openai")).to_contain_text(
        f"failed: HTTP 401: {UNAUTHORIZED_MESSAGE}"
    )
    expect(page.get_by_test_id("provider-check-tts-openai")).to_contain_text(
        "failed: no answer within 10 s"
    )
    html = page.content()
    assert not [k for k in KEYS if k in html]
    results.scroll_into_view_if_needed()
    browse.shot("check-providers", full_page=True)

    # A call's cost lines name the provider and the model of each line.
    page = browse.goto(f"/calls/{site.seeded.call_ids[0]}")
    sources = page.get_by_test_id("cost-source")
    expect(sources).to_have_text(
        ["OpenAI-compatible · gpt-4o-mini", "Deepgram · nova-3", "Cartesia · sonic-2"]
    )
    page.get_by_test_id("call-cost").scroll_into_view_if_needed()
    browse.shot("call-costs", full_page=False)
    browse.assert_clean()
