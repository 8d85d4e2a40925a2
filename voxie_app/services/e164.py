"""Phone numbers in E.164 ("+14155550123"), the one form Voxie stores and sends.

Parsed with `phonenumbers` (Google's libphonenumber data) rather than a regex, so a
number is refused when it cannot exist (wrong length for its country, unassigned
prefix), not only when it looks odd. Every place that takes a number from a user, a
CSV or a SIP attribute goes through here, so the forms never drift apart.
"""

from __future__ import annotations

import re

import phonenumbers

from voxie_app.services.errors import InvalidInput

MAX_INPUT_CHARS = 32


def parse(text: str, *, field: str, region: str | None = None) -> str:
    """`text` as E.164, or `InvalidInput` naming `field`.

    Without `region` the number must start with "+" and its country code; with a
    default region (ISO 3166 code such as "US"), a national number is read as one of
    that country's. Spaces, dashes, dots and brackets are allowed around the digits.
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidInput("a phone number is required", field=field)
    if len(raw) > MAX_INPUT_CHARS:
        raise InvalidInput("that is too long to be a phone number", field=field)
    if region is None and not raw.startswith("+"):
        raise InvalidInput(
            f"{raw!r} is not in E.164 form: start with + and the country code, e.g. +14155550123",
            field=field,
        )
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"{raw!r} is not a valid phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(text: str | None) -> str | None:
    """`text` as E.164 when it is a valid number, else None (for values Voxie did not
    choose, such as a SIP caller id: "anonymous", a SIP URI user, an extension)."""
    value = (text or "").strip()
    if value.startswith("sip:"):
        value = value[4:].split("@", 1)[0]
    if value and value[0].isdigit() and len(value) > 7:
        value = "+" + value  # caller ids often arrive without the "+"
    try:
        return parse(value, field="phone")
    except InvalidInput:
        return None


def display(e164: str) -> str:
    """An E.164 number the way people read it ("+1 415-555-0123")."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


_NUMBER_RUN = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def mentioned(e164: str, text: str) -> bool:
    """Whether `text` writes the number `e164` (in full, or its national digits).

    For numbers a model proposes from a conversation: the builder keeps one only
    when the person typed or said it, so a number the model made up (or copied
    from a prompt-injected page) is never stored for dialling.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    full = e164.lstrip("+")
    national = phonenumbers.national_significant_number(number)
    for run in _NUMBER_RUN.findall(text or ""):
        digits = re.sub(r"\D", "", run)
        if digits == full or digits.lstrip("0") == national:
            return True
    return False
