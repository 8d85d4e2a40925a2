"""E.164 parsing: what a user, a CSV or a SIP attribute may hand Voxie as a number."""

from __future__ import annotations

import pytest

from voxie_app.services import e164
from voxie_app.services.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+14155550123", "+14155550123"),
        (" +1 (415) 555-0123 ", "+14155550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+49.30.901820", "+4930901820"),
    ],
)
def test_valid_numbers_come_out_in_e164(text: str, expected: str) -> None:
    assert e164.parse(text, field="to") == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "required"),
        ("4155550123", "E.164"),
        ("+1415", "not a valid"),
        ("+999 123 456 789", "not a"),
        ("+1 415 555 0123 ext 55555555555555555", "too long"),
        ("call me", "E.164"),
    ],
)
def test_invalid_numbers_name_the_field(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        e164.parse(text, field="contacts.3.phone")
    assert caught.value.field == "contacts.3.phone" and says in str(caught.value)


def test_a_national_number_is_read_in_the_region_given() -> None:
    assert e164.parse("(415) 555-0123", field="to", region="US") == "+14155550123"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155550123", "+14155550123"),
        ("14155550123", "+14155550123"),
        ("sip:+14155550123@trunk.example.com", "+14155550123"),
        ("anonymous", None),
        ("101", None),
        (None, None),
    ],
)
def test_sip_caller_ids_normalize_or_give_none(raw: str | None, expected: str | None) -> None:
    assert e164.normalize(raw) == expected


def test_display_groups_digits() -> None:
    assert e164.display("+14155550123") == "+1 415-555-0123"
    assert e164.display("garbage") == "garbage"
