"""A campaign's contact list from a CSV: a phone column plus one column per variable.

The whole file is checked before anything is written, and every bad row is reported
at once (`InvalidRows`), so a list is never half imported and the admin fixes it in
one pass. What is refused:

- wrong columns: no phone column, an empty, repeated or badly named column (names
  become `{{variables}}`, so they follow the variables' rule), a row with more or
  fewer cells than the header;
- numbers that are not valid E.164, numbers listed twice, numbers on the do-not-call
  list;
- formula-looking cells (a leading `=`, `+`, `-`, `@`, tab or carriage return;
  for the phone column a leading `+` is the E.164 form and allowed): such a cell
  runs as a formula when the list is opened in a spreadsheet (CSV injection), and an
  agent would read it out;
- more than `MAX_ROWS` contacts.

A field is named `csv.<line>.<column>` (line 1 is the header), so the UI and the API
can point at the cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from voxie_app.services import e164
from voxie_app.services import variables as variables_svc
from voxie_app.services.errors import InvalidInput, InvalidRows

MAX_ROWS = 100_000
# A CSV names the phone column one of these (case and spaces ignored).
PHONE_COLUMNS = ("phone", "phone_number", "number", "to")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The 422 names this many bad cells at most, then says how many more there were.
MAX_REPORTED = 100
FIELD = "csv"

# Given the numbers of a list, the ones on the do-not-call list.
ListedCheck = Callable[[Iterable[str]], set[str]]


@dataclass(frozen=True)
class Contact:
    line: int  # the CSV line (header = 1)
    phone: str  # E.164
    variables: dict[str, str]


@dataclass(frozen=True)
class ContactList:
    phone_column: str
    variable_names: list[str]
    contacts: list[Contact]


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.total = 0

    def add(self, field: str, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append((field, message))

    def raise_if_any(self) -> None:
        if not self.total:
            return
        items = list(self.items)
        if self.total > len(items):
            items.append((FIELD, f"and {self.total - len(items)} more problems"))
        raise InvalidRows(items)


def _looks_like_formula(value: str, *, phone: bool) -> bool:
    if not value:
        return False
    if phone and value[0] == "+":
        return False
    return value[0] in FORMULA_PREFIXES


def _header(row: list[str]) -> tuple[int, list[str]]:
    """(index of the phone column, the variable names in column order)."""
    problems = _Problems()
    names = [cell.strip().lower().replace(" ", "_") for cell in row]
    phone_at = [i for i, name in enumerate(names) if name in PHONE_COLUMNS]
    if not phone_at:
        raise InvalidInput(
            "the first line must name the columns, one of them the phone number "
            f"({', '.join(PHONE_COLUMNS)})",
            field=f"{FIELD}.1",
        )
    if len(phone_at) > 1:
        raise InvalidInput(
            "only one column may hold the phone number, found "
            + ", ".join(repr(row[i]) for i in phone_at),
            field=f"{FIELD}.1",
        )
    seen: set[str] = set()
    variables: list[str] = []
    for i, name in enumerate(names):
        if i == phone_at[0]:
            continue
        where = f"{FIELD}.1.{i + 1}"
        if not name:
            problems.add(where, f"column {i + 1} has no name")
        elif name in seen:
            problems.add(where, f"the column {name!r} appears twice")
        elif not variables_svc.KEY_RE.fullmatch(name) or name in variables_svc.BUILTINS:
            problems.add(
                where,
                f"the column {row[i]!r} cannot be a variable name: use "
                f"{variables_svc.KEY_RULE}, and none of {', '.join(variables_svc.BUILTINS)}",
            )
        seen.add(name)
        variables.append(name)
    if len(variables) > variables_svc.MAX_KEYS:
        problems.add(f"{FIELD}.1", f"at most {variables_svc.MAX_KEYS} variable columns")
    problems.raise_if_any()
    return phone_at[0], variables


def parse(text: str, *, listed: ListedCheck) -> ContactList:
    """Check the whole CSV `text`; the contacts, or `InvalidRows` naming every bad cell."""
    if not text.strip():
        raise InvalidInput("the CSV is empty", field=FIELD)
    if "\x00" in text:
        raise InvalidInput("the file is not a CSV (it holds NUL bytes)", field=FIELD)
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InvalidInput(f"line 1 cannot be read as CSV: {exc}", field=f"{FIELD}.1") from None
    phone_at, names = _header(header)
    columns = len(header)
    problems = _Problems()
    contacts: list[Contact] = []
    first_line: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines (often one at the end) are not contacts
            if len(contacts) >= MAX_ROWS:
                raise InvalidInput(
                    f"a campaign holds at most {MAX_ROWS:,} contacts; split the list",
                    field=FIELD,
                )
            contact, ok = _row(row, line, columns, phone_at, names, problems)
            if contact is None:
                continue
            if contact.phone in first_line:
                problems.add(
                    f"{FIELD}.{line}.{phone_at + 1}",
                    f"line {line}: {contact.phone} is already on line {first_line[contact.phone]}",
                )
                continue
            first_line[contact.phone] = line
            if ok:
                contacts.append(contact)
    except csv.Error as exc:
        problems.add(f"{FIELD}.{reader.line_num}", f"line {reader.line_num}: {exc}")
    if not contacts and not problems.total:
        raise InvalidInput("the CSV has a header but no contacts", field=FIELD)
    on_list = listed(first_line.keys()) if first_line else set()
    for contact in contacts:
        if contact.phone in on_list:
            problems.add(
                f"{FIELD}.{contact.line}.{phone_at + 1}",
                f"line {contact.line}: {contact.phone} is on the do-not-call list",
            )
    problems.raise_if_any()
    return ContactList(
        phone_column=header[phone_at].strip(), variable_names=names, contacts=contacts
    )


def _row(
    row: list[str],
    line: int,
    columns: int,
    phone_at: int,
    names: list[str],
    problems: _Problems,
) -> tuple[Contact | None, bool]:
    """The row's contact (None when its number is unusable) and whether every cell is
    good (a row with a bad variable still takes part in the duplicate check)."""
    if len(row) != columns:
        problems.add(
            f"{FIELD}.{line}",
            f"line {line}: {len(row)} cells, but the header has {columns} columns",
        )
        return None, False
    ok = True
    variables: dict[str, str] = {}
    name_at = iter(names)
    phone = ""
    for i, cell in enumerate(row):
        value = cell.strip()
        where = f"{FIELD}.{line}.{i + 1}"
        is_phone = i == phone_at
        if _looks_like_formula(cell.lstrip(" "), phone=is_phone):
            problems.add(
                where,
                f"line {line}, column {i + 1}: {value[:20]!r} looks like a spreadsheet "
                "formula; remove the leading character",
            )
            ok = False
            if not is_phone:
                next(name_at)
            continue
        if is_phone:
            try:
                phone = e164.parse(value, field=where)
            except InvalidInput as exc:
                problems.add(where, f"line {line}: {exc.message}")
                ok = False
            continue
        name = next(name_at)
        try:
            variables.update(variables_svc.validate({name: value}, field=where))
        except InvalidInput as exc:
            problems.add(where, f"line {line}, column {name}: {exc.message}")
            ok = False
    contact = Contact(line=line, phone=phone, variables=variables) if phone else None
    return contact, ok
