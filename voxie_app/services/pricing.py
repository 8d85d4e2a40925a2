"""One pricing table for every model Voxie meters, overridable in settings.

Prices are list prices in USD: LLMs per 1M input/output tokens, STT per
minute of audio, TTS per 1M characters, and the telephone line per minute of a
phone call (model `telephony`, kind `phone`, priced by
`VOXIE_TELEPHONY_PRICE_PER_MINUTE`). `VOXIE_PRICING` (JSON) overrides or
adds entries, e.g. `{"gpt-4o-mini": {"kind": "llm", "input": 0.15, "output": 0.6}}`.
Model names match exactly first, then by the longest known prefix
(`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`); unknown models cost 0
and are reported as unpriced so the UI can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from voxie_app.settings import Settings, get_settings

Kind = Literal["llm", "stt", "tts", "phone"]
UNITS: dict[str, str] = {
    "llm": "USD per 1M tokens",
    "stt": "USD per audio minute",
    "tts": "USD per 1M characters",
    "phone": "USD per call minute",
}
# The usage row of a phone call's line (`TokenUsage.model_name`, kind "phone"): its
# `audio_seconds` are the call's connected seconds, billed pro rata at the minute price.
TELEPHONY_MODEL = "telephony"


@dataclass(frozen=True)
class Price:
    kind: Kind
    input: Decimal  # llm: per 1M input tokens; stt, phone: per minute; tts: per 1M characters
    output: Decimal = Decimal(0)  # llm only: per 1M output tokens


def _p(kind: Kind, inp: str, out: str = "0") -> Price:
    return Price(kind, Decimal(inp), Decimal(out))


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": _p("llm", "0.15", "0.60"),
    "gpt-4o": _p("llm", "2.50", "10.00"),
    "gpt-4.1-mini": _p("llm", "0.40", "1.60"),
    "gpt-4.1-nano": _p("llm", "0.10", "0.40"),
    "gpt-4.1": _p("llm", "2.00", "8.00"),
    # Anthropic and Google Gemini (issue 17): every default model of the provider catalog
    # (voxie_app/provider_catalog.py) has a price here.
    "claude-3-5-haiku-20241022": _p("llm", "0.80", "4.00"),
    "claude-3-haiku-20240307": _p("llm", "0.25", "1.25"),
    "claude-sonnet-4-6": _p("llm", "3.00", "15.00"),
    "gemini-2.5-flash": _p("llm", "0.30", "2.50"),
    "gemini-2.0-flash-001": _p("llm", "0.10", "0.40"),
    "nova-3": _p("stt", "0.0077"),
    "nova-2": _p("stt", "0.0058"),
    "whisper-1": _p("stt", "0.006"),
    "gpt-4o-mini-transcribe": _p("stt", "0.003"),
    "gpt-4o-transcribe": _p("stt", "0.006"),
    # OpenAI Realtime, one entry per token type (`voice_worker/realtime.py` writes a
    # usage row per type); cached tokens are input only.
    **{
        f"{model}/{kind}": _p("llm", inp, out)
        for model, rates in {
            "gpt-realtime": (("32.00", "64.00"), ("4.00", "16.00"), "0.40", "0.40"),
            "gpt-realtime-mini": (("10.00", "20.00"), ("0.60", "2.40"), "0.30", "0.06"),
            "gpt-4o-realtime-preview": (("40.00", "80.00"), ("5.00", "20.00"), "2.50", "2.50"),
            "gpt-4o-mini-realtime-preview": (("10.00", "20.00"), ("0.60", "2.40"), "0.30", "0.30"),
        }.items()
        for kind, (inp, out) in (
            ("audio", rates[0]),
            ("text", rates[1]),
            ("cached-audio", (rates[2], "0")),
            ("cached-text", (rates[3], "0")),
        )
    },
    "sonic-2": _p("tts", "38.00"),
    "sonic-3": _p("tts", "38.00"),
    "sonic": _p("tts", "38.00"),
    "tts-1": _p("tts", "15.00"),
    "tts-1-hd": _p("tts", "30.00"),
    "gpt-4o-mini-tts": _p("tts", "12.00"),
}

_MILLION = Decimal(1_000_000)


def prices(settings: Settings | None = None) -> dict[str, Price]:
    """The table in use: defaults, the telephony minute price, then the settings' overrides."""
    settings = settings or get_settings()
    table = dict(DEFAULT_PRICES)
    table[TELEPHONY_MODEL] = Price("phone", Decimal(str(settings.telephony_price_per_minute)))
    for model, entry in settings.pricing_overrides.items():
        base = table.get(model)
        kind = str(entry.get("kind", base.kind if base else "llm"))
        if kind not in UNITS:
            raise ValueError(f"VOXIE_PRICING[{model}].kind must be one of {sorted(UNITS)}")
        table[model] = Price(
            kind,  # type: ignore[arg-type]
            Decimal(str(entry.get("input", base.input if base else 0))),
            Decimal(str(entry.get("output", base.output if base else 0))),
        )
    return table


def find_price(model: str, settings: Settings | None = None) -> Price | None:
    table = prices(settings)
    if model in table:
        return table[model]
    for known in sorted(table, key=len, reverse=True):
        if model.startswith(known):
            return table[known]
    return None


@dataclass(frozen=True)
class Cost:
    per_input: Decimal  # USD per unit (token, second, character)
    per_output: Decimal
    total: Decimal
    priced: bool


def cost(
    model: str,
    kind: Kind,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    audio_seconds: float = 0.0,
    characters: int = 0,
    settings: Settings | None = None,
) -> Cost:
    """What one usage record costs, with the per-unit prices stored beside it."""
    price = find_price(model, settings)
    if price is None or price.kind != kind:
        return Cost(Decimal(0), Decimal(0), Decimal(0), priced=False)
    if kind == "llm":
        per_in, per_out = price.input / _MILLION, price.output / _MILLION
        total = per_in * input_tokens + per_out * output_tokens
    elif kind in ("stt", "phone"):
        per_in, per_out = price.input / 60, Decimal(0)
        total = per_in * Decimal(str(audio_seconds))
    else:
        per_in, per_out = price.input / _MILLION, Decimal(0)
        total = per_in * characters
    q = Decimal("0.0000000001")
    return Cost(
        per_in.quantize(q), per_out.quantize(q), total.quantize(Decimal("0.00000001")), True
    )


def pricing_table(settings: Settings | None = None) -> list[dict[str, str]]:
    """Rows for the settings page: model, kind, unit, input and output price."""
    return [
        {
            "model": model,
            "kind": price.kind,
            "unit": UNITS[price.kind],
            "input": f"{price.input}",
            "output": f"{price.output}" if price.kind == "llm" else "",
        }
        for model, price in sorted(prices(settings).items(), key=lambda kv: (kv[1].kind, kv[0]))
    ]
