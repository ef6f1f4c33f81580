"""The agency registry: which units exist, when, under whom, and who took over after a merger.

Agencies come and go (the 2025 reform merged departments and abolished districts), so every
row is effective-dated and a merged agency names its successor. The registry is data a
province maintains (CSV or YAML with the ``agencies`` contract columns); loading validates it
and fails with every problem listed by file, row and field, because a wrong registry silently
mis-assigns every KPI downstream.

Validity rule for a quarter (used by submissions and dossiers alike): an agency is valid in a
quarter when it exists on the quarter's **last day**. Why the last day: the report for a quarter
is compiled after it closes by whoever exists then, and with ``successor.valid_from ==
predecessor.valid_to + 1 day`` exactly one of predecessor and successor is valid in every
quarter, so nothing is counted twice. A unit merged mid-quarter therefore reports that whole
quarter through its successor. ``is_valid_on`` gives the per-day test for dated records
(a dossier received before the merger still belongs to the old unit).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.schemas import AGENCIES

LEVELS = ("province", "department", "district", "commune")
"""Allowed values of ``level``."""

_TRUE = {"true", "1", "yes", "y", "có", "co", "x"}
_FALSE = {"false", "0", "no", "n", "không", "khong", ""}
_REQUIRED = [c.name for c in AGENCIES.columns if not c.nullable]


class RegistryError(ValueError):
    """The registry file is wrong; the message lists every problem with file, row and field."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"agency registry {path}: {len(problems)} problem(s):\n  {shown}{more}")


def _quarter(q: Quarter | str) -> Quarter:
    return q if isinstance(q, Quarter) else Quarter.parse(q)


def _read_raw(path: Path) -> list[tuple[str, dict]]:
    """(row label, raw record) pairs; the label is how a person finds the row in the file."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if isinstance(data, Mapping):
            data = data.get("agencies", [])
        if not isinstance(data, list):
            raise RegistryError(path, ["expected a list of agencies (or a mapping 'agencies:')"])
        out = []
        for i, rec in enumerate(data, start=1):
            if not isinstance(rec, Mapping):
                raise RegistryError(path, [f"entry {i}: expected a mapping of fields"])
            out.append((f"entry {i}", dict(rec)))
        return out
    if suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in AGENCIES.names if c not in (reader.fieldnames or [])]
        if missing:
            raise RegistryError(path, [f"header: missing column(s) {missing}"])
        return [(f"row {reader.line_num}", dict(rec)) for rec in reader]
    raise RegistryError(path, [f"unsupported file type {suffix!r} (use .csv, .yaml or .yml)"])


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    s = str(value).strip()
    return s or None


def _date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = _text(value)
    if s is None:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"{s!r} is not a date (yyyy-mm-dd)")


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    s = (_text(value) or "").lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true/false")


def load_registry(path: str | Path) -> pd.DataFrame:
    """Read and validate the registry (CSV or YAML) into the ``agencies`` contract columns.

    Checks: required fields present, codes unique, level one of ``LEVELS``, dates readable
    and ``valid_from <= valid_to``, ``parent_code`` and ``successor_code`` exist, no agency
    succeeds itself and successor chains end. Raises ``RegistryError`` listing every problem.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"agency registry not found: {path}")
    problems: list[str] = []
    records: list[dict] = []
    labels: list[str] = []
    for label, rec in _read_raw(path):
        where = f"{path.name} {label}"
        code = _text(rec.get("agency_code"))
        if code:
            where += f" (agency_code={code})"
        records.append(_registry_record(rec, where, problems))
        labels.append(where)
    problems += _reference_problems(records, labels)
    problems += _successor_loops(records, path.name)
    if problems:
        raise RegistryError(path, problems)
    return registry_frame(records)


