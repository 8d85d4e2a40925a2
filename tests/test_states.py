"""The logic behind the page states: form <-> spec, formatting, filters, page data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from aiohttp import web

from tests.doubles.livekit_server import DEFAULT_API_KEY, DEFAULT_API_SECRET, closed_port_url
from tests.seed import seed_demo
from voxie_app.db import session_scope
from voxie_app.services import agents as agents_svc
from voxie_app.services import reports
from voxie_app.services.errors import InvalidInput
from voxie_app.services.livekit_check import check_livekit
from voxie_app.state import agent_form, fmt
from voxie_app.state.analytics import fetch_analytics
from voxie_app.state.call_detail import detail_view
from voxie_app.state.calls import (
    ALL,
    blank_filters,
    build_filter,
    filters_from_query,
    query_for,
)
from voxie_app.state.dashboard import fetch_dashboard
from voxie_app.state.settings import pricing_rows, provider_rows

# ------------------------------------------------------------------ agent form


def _valid_form() -> dict[str, str]:
    form = agent_form.blank_form()
    form.update(name="Dental Bot", instructions="You book cleanings.")
    return form


def test_blank_form_round_trips_to_a_valid_spec() -> None:
    spec, errors = agent_form.spec_from_form(_valid_form(), agent_form.blank_tools(), [])
    assert errors == {}
    parsed = agents_svc.parse_spec(spec)
    assert parsed.temperature == 0.7
    assert parsed.min_endpointing_delay is None and parsed.tools == ["end_call"]
    assert parsed.turn_preset == "default"


def test_form_from_spec_and_back_keeps_every_field() -> None:
    target = str(uuid.uuid4())
    stored = agents_svc.parse_spec(
        {
            "name": "A",
            "description": "d",
            "instructions": "i",
            "greeting": "g",
            "language": "es-MX",
            "voice": "coral",
            "llm_model": "m",
            "temperature": 1.25,
            "tools": ["end_call", "transfer_to_agent"],
            "transfer_targets": [{"agent_id": target, "when": "billing"}],
            "turn_preset": "patient",
            "min_endpointing_delay": 0.3,
            "max_endpointing_delay": 2,
        }
    ).model_dump(mode="json")
    form, tools, targets = agent_form.form_from_spec(stored)
    assert form["temperature"] == "1.25" and form["max_endpointing_delay"] == "2"
    assert form["turn_preset"] == "patient"
    spec, errors = agent_form.spec_from_form(form, tools, targets)
    assert errors == {}
    assert agents_svc.parse_spec(spec).model_dump(mode="json") == stored


def test_the_filler_fields_round_trip_and_name_their_errors() -> None:
    form = agent_form.blank_form()
    assert (form["filler_message"], form["filler_after_s"]) == ("One moment.", "1.2")
    stored = agents_svc.parse_spec(
        {"name": "A", "instructions": "i", "filler_message": "", "filler_after_s": 2.5}
    ).model_dump(mode="json")
    form, tools, targets = agent_form.form_from_spec(stored)
    assert (form["filler_message"], form["filler_after_s"]) == ("", "2.5")
    spec, errors = agent_form.spec_from_form(form, tools, targets)
    assert errors == {} and agents_svc.parse_spec(spec).model_dump(mode="json") == stored
    bad = _valid_form() | {"filler_message": "x" * 101, "filler_after_s": "9"}
    _, errors = agent_form.validate_form(bad, ["end_call"], [])
    assert errors == {
        "filler_message": "Must have at most 100 characters",
        "filler_after_s": "Must be less than or equal to 5",
    }
    _, errors = agent_form.validate_form(_valid_form() | {"filler_after_s": "soon"}, [], [])
    assert errors == {"filler_after_s": "Enter a number"}


def test_numbers_and_spec_errors_map_to_fields() -> None:
    form = _valid_form() | {"instructions": "  ", "temperature": "hot", "language": "English"}
    spec, errors = agent_form.spec_from_form(form, ["end_call"], [])
    assert errors == {"temperature": "Enter a number"}
    form["temperature"] = "5"
    spec, errors = agent_form.spec_from_form(form, ["end_call"], [{"agent_id": "", "when": ""}])
    with pytest.raises(agents_svc.SpecInvalid) as exc:
        agents_svc.parse_spec(spec)
    mapped = agent_form.errors_from_spec(exc.value.errors)
    assert mapped["instructions"] == "Required"
    assert mapped["temperature"] == "Must be less than or equal to 2"
    assert mapped["language"].startswith("Must be a language code")
    assert mapped["transfer_targets"] == "Pick an agent"


def test_every_field_error_is_found_in_one_pass() -> None:
    """The walkthrough's form: a bad delay no longer hides the other fields' errors."""
    form = _valid_form() | {
        "name": "n" * 300,
        "instructions": "",
        "temperature": "5",
        "language": "English",
        "min_endpointing_delay": "abc",
        "max_endpointing_delay": "20",
    }
    seen: list[list[str]] = []

    def references(spec):
        seen.append(spec.tools)
        return [InvalidInput("transfer targets need it", field="processed_spec.tools")]

    target = [{"agent_id": str(uuid.uuid4()), "when": ""}]
    _, errors = agent_form.validate_form(form, ["end_call"], target, references=references)
    assert set(errors) == {
        "name",
        "instructions",
        "temperature",
        "language",
        "min_endpointing_delay",
        "max_endpointing_delay",
        "tools",
    }
    assert errors["min_endpointing_delay"] == "Enter a number"
    assert errors["instructions"] == "Required"
    assert errors["name"].startswith("Must have at most 80")
    assert seen == [["end_call"]]  # the reference rules saw the real tools
    assert agent_form.first_field(errors) == "name"


def test_reference_problems_are_all_listed(db: str) -> None:
    missing = [str(uuid.uuid4()), str(uuid.uuid4())]
    spec = agents_svc.parse_spec(
        {"name": "A", "instructions": "i", "tools": ["end_call"], "transfer_targets": missing}
    )
    with session_scope() as session:
        problems = agents_svc.reference_problems(session=session, spec=spec, agent_id=None)
        assert [p.field for p in problems] == [
            "processed_spec.transfer_targets.0.agent_id",
            "processed_spec.transfer_targets.1.agent_id",
            "processed_spec.tools",
        ]
        with pytest.raises(InvalidInput) as first:
            agents_svc.check_references(session=session, spec=spec, agent_id=None)
        assert first.value.field == problems[0].field


def test_whole_spec_rules_are_found_alongside_field_errors() -> None:
    form = _valid_form() | {
        "temperature": "hot",
        "language": "English",
        "min_endpointing_delay": "3",
        "max_endpointing_delay": "1",
    }
    _, errors = agent_form.validate_form(form, [], [])
    assert errors == {
        "temperature": "Enter a number",
        "language": "Must be a language code such as 'en' or 'es-MX'",
        "max_endpointing_delay": "Must not be smaller than the minimum delay",
    }
    assert agent_form.first_field(errors) == "language"
    assert agent_form.validate_form(_valid_form(), ["end_call"], [])[1] == {}


def test_min_above_max_delay_is_shown_on_the_max_field() -> None:
    form = _valid_form() | {"min_endpointing_delay": "3", "max_endpointing_delay": "1"}
    spec, _ = agent_form.spec_from_form(form, [], [])
    with pytest.raises(agents_svc.SpecInvalid) as exc:
        agents_svc.parse_spec(spec)
    assert agent_form.errors_from_spec(exc.value.errors) == {
        "max_endpointing_delay": "Must not be smaller than the minimum delay"
    }


def test_invalid_input_maps_to_its_field() -> None:
    exc = InvalidInput("no agent with id x", field="processed_spec.transfer_targets.0.agent_id")
    assert agent_form.error_from_invalid(exc) == {"transfer_targets": "No agent with id x"}
    tools = InvalidInput("transfer targets need it", field="processed_spec.tools")
    assert agent_form.error_from_invalid(tools) == {"tools": "Transfer targets need it"}


def test_copy_name_stays_within_the_limit() -> None:
    assert agent_form.copy_name("Bot") == "Bot (copy)"
    long = agent_form.copy_name("x" * 80)
    assert len(long) == 80 and long.endswith(" (copy)")


# ------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (Decimal("0"), "$0.00"),
        (Decimal("0.01234"), "$0.0123"),
        (Decimal("12.5"), "$12.50"),
        (Decimal("1234.5"), "$1,234.50"),
    ],
)
def test_money(value: Decimal | None, text: str) -> None:
    assert fmt.money(value) == text


def test_other_formats() -> None:
    assert [fmt.duration(s) for s in (None, 5, 65, 3700)] == ["—", "5s", "1m 05s", "1h 01m"]
    assert fmt.percent(0.756) == "76%" and fmt.percent(None) == "—"
    assert fmt.rating(4) == "4.0 / 5"
    assert fmt.label("appointment_booked") == "Appointment booked"
    when = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert fmt.when(when, "UTC") == "Nov 25, 23:30"
    assert fmt.when(when, "Asia/Tokyo") == "Nov 26, 08:30"
    assert fmt.sentiment_color("negative") == "red" and fmt.status_color("weird") == "gray"


def test_counts_and_minutes_read_one_way() -> None:
    assert [fmt.count(n, "call") for n in (0, 1, 2, 1204)] == [
        "0 calls",
        "1 call",
        "2 calls",
        "1,204 calls",
    ]
    assert [fmt.minutes(v) for v in (None, 0, 12, 12.34, 1234.56)] == [
        "—",
        "0.0",
        "12.0",
        "12.3",
        "1,234.6",
    ]


def test_end_reasons_read_as_sentences_with_the_raw_detail_apart() -> None:
    raw = "browser: could not establish pc connection"
    assert fmt.end_reason(raw, "failed") == (
        "The browser could not connect the call.",
        "could not establish pc connection",
    )
    assert fmt.end_reason("microphone: NotAllowedError", "failed")[1] == "NotAllowedError"
    assert fmt.end_reason("worker_error", "failed") == (
        "The call failed before it finished.",
        "worker_error",
    )
    assert fmt.end_reason("caller_hung_up", "completed") == ("The caller hung up.", "")
    assert fmt.end_reason(None, "active") == ("The call is still going.", "")


def test_failed_and_empty_calls_have_their_own_summary_wording() -> None:
    assert fmt.summary_note("completed", 5, True) == ("", "No follow-up needed.")
    failed, actions = fmt.summary_note("failed", 0, False)
    assert "failed before anything was said" in failed and "No follow-up" not in actions
    assert "nothing was said" in fmt.summary_note("completed", 0, False)[0]
    assert "when the call ends" in fmt.summary_note("active", 2, False)[0]


def test_calls_filters_round_trip_through_the_url() -> None:
    filters = blank_filters() | {"status": "failed", "start": "2026-11-01"}
    url = query_for(filters, 2)
    assert url == "/calls?start=2026-11-01&status=failed&page=3"
    query = dict(pair.split("=") for pair in url.partition("?")[2].split("&"))
    assert filters_from_query(query) == (filters, 2)
    assert query_for(blank_filters(), 0) == "/calls"
    assert filters_from_query({"start": "nope", "page": "x", "bogus": "1"}) == (
        blank_filters(),
        0,
    )


def test_duplicate_agent_names_are_told_apart_in_pickers(db: str, clock) -> None:
    clock(NOW)
    seed_demo(now=NOW, tz="UTC")
    with session_scope() as session:
        spec = agents_svc.parse_spec({"name": "Twin", "instructions": "Answer the phone."})
        agents_svc.create_agent(session=session, user_requirements={}, spec=spec)
        clock(NOW + timedelta(minutes=5))
        agents_svc.create_agent(session=session, user_requirements={}, spec=spec)
    with session_scope() as session:
        labels = [label for _, label in reports.agent_choices(session=session, tz="Asia/Tokyo")]
    assert labels.count("Pizza Roma Orders") == 1
    assert [x for x in labels if x.startswith("Twin")] == [
        "Twin (created 2026-11-01 14:30)",
        "Twin (created 2026-11-01 14:35)",
    ]
    with session_scope() as session:  # made in the same minute: the id tells them apart
        third = agents_svc.create_agent(session=session, user_requirements={}, spec=spec)
        labels = dict(reports.agent_choices(session=session, tz="Asia/Tokyo"))
    assert labels[third.id] == f"Twin (created 2026-11-01 14:35, #{third.id.hex[:6]})"


# --------------------------------------------------------------------- filters


def test_build_filter_ignores_all_and_bad_values() -> None:
    agent = uuid.uuid4()
    f = build_filter(
        blank_filters()
        | {"agent": str(agent), "start": "2026-11-01", "end": "nope", "status": "failed"},
        "Europe/Paris",
    )
    assert f == reports.CallFilter(
        agent_id=agent, start=date(2026, 11, 1), status="failed", tz="Europe/Paris"
    )
    assert build_filter({"agent": "not-a-uuid", "sentiment": ALL}, "UTC") == reports.CallFilter()


# ----------------------------------------------------------- page data (both DBs)

# Early in the UTC day: a fortnight of calls must still fall in the 14 days.
NOW = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_dashboard_data(db: str, clock) -> None:
    clock(NOW)
    seeded = seed_demo(now=NOW, tz="UTC")
    data = fetch_dashboard("UTC")
    assert data["stats"]["calls"] == str(len(seeded.today_call_ids))
    assert len(data["series"]) == 14
    assert data["series_total"] == len(seeded.call_ids)
    assert len(data["recent"]) == 8
    assert data["recent"][0]["href"].startswith("/calls/")
    assert data["agents"] == 3


def test_analytics_data(db: str, clock) -> None:
    clock(NOW)
    seeded = seed_demo(now=NOW, tz="UTC")
    today = reports.today("UTC")
    data = fetch_analytics(today - timedelta(days=13), today, "UTC")
    assert data["total_calls"] == len(seeded.call_ids)
    assert sum(p["calls"] for p in data["series"]) == len(seeded.call_ids)
    assert {r["agent"] for r in data["agents"]} == set(seeded.agent_ids)
    assert all(r["p50"].endswith("s") for r in data["agents"])
    assert all(s["fill"].startswith("var(--") for s in data["sentiment"])
    assert len(data["latency"]) == 3


def test_call_detail_view(db: str) -> None:
    seeded = seed_demo(now=NOW, tz="UTC")
    with session_scope() as session:
        details = [reports.call_detail(session=session, call_id=i) for i in seeded.call_ids]
    detail = next(d for d in details if d and d.summary)
    view = detail_view(detail, "UTC")
    assert [t["is_user"] for t in view["turns"]][:2] == [False, True]
    assert view["turns"][1]["speaker"] == "Caller"
    assert [c["kind"] for c in view["costs"]] == ["LLM", "Speech-to-text", "Text-to-speech"]
    assert view["latency"] and isinstance(view["latency"][0]["e2e_latency"], int)
    assert view["call"]["cost"].startswith("$")


def test_settings_rows_are_booleans_only(configure) -> None:
    configure(OPENAI_API_KEY="sk-secret-value", LIVEKIT_URL="http://x")
    rows = provider_rows()
    assert {r["key"]: r["ok"] for r in rows} == {
        "openai": True,
        "anthropic": False,
        "google": False,
        "deepgram": False,
        "stt_openai": True,  # the OpenAI settings serve speech too until STT_* are set
        "cartesia": False,
        "tts_openai": True,
        "livekit": False,
        "ragie": False,
    }
    assert "sk-secret-value" not in repr(rows)
    prices, note = pricing_rows()
    assert note == "" and any(p["model"] == "gpt-4o-mini" for p in prices)


# ------------------------------------------------------------------ LiveKit check


async def test_check_livekit_not_configured(configure) -> None:
    result = await check_livekit(configure())
    assert not result.ok
    assert result.missing == ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]
    assert "LIVEKIT_URL" in result.message


async def test_check_livekit_unreachable(configure) -> None:
    settings = configure(
        LIVEKIT_URL=closed_port_url(), LIVEKIT_API_KEY="k", LIVEKIT_API_SECRET="s" * 32
    )
    result = await check_livekit(settings)
    assert not result.ok and result.message.startswith("Could not reach LiveKit")
    assert "s" * 32 not in result.message


async def test_check_livekit_lists_rooms(configure) -> None:
    from livekit.protocol import models as proto_models
    from livekit.protocol import room as proto_room

    seen: list[str] = []

    async def list_rooms(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        body = proto_room.ListRoomsResponse(rooms=[proto_models.Room(name="a")])
        return web.Response(body=body.SerializeToString(), content_type="application/protobuf")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/ListRooms", list_rooms)
    app.router.add_post("/slow/twirp/livekit.RoomService/ListRooms", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = configure(
            LIVEKIT_URL=f"http://127.0.0.1:{port}",
            LIVEKIT_API_KEY=DEFAULT_API_KEY,
            LIVEKIT_API_SECRET=DEFAULT_API_SECRET,
        )
        ok = await check_livekit(settings)
        assert ok.ok and ok.rooms == 1, ok.message
        assert seen and seen[0].startswith("Bearer ")
        slow_settings = configure(LIVEKIT_URL=f"http://127.0.0.1:{port}/slow")
        late = await check_livekit(slow_settings, limit_s=0.5)
        assert not late.ok and "did not answer within 0.5 seconds" in late.message
    finally:
        await runner.cleanup()


async def test_check_livekit_twirp_error(configure, livekit_double) -> None:
    # The LiveKit double does not implement ListRooms: a Twirp error, shown as such.
    settings = configure(
        LIVEKIT_URL=livekit_double.url,
        LIVEKIT_API_KEY=livekit_double.api_key,
        LIVEKIT_API_SECRET=livekit_double.api_secret,
    )
    result = await check_livekit(settings)
    assert not result.ok
    assert result.message.startswith("LiveKit answered with an error")


@pytest.mark.parametrize("days", ["\N{SUPERSCRIPT TWO}", "9" * 5000, "-7", " 7", "8", [], None, 7])
async def test_analytics_preset_ignores_what_is_not_a_preset(days: object) -> None:
    """A client's preset is matched as text; odd digits never reach int() (H9's defect)."""
    from voxie_app.state.analytics import AnalyticsState, preset_days

    assert preset_days(days) is None
    # The handler refuses it before touching any state (so no state instance is needed).
    assert await AnalyticsState.event_handlers["set_preset"].fn(None, days) is None


def test_analytics_presets_are_found() -> None:
    from voxie_app.state.analytics import preset_days

    assert [preset_days(d) for d in ("7", ["30"], "90")] == [7, 30, 90]
