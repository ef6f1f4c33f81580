import datetime as dt

import pytest

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.submission_numbers import (
    parse_bool,
    parse_date,
    parse_level,
    parse_number,
    parse_period,
    parse_ratio,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("85,5", 85.5),
        ("85,5 %", 85.5),
        ("1.234", 1234.0),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("12.345.678", 12345678.0),
        ("1,234,567", 1234567.0),
        ("85.5", 85.5),
        ("0.855", 0.855),
        ("1\u00a0234", 1234.0),
        ("-3", -3.0),
        (42, 42.0),
        (0.5, 0.5),
    ],
)
def test_numbers_the_vietnamese_way(text, expected):
    assert parse_number(text)[0] == pytest.approx(expected)


@pytest.mark.parametrize("text", ["tám mươi", "1.23.4", "12,34,5", "abc", "", "1.2,3.4"])
def test_not_numbers_say_so(text):
    with pytest.raises(ValueError) as err:
        parse_number(text)
    assert repr(text) in str(err.value) or "no value" in str(err.value)


@pytest.mark.parametrize(
    "value, kwargs, expected",
    [
        ("85,5 %", {}, 0.855),
        ("85,5", {}, 0.855),
        ("0,855", {}, 0.855),
        (0.855, {}, 0.855),
        (85.5, {}, 0.855),
        ("120 %", {}, 1.2),  # kept for the quality gate, never clipped
        ("0,5 %", {}, 0.005),
        (1, {}, 1.0),
        (0.5, {"percent_formatted": True}, 0.5),
        (0.5, {"bare_is_percent": True}, 0.005),
        ("85.5", {"bare_is_percent": True}, 0.855),
    ],
)
def test_rates_become_fractions(value, kwargs, expected):
    assert parse_ratio(value, **kwargs) == pytest.approx(expected)


def test_yes_no_and_levels():
    for yes in ("Có", "có", "x", "X", "yes", "1", 1, "Đạt"):
        assert parse_bool(yes) == 1.0
    for no in ("Không", "khong", "0", 0, "no", "Chưa"):
        assert parse_bool(no) == 0.0
    with pytest.raises(ValueError, match="not yes/no"):
        parse_bool("có lẽ")
    levels = {"head": 1.0, "deputy": 0.5, "none": 0.0}
    assert parse_level("Deputy", levels) == 0.5
    assert parse_level("1", levels) == 1.0
    assert parse_level("Người đứng đầu", levels) == 1.0
    assert parse_level("Cấp phó", levels) == 0.5
    assert parse_level("Không", levels) == 0.0
    with pytest.raises(ValueError, match="not one of the levels"):
        parse_level("chairman", levels)


def test_dates_and_periods():
    assert parse_date("05/07/2025") == dt.date(2025, 7, 5)
    assert parse_date("5/7/2025") == dt.date(2025, 7, 5)
    assert parse_date("2025-07-05") == dt.date(2025, 7, 5)
    assert parse_date(dt.datetime(2025, 7, 5, 9)) == dt.date(2025, 7, 5)
    assert parse_date(45843) == dt.date(2025, 7, 5)  # Excel serial day
    with pytest.raises(ValueError, match="'32/13/2025' is not a date"):
        parse_date("32/13/2025")
    for text in ("2025-Q2", "2025Q2", "Q2/2025", "Quý 2/2025", "Quý II-2025", "2025-04"):
        assert parse_period(text) == Quarter(2025, 2)
    with pytest.raises(ValueError, match="not a quarter"):
        parse_period("tháng 6")


@pytest.mark.parametrize(("parse", "text", "digit"), [
    (parse_number, "٨٥", "ARABIC-INDIC DIGIT EIGHT"),
    (parse_ratio, "８５,５ %", "FULLWIDTH DIGIT EIGHT"),
    (parse_number, "1.２34", "FULLWIDTH DIGIT TWO"),
    (parse_date, "١٠/٠٧/٢٠٢٥", "ARABIC-INDIC DIGIT ONE"),
    (parse_period, "Quý 2/२०२५", "DEVANAGARI DIGIT TWO"),
])
def test_digits_of_other_scripts_are_refused_naming_the_digit(parse, text, digit):
    with pytest.raises(ValueError, match=f"written with {digit} .*: write the digits 0-9"):
        parse(text)


def test_a_year_in_other_digits_is_not_a_quarter():
    with pytest.raises(ValueError):
        Quarter.parse("٢٠٢٥-Q2")