def _registry_record(rec: Mapping, where: str, problems: list[str]) -> dict:
    """One registry row in the contract's columns; what is wrong with it goes to ``problems``
    (``where`` names the file, row and code) and the field is left empty."""
    out: dict = {}
    for col in ("agency_code", "name_vi", "name_en", "level", "peer_group", "parent_code", "successor_code"):
        out[col] = _text(rec.get(col))
    for col in _REQUIRED:
        if col in out and out[col] is None:
            problems.append(f"{where}: field {col}: required but empty")
    if out["level"] is not None and out["level"] not in LEVELS:
        problems.append(f"{where}: field level: {out['level']!r} is not one of {', '.join(LEVELS)}")
    try:
        out["provides_public_services"] = _bool(rec.get("provides_public_services"))
    except ValueError as exc:
        problems.append(f"{where}: field provides_public_services: {exc}")
        out["provides_public_services"] = False
    for col in ("valid_from", "valid_to"):
        try:
            out[col] = _date(rec.get(col))
        except ValueError as exc:
            problems.append(f"{where}: field {col}: {exc}")
            out[col] = None
    if out["valid_from"] is None and _text(rec.get("valid_from")) is None:
        problems.append(f"{where}: field valid_from: required but empty")
    if out["valid_from"] and out["valid_to"] and out["valid_from"] > out["valid_to"]:
        problems.append(
            f"{where}: field valid_to: {out['valid_to']} is before valid_from {out['valid_from']}"
        )
    return out


def _reference_problems(records: list[dict], labels: list[str]) -> list[str]:
    """Duplicate codes, parents and successors that are not in the registry, self-succession."""
    problems = []
    seen: dict[str, str] = {}
    for rec, where in zip(records, labels, strict=True):
        code = rec["agency_code"]
        if code is None:
            continue
        if code in seen:
            problems.append(f"{where}: field agency_code: duplicate of {seen[code]}")
        else:
            seen[code] = where.split(" (")[0]
    for rec, where in zip(records, labels, strict=True):
        for col in ("parent_code", "successor_code"):
            ref = rec[col]
            if ref is not None and ref not in seen:
                problems.append(f"{where}: field {col}: {ref!r} is not an agency in the registry")
        if rec["successor_code"] is not None and rec["successor_code"] == rec["agency_code"]:
            problems.append(f"{where}: field successor_code: an agency cannot succeed itself")
    return problems


def _successor_loops(records: list[dict], file_name: str) -> list[str]:
    """Successor chains that come back to an agency already in them."""
    problems = []
    succ = {r["agency_code"]: r["successor_code"] for r in records if r["agency_code"]}
    for code in sorted(succ):
        chain, cur = [code], succ.get(code)
        while cur is not None and cur in succ:
            if cur in chain:
                problems.append(f"{file_name}: successor chain loops: {' -> '.join(chain + [cur])}")
                break
            chain.append(cur)
            cur = succ.get(cur)
    return problems


