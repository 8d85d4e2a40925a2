""" "Check providers" (issue 17): one live request per configured provider, against local
doubles: an answering OpenAI-compatible server, one refusing with 401 (its message shown),
one that never answers (cut off by the cap); keys never in the results or the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from tests.doubles.provider_server import UNAUTHORIZED_MESSAGE, ProviderDouble
from voxie_app.services import provider_check
from voxie_app.settings import Settings

KEYS = ("sk-llm-secret", "stt-secret", "tts-secret", "an-secret", "go-secret")


def test_nothing_configured_checks_nothing(configure: Callable[..., Settings]) -> None:
    assert asyncio.run(provider_check.check_providers(configure())) == []


def test_probes_go_to_each_vendor_with_its_own_auth(configure: Callable[..., Settings]) -> None:
    s = configure(
        OPENAI_API_KEY="o", DEEPGRAM_API_KEY="d", CARTESIA_API_KEY="c",
        ANTHROPIC_API_KEY="a", GOOGLE_API_KEY="g",
    )  # fmt: skip
    found = {(p.kind, p.provider): (p.url, p.headers, p.server) for p in provider_check.probes(s)}
    assert found == {
        ("stt", "deepgram"): (
            "https://api.deepgram.com/v1/projects",
            {"Authorization": "Token d"},
            "",
        ),
        ("stt", "openai"): ("https://api.openai.com/v1/models", {"Authorization": "Bearer o"}, ""),
        ("llm", "openai"): ("https://api.openai.com/v1/models", {"Authorization": "Bearer o"}, ""),
        ("llm", "anthropic"): (
            "https://api.anthropic.com/v1/models?limit=1",
            {"x-api-key": "a", "anthropic-version": "2023-06-01"},
            "",
        ),
        ("llm", "google"): (
            "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1",
            {"x-goog-api-key": "g"},
            "",
        ),
        ("tts", "cartesia"): (
            "https://api.cartesia.ai/voices?limit=1",
            {"X-API-Key": "c", "Cartesia-Version": "2025-04-16"},
            "",
        ),
        ("tts", "openai"): ("https://api.openai.com/v1/models", {"Authorization": "Bearer o"}, ""),
    }


def test_each_double_is_reported_with_its_own_answer(
    configure: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        ProviderDouble("ok") as llm,
        ProviderDouble("unauthorized") as stt,
        ProviderDouble("hang") as tts,
        ProviderDouble("ok") as claude,
        ProviderDouble("ok") as gemini,
    ):
        s = configure(
            OPENAI_API_KEY=KEYS[0], OPENAI_BASE_URL=llm.base_url,
            STT_API_KEY=KEYS[1], STT_BASE_URL=stt.base_url,
            TTS_API_KEY=KEYS[2], TTS_BASE_URL=tts.base_url,
            ANTHROPIC_API_KEY=KEYS[3], ANTHROPIC_BASE_URL=claude.root_url,
            GOOGLE_API_KEY=KEYS[4], GOOGLE_BASE_URL=gemini.root_url,
        )  # fmt: skip
        results = asyncio.run(provider_check.check_providers(s, limit_s=1.0))
        got = {(r.kind, r.provider): r for r in results}
        assert list(got) == [
            ("stt", "openai"), ("llm", "openai"), ("llm", "anthropic"), ("llm", "google"),
            ("tts", "openai"),
        ]  # fmt: skip
        assert got["llm", "openai"].ok and got["llm", "openai"].message == "ok: 2 models listed"
        assert got["llm", "openai"].server == f"127.0.0.1:{llm.port}"
        assert got["stt", "openai"].ok is False
        assert got["stt", "openai"].message == f"failed: HTTP 401: {UNAUTHORIZED_MESSAGE}"
        assert got["tts", "openai"].ok is False
        assert got["tts", "openai"].message == "failed: no answer within 1 s"
        assert got["llm", "anthropic"].ok and got["llm", "google"].ok
        assert got["llm", "google"].message == "ok: 1 model listed"
        # each server got its own key, in its own header
        assert llm.requests[0][0] == "/v1/models"
        assert llm.requests[0][1]["Authorization"] == f"Bearer {KEYS[0]}"
        assert claude.requests[0][0] == "/v1/models?limit=1"
        assert claude.requests[0][1]["x-api-key"] == KEYS[3]
        assert gemini.requests[0][0] == "/v1beta/models?pageSize=1"
        assert gemini.requests[0][1]["x-goog-api-key"] == KEYS[4]
    shown = repr(results) + caplog.text
    assert not [k for k in KEYS if k in shown]


def test_a_key_echoed_in_the_providers_message_is_masked() -> None:
    probe = provider_check.Probe(
        "llm", "openai", "http://x/models", "", {"Authorization": "Bearer s3cret"}, "s3cret"
    )
    message = provider_check._mask(
        "failed: HTTP 401: " + provider_check.provider_message(
            '{"error": {"message": "Incorrect API key provided: s3cret."}}'
        ),
        probe.secret,
    )  # fmt: skip
    assert message == "failed: HTTP 401: Incorrect API key provided: •••."
    assert "s3cret" not in repr(probe)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}', "Invalid credentials."),
        ('{"error": "Invalid API key"}', "Invalid API key"),
        (
            '{"error": {"code": 400, "message": "API key not valid.", "status": "INVALID"}}',
            "API key not valid.",
        ),
        ("Bad Gateway", "Bad Gateway"),
    ],
)
def test_the_providers_own_message_is_read_from_each_vendors_body(body: str, message: str) -> None:
    assert provider_check.provider_message(body) == message


def test_an_unreachable_server_is_a_failure_not_an_error(
    configure: Callable[..., Settings],
) -> None:
    with ProviderDouble("ok") as gone:
        url = gone.base_url
    s = configure(OPENAI_API_KEY="k", OPENAI_BASE_URL=url)
    [llm, stt, tts] = asyncio.run(provider_check.check_providers(s, limit_s=2.0))
    assert (llm.ok, stt.ok, tts.ok) == (False, False, False)
    assert llm.message == "failed: could not connect (ConnectError)"
