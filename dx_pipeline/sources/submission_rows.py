"""One submitted row -> an accepted indicator value or a reject with a reason a clerk understands.

Shared by the inbox readers (Excel, CSV) and the reporting-database reader so both sources
follow the same rules: the indicator must be a self-reported KPI of the catalogue, the agency
valid in the quarter (agency registry), the period the quarter being ingested, and the value
readable for the indicator's unit (``submission_numbers``) and within its range (a rate above
100 % or a numerator above its denominator is refused, never clipped). Codes and names are
NFC-normalised and trimmed before they are looked up; a code known in another case, or nearly
so, is named in the refusal, and an unknown one is refused with the codes agencies report. A
row with several problems is one reject naming every field and every reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import quarter_validity, unknown_agency
from dx_pipeline.sources.submission_numbers import (
    as_written,
    is_blank,
    parse_bool,
    parse_date,
    parse_level,
    parse_number,
    parse_period,
    parse_ratio,
    ratio_readings,
)
from dx_pipeline.sources.submission_versions import submission_time

RATIO_TOLERANCE = 0.005
"""How far a written rate may be from numerator/denominator: half a percentage point, so a
value rounded to a whole percent ("85 %" for 85.4 %) still agrees."""

DEFAULT_FIELD_NAMES = {
    "agency_code": "MaDonVi",
    "quarter": "KyBaoCao",
    "report_date": "NgayBaoCao",
    "indicator_code": "MaChiSo",
    "numerator": "TuSo",
    "denominator": "MauSo",
    "value": "GiaTri",
    "evidence_ref": "MinhChung",
}
"""Logical field -> the column name a clerk sees in the file (``submission_format.yaml``)."""

REJECT_EXTRA_COLUMNS = ["file", "sheet", "row"]


@dataclass
class RawRow:
    """A row as found in the source, before any interpretation."""

    source: str
    source_ref: str
    agency_code: Any = None
    quarter: Any = None
    report_date: Any = None
    indicator_code: Any = None
    numerator: Any = None
    denominator: Any = None
    value: Any = None
    evidence_ref: Any = None
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    percent_formatted: frozenset[str] = frozenset()
    arrived_at: dt.datetime | None = None
    submitted_at: dt.datetime | None = None
    order: tuple = ()

    def is_empty(self) -> bool:
        return all(
            is_blank(getattr(self, f))
            for f in ("indicator_code", "numerator", "denominator", "value", "evidence_ref")
        )


@dataclass
class RowRules:
    """What a row is checked against."""

    catalogue: Mapping[str, Any]
    registry: pd.DataFrame
    quarter: Quarter
    bare_is_percent: bool | None = None
    field_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_NAMES))
    where_quarter_from: str = "the inbox folder"
    validity: dict[str, str | None] | None = None
    """Agency code -> why it cannot report this quarter; computed once from the registry."""

    def __post_init__(self) -> None:
        if self.validity is None:
            self.validity = quarter_validity(self.registry, self.quarter)

    def agency_problem(self, code: str) -> str | None:
        """Why ``code`` cannot report this quarter (None when it can); a code the registry has
        in another case is named, since codes are case-sensitive."""
        validity = self.validity if self.validity is not None else {}
        if code in validity:
            return validity[code]
        same = [known for known in validity if known.casefold() == code.casefold()]
        if same:
            return f"{unknown_agency(code)}: codes are case-sensitive, did you mean {same[0]!r}?"
        return unknown_agency(code)


class _Problems:
    def __init__(self, raw: RawRow, names: Mapping[str, str]):
        self.raw, self.names, self.items = raw, names, []

    def add(self, logical: str, reason: str) -> None:
        self.items.append((logical, reason))

    def reject(self) -> dict:
        first = self.items[0][0]
        fields = []
        for logical, _ in self.items:
            name = self.names.get(logical, logical)
            if name not in fields:
                fields.append(name)
        return make_reject(
            self.raw,
            field=", ".join(fields),
            reason="; ".join(reason for _, reason in self.items),
            value=as_written(getattr(self.raw, first, None)),
        )


def _text(value) -> str | None:
    """A cell as text that identifies something (a code, a name): NFC-normalised and trimmed,
    so a code typed with combining accents or padded with spaces is the code."""
    if is_blank(value):
        return None
    return unicodedata.normalize("NFC", as_written(value) or "").strip() or None


def make_reject(raw: RawRow, *, field: str | None, reason: str, value: str | None) -> dict:
    """A submission_rejects row naming the source, field, value and what is wrong."""
    return {
        "agency_code": _text(raw.agency_code),
        "indicator_code": _text(raw.indicator_code),
        "value": value,
        "source_ref": raw.source_ref,
        "field": field,
        "reason": reason,
        "submitted_at": raw.submitted_at or raw.arrived_at,
        "source": raw.source,
        "file": raw.file,
        "sheet": raw.sheet,
        "row": raw.row,
    }


def _count(raw: RawRow, name: str, problems: _Problems) -> float | None:
    """A ratio's numerator or denominator: a count, not a percentage, not negative."""
    v = getattr(raw, name)
    if is_blank(v):
        return None
    try:
        n, had_pct = parse_number(v)
        if had_pct:
            raise ValueError(f"value {as_written(v)!r} is a percentage; write the count")
        if n < 0:
            raise ValueError(f"value {as_written(v)!r} is negative")
    except ValueError as exc:
        problems.add(name, str(exc))
        return None
    return n