def registry_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """A registry DataFrame with the contract columns in order (dates as ``datetime.date``)."""
    df = pd.DataFrame(list(records), columns=AGENCIES.names)
    df["provides_public_services"] = df["provides_public_services"].astype(bool)
    for col in ("valid_from", "valid_to"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.sort_values("agency_code", kind="stable").reset_index(drop=True)


def _as_date(value) -> dt.date | None:
    """Dates as stored in the registry, whatever way they were read back (date, Timestamp, NaT)."""
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _valid_mask(registry: pd.DataFrame, day: dt.date) -> pd.Series:
    def started(value: object) -> bool:
        start = _as_date(value)
        return start is not None and start <= day

    def not_ended(value: object) -> bool:
        end = _as_date(value)
        return end is None or end >= day

    starts = registry["valid_from"].map(started)
    ends = registry["valid_to"].map(not_ended)
    return (starts & ends).astype(bool)


def active_agencies(registry: pd.DataFrame, quarter: Quarter | str) -> pd.DataFrame:
    """Agencies valid in ``quarter``: those existing on its last day (see module docstring)."""
    q = _quarter(quarter)
    return registry[_valid_mask(registry, q.last_day)].reset_index(drop=True)


def is_valid_on(registry: pd.DataFrame, code: str, day: dt.date) -> bool:
    """Whether agency ``code`` exists on ``day`` (for dated records such as dossiers)."""
    rows = registry[registry["agency_code"] == code]
    return bool(len(rows)) and bool(_valid_mask(rows, day).any())


def is_valid_in(registry: pd.DataFrame, code: str, quarter: Quarter | str) -> bool:
    """Whether agency ``code`` is valid in ``quarter`` (exists on the quarter's last day)."""
    return is_valid_on(registry, code, _quarter(quarter).last_day)


def _problem(rec: Mapping, q: Quarter) -> str | None:
    code, name = rec["agency_code"], rec["name_vi"]
    valid_from, valid_to = _as_date(rec["valid_from"]), _as_date(rec["valid_to"])
    if valid_from is not None and valid_from <= q.last_day and (
        valid_to is None or valid_to >= q.last_day
    ):
        return None
    if valid_from is None or valid_from > q.last_day:
        return f"agency {code} ({name}) only exists from {valid_from:%d/%m/%Y}, after {q.label}"
    reason = f"agency {code} ({name}) ceased on {valid_to:%d/%m/%Y}"
    successor = rec.get("successor_code")
    if isinstance(successor, str) and successor:
        reason += f"; its successor {successor} reports for {q.label}"
    return reason + f", so it cannot report for {q.label}"


def quarter_validity(registry: pd.DataFrame, quarter: Quarter | str) -> dict[str, str | None]:
    """Agency code -> why it cannot report for ``quarter`` (None: it can), for the whole
    registry in one pass; readers look codes up here instead of filtering per row."""
    q = _quarter(quarter)
    return {rec["agency_code"]: _problem(rec, q) for rec in registry.to_dict("records")}


def unknown_agency(code: str) -> str:
    """The error text for an agency code that the registry does not have."""
    return f"agency code {code!r} is not in the agency registry"


def validity_problem(registry: pd.DataFrame, code: str, quarter: Quarter | str) -> str | None:
    """Why ``code`` cannot report for ``quarter``, in words a clerk understands; None if it can."""
    rows = registry[registry["agency_code"] == code]
    if not len(rows):
        return unknown_agency(code)
    return _problem(rows.iloc[0].to_dict(), _quarter(quarter))


def successor_map(registry: pd.DataFrame) -> dict[str, str]:
    """Every agency with a successor -> its final successor (chains followed to the end)."""
    direct: dict[str, str] = {
        str(code): successor
        for code, successor in zip(registry["agency_code"], registry["successor_code"], strict=True)
        if isinstance(successor, str) and successor
    }
    out = {}
    for code in direct:
        cur, seen = code, {code}
        while cur in direct and direct[cur] not in seen:
            cur = direct[cur]
            seen.add(cur)
        out[code] = cur
    return out


def successor_in(registry: pd.DataFrame, code: str, quarter: Quarter | str) -> str:
    """The agency that carries ``code``'s work in ``quarter``: itself if still valid, else the
    first successor along the chain that is valid then (or the chain's end)."""
    return successors_in(registry, [code], quarter)[code]


def successors_in(registry: pd.DataFrame, codes, quarter: Quarter | str) -> dict[str, str]:
    """:func:`successor_in` for many codes, reading the registry once."""
    direct = {
        r.agency_code: r.successor_code
        for r in registry.itertuples()
        if isinstance(r.successor_code, str) and r.successor_code
    }
    valid = set(active_agencies(registry, quarter)["agency_code"])
    out = {}
    for code in codes:
        cur, seen = code, {code}
        while cur not in valid and cur in direct and direct[cur] not in seen:
            cur = direct[cur]
            seen.add(cur)
        out[code] = cur
    return out


def _group_layout(touched: pd.DataFrame, keys: list[str]):
    """The touched rows group after group (groups in key order, each group's rows in their
    original order), with each row's group number and each group's start and size."""
    gid = touched.groupby(keys, sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)
    order = np.argsort(gid, kind="stable")
    gid = gid[order]
    sizes = np.bincount(gid)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return touched.iloc[order], gid, starts, sizes


def _floats(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _group_sums(values: np.ndarray, gid: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each group's sum, bit for bit what ``Series.sum`` gives on the group's values in order.

    ``Series.sum`` is ``np.sum``, which adds fewer than 8 values one after the other starting
    from 0.0 - exactly what ``np.bincount`` with weights does, for all groups at once - and 8
    values or more pairwise, so those groups (a successor of 8+ units; rare) are summed by
    ``np.sum`` itself. NaNs must already be 0.0 (``Series.sum`` skips them that way)."""
    out = np.bincount(gid, weights=values, minlength=len(sizes))
    for g in np.flatnonzero(sizes >= 8).tolist():
        out[g] = np.sum(values[starts[g]:starts[g] + sizes[g]])
    return out


def _nan_sums(values: np.ndarray, gid: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return _group_sums(np.where(np.isnan(values), 0.0, values), gid, starts, sizes)


def _own_means(t: pd.DataFrame, gid: np.ndarray, n_groups: int) -> np.ndarray:
    """Each group's mean value over the successor's own rows if it has any, else over all its
    rows (NaN skipped; NaN when none), bit for bit as ``Series.mean`` on that subset."""
    own = (t["original_agency_code"] == t["agency_code"]).to_numpy(dtype=bool)
    has_own = np.bincount(gid, weights=own, minlength=n_groups) > 0
    pick = np.flatnonzero(own | ~has_own[gid])
    values, pgid = _floats(t["value"])[pick], gid[pick]
    sizes = np.bincount(pgid, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    sums = _nan_sums(values, pgid, starts, sizes)
    counts = np.bincount(pgid, weights=~np.isnan(values), minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _texts(t: pd.DataFrame, gid: np.ndarray, successors: list) -> tuple[list[str], list[str | None]]:
    """Each group's ``flags`` (the rows' flags and ``restated``, sorted) and ``restated_from``
    (the other codes merged into it, sorted); plain string work over the touched rows."""
    n_groups = len(successors)
    flags: list[set[str]] = [{"restated"} for _ in range(n_groups)]
    if "flags" in t.columns:
        present = t["flags"].notna().to_numpy(dtype=bool)
        for g, f in zip(gid[present].tolist(), t["flags"][present].tolist(), strict=True):
            flags[g].update(x for x in str(f).split(",") if x)
    originals: list[set[str]] = [set() for _ in range(n_groups)]
    for g, code in zip(gid.tolist(), t["original_agency_code"].tolist(), strict=True):
        originals[g].add(code)
    restated_from = [
        ",".join(c for c in sorted(codes) if c != successor) or None
        for codes, successor in zip(originals, successors, strict=True)
    ]
    return [",".join(sorted(f)) for f in flags], restated_from


def _put(recs: list[dict], col: str, mask: np.ndarray, values: list) -> None:
    """Set ``col`` of the masked records from ``values`` (one per record)."""
    for i in np.flatnonzero(mask).tolist():
        recs[i][col] = values[i]


def _floats_or_none(values: np.ndarray, none: np.ndarray) -> list[float | None]:
    """Python floats, None where ``none`` (what the per-group code put in its records)."""
    return [None if z else v for z, v in zip(none.tolist(), values.tolist(), strict=True)]


def _combined_rows(
    df: pd.DataFrame, keys: list[str], units: Mapping[str, str], columns: list[str]
) -> pd.DataFrame:
    """One row per (quarter, successor, KPI) group of ``df`` (the rows moved into a successor
    and its own rows there), all groups at once; see :func:`restate_to_successors`.

    Each row starts as the group's first row as a record (``to_dict``, as the per-group code
    did) and the combined columns are written in, so the frame infers the same dtypes."""
    t, gid, starts, sizes = _group_layout(df, keys)
    n = len(sizes)
    first = t.iloc[starts]
    recs = first[[c for c in dict.fromkeys(columns) if c in t.columns]].to_dict("records")
    num = _floats(t["numerator"]) if "numerator" in t.columns else None
    den = _floats(t["denominator"]) if "denominator" in t.columns else None
    ratio = np.zeros(n, dtype=bool)  # every row of the group has a numerator and a denominator
    if num is not None and den is not None:
        ratio = np.bincount(gid, weights=np.isnan(num) | np.isnan(den), minlength=n) == 0
    kpis = first["kpi_code"].tolist() if "kpi_code" in keys else [None] * n
    summed = np.array([units.get(str(k)) in ("count", "amount") for k in kpis], dtype=bool) & ~ratio
    value, zero_den = np.full(n, np.nan), np.zeros(n, dtype=bool)
    if num is not None:
        num_sum = _nan_sums(num, gid, starts, sizes)
        no_num = np.bincount(gid, weights=~np.isnan(num), minlength=n) == 0
        _put(recs, "numerator", ratio | summed, _floats_or_none(num_sum, no_num))
        if den is not None and ratio.any():
            den_sum = _nan_sums(den, gid, starts, sizes)
            _put(recs, "denominator", ratio, den_sum.tolist())
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(ratio, num_sum / den_sum, value)
            zero_den = ratio & (den_sum == 0)  # ``num / den if den else None``
    if (~ratio).any():
        other = np.where(summed, _nan_sums(_floats(t["value"]), gid, starts, sizes), _own_means(t, gid, n))
        value = np.where(ratio, value, other)
    _put(recs, "value", np.ones(n, dtype=bool), _floats_or_none(value, zero_den))
    flags, restated_from = _texts(t, gid, first["agency_code"].tolist())
    for i, rec in enumerate(recs):
        rec.update({c: None for c in ("target", "target_met") if c in rec})
        if "flags" in rec:
            rec["flags"] = flags[i]
        rec["restated_from"] = restated_from[i]
    return pd.DataFrame(recs, columns=columns)


def restate_to_successors(
    kpis_df: pd.DataFrame,
    registry: pd.DataFrame,
    as_of_quarter: Quarter | str,
    units: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """KPIs (``agency_kpis`` columns, any number of quarters) restated under the agencies valid
    in ``as_of_quarter``, so series are comparable across a merger.

    Rows of merged agencies are moved to their successor and combined with its own rows:
    ratios (rows carrying a denominator) as sum of numerators over sum of denominators;
    ``count``/``amount`` units (from ``units``, KPI code -> unit) summed; anything else
    (bool, level, evidence) keeps the successor's own value if it has one, else the mean.
    ``target``/``target_met`` of combined rows are cleared (the plan targets belong to the
    successor and are re-applied by the KPI step); ``flags`` gains ``restated``; the new
    column ``restated_from`` lists the codes merged into each row.

    All touched groups are combined at once (numpy over group numbers); sums are bit for bit
    those of ``Series.sum`` over each group's rows in input order (see :func:`_group_sums`).
    A row without ``agency_code`` cannot be placed under anyone and is refused.
    """
    units = dict(units or {})
    missing = kpis_df["agency_code"].isna().to_numpy(dtype=bool)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        kpi = kpis_df["kpi_code"].iloc[row] if "kpi_code" in kpis_df.columns else None
        raise ValueError(f"KPI row {row} (kpi_code {kpi!r}): agency_code is empty, so it cannot be "
                         f"restated to a successor ({int(missing.sum())} such row(s))")
    df = kpis_df.copy()
    df["original_agency_code"] = df["agency_code"]
    codes = df["agency_code"].dropna().unique().tolist()
    mapping = successors_in(registry, codes, as_of_quarter)
    df["agency_code"] = df["agency_code"].map(mapping)
    keys = [k for k in ("quarter", "agency_code", "kpi_code") if k in df.columns]
    # only the (quarter, successor, KPI) groups a merged agency moved into need combining;
    # every other row passes through as it is (most rows, and most of the time)
    moved = df["original_agency_code"] != df["agency_code"]
    touched = df.loc[moved, keys].drop_duplicates()
    in_touched = (
        df[keys].merge(touched.assign(_t=True), on=keys, how="left")["_t"].fillna(False).to_numpy(dtype=bool)
    )
    untouched = df[~in_touched].drop(columns=["original_agency_code"])
    untouched["restated_from"] = None
    columns = [c for c in kpis_df.columns] + ["restated_from"]
    combined = _combined_rows(df[in_touched], keys, units, columns) if in_touched.any() else None
    frames = [f for f in (untouched[columns], combined) if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.sort_values(keys, kind="stable").reset_index(drop=True)
