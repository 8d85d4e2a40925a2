"""Provider per agent, per kind (issue 17): the spec's choices, the plugins they build
(checked on the constructed objects: class, model, base URL, key), the fallback order,
and refusals that name the missing setting at save and at call start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from livekit.agents import llm as lk_llm
from livekit.agents import stt as lk_stt
from livekit.agents import tts as lk_tts
from livekit.agents.utils import is_given
from livekit.plugins import anthropic, cartesia, deepgram, google
from livekit.plugins import openai as lk_openai

from voice_worker import providers
from voxie_app import provider_catalog as catalog
from voxie_app.models import AgentSpec
from voxie_app.services import agents as agents_svc
from voxie_app.services.errors import InvalidInput
from voxie_app.settings import Settings

ALL = {
    "OPENAI_API_KEY": "sk-llm",
    "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
    "STT_BASE_URL": "http://127.0.0.1:8001/v1",
    "STT_API_KEY": "stt-key",
    "TTS_BASE_URL": "http://127.0.0.1:8880/v1",
    "TTS_API_KEY": "tts-key",
    "DEEPGRAM_API_KEY": "dg-key",
    "CARTESIA_API_KEY": "ca-key",
    "ANTHROPIC_API_KEY": "an-key",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8002",
    "GOOGLE_API_KEY": "go-key",
    "GOOGLE_BASE_URL": "http://127.0.0.1:8003",
}


def spec(**fields: Any) -> AgentSpec:
    return AgentSpec.model_validate({"name": "A", "instructions": "x", **fields})


def _url(client: Any) -> str:
    return str(client.base_url).rstrip("/")


def _stts(adapter: lk_stt.FallbackAdapter) -> list[Any]:
    """The STTs inside the adapter (a non-streaming one is wrapped with the VAD)."""
    return [getattr(s, "wrapped_stt", s) for s in adapter._stt_instances]


# ------------------------------------------------------------------ the spec


def test_a_spec_without_the_choices_loads_as_auto_and_keeps_its_model_and_voice() -> None:
    old = {"name": "A", "instructions": "x", "llm_model": "gpt-4.1-mini", "voice": "nova"}
    loaded = agents_svc.stored_spec(old)
    assert (loaded.stt.provider, loaded.llm.provider, loaded.tts.provider) == ("auto",) * 3
    assert (loaded.stt.model, loaded.tts.model) == ("", "")
    assert (loaded.llm_model, loaded.voice) == ("gpt-4.1-mini", "nova")
    again = AgentSpec.model_validate(loaded.model_dump(mode="json"))
    assert again == loaded


def test_a_named_llm_vendor_without_a_model_runs_its_default() -> None:
    assert spec(llm={"provider": "anthropic"}).llm_model == "claude-3-5-haiku-20241022"
    assert spec(llm={"provider": "google"}).llm_model == "gemini-2.5-flash"
    assert spec(llm={"provider": "anthropic"}, llm_model="claude-sonnet-4-6").llm_model == (
        "claude-sonnet-4-6"
    )
    assert spec(llm={"provider": "openai"}).llm_model == "gpt-4o-mini"
    assert spec(llm={"provider": "google"}, llm_model="gemma-3-27b-it").llm_model == (
        "gemma-3-27b-it"
    )


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"stt": {"provider": "whisper"}}, ("stt", "provider")),
        ({"tts": {"provider": "auto", "model": "kokoro"}}, ("tts", "model")),
        ({"stt": {"provider": "openai", "model": "bad name!"}}, ("stt", "model")),
        ({"llm": {"provider": "openai", "model": "x"}}, ("llm", "model")),
        # e.g. an update that names the vendor but keeps the stored OpenAI model
        ({"llm": {"provider": "anthropic"}, "llm_model": "gpt-4o-mini"}, ("llm_model",)),
        ({"llm": {"provider": "google"}, "llm_model": "claude-sonnet-4-6"}, ("llm_model",)),
    ],
)
def test_bad_choices_are_refused_naming_the_field(fields: dict, loc: tuple) -> None:
    with pytest.raises(agents_svc.SpecInvalid) as caught:
        agents_svc.parse_spec({"name": "A", "instructions": "x", **fields})
    assert tuple(caught.value.errors[0]["loc"]) == loc


# ------------------------------------------------------------ construction


def test_auto_keeps_todays_order_and_models(configure: Callable[..., Settings]) -> None:
    from voice_worker.worker import job_vad

    s = configure(OPENAI_API_KEY="k", DEEPGRAM_API_KEY="dg", CARTESIA_API_KEY="ca")
    a = spec(llm_model="gpt-4.1-mini")
    stt = providers.build_stt(a, s, vad=job_vad())
    assert isinstance(stt, lk_stt.FallbackAdapter)
    first, second = _stts(stt)
    assert isinstance(first, deepgram.STT) and first._opts.model == "nova-3"
    assert isinstance(second, lk_openai.STT)
    assert second._opts.model == "gpt-4o-mini-transcribe"
    llm = providers.build_llm(a, s)
    assert isinstance(llm, lk_openai.LLM) and llm.model == "gpt-4.1-mini"
    tts = providers.build_tts(a, s)
    assert isinstance(tts, lk_tts.FallbackAdapter)
    assert isinstance(tts._tts_instances[0], cartesia.TTS)
    assert tts._tts_instances[0]._opts.model == "sonic-2"
    assert tts._tts_instances[1]._opts.model == "gpt-4o-mini-tts"


@pytest.mark.parametrize(
    ("choice", "cls", "model", "url", "key"),
    [
        ("openai", lk_openai.LLM, "llama3.1:8b", "http://127.0.0.1:11434/v1", "sk-llm"),
        (
            "anthropic",
            anthropic.LLM,
            "claude-3-5-haiku-20241022",
            "http://127.0.0.1:8002",
            "an-key",
        ),
        ("google", google.LLM, "gemini-2.5-flash", "http://127.0.0.1:8003", "go-key"),
    ],
)
def test_each_llm_choice_builds_its_plugin_first_with_the_others_after(
    configure: Callable[..., Settings], choice: str, cls: type, model: str, url: str, key: str
) -> None:
    s = configure(**ALL)
    fields: dict[str, Any] = {"llm": {"provider": choice}}
    if choice == "openai":
        fields["llm_model"] = model
    llm = providers.build_llm(spec(**fields), s)
    assert isinstance(llm, lk_llm.FallbackAdapter)
    built = llm._llm_instances
    assert isinstance(built[0], cls) and built[0].model == model
    assert [type(b) for b in built[1:]] == [
        c for n, c in (("openai", lk_openai.LLM), ("anthropic", anthropic.LLM),
                       ("google", google.LLM)) if n != choice
    ]  # fmt: skip
    first = built[0]
    if cls is google.LLM:
        # The Google plugin takes no base_url; the request-level http_options carry it.
        assert first._opts.http_options.base_url == url
        assert first._client._api_client.api_key == key
        assert first._client.vertexai is False
    else:
        assert _url(first._client) == url
        assert first._client.api_key == key
    # the fallbacks run their own default models, never the chosen one's
    assert all(b.model != model for b in built[1:])


def test_vendor_llms_without_a_base_url_talk_to_the_vendor(
    configure: Callable[..., Settings],
) -> None:
    s = configure(ANTHROPIC_API_KEY="an-key", GOOGLE_API_KEY="go-key")
    llm = providers.build_llm(spec(llm={"provider": "google"}), s)
    gemini, claude = llm._llm_instances
    assert isinstance(gemini, google.LLM) and isinstance(claude, anthropic.LLM)
    assert not is_given(gemini._opts.http_options)
    base = gemini._client._api_client._http_options.base_url
    assert base == "https://generativelanguage.googleapis.com/"
    assert _url(claude._client) == "https://api.anthropic.com"


@pytest.mark.parametrize(
    ("choice", "cls", "model"),
    [
        ("openai", lk_openai.STT, "Systran/faster-whisper-small"),
        ("deepgram", deepgram.STT, "nova-2"),
    ],
)
def test_each_stt_choice_builds_its_plugin_first(
    configure: Callable[..., Settings], choice: str, cls: type, model: str
) -> None:
    from voice_worker.worker import job_vad

    s = configure(**ALL)
    stt = providers.build_stt(spec(stt={"provider": choice, "model": model}), s, vad=job_vad())
    assert isinstance(stt, lk_stt.FallbackAdapter)
    first, other = _stts(stt)
    assert isinstance(first, cls) and first._opts.model == model
    speech = first if cls is lk_openai.STT else other
    assert _url(speech._client) == "http://127.0.0.1:8001/v1"
    assert speech._client.api_key == "stt-key"
    dg = first if cls is deepgram.STT else other
    assert dg._api_key == "dg-key"


@pytest.mark.parametrize(
    ("choice", "cls", "model"),
    [("openai", lk_openai.TTS, "kokoro"), ("cartesia", cartesia.TTS, "sonic-3")],
)
def test_each_tts_choice_builds_its_plugin_first(
    configure: Callable[..., Settings], choice: str, cls: type, model: str
) -> None:
    s = configure(**ALL)
    tts = providers.build_tts(spec(tts={"provider": choice, "model": model}, voice="nova"), s)
    assert isinstance(tts, lk_tts.FallbackAdapter)
    first, other = tts._tts_instances
    assert isinstance(first, cls) and first._opts.model == model
    speech = first if cls is lk_openai.TTS else other
    assert _url(speech._client) == "http://127.0.0.1:8880/v1"
    assert speech._client.api_key == "tts-key"
    assert speech._opts.voice == "nova"
    ca = first if cls is cartesia.TTS else other
    assert ca._opts.api_key == "ca-key"


def test_speech_servers_fall_back_to_the_openai_settings(
    configure: Callable[..., Settings],
) -> None:
    s = configure(OPENAI_API_KEY="sk-llm", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    stt = providers.build_stt(spec(stt={"provider": "openai"}), s, vad=None)
    tts = providers.build_tts(spec(tts={"provider": "openai"}), s)
    for built in (stt, tts):
        assert _url(built._client) == "http://127.0.0.1:9/v1"
        assert built._client.api_key == "sk-llm"


def test_the_openai_key_is_never_sent_to_a_separate_speech_server(
    configure: Callable[..., Settings],
) -> None:
    s = configure(OPENAI_API_KEY="sk-llm", STT_BASE_URL="http://127.0.0.1:8001/v1")
    assert not catalog.configured(s, "stt", "openai")
    with pytest.raises(providers.ProviderMissing, match=r"stt.provider: STT_API_KEY is not set"):
        providers.build_stt(spec(stt={"provider": "openai"}), s, vad=None)


# ------------------------------------------------------- refused, naming the setting


@pytest.mark.parametrize(
    ("fields", "field", "setting"),
    [
        ({"llm": {"provider": "anthropic"}}, "llm.provider", "ANTHROPIC_API_KEY"),
        ({"llm": {"provider": "google"}}, "llm.provider", "GOOGLE_API_KEY"),
        ({"llm": {"provider": "openai"}}, "llm.provider", "OPENAI_API_KEY"),
        ({"stt": {"provider": "deepgram"}}, "stt.provider", "DEEPGRAM_API_KEY"),
        ({"stt": {"provider": "openai"}}, "stt.provider", "STT_API_KEY (or OPENAI_API_KEY)"),
        ({"tts": {"provider": "cartesia"}}, "tts.provider", "CARTESIA_API_KEY"),
        ({"tts": {"provider": "openai"}}, "tts.provider", "TTS_API_KEY (or OPENAI_API_KEY)"),
    ],
)
def test_an_unconfigured_choice_is_named_at_save_and_in_the_worker(
    configure: Callable[..., Settings], fields: dict, field: str, setting: str
) -> None:
    s = configure()
    a = spec(**fields)
    problems = agents_svc.provider_problems(a, s, prefix="processed_spec.")
    assert [(p.field, p.message) for p in problems] == [
        (f"processed_spec.{field}", f"{setting} is not set")
    ]
    build = {
        "llm": lambda: providers.build_llm(a, s),
        "stt": lambda: providers.build_stt(a, s, None),
        "tts": lambda: providers.build_tts(a, s),
    }[field.split(".")[0]]
    with pytest.raises(providers.ProviderMissing) as caught:
        build()
    assert caught.value.message == f"{field}: {setting} is not set"


def test_auto_is_not_refused_at_save(configure: Callable[..., Settings]) -> None:
    assert agents_svc.provider_problems(spec(), configure()) == []


def test_saving_an_agent_with_an_unconfigured_choice_is_refused(
    db: str, configure: Callable[..., Settings]
) -> None:
    from voxie_app.db import session_scope

    configure(OPENAI_API_KEY="k")
    with session_scope() as session, pytest.raises(InvalidInput) as caught:
        agents_svc.create_agent(
            session=session, user_requirements={}, spec=spec(llm={"provider": "anthropic"})
        )
    assert caught.value.field == "processed_spec.llm.provider"
    assert caught.value.message == "ANTHROPIC_API_KEY is not set"
    configure(OPENAI_API_KEY="k", ANTHROPIC_API_KEY="an")
    with session_scope() as session:
        agent = agents_svc.create_agent(
            session=session, user_requirements={}, spec=spec(llm={"provider": "anthropic"})
        )
        assert agent.processed_spec["llm"] == {"provider": "anthropic"}


# ------------------------------------------------------------------- the form


def test_the_form_round_trips_the_choices() -> None:
    from voxie_app.state import agent_form

    stored = spec(
        llm={"provider": "google"}, stt={"provider": "openai", "model": "whisper-1"}
    ).model_dump(mode="json")
    form, tools, targets = agent_form.form_from_spec(stored)
    assert (form["llm_provider"], form["llm_model"]) == ("google", "gemini-2.5-flash")
    assert (form["stt_provider"], form["stt_model"]) == ("openai", "whisper-1")
    assert (form["tts_provider"], form["tts_model"]) == ("auto", "")
    back, errors = agent_form.validate_form(form, tools, targets)
    assert errors == {}
    assert AgentSpec.model_validate(back) == AgentSpec.model_validate(stored)
    blank = agent_form.blank_form()
    assert [blank[k] for k in ("llm_provider", "stt_provider", "tts_model")] == ["auto", "auto", ""]


def test_form_errors_land_on_the_choice_fields(configure: Callable[..., Settings]) -> None:
    from voxie_app.state import agent_form

    configure()
    form = {**agent_form.blank_form(), "name": "A", "instructions": "x"}
    form.update(tts_provider="auto", tts_model="kokoro", llm_provider="anthropic")
    form["llm_model"] = "claude-3-5-haiku-20241022"
    _, errors = agent_form.validate_form(
        form, [], [], references=lambda s: agents_svc.provider_problems(s, configure())
    )
    assert errors == {
        "tts_model": "Pick a provider to name its model (auto runs each one's default)",
        "llm_provider": "ANTHROPIC_API_KEY is not set",
    }


def test_the_form_marks_providers_that_are_not_set_up(configure: Callable[..., Settings]) -> None:
    from voxie_app.state import agent_form

    s = configure(ANTHROPIC_API_KEY="an")
    assert agent_form.provider_options(s, "llm") == [
        {
            "value": "auto",
            "label": "Automatic (OpenAI-compatible then Anthropic then Google Gemini)",
        },
        {"value": "openai", "label": "OpenAI-compatible (not set up: OPENAI_API_KEY)"},
        {"value": "anthropic", "label": "Anthropic"},
        {"value": "google", "label": "Google Gemini (not set up: GOOGLE_API_KEY)"},
    ]
