"""A campaign's CSV is checked whole: every bad cell reported, nothing half imported."""

from __future__ import annotations

import pytest

from voxie_app.services import campaign_csv
from voxie_app.services.errors import InvalidInput, InvalidRows


def parse(text: str, listed: set[str] | None = None) -> campaign_csv.ContactList:
    return campaign_csv.parse(text, listed=lambda numbers: set(numbers) & (listed or set()))


def problems(text: str, listed: set[str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as exc:
        parse(text, listed)
    return getattr(exc.value, "problems", [(exc.value.field, exc.value.message)])


def test_a_good_list_gives_contacts_with_their_variables() -> None:
    result = parse(
        "\ufeffPhone,first_name,Visit Day\r\n"
        "+1 415 555 0123,Ann,Tuesday\r\n"
        "\r\n"
        "+14155550124,Bob,Friday\r\n"
    )
    assert result.phone_column == "Phone"
    assert result.variable_names == ["first_name", "visit_day"]
    assert [(c.line, c.phone, c.variables) for c in result.contacts] == [
        (2, "+14155550123", {"first_name": "Ann", "visit_day": "Tuesday"}),
        (4, "+14155550124", {"first_name": "Bob", "visit_day": "Friday"}),
    ]


def test_a_quoted_cell_may_hold_commas_and_line_breaks() -> None:
    result = parse('number,note\n+14155550123,"late, call\nafter 5"\n')
    assert result.contacts[0].variables == {"note": "late, call\nafter 5"}


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("name,email", "one of them the phone number"),
        ("phone,to", "only one column may hold the phone number"),
    ],
)
def test_without_one_phone_column_the_header_is_refused(header: str, words: str) -> None:
    [(field, message)] = problems(f"{header}\n+14155550123,x\n")
    assert field == "csv.1" and words in message


def test_bad_column_names_are_each_named() -> None:
    found = problems("phone,,first_name,first_name,9lives,caller_number\n+14155550123,a,b,c,d,e\n")
    assert [f for f, _ in found] == ["csv.1.2", "csv.1.4", "csv.1.5", "csv.1.6"]
    assert "has no name" in found[0][1]
    assert "appears twice" in found[1][1]
    assert "cannot be a variable name" in found[2][1]


def test_every_bad_row_is_reported_and_nothing_is_returned() -> None:
    found = problems(
        "phone,first_name\n"
        "+14155550123,Ann\n"  # fine
        "+1 555,Bob\n"  # not a number
        "4155550125,Cy\n"  # not E.164
        "+14155550123,Ann again\n"  # duplicate of line 2
        '+14155550126,=HYPERLINK("x")\n'  # formula
        "+14155550127\n"  # too few cells
        "@SUM(A1),Di\n"  # formula in the phone column
        "+14155550128,Eve\n",  # on the do-not-call list
        listed={"+14155550128"},
    )
    assert [f for f, _ in found] == [
        "csv.3.1",
        "csv.4.1",
        "csv.5.1",
        "csv.6.2",
        "csv.7",
        "csv.8.1",
        "csv.9.1",
    ]
    text = " | ".join(m for _, m in found)
    assert "line 3: '+1 555' is not a valid phone number" in text
    assert "not in E.164 form" in text
    assert "line 5: +14155550123 is already on line 2" in text
    assert "looks like a spreadsheet formula" in text
    assert "1 cells, but the header has 2 columns" in text
    assert "line 9: +14155550128 is on the do-not-call list" in text


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2", "@x", "\tx"])
def test_formula_looking_variable_cells_are_refused(cell: str) -> None:
    [(field, message)] = problems(f'phone,v\n+14155550123,"{cell}"\n')
    assert field == "csv.2.2" and "formula" in message


def test_a_long_value_is_refused_naming_the_column() -> None:
    [(field, message)] = problems("phone,note\n+14155550123," + "x" * 501 + "\n")
    assert field == "csv.2.2" and "column note" in message and "500" in message


def test_over_the_row_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign_csv, "MAX_ROWS", 3)
    rows = "".join(f"+1415555012{i},x\n" for i in range(4))
    [(field, message)] = problems("phone,v\n" + rows)
    assert field == "csv" and "at most 3 contacts" in message
    assert len(parse("phone,v\n" + rows.split("\n", 1)[1]).contacts) == 3


def test_the_real_cap_is_one_hundred_thousand_rows() -> None:
    assert campaign_csv.MAX_ROWS == 100_000
    rows = "".join(f"+1415{2_000_000 + i},x\n" for i in range(100_001))
    [(field, message)] = problems("phone,v\n" + rows)
    assert field == "csv" and "at most 100,000 contacts" in message


def test_reports_are_capped_with_a_count_of_the_rest() -> None:
    found = problems("phone\n" + "bad\n" * 150)
    assert len(found) == campaign_csv.MAX_REPORTED + 1
    assert found[-1] == ("csv", "and 50 more problems")


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("phone\n", "no contacts"), ("phone\n+1\x0041\n", "NUL")],
)
def test_empty_or_binary_files_are_refused(text: str, words: str) -> None:
    [(_, message)] = problems(text)
    assert words in message


def test_invalid_rows_is_an_invalid_input() -> None:
    with pytest.raises(InvalidRows):
        parse("phone\nbad\n")
