"""The agent form in Chromium: every error at once, and pickers instead of free text.

The app runs against the OpenAI-compatible double in this test process: the
model picker reads its `/v1/models`, and "Play sample" is spoken by its
`/v1/audio/speech` through the same TTS client a call uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, SeededApp, seeded_app
from tests.doubles.openai_server import OpenAIServerDouble
from voxie_app.db import session_scope
from voxie_app.models import Tool
from voxie_app.services import agents as agents_svc
from voxie_app.services import auth
from voxie_app.services import tools as tools_svc
from voxie_app.voices import SAMPLE_SENTENCE

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DESKTOP = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def double() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        server.models = ("gpt-4o-mini", "llama3.1:8b", "text-embedding-3-small")
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, double: OpenAIServerDouble):
    with seeded_app(
        tmp_path_factory.mktemp("agent-form"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=double.base_url,
        VOXIE_PROVIDER_RETRIES="0",
    ) as running:
        yield running


def _field(page: Page, key: str):
    return page.get_by_test_id(f"field-{key}")


def _pick(page: Page, key: str, label: str) -> None:
    _field(page, key).click()
    page.get_by_role("option", name=label, exact=True).click()


def _in_view(page: Page, testid: str) -> bool:
    return page.evaluate(
        """id => { const r = document.querySelector(`[data-testid="${id}"]`)
                  .getBoundingClientRect();
                  return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        testid,
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_error_shows_at_once_and_the_first_is_in_view(
    site: SeededApp, make_browse, viewport
) -> None:
    browse = make_browse(site.base, viewport=viewport)
    page = browse.goto("/agents/new")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    # The walkthrough's form: a bad delay, a too-high temperature, a long name, and
    # min above max (a whole-spec rule), with instructions missing.
    _field(page, "name").fill("n" * 300)
    _field(page, "temperature").fill("5")
    _field(page, "min_endpointing_delay").fill("abc")
    _field(page, "max_endpointing_delay").fill("20")
    page.get_by_test_id("save-agent").click()
    errors = dialog.get_by_test_id("field-error")
    expect(errors).to_have_count(5)
    texts = [errors.nth(i).inner_text() for i in range(5)]
    assert texts[0].startswith("Must have at most 80")  # name
    assert texts[1] == "Required"  # instructions
    assert "2" in texts[2]  # temperature
    assert texts[3] == "Enter a number"  # min delay
    assert "10" in texts[4]  # max delay
    toasts = page.locator("[data-sonner-toast]")
    expect(toasts).to_have_count(1)
    expect(toasts).to_contain_text("Please fix the 5 highlighted fields.")
    page.wait_for_timeout(400)  # the scroll is smooth on some engines
    assert _in_view(page, "field-name")
    browse.shot("all-errors")

    # Fixing some leaves exactly the others (nothing new appears), one toast still.
    _field(page, "name").fill("Harbor Hotel Concierge")
    _field(page, "instructions").fill("You are the concierge of Harbor Hotel.")
    _field(page, "temperature").fill("0.5")
    page.get_by_test_id("save-agent").click()
    expect(errors).to_have_count(2)
    expect(toasts).to_have_count(1)
    expect(toasts).to_contain_text("Please fix the 2 highlighted fields.")
    assert _in_view(page, "field-min_endpointing_delay")
    _field(page, "min_endpointing_delay").fill("0.4")
    _field(page, "max_endpointing_delay").fill("2")
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-sonner-toast]").filter(has_text="highlighted")).to_have_count(0)
    browse.assert_clean()