def _written_ratio(raw: RawRow, rules: RowRules, problems: _Problems) -> tuple[float | None, bool]:
    """(the ratio written in the value cell or None, readable?)."""
    if is_blank(raw.value):
        return None, True
    try:
        written = parse_ratio(
            raw.value,
            percent_formatted="value" in raw.percent_formatted,
            bare_is_percent=rules.bare_is_percent,
        )
    except ValueError as exc:
        problems.add("value", str(exc))
        return None, False
    if written < 0:
        problems.add("value", f"value {as_written(raw.value)!r} is negative")
    elif written > 1:
        problems.add("value", f"value {as_written(raw.value)!r} is above 100 %: a rate cannot exceed "
                              f"100 % (check the figure; it is refused, never clipped)")
        return None, False
    return written, True


def _check_written_ratio(
    raw: RawRow, rules: RowRules, problems: _Problems, written: float, num: float, den: float
) -> None:
    """A value written beside numerator and denominator must be their ratio (any reading)."""
    ratio = num / den
    readings = ratio_readings(raw.value, percent_formatted="value" in raw.percent_formatted)
    if rules.bare_is_percent is not None:
        readings = [written]
    if not any(abs(r - ratio) <= RATIO_TOLERANCE for r in readings):
        problems.add(
            "value",
            f"value {as_written(raw.value)!r} does not match "
            f"{rules.field_names.get('numerator')}/{rules.field_names.get('denominator')}"
            f" = {num:g}/{den:g} = {ratio:.1%}",
        )


def _ratio_value(raw: RawRow, rules: RowRules, problems: _Problems, out: dict) -> None:
    """A ratio KPI from numerator and denominator, or the value written, or both (agreeing)."""
    num, den = _count(raw, "numerator", problems), _count(raw, "denominator", problems)
    out["numerator"], out["denominator"] = num, den
    written, readable = _written_ratio(raw, rules, problems)
    if not readable:
        return
    if num is not None and den is not None:
        if den == 0:
            out["value"] = None  # zero denominator: kept, the KPI step applies its policy
            if written is not None and written != 0:
                problems.add("value", f"value {as_written(raw.value)!r} given but MauSo is 0")
            return
        if num > den:
            names = rules.field_names
            problems.add("numerator", f"{names.get('numerator')} {num:g} is above {names.get('denominator')} "
                                      f"{den:g}: a rate cannot exceed 100 %")
            return
        out["value"] = num / den
        if written is not None:
            _check_written_ratio(raw, rules, problems, written, num, den)
        return
    if written is not None:
        out["value"] = written
    elif num is not None:
        problems.add("denominator", "numerator given without denominator, and no value")
    elif den is not None:
        problems.add("numerator", "denominator given without numerator, and no value")
    else:
        problems.add("value", "no value given")


def _plain_number(v: Any, unit: str, kpi: Any) -> float:
    """A count, number of days or amount: a plain number, not a percentage, not negative."""
    number, had_pct = parse_number(v)
    if had_pct:
        raise ValueError(f"value {as_written(v)!r} is a percentage but {kpi.code} is a {unit}")
    if number < 0:
        raise ValueError(f"value {as_written(v)!r} is negative")
    return number


def _plain_value(raw: RawRow, unit: str, kpi: Any, problems: _Problems, out: dict) -> None:
    """A yes/no, level, evidence, count, days or amount KPI's value (parts kept if given)."""
    for name in ("numerator", "denominator"):
        v = getattr(raw, name)
        out[name] = None
        if not is_blank(v):
            try:
                out[name] = parse_number(v)[0]
            except ValueError as exc:
                problems.add(name, str(exc))
    v = raw.value
    try:
        if unit == "bool" and is_blank(v) and out["numerator"] is not None:
            out["value"] = 1.0 if out["numerator"] > 0 else 0.0
        elif unit == "level":
            out["value"] = parse_level(v, getattr(kpi, "levels", {}) or {})
        elif unit == "evidence" and is_blank(v):
            if is_blank(raw.evidence_ref):
                raise ValueError("no value and no evidence given")
            out["value"] = 1.0
        elif unit in ("bool", "evidence"):
            out["value"] = parse_bool(v)
        else:  # count, days, amount
            out["value"] = _plain_number(v, unit, kpi)
    except ValueError as exc:
        problems.add("value", str(exc))


