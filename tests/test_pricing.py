"""The pricing table: per-model costs, prefix matching, overrides from settings."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from voxie_app.services import pricing
from voxie_app.settings import Settings


def test_llm_cost_per_token(configure: Callable[..., Settings]) -> None:
    c = pricing.cost("gpt-4o-mini", "llm", input_tokens=1_000_000, output_tokens=500_000)
    assert c.total == Decimal("0.45")
    assert c.per_input == Decimal("0.00000015")
    assert c.priced


def test_dated_model_names_use_the_family_price(configure: Callable[..., Settings]) -> None:
    assert pricing.find_price("gpt-4o-mini-2024-07-18") == pricing.DEFAULT_PRICES["gpt-4o-mini"]
    assert pricing.find_price("gpt-4o-2024-08-06") == pricing.DEFAULT_PRICES["gpt-4o"]


def test_stt_per_minute_and_tts_per_character(configure: Callable[..., Settings]) -> None:
    assert pricing.cost("nova-3", "stt", audio_seconds=120).total == Decimal("0.0154")
    assert pricing.cost("tts-1", "tts", characters=2000).total == Decimal("0.03")


def test_unknown_or_mismatched_models_are_unpriced(configure: Callable[..., Settings]) -> None:
    assert not pricing.cost("my-local-llama", "llm", input_tokens=10).priced
    assert pricing.cost("nova-3", "llm", input_tokens=10).total == 0


def test_overrides_from_settings(configure: Callable[..., Settings]) -> None:
    settings = configure(
        VOXIE_PRICING='{"my-local-llama": {"kind": "llm", "input": 0, "output": 0.1},'
        ' "gpt-4o-mini": {"input": 0.3}}'
    )
    llama = pricing.cost("my-local-llama", "llm", output_tokens=1_000_000, settings=settings)
    assert llama.priced and llama.total == Decimal("0.1")
    mini = pricing.find_price("gpt-4o-mini", settings)
    assert mini == pricing.Price("llm", Decimal("0.3"), Decimal("0.60"))
    rows = {r["model"]: r for r in pricing.pricing_table(settings)}
    assert rows["my-local-llama"]["unit"] == "USD per 1M tokens"
    assert rows["nova-3"]["output"] == ""


def test_bad_override_kind_is_a_clear_error(configure: Callable[..., Settings]) -> None:
    settings = configure(VOXIE_PRICING='{"x": {"kind": "video"}}')
    with pytest.raises(ValueError, match="kind must be one of"):
        pricing.prices(settings)
