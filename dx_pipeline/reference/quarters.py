"""Quarters and publication periods, the one place that converts between the forms they take.

Outputs and the CLI speak ``2024-Q3``; Dagster partition keys are ``2024-07`` (the quarter's
first month, from the ``0 0 1 */3 *`` cron); dates are half-open ``[start, end)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_LABEL = re.compile(r"^(\d{4})-Q([1-4])$", re.ASCII)  # ASCII: "٢٠٢٥" is not a year here
_KEY = re.compile(r"^(\d{4})-(01|04|07|10)$", re.ASCII)
_HALF = re.compile(r"^(\d{4})-H([12])$", re.ASCII)
_YEAR = re.compile(r"^(\d{4})$", re.ASCII)


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, ordered in time."""

    year: int
    q: int

    def __post_init__(self) -> None:
        if not 1 <= self.q <= 4:
            raise ValueError(f"quarter number must be 1..4, got {self.q}")

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """Read a label (``2024-Q3``), a partition key (``2024-07``) or a date (``2024-08-15``)."""
        text = str(text).strip()
        if m := _LABEL.match(text):
            return cls(int(m.group(1)), int(m.group(2)))
        if m := _KEY.match(text):
            return cls(int(m.group(1)), (int(m.group(2)) - 1) // 3 + 1)
        try:
            return cls.containing(dt.date.fromisoformat(text[:10]))
        except ValueError:
            raise ValueError(
                f"not a quarter: {text!r} (expected e.g. 2024-Q3, or the partition key 2024-07)"
            ) from None

    @classmethod
    def containing(cls, day: dt.date | dt.datetime) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.q}"

    @property
    def partition_key(self) -> str:
        return f"{self.year}-{3 * self.q - 2:02d}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> dt.date:
        """First day after the quarter (exclusive bound)."""
        return self.next().start

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def half(self) -> str:
        return f"{self.year}-H{1 if self.q <= 2 else 2}"

    def next(self) -> "Quarter":
        return Quarter(self.year + self.q // 4, self.q % 4 + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - (self.q == 1), (self.q - 2) % 4 + 1)

    def __str__(self) -> str:
        return self.label


def quarter_range(first: Quarter | str, last: Quarter | str) -> list[Quarter]:
    """Every quarter from ``first`` to ``last`` inclusive."""
    a = first if isinstance(first, Quarter) else Quarter.parse(first)
    b = last if isinstance(last, Quarter) else Quarter.parse(last)
    out = []
    while a <= b:
        out.append(a)
        a = a.next()
    return out


@dataclass(frozen=True)
class Period:
    """What a publication covers: one quarter, a half-year (``2025-H1``) or a year (``2025``)."""

    kind: str  # "quarter", "half" or "year"
    label: str

    @classmethod
    def parse(cls, text: "str | Quarter | Period") -> "Period":
        if isinstance(text, Period):
            return text
        if isinstance(text, Quarter):
            return cls("quarter", text.label)
        text = str(text).strip()
        if _HALF.match(text):
            return cls("half", text)
        if _YEAR.match(text):
            return cls("year", text)
        try:
            return cls("quarter", Quarter.parse(text).label)
        except ValueError:
            raise ValueError(
                f"not a publication period: {text!r} (expected 2025-Q2, 2025-H1 or 2025)"
            ) from None

    @property
    def folder(self) -> str:
        """Folder name under ``published/ranking/``: ``quarter=2025-Q2`` or ``period=2025-H1``."""
        return f"quarter={self.label}" if self.kind == "quarter" else f"period={self.label}"

    def _year_half(self) -> tuple[int, int]:
        """(year, 1 or 2) of a half-year period's label ``2025-H1``."""
        m = _HALF.match(self.label)
        if m is None:
            raise ValueError(f"{self.label!r} is not a half-year label like 2025-H1")
        return int(m.group(1)), int(m.group(2))

    @property
    def quarters(self) -> list[Quarter]:
        if self.kind == "quarter":
            return [Quarter.parse(self.label)]
        if self.kind == "half":
            year, half = self._year_half()
            return quarter_range(Quarter(year, 2 * half - 1), Quarter(year, 2 * half))
        year = int(self.label)
        return quarter_range(Quarter(year, 1), Quarter(year, 4))

    @property
    def previous(self) -> "Period":
        if self.kind == "quarter":
            return Period("quarter", Quarter.parse(self.label).previous().label)
        if self.kind == "half":
            year, half = self._year_half()
            return Period("half", f"{year - 1}-H2" if half == 1 else f"{year}-H1")
        return Period("year", str(int(self.label) - 1))

    @property
    def title_vi(self) -> str:
        if self.kind == "quarter":
            q = Quarter.parse(self.label)
            return f"Quý {q.q}/{q.year}"
        if self.kind == "half":
            year, half = self._year_half()
            return f"{'6 tháng đầu' if half == 1 else '6 tháng cuối'} năm {year}"
        return f"Năm {self.label}"

    @property
    def title_en(self) -> str:
        if self.kind == "quarter":
            q = Quarter.parse(self.label)
            return f"Q{q.q} {q.year}"
        if self.kind == "half":
            year, half = self._year_half()
            return f"H{half} {year}"
        return f"Year {self.label}"

    def __str__(self) -> str:
        return self.label


FIRST_QUARTER = Quarter(2024, 1)
"""The first quarter the pipeline's partitions cover."""

SAMPLE_QUARTERS = quarter_range("2024-Q1", "2026-Q3")
"""The eleven quarters of the embedded sample province: two years before the 2025-07-01 reform
and province merger, and the five quarters after it (2026 scored by the frameworks in force)."""