def _indicator(raw: RawRow, rules: RowRules, problems: _Problems) -> tuple[str | None, Any]:
    """(indicator code, its catalogue entry) when agencies report it; problems otherwise."""
    code = _text(raw.indicator_code)
    if code is None:
        problems.add("indicator_code", "indicator code is empty")
        return None, None
    kpi = rules.catalogue.get(code)
    if kpi is None:
        problems.add("indicator_code", unknown_indicator(code, rules.catalogue))
    elif getattr(kpi, "source", "submission") != "submission":
        problems.add(
            "indicator_code",
            f"indicator {code!r} is computed from the {kpi.source}, agencies do not report it",
        )
        kpi = None
    return code, kpi


def _quarter_ok(raw: RawRow, rules: RowRules, problems: _Problems) -> bool:
    """Whether the row reports the quarter the file belongs to (problems say why not)."""
    qtext = _text(raw.quarter)
    if qtext is None:
        problems.add("quarter", "reporting period is empty")
        return False
    try:
        q = parse_period(qtext)
    except ValueError as exc:
        problems.add("quarter", str(exc))
        return False
    if q != rules.quarter:
        problems.add(
            "quarter",
            f"file reports period {q.label} but belongs to {rules.quarter.label} "
            f"({rules.where_quarter_from})",
        )
        return False
    return True


def _report_date(raw: RawRow, problems: _Problems) -> dt.date | None:
    """The report's date when one is written (a problem when it is not a date)."""
    if is_blank(raw.report_date):
        return None
    try:
        return parse_date(raw.report_date)
    except ValueError as exc:
        problems.add("report_date", f"report {exc}")
        return None


def normalise_row(raw: RawRow, rules: RowRules) -> tuple[dict, None] | tuple[None, dict]:
    """``(accepted, None)`` or ``(None, reject)`` for one row."""
    problems = _Problems(raw, rules.field_names)
    out: dict = {}
    code, kpi = _indicator(raw, rules, problems)
    agency = _text(raw.agency_code)
    if agency is None:
        problems.add("agency_code", "agency code is empty")
    if _quarter_ok(raw, rules, problems) and agency is not None:
        why = rules.agency_problem(agency)
        if why:
            problems.add("agency_code", why)
    report_date = _report_date(raw, problems)
    if kpi is not None:
        if kpi.unit == "ratio":
            _ratio_value(raw, rules, problems, out)
        else:
            _plain_value(raw, kpi.unit, kpi, problems, out)
    if problems.items or kpi is None:
        if raw.submitted_at is None:
            with contextlib.suppress(ValueError):  # the reject keeps the arrival time then
                raw.submitted_at = submission_time(report_date, raw.arrived_at)
        return None, problems.reject()
    if raw.submitted_at is None:
        raw.submitted_at = submission_time(report_date, raw.arrived_at)
    value = out.get("value")
    return {
        "agency_code": agency,
        "indicator_code": code,
        "value": None if value is None else float(value),
        "unit": kpi.unit,
        "evidence_ref": _text(raw.evidence_ref),
        "submitted_at": raw.submitted_at,
        "source": raw.source,
        "source_ref": raw.source_ref,
        "numerator": out.get("numerator"),
        "denominator": out.get("denominator"),
        "_order": raw.order,
        "_raw": raw,
    }, None


SHOWN_CODES = 100
"""At most this many known codes are listed in a reject's reason."""


def unknown_indicator(code: str, catalogue: Mapping[str, Any]) -> str:
    """Why ``code`` is refused, with the codes agencies report: the one meant, if the code is
    one of them in another case or nearly so, and the known ones."""
    known = sorted(c for c, k in catalogue.items() if getattr(k, "source", "submission") == "submission")
    same = [c for c in known if c.casefold() == code.casefold()]
    if same:
        return (f"indicator code {code!r} is not in the KPI catalogue: codes are case-sensitive, "
                f"did you mean {same[0]!r}?")
    close = difflib.get_close_matches(code.casefold(), known, n=1, cutoff=0.8)
    meant = f"; did you mean {close[0]!r}?" if close else ""
    more = f", ... ({len(known)} in all)" if len(known) > SHOWN_CODES else ""
    listed = ", ".join(known[:SHOWN_CODES]) + more
    return f"indicator code {code!r} is not in the KPI catalogue{meant} (codes agencies report: {listed})"