def test_voice_language_and_model_are_picked(
    site: SeededApp, double: OpenAIServerDouble, make_browse
) -> None:
    browse = make_browse(site.base, viewport=DESKTOP)
    page = browse.goto("/agents/new")
    expect(page.get_by_test_id("agent-dialog")).to_be_visible()
    _field(page, "name").fill("Sound Check")
    _field(page, "instructions").fill("You answer questions about the venue.")

    # Voices: what the configured TTS (OpenAI) offers; no free text.
    _field(page, "voice").click()
    options = page.get_by_role("option")
    expect(options).to_have_count(11)
    expect(options.first).to_have_text("Alloy")
    page.get_by_role("option", name="Coral", exact=True).click()
    expect(_field(page, "voice")).to_have_text("Coral")

    # Play sample: spoken by the TTS double through the real client, then played.
    double.recorded.clear()
    page.get_by_test_id("play-sample").click()
    sample = page.get_by_test_id("voice-sample")
    expect(sample).to_have_count(1, timeout=20_000)
    assert sample.get_attribute("src").startswith("data:audio/wav;base64,")
    duration = page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=voice-sample]');"
        " return a && a.duration > 0 ? a.duration : null; }",
        timeout=10_000,
    ).json_value()
    assert duration > 1.0
    speech = [r for r in double.recorded if r.path == "/v1/audio/speech"]
    assert [(r.body["voice"], r.body["input"]) for r in speech] == [("coral", SAMPLE_SENTENCE)]

    # Language: a list of codes every speech provider takes.
    _pick(page, "language", "Spanish (Latin America) · es-419")

    # Model: the pricing table and the provider's list (not its embedding model) ...
    _field(page, "llm_model-pick").click()
    expect(page.get_by_role("option", name="llama3.1:8b", exact=True)).to_be_visible()
    expect(page.get_by_role("option", name="gpt-4.1-nano", exact=True)).to_be_visible()
    expect(page.get_by_role("option", name="text-embedding-3-small")).to_have_count(0)
    browse.shot("model-picker")
    page.get_by_role("option", name="llama3.1:8b", exact=True).click()
    page.get_by_test_id("save-agent").click()
    expect(page.get_by_test_id("agent-dialog")).to_be_hidden()
    spec = _stored_spec(site.url, "Sound Check")
    assert (spec["voice"], spec["language"], spec["llm_model"]) == (
        "coral",
        "es-419",
        "llama3.1:8b",
    )

    # ... or a name typed by hand, kept when the agent is edited again.
    page.get_by_test_id("agent-card").filter(has_text="Sound Check").get_by_test_id(
        "agent-edit"
    ).click()
    expect(_field(page, "llm_model-pick")).to_have_text("llama3.1:8b")
    _pick(page, "llm_model-pick", "Another model (type its name)")
    _field(page, "llm_model").fill("qwen2.5:7b-instruct")
    browse.shot("custom-model")
    page.get_by_test_id("save-agent").click()
    expect(page.get_by_test_id("agent-dialog")).to_be_hidden()
    assert _stored_spec(site.url, "Sound Check")["llm_model"] == "qwen2.5:7b-instruct"
    page.get_by_test_id("agent-card").filter(has_text="Sound Check").get_by_test_id(
        "agent-edit"
    ).click()
    expect(_field(page, "llm_model-pick")).to_have_text("qwen2.5:7b-instruct")
    browse.assert_clean()


def test_pickers_on_a_phone(site: SeededApp, make_browse) -> None:
    browse = make_browse(site.base, viewport=PHONE)
    page = browse.goto("/agents/new")
    expect(page.get_by_test_id("play-sample")).to_be_visible()
    page.locator("#agent-field-voice").scroll_into_view_if_needed()
    browse.shot("pickers", full_page=False)
    _field(page, "voice").click()
    expect(page.get_by_role("option", name="Alloy", exact=True)).to_be_visible()
    browse.shot("voice-open", full_page=False)
    browse.assert_clean()


def _stored_spec(url: str, name: str) -> dict:
    with session_scope(url) as session:
        rows = agents_svc.list_agents(session=session, search=name)
        return next(a for a in rows if a.name == name).processed_spec


