"""Reading one value the way Vietnamese agencies write it: numbers, rates, yes/no, levels, dates.

Every function takes what a cell or CSV field holds (text, a number, a date) and returns the
value in the warehouse's terms, or raises ``ValueError`` with a message a clerk understands
(e.g. ``value 'tám mươi' is not a number``). No guessing is silent: the rules are below.

Numbers (Vietnamese convention first): ``,`` is the decimal mark and ``.`` groups thousands,
so ``85,5`` is 85.5 and ``1.234`` / ``1.234,5`` are 1234 / 1234.5. Files typed on an
English-locale machine are read too: with both marks, the last one is the decimal mark
(``1,234.5``); several of one mark are thousands (``1,234,567``); a single ``.`` is a
thousands mark only when exactly three digits follow and a non-zero integer part precedes
(``1.234``), otherwise a decimal point (``85.5``, ``0.855``). For rates a single ``.`` is always
a decimal point (a rate of "1.234" thousand makes no sense). Spaces and non-breaking spaces
are ignored; a trailing ``%`` marks a percentage. Digits are 0-9: a value, date or period
written with another script's digits ("٨٥", "８５") is refused naming the digit, never read.

Rates (unit ``ratio``) are stored as fractions 0..1. The scale is decided, in this order, by:
1. a ``%`` sign in the text ("85,5 %") or a percent-formatted Excel cell (Excel stores 0.855):
   unambiguous;
2. the source's declared scale (``bare_is_percent=True`` for the reporting DB, whose mapping
   says rates are 0..100);
3. otherwise the magnitude: a bare number above 1 is a percentage (85.5 -> 0.855), a number
   from 0 to 1 is already a fraction (0.855 -> 0.855). So "1" means 100 %; a rate under 1 %
   must be written with its sign ("0,5 %") or as numerator/denominator. Above 100 % is parsed
   as read (120 % -> 1.2); the row then refuses it (``submission_rows``), never clips it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping

from dx_pipeline.reference.quarters import Quarter

_NUMERIC = re.compile(r"^[+-]?[0-9.,]+$")
_GROUPED = re.compile(r"^[0-9]{1,3}([0-9]{3})*$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)

_YES = {"co", "x", "yes", "y", "true", "1", "dat", "da co", "\u2713", "\u2714"}
_NO = {"khong", "no", "n", "false", "0", "chua", "chua co", "chua dat"}


def fold(text: str) -> str:
    """Lower case without diacritics (``"Không"`` -> ``"khong"``, ``"Đạt"`` -> ``"dat"``)."""
    text = unicodedata.normalize("NFD", str(text).strip().lower()).replace("đ", "d")
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def is_blank(value) -> bool:
    """Whether a cell is empty: None, NaN or only whitespace."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def as_written(value) -> str | None:
    """The raw value as text for the rejects table (numbers without a trailing ``.0``)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def check_digits(text: str, what: str = "value") -> None:
    """Refuse text written with the digits of another script (Arabic-Indic "٨٥", full-width
    "８５", Devanagari...): numbers, dates and periods are written with 0-9, and Python would
    otherwise read "٨٥" as 85 without a word."""
    for ch in text:
        if ch not in "0123456789" and unicodedata.category(ch) == "Nd":
            name = unicodedata.name(ch, "a digit of another script")
            raise ValueError(f"{what} {text!r} is written with {name} ({ch!r}): write the digits 0-9")


def _grouped(digits: str, sep: str, original: str) -> str:
    groups = digits.split(sep)
    if not _GROUPED.match("".join(groups)) or len(groups[0]) > 3 or not groups[0] or any(
        len(g) != 3 for g in groups[1:]
    ):
        raise ValueError(f"value {original!r} is not a number (misplaced '{sep}')")
    return "".join(groups)


def parse_number(value, *, single_dot_is_decimal: bool = False) -> tuple[float, bool]:
    """``(number, had_percent_sign)`` from a cell or field; see the module docstring."""
    if isinstance(value, bool):
        raise ValueError(f"value {value!r} is not a number")
    if isinstance(value, (int, float)):
        if value != value:
            raise ValueError("no value given")
        return float(value), False
    if isinstance(value, (dt.date, dt.datetime)):
        raise ValueError(f"value {as_written(value)!r} is a date, not a number")
    original = str(value).strip()
    if not original:
        raise ValueError("no value given")
    check_digits(original)
    s = original.replace("\u00a0", " ").replace("\u202f", " ")
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    s = s.replace(" ", "").replace("'", "")
    if not _NUMERIC.match(s) or not any(c.isdigit() for c in s):
        raise ValueError(f"value {original!r} is not a number")
    sign = ""
    if s[0] in "+-":
        sign, s = ("-" if s[0] == "-" else ""), s[1:]
    text = _plain_digits(s, original, single_dot_is_decimal)
    try:
        return float(sign + text), percent
    except ValueError:
        raise ValueError(f"value {original!r} is not a number") from None


def _plain_digits(s: str, original: str, single_dot_is_decimal: bool) -> str:
    """Unsigned digits with separators as Python reads them: the decimal mark a dot and no
    thousands separators. Both marks: the last one is decimal. One comma: decimal. Several of
    one mark: thousands. One dot with three digits after a short whole part: thousands
    (1.234), unless ``single_dot_is_decimal``."""
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        thou = "." if dec == "," else ","
        whole, frac = s.rsplit(dec, 1)
        if thou in frac or dec in whole:
            raise ValueError(f"value {original!r} is not a number (mixed '.' and ',')")
        return _grouped(whole, thou, original) + "." + frac
    if "," in s:
        return s.replace(",", ".") if s.count(",") == 1 else _grouped(s, ",", original)
    if s.count(".") > 1:
        return _grouped(s, ".", original)
    if "." not in s:
        return s
    whole, frac = s.split(".")
    thousands = (
        not single_dot_is_decimal
        and len(frac) == 3
        and whole not in ("", "0")
        and len(whole) <= 3
        and not whole.startswith("0")
    )
    return whole + frac if thousands else s


def parse_ratio(
    value, *, percent_formatted: bool = False, bare_is_percent: bool | None = None
) -> float:
    """A rate as a fraction 0..1 (above 1 kept as read); the scale rule is in the module docstring."""
    number, had_percent = parse_number(value, single_dot_is_decimal=True)
    if had_percent:
        return number / 100.0
    if percent_formatted and isinstance(value, (int, float)):
        return number
    if bare_is_percent is True:
        return number / 100.0
    if bare_is_percent is False:
        return number
    return number / 100.0 if abs(number) > 1 else number


def ratio_readings(value, *, percent_formatted: bool = False) -> list[float]:
    """Every fraction ``value`` could stand for (used to accept a GiaTri that agrees with the
    agency's numerator/denominator on either scale)."""
    number, had_percent = parse_number(value, single_dot_is_decimal=True)
    if had_percent:
        return [number / 100.0]
    if percent_formatted and isinstance(value, (int, float)):
        return [number]
    return [number, number / 100.0]


def parse_bool(value) -> float:
    """Yes/no as 1.0/0.0: "Có", "x", "yes", "1", "Đạt" / "Không", "no", "0", "Chưa"."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    key = fold(as_written(value) or "")
    if not key:
        raise ValueError("no value given")
    if key in _YES:
        return 1.0
    if key in _NO:
        return 0.0
    raise ValueError(f"value {as_written(value)!r} is not yes/no (write Có or Không)")


LEVEL_SYNONYMS = {
    "nguoi dung dau": "head",
    "thu truong": "head",
    "cap truong": "head",
    "giam doc": "head",
    "chu tich": "head",
    "cap pho": "deputy",
    "pho": "deputy",
    "pho giam doc": "deputy",
    "pho chu tich": "deputy",
    "khong": "none",
    "chua": "none",
    "chua co": "none",
}
"""How clerks write the catalogue's level names in Vietnamese (folded, no diacritics)."""


def parse_level(value, levels: Mapping[str, float]) -> float:
    """A level KPI's credit: the level's name (any case, diacritics ignored), its usual
    Vietnamese wording ("Người đứng đầu", "Cấp phó", "Không"), or its credit."""
    if is_blank(value):
        raise ValueError("no value given")
    by_name = {fold(k): v for k, v in levels.items()}
    key = fold(as_written(value) or "")
    if key not in by_name and LEVEL_SYNONYMS.get(key) in levels:
        key = LEVEL_SYNONYMS[key]
    if key in by_name:
        return float(by_name[key])
    try:
        number, _ = parse_number(value, single_dot_is_decimal=True)
    except ValueError:
        number = None
    if number is not None and number in set(levels.values()):
        return float(number)
    allowed = ", ".join(f"{k} ({v:g})" for k, v in levels.items())
    raise ValueError(f"value {as_written(value)!r} is not one of the levels {allowed}")


def parse_date(value) -> dt.date:
    """A date written dd/mm/yyyy (also d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy, yyyy-mm-dd), an Excel
    date cell, or an Excel serial day number."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 < value < 80000:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueError(f"date {as_written(value)!r} is not a date (write dd/mm/yyyy)")
    s = str(value or "").strip()
    if not s:
        raise ValueError("no date given")
    check_digits(s, "date")
    head = s.split()[0]
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(head, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"date {s!r} is not a date (write dd/mm/yyyy)")


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def parse_period(value):
    """A reporting period as a ``Quarter``: "2025-Q2", "2025Q2", "Q2/2025", "Quý 2/2025",
    "Quý II-2025", or a partition key "2025-04"."""
    import re as _re


    text = fold(as_written(value) or "")
    if not text:
        raise ValueError("reporting period is empty")
    check_digits(as_written(value) or "", "reporting period")
    compact = text.replace(" ", "")
    m = _re.match(r"^([0-9]{4})-?q([1-4])$", compact)
    if m:
        return Quarter(int(m.group(1)), int(m.group(2)))
    m = _re.match(r"^(?:q|quy)([1-4]|iv|i{1,3})[/\-.,]?([0-9]{4})$", compact)
    if m:
        qn = m.group(1)
        return Quarter(int(m.group(2)), int(qn) if qn.isdigit() else _ROMAN[qn])
    try:
        return Quarter.parse(compact)
    except ValueError:
        raise ValueError(
            f"reporting period {as_written(value)!r} is not a quarter (write e.g. 2025-Q2)"
        ) from None
