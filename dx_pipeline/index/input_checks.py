"""Checking a table given to ``dx-pipeline score`` before anything is scored.

A long table a person typed or exported (CSV or Parquet) is read as text, and every value is
parsed as its unit says, with the rules of :mod:`dx_pipeline.sources.submission_numbers` (the
Vietnamese decimal comma ``0,8``, ``%`` on rates), or refused with the file, row, field, value
and what is wrong:

- codes and names are NFC-normalised and trimmed before they identify a unit, so "Hòa" typed
  with a combining accent and "Hòa" typed precomposed are one unit;
- an indicator code must be one of the framework's inputs, matched exactly (ignoring case only
  where the framework's ``policies.input_codes`` says so); a wrong-case or unknown code is
  refused with the known ones. Catalogue KPIs the framework does not use are skipped and
  counted, so a whole ``agency_kpis`` export can be scored;
- a value outside its unit's range (a rate above 1 or below 0, a negative count) is refused,
  or clipped into the range where the framework's ``policies.out_of_range`` is ``clip``;
- an empty file, a file with a header and no rows, and a file without the needed columns are
  refused naming the file.

Not here: scoring (:mod:`engine`) and the pipeline's own tables (typed by the stages that write
them and checked by the quality gate).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dx_pipeline.index.inputs import ALIASES
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.listing import rows_phrase
from dx_pipeline.sources.submission_numbers import (
    as_written,
    is_blank,
    parse_bool,
    parse_level,
    parse_number,
)
from dx_pipeline.sources.submission_readers import decode_text

REJECT_COLUMNS = ["file", "row", "field", "value", "reason"]
VALUE_COLUMNS = ("value", "numerator", "denominator")
RATIO_AGREEMENT = 0.0005
"""How far a given value may be from numerator/denominator (rounding of a written rate)."""
SHOWN_CODES = 100
"""At most this many known codes are listed in a refusal."""
_AMBIGUOUS_DOT = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")
_RANGES = {  # unit -> (lowest, highest, what it is)
    "ratio": (0.0, 1.0, "a rate (0..1, or 0..100 with '%')"),
    "count": (0.0, None, "a count"),
    "amount": (0.0, None, "an amount"),
    "days": (0.0, None, "a number of days"),
    "bool": (0.0, 1.0, "yes/no"),
    "evidence": (0.0, 1.0, "yes/no"),
    "level": (0.0, 1.0, "a level"),
    "number": (None, None, "a number"),
}


def unit_range(unit: str) -> tuple[float | None, float | None, str]:
    """(lowest, highest, what it is) of a unit's values; None where it has no bound."""
    return _RANGES.get(unit, _RANGES["number"])


class InputRefused(ValueError):
    """An input file, or rows of it, refused; ``rejects`` has one row per problem."""

    def __init__(self, rejects: pd.DataFrame):
        self.rejects = rejects.reset_index(drop=True)
        super().__init__(self.lines(limit=1)[0])

    def lines(self, limit: int = 20) -> list[str]:
        """One line per refusal (at most ``limit``, then how many more there are)."""
        out = [reject_line(r) for r in self.rejects.head(limit).to_dict("records")]
        if len(self.rejects) > limit:
            out.append(f"... and {len(self.rejects) - limit} more refused rows")
        return out


def reject_line(r: Mapping[Hashable, Any]) -> str:
    """``file, row 7, field value, value '0,8x': <reason>`` (the parts that are known)."""
    parts = [str(r["file"])]
    if r.get("row") is not None and not pd.isna(r.get("row")):
        parts.append(f"row {int(r['row'])}")
    if r.get("field"):
        parts.append(f"field {r['field']}")
    if r.get("value") is not None and not pd.isna(r.get("value")):
        parts.append(f"value {r['value']!r}")
    return ", ".join(parts) + f": {r['reason']}"


def refuse_file(name: str, reason: str, field_name: str | None = None) -> InputRefused:
    """The whole file refused for one reason (no row to name)."""
    return InputRefused(pd.DataFrame([{"file": name, "row": None, "field": field_name, "value": None,
                                       "reason": reason}], columns=REJECT_COLUMNS))


def clean_text(value: Any) -> str | None:
    """A code or name as it identifies a unit: NFC-normalised and trimmed; None if blank."""
    if is_blank(value):
        return None
    return unicodedata.normalize("NFC", str(as_written(value))).strip() or None