def _store_tools(url: str) -> dict[str, str]:
    """Two stored tools (one still needing setup), straight into the app's database."""
    ids = {}
    with session_scope(url) as session:
        for name, kind, status in (
            ("check_slots", "http", "ready"),
            ("clinic_crm", "mcp", "needs_setup"),
        ):
            tool = Tool(
                name=name,
                kind=kind,
                description=f"{name.replace('_', ' ').capitalize()}: used by the form test.",
                url=f"http://127.0.0.1:9/{name}",
                status=status,
            )
            session.add(tool)
            session.flush()
            ids[name] = str(tool.id)
    return ids


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_custom_tools_are_ticked_saved_and_load_ticked(
    site: SeededApp, make_browse, viewport
) -> None:
    with session_scope(site.url) as session:
        stored = {t.name: str(t.id) for t in tools_svc.list_tools(session=session)}
        key, _ = auth.create_api_key(session=session, name="form test", role="viewer")
    ids = stored or _store_tools(site.url)
    name = f"Tool Picker {viewport['width']}"
    browse = make_browse(site.base, viewport=viewport)
    page = browse.goto("/agents/new")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    _field(page, "name").fill(name)
    _field(page, "instructions").fill("You check free slots for the clinic.")
    tools = dialog.get_by_test_id("custom-tool")
    expect(tools).to_have_count(2)
    crm = tools.filter(has_text="clinic_crm")
    expect(crm.get_by_test_id("custom-tool-needs-setup")).to_have_text("needs setup")
    expect(
        tools.filter(has_text="check_slots").get_by_test_id("custom-tool-needs-setup")
    ).to_have_count(0)
    expect(dialog.get_by_test_id("manage-tools")).to_have_attribute("href", "/tools")
    tools.filter(has_text="check_slots").click()
    slots_box = tools.filter(has_text="check_slots").get_by_role("checkbox")
    expect(slots_box).to_have_attribute("data-state", "checked")
    expect(crm.get_by_role("checkbox")).to_have_attribute("data-state", "unchecked")
    page.locator("#agent-field-custom_tools").scroll_into_view_if_needed()
    browse.shot("custom-tools", full_page=False)
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()

    with session_scope(site.url) as session:
        agent_id = str(next(a.id for a in agents_svc.list_agents(session=session, search=name)))
    got = httpx.get(
        f"{site.base}/api/agents/{agent_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ).json()
    assert got["processed_spec"]["custom_tools"] == [ids["check_slots"]]

    page = browse.goto(f"/agents?edit={agent_id}")
    expect(page.get_by_test_id("agent-dialog")).to_be_visible()
    ticked = page.get_by_test_id("custom-tool").filter(has_text="check_slots")
    expect(ticked.get_by_role("checkbox")).to_have_attribute("data-state", "checked")
    browse.assert_clean()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_transfer_numbers_and_voicemail_are_saved_and_load_back(
    site: SeededApp, make_browse, viewport
) -> None:
    """A bad number is named inline (its row) with one toast; fixed, the rows and
    the voicemail policy round-trip through the stored spec."""
    name = f"Phone Desk {viewport['width']}"
    browse = make_browse(site.base, viewport=viewport)
    page = browse.goto("/agents/new")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    _field(page, "name").fill(name)
    _field(page, "instructions").fill("You answer the front desk phone.")
    dialog.get_by_test_id("add-transfer-number").click()
    rows = dialog.get_by_test_id("transfer-number-row")
    expect(rows).to_have_count(1)
    row = rows.nth(0)
    row.get_by_test_id("number-label").fill("billing")
    row.get_by_test_id("number-number").fill("4155550100")  # no +country code
    row.get_by_test_id("number-when").fill("billing questions")
    row.get_by_test_id("number-mode").click()
    page.get_by_role("option", name="Warm: brief the person first").click()
    _pick(page, "voicemail_policy", "Leave a message")
    expect(_field(page, "voicemail_message")).to_be_visible()
    page.get_by_test_id("save-agent").click()
    errors = dialog.get_by_test_id("field-error")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("Row 1, number:")
    expect(errors.nth(0)).to_contain_text("E.164")
    expect(errors.nth(1)).to_contain_text("required")
    expect(page.locator("[data-sonner-toast]")).to_contain_text("2 highlighted fields")
    page.locator("#agent-field-transfer_numbers").scroll_into_view_if_needed()
    browse.shot("transfer-number-error", full_page=False)

    row.get_by_test_id("number-number").fill("+1 415 555 0100")
    _field(page, "voicemail_message").fill("Hi {{first_name|there}}, please call us back.")
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    spec = _stored_spec(site.url, name)
    assert spec["transfer_numbers"] == [
        {"label": "billing", "number": "+14155550100", "when": "billing questions", "mode": "warm"}
    ]
    assert spec["voicemail_policy"] == "leave_message"
    assert spec["voicemail_message"] == "Hi {{first_name|there}}, please call us back."

    with session_scope(site.url) as session:
        agent_id = str(next(a.id for a in agents_svc.list_agents(session=session, search=name)))
    page = browse.goto(f"/agents?edit={agent_id}")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    row = dialog.get_by_test_id("transfer-number-row").nth(0)
    expect(row.get_by_test_id("number-number")).to_have_value("+14155550100")
    expect(row.get_by_test_id("number-mode")).to_contain_text("Warm")
    expect(_field(page, "voicemail_message")).to_have_value(
        "Hi {{first_name|there}}, please call us back."
    )
    page.locator("#agent-field-transfer_numbers").scroll_into_view_if_needed()
    browse.shot("transfer-numbers-loaded", full_page=False)
    browse.assert_clean()


def test_the_filler_is_set_beside_the_turn_preset(site: SeededApp, make_browse) -> None:
    """Out of range, the delay is named inline with the form's one toast; fixed, the
    filler (here turned off) and its delay are stored and load back."""
    name = "Quiet Desk"
    browse = make_browse(site.base, viewport=DESKTOP)
    page = browse.goto("/agents/new")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    expect(_field(page, "filler_message")).to_have_value("One moment.")
    expect(_field(page, "filler_after_s")).to_have_value("1.2")
    _field(page, "name").fill(name)
    _field(page, "instructions").fill("You answer the front desk phone.")
    _pick(page, "turn_preset", "Patient: lets callers pause mid-sentence, answers later")
    _field(page, "filler_message").fill("")
    _field(page, "filler_after_s").fill("9")
    page.get_by_test_id("save-agent").click()
    errors = dialog.get_by_test_id("field-error")
    expect(errors).to_have_count(1)
    expect(errors.nth(0)).to_have_text("Must be less than or equal to 5")
    expect(page.locator("[data-sonner-toast]")).to_contain_text("Please fix the highlighted field.")
    page.wait_for_timeout(400)  # the scroll is smooth on some engines
    assert _in_view(page, "field-filler_after_s")
    browse.shot("filler-error", full_page=False)

    _field(page, "filler_after_s").fill("2.5")
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    spec = _stored_spec(site.url, name)
    assert (spec["turn_preset"], spec["filler_message"], spec["filler_after_s"]) == (
        "patient",
        "",
        2.5,
    )
    with session_scope(site.url) as session:
        agent_id = str(next(a.id for a in agents_svc.list_agents(session=session, search=name)))
    page = browse.goto(f"/agents?edit={agent_id}")
    expect(page.get_by_test_id("agent-dialog")).to_be_visible()
    expect(_field(page, "filler_message")).to_have_value("")
    expect(_field(page, "filler_after_s")).to_have_value("2.5")
    page.locator("#agent-field-filler_message").scroll_into_view_if_needed()
    browse.shot("filler-loaded", full_page=False)
    browse.assert_clean()


def test_the_pipeline_group_switches_an_agent_to_realtime(site: SeededApp, make_browse) -> None:
    """The Realtime model and voice show only for the realtime pipeline; the choice is
    stored and loads back."""
    name = "Quick Desk"
    browse = make_browse(site.base, viewport=DESKTOP)
    page = browse.goto("/agents/new")
    dialog = page.get_by_test_id("agent-dialog")
    expect(dialog).to_be_visible()
    expect(_field(page, "pipeline")).to_contain_text("Cascade")
    expect(_field(page, "realtime_voice")).to_have_count(0)
    _field(page, "name").fill(name)
    _field(page, "instructions").fill("You answer the front desk phone.")
    _pick(page, "pipeline", "Realtime: lower latency, natural voice, higher per-minute cost")
    _pick(page, "realtime_model", "gpt-realtime-mini")
    _pick(page, "realtime_voice", "Cedar")
    page.locator("#agent-field-pipeline").scroll_into_view_if_needed()
    browse.shot("pipeline-realtime", full_page=False)
    page.get_by_test_id("save-agent").click()
    expect(dialog).to_be_hidden()
    spec = _stored_spec(site.url, name)
    assert (spec["pipeline"], spec["realtime_model"], spec["realtime_voice"]) == (
        "realtime",
        "gpt-realtime-mini",
        "cedar",
    )
    with session_scope(site.url) as session:
        agent_id = str(next(a.id for a in agents_svc.list_agents(session=session, search=name)))
    page = browse.goto(f"/agents?edit={agent_id}")
    expect(page.get_by_test_id("agent-dialog")).to_be_visible()
    expect(_field(page, "realtime_voice")).to_contain_text("Cedar")
    browse.assert_clean()