# --------------------------------------------------------------------------- reading a file
def read_table(path: str | Path, what: str = "input") -> pd.DataFrame:
    """A CSV (UTF-8, Windows-1258 or -1252; ',' or ';' between fields) or Parquet table with
    every cell as found, and its file row numbers in ``_row`` (the header is row 1)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise refuse_file(str(path), f"{what} file not found")
    if path.is_dir():
        raise refuse_file(str(path), f"{what} is a folder, not a file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".parquet"):
        raise refuse_file(name, f"{what} must be a .csv or .parquet file")
    if path.stat().st_size == 0:
        raise refuse_file(name, f"the {what} file is empty")
    table = _read_parquet(path) if suffix == ".parquet" else _read_csv(path)
    if table.columns.empty:
        raise refuse_file(name, f"the {what} file is empty")
    if len(table) == 0:
        raise refuse_file(name, f"the {what} file has a header but no rows "
                                 f"(columns: {', '.join(map(str, table.columns))})")
    table.insert(0, "_row", np.arange(2, len(table) + 2))
    return table


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    if not data.strip(b" \r\n\t\xef\xbb\xbf"):
        raise refuse_file(path.name, "the file is empty")
    try:
        text, _ = decode_text(data)
    except ValueError as exc:
        raise refuse_file(path.name, str(exc)) from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    sep = ";" if first.count(";") > first.count(",") else ","
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise refuse_file(path.name, f"not a readable CSV: {str(exc).splitlines()[0]}") from None
    table.columns = [clean_text(c) or f"column {i + 1}" for i, c in enumerate(table.columns)]
    return table.replace({"": None})


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise refuse_file(path.name, f"not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    return table.astype(object).where(table.notna(), None).reset_index(drop=True)


# --------------------------------------------------------------------------- the rules
@dataclass(frozen=True)
class InputSpec:
    """What one input code is: its unit and, for a level KPI, its levels."""

    code: str
    unit: str
    levels: Mapping[str, float] = field(default_factory=dict)


def input_specs(fw: Framework, catalogue: Mapping[str, Any]) -> dict[str, InputSpec]:
    """The framework's input codes with their units: a KPI's from the catalogue, an item's
    from the framework file (``number`` when it says none)."""
    out: dict[str, InputSpec] = {}
    for n in fw.indicators():
        if n.kpi:
            k = catalogue.get(n.kpi)
            unit = k.unit if k is not None else "number"
            out[n.kpi] = InputSpec(n.kpi, unit, dict(getattr(k, "levels", {}) or {}))
        elif n.item:
            out[n.item] = InputSpec(n.item, n.unit or "number")
    return out


@dataclass
class CheckRules:
    """What one file's rows are checked against (the framework's inputs, the catalogue, the
    registry, case and clipping policies); shared by :func:`check_table` and the streamed
    check of :mod:`dx_pipeline.index.checked_file`."""

    file: str
    specs: dict[str, InputSpec]
    catalogue_codes: frozenset[str]
    ignore_case: bool
    clip: bool
    agencies: frozenset[str] | None

    def __post_init__(self) -> None:
        self.folded = {c.casefold(): c for c in self.specs}
        self.agencies_folded = {a.casefold(): a for a in self.agencies or ()}


def _known(codes) -> str:
    codes = sorted(codes)
    shown = ", ".join(codes[:SHOWN_CODES])
    return shown + (f", ... ({len(codes)} in all)" if len(codes) > SHOWN_CODES else "")


def resolve_input_code(code: str, rules: CheckRules) -> tuple[str | None, str | None]:
    """``(framework input code, None)``, ``(None, None)`` for a catalogue KPI the framework does
    not use (skipped), or ``(None, reason)``."""
    if code in rules.specs:
        return code, None
    match = rules.folded.get(code.casefold())
    if match is not None and rules.ignore_case:
        return match, None
    if match is not None:
        return None, (f"indicator code {code!r} is not known: codes are case-sensitive, did you mean "
                      f"{match!r}? (the framework's inputs: {_known(rules.specs)})")
    if code in rules.catalogue_codes:
        return None, None
    return None, f"indicator code {code!r} is not known (the framework's inputs: {_known(rules.specs)})"


def _agency_problem(code: str, rules: CheckRules) -> str | None:
    if rules.agencies is None or code in rules.agencies:
        return None
    match = rules.agencies_folded.get(code.casefold())
    if match is not None:
        return (f"agency code {code!r} is not in the registry: codes are case-sensitive, "
                f"did you mean {match!r}?")
    return f"agency code {code!r} is not in the registry (known: {_known(rules.agencies or ())})"


# --------------------------------------------------------------------------- values
def parse_for_unit(value: Any, spec: InputSpec) -> float:
    """A value read as its unit says; ``ValueError`` in words otherwise (not range-checked)."""
    unit = spec.unit
    if unit in ("bool", "evidence"):
        return parse_bool(value)
    if unit == "level":
        return parse_level(value, spec.levels)
    written = str(as_written(value)).strip()
    if unit in ("days", "number") and _AMBIGUOUS_DOT.match(written.replace(" ", "")):
        raise ValueError(f"value {written!r} is ambiguous: a thousands mark or a decimal point? "
                         f"write it without the mark, or with a decimal comma ('1,5')")
    number, percent = parse_number(value, single_dot_is_decimal=(unit == "ratio"))
    if not np.isfinite(number):  # a Parquet float can hold inf: it would score as a real value
        raise ValueError(f"value {written!r} is infinite, not a number")
    if percent:
        if unit != "ratio":
            raise ValueError(f"value {written!r} is a percentage but {spec.code} is {_RANGES[unit][2]}")
        number /= 100.0
    if unit == "count" and not float(number).is_integer():
        raise ValueError(f"value {written!r} is not a whole number, and {spec.code} is a count")
    return float(number)


def _in_range(
    x: float, spec: InputSpec, rules: CheckRules, written: str, bare: bool
) -> tuple[float, str | None, bool]:
    """``(value, problem, clipped)``: the value, or why it is out of its unit's range; ``bare``:
    the value was written as a plain number (no '%', not a fraction)."""
    lo, hi, what = _RANGES.get(spec.unit, _RANGES["number"])
    if (lo is None or x >= lo) and (hi is None or x <= hi):
        return x, None, False
    if rules.clip:
        low, high = (-np.inf if lo is None else lo), (np.inf if hi is None else hi)
        return float(np.clip(x, low, high)), None, True
    bound = f"below {lo:g}" if lo is not None and x < lo else f"above {hi:g}"
    hint = f" (for {x:g} per cent write '{x:g} %')" if spec.unit == "ratio" and x > 1 and bare else ""
    return x, f"value {written!r} is {bound}, out of range for {what}{hint}", False


def _count(value: Any, name: str) -> float:
    number, percent = parse_number(value)
    if percent:
        raise ValueError(f"{name} {as_written(value)!r} is a percentage; write the count")
    if number < 0:
        raise ValueError(f"{name} {as_written(value)!r} is negative")
    return float(number)


Problem = tuple[str, Any, str]
"""(field, value as written, what is wrong)"""


def _row_values(
    rec: Mapping[Hashable, Any], spec: InputSpec, rules: CheckRules
) -> tuple[dict, list[Problem], bool]:
    """``(clean values, [(field, value, problem)], clipped)`` of one row for its input."""
    problems: list[Problem] = []
    out: dict[str, float | None] = {"value": None, "numerator": None, "denominator": None}
    for name in ("numerator", "denominator"):
        if not is_blank(rec.get(name)):
            try:
                out[name] = _count(rec[name], name)
            except ValueError as exc:
                problems.append((name, rec[name], str(exc)))
    written = rec.get("value")
    if not is_blank(written):
        try:
            out["value"] = parse_for_unit(written, spec)
        except ValueError as exc:
            hint = " (leave the cell empty when there is no data)" if "not a number" in str(exc) else ""
            problems.append(("value", written, f"{exc}{hint}"))
    if problems:
        return out, problems, False
    problems += _fraction_problems(out, rec)
    if problems or out["value"] is None:
        return out, problems, False
    given = not is_blank(written)
    fraction = f"{as_written(rec['numerator'])}/{as_written(rec['denominator'])}"
    shown = str(as_written(written)) if given else fraction
    bare = given and "%" not in shown
    value, problem, clipped = _in_range(out["value"], spec, rules, shown, bare)
    if problem:
        problems.append(("value" if given else "numerator", written if given else rec["numerator"], problem))
    out["value"] = value
    return out, problems, clipped


def _fraction_problems(out: dict, rec: Mapping[Hashable, Any]) -> list[Problem]:
    """Numerator and denominator come together and agree with a given value; from them alone
    the value is their ratio (a 0 denominator is left to the framework's policy)."""
    num, den, value = out["numerator"], out["denominator"], out["value"]
    if (num is None) != (den is None):
        given, other = ("numerator", "denominator") if num is not None else ("denominator", "numerator")
        return [(given, rec.get(given), f"{given} given without {other}")]
    if num is None:
        return []
    if den == 0:
        if num != 0:
            return [("numerator", rec.get("numerator"), f"numerator {num:g} with a denominator of 0")]
        if value is not None:
            return [("value", rec.get("value"), "value given with a denominator of 0")]
        return []
    if value is not None and abs(value - num / den) > RATIO_AGREEMENT:
        return [("value", rec.get("value"),
                 f"value does not match numerator/denominator = {num:g}/{den:g} = {num / den:.4g}")]
    out["value"] = num / den if value is None else value
    return []


def check_row(
    rec: Mapping[Hashable, Any], rules: CheckRules
) -> tuple[dict | None, list[dict], str | None, bool]:
    """``(clean row or None, rejects, skipped catalogue code or None, clipped)`` for one row."""
    rejects: list[dict] = []

    def refuse(field_name: str, value: Any, reason: str) -> None:
        rejects.append({"file": rules.file, "row": rec["_row"], "field": field_name,
                        "value": None if is_blank(value) else as_written(value), "reason": reason})

    agency, code = clean_text(rec.get("agency_code")), clean_text(rec.get("kpi_code"))
    if agency is None:
        refuse("agency_code", None, "agency code is empty")
    elif (why := _agency_problem(agency, rules)) is not None:
        refuse("agency_code", agency, why)
    resolved, why = (None, "indicator code is empty") if code is None else resolve_input_code(code, rules)
    if why is not None:
        refuse("kpi_code", code, why)
    if resolved is None:
        skipped = code if why is None and code is not None else None
        return None, rejects, skipped, False
    values, problems, clipped = _row_values(rec, rules.specs[resolved], rules)
    for field_name, value, reason in problems:
        refuse(field_name, value, reason)
    if rejects:
        return None, rejects, None, False
    return {"_row": rec["_row"], "agency_code": agency, "kpi_code": resolved, **values}, [], None, clipped


def rules_for(fw: Framework, file: str, catalogue: Mapping[str, Any],
              agencies: set[str] | frozenset[str] | None) -> CheckRules:
    """What a row of ``file`` is checked against (also by the streamed check,
    :mod:`dx_pipeline.index.checked_file`)."""
    return CheckRules(file, input_specs(fw, catalogue), frozenset(catalogue),
                  ignore_case=fw.input_codes == "ignore_case", clip=fw.out_of_range == "clip",
                  agencies=frozenset(agencies) if agencies is not None else None)


@dataclass(frozen=True)
class CheckedTable:
    """What a checked input gave: ``data`` (the engine's long table: agency_code, kpi_code,
    value, numerator, denominator), ``rejects`` (file, row, field, value, reason), catalogue
    KPIs skipped because the framework does not use them (code -> rows), values clipped."""

    data: pd.DataFrame
    rejects: pd.DataFrame
    skipped: dict[str, int]
    clipped: int


def check_table(
    table: pd.DataFrame,
    fw: Framework,
    file: str,
    *,
    catalogue: Mapping[str, Any],
    agencies: set[str] | frozenset[str] | None = None,
) -> CheckedTable:
    """Check every row of ``table`` (from :func:`read_table`) against the framework's inputs;
    ``agencies``: the registry's codes, when a registry says who may be scored."""
    table = _columns(table, file)
    rules = rules_for(fw, file, catalogue, agencies)
    clean, rejects, skipped, clipped = [], [], {}, 0
    for rec in table.to_dict("records"):
        row, bad, skip, was_clipped = check_row(rec, rules)
        rejects += bad
        clipped += was_clipped
        if skip is not None:
            skipped[skip] = skipped.get(skip, 0) + 1
        if row is not None:
            clean.append(row)
    data = pd.DataFrame(clean, columns=["_row", "agency_code", "kpi_code", *VALUE_COLUMNS])
    data, dup_rejects = drop_duplicates(data, file)
    out = pd.DataFrame(rejects + dup_rejects, columns=REJECT_COLUMNS)
    out = out.sort_values("row", kind="stable", na_position="first").reset_index(drop=True)
    data = data.drop(columns="_row").astype({c: float for c in VALUE_COLUMNS})
    return CheckedTable(data.reset_index(drop=True), out, skipped, int(clipped))


def _columns(table: pd.DataFrame, file: str) -> pd.DataFrame:
    """The engine's column names (``unit``/``indicator`` accepted), or the file refused."""
    renames = {k: v for k, v in ALIASES.items() if k in table.columns and v not in table.columns}
    table = table.rename(columns=renames)
    has_value = "value" in table.columns or {"numerator", "denominator"} <= set(table.columns)
    missing = [c for c in ("agency_code", "kpi_code") if c not in table.columns]
    if missing or not has_value:
        found = ", ".join(str(c) for c in table.columns if c != "_row")
        need = "agency_code (or unit), kpi_code (or indicator), value (or numerator and denominator)"
        raise refuse_file(file, f"needs the columns {need}; found {found}", "columns")
    if "quarter" in table.columns:
        quarters = sorted({q for q in (clean_text(v) for v in table["quarter"]) if q})
        if len(quarters) > 1:
            raise refuse_file(file, f"holds several quarters {quarters}; score one quarter at a time",
                               "quarter")
    for col in VALUE_COLUMNS:
        if col not in table.columns:
            table = table.assign(**{col: None})
    return table


def drop_duplicates(data: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[dict]]:
    """Rows naming the same unit and indicator twice (after NFC and trimming, so two
    spellings of one name count as one) are all refused: which one was meant?"""
    dup = data.duplicated(["agency_code", "kpi_code"], keep=False)
    rejects = []
    for (agency, code), group in data[dup].groupby(["agency_code", "kpi_code"], sort=False):
        rows = rows_phrase((int(r) for r in group["_row"]), total=len(group))
        reason = f"unit {agency!r} has indicator {code!r} more than once ({rows}); give it once"
        rejects += [{"file": file, "row": int(r), "field": "agency_code, kpi_code", "value": agency,
                     "reason": reason} for r in group["_row"]]
    return data[~dup], rejects


# --------------------------------------------------------------------------- the registry
def read_registry_table(path: str | Path) -> pd.DataFrame:
    """An agencies table (CSV or Parquet) to score with: codes and names NFC-normalised and
    trimmed, ``provides_public_services`` read as yes/no; an empty or duplicate code, or a
    yes/no that is neither, refuses the file with its rows."""
    table = read_table(path, "registry")
    file = Path(path).name
    if "agency_code" not in table.columns:
        found = ", ".join(str(c) for c in table.columns if c != "_row")
        raise refuse_file(file, f"the registry needs an agency_code column; found {found}", "columns")
    for col in ("agency_code", "name_vi", "name_en", "peer_group", "level"):
        if col in table.columns:
            table[col] = [clean_text(v) for v in table[col]]
    rejects = [{"file": file, "row": r, "field": "agency_code", "value": None,
                "reason": "agency code is empty"} for r in table.loc[table["agency_code"].isna(), "_row"]]
    dup = table["agency_code"].notna() & table["agency_code"].duplicated(keep=False)
    rejects += [{"file": file, "row": r, "field": "agency_code", "value": c,
                 "reason": f"agency code {c!r} is listed more than once"}
                for r, c in zip(table.loc[dup, "_row"], table.loc[dup, "agency_code"], strict=True)]
    if "provides_public_services" in table.columns:
        flags = []
        for r, v in zip(table["_row"], table["provides_public_services"], strict=True):
            try:
                flags.append(None if is_blank(v) else bool(parse_bool(v)))
            except ValueError as exc:
                flags.append(None)
                rejects.append({"file": file, "row": r, "field": "provides_public_services",
                                "value": as_written(v), "reason": str(exc)})
        table["provides_public_services"] = pd.array(flags, dtype="boolean")
    if rejects:
        raise InputRefused(pd.DataFrame(rejects, columns=REJECT_COLUMNS).sort_values("row", kind="stable"))
    return table.drop(columns="_row")
