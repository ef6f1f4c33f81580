"""Bench cases beside the quarter (issue 17 items 2, 3 and 5), each timed in its own process.

``incremental_*``: a late submission and an appraisal workbook republished on a quarter already
run (:mod:`benchmarks.incremental`).

``engine``: a synthetic framework (K indicators under a few pillars, points summed) over a long
table of N units x K indicators, against a bare numpy computation of the same points (the long
table pivoted to an N x K array, share x max rounded half up, sums per pillar and in total) over
the same table in the same run. Two ways: ``memory``, ``score()`` of the long table as a frame
built in the child before the clock (``index_scores`` as one frame); ``stream``,
``score_to_parquet`` end to end: the long table read from a Parquet file written beforehand by
``engine_input`` in another, unmeasured process (:func:`write_long_parquet`), ``index_scores``
written to a Parquet file, ranking and totals in memory.

``duplicates``: one agency sending the same indicator row over and over. Through the inbox, a
CSV submission file of R identical rows (``read_submission_file``; the file limits of
``sources.file_safety`` apply), and through the reporting database, a SQLite table of R identical
rows (``read_reporting_db``, which has no row limit); every row is rejected as a duplicate.

``python -m benchmarks.cases CASE ARG... RESULT_JSON`` runs one measurement: the inputs are
built first (in this process, before the clock), then only the measured call is timed. A
watchdog thread ends the process when its resident memory passes ``DX_BENCH_CAP_MB`` (default
4096) or its time ``DX_BENCH_CAP_S`` (default 300): a case far off its target is reported as
over the cap instead of taking the shared machine's memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
import yaml

from benchmarks.incremental import appraisal_case, full_case, late_case
from benchmarks.memory import own_peak_mb
from dx_pipeline.index.engine import score
from dx_pipeline.index.loader import build_framework
from dx_pipeline.index.rounding import floor_to, half_up
from dx_pipeline.index.streaming import score_to_parquet
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.registry import build_registry
from dx_pipeline.sources.reporting_db import load_mapping, read_reporting_db
from dx_pipeline.sources.submission_readers import read_submission_file
from dx_pipeline.sources.submission_rows import RowRules

POINTS_EACH = 2.0
DECIMALS = 2
MISSING_SHARE = 0.02
QUARTER = Quarter.parse("2025-Q2")
DUP_AGENCY_LEVEL = "department"
DUP_INDICATOR = "work_records_online_rate"
Case = tuple[dict, Callable[[], dict]]
"""A case's facts about its inputs and the call to time."""


def _current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _watchdog(result_file: Path, cap_mb: float, cap_s: float) -> None:
    """End the process (exit 3) with a result saying which cap it passed."""
    t0 = time.perf_counter()
    while True:
        rss, elapsed = _current_rss_mb(), time.perf_counter() - t0
        if rss > cap_mb or elapsed > cap_s:
            over = "memory" if rss > cap_mb else "time"
            result_file.write_text(json.dumps({"over_cap": over, "cap_mb": cap_mb, "cap_s": cap_s,
                                               "seconds_at_cap": round(elapsed, 1),
                                               "rss_mb_at_cap": round(rss, 1)}), encoding="utf-8")
            os._exit(3)
        time.sleep(0.05)


# -- engine ------------------------------------------------------------------------------------

def pillar_sizes(k: int) -> list[int]:
    """K indicators under a few pillars: one pillar per indicator up to 3, else 4 pillars."""
    p = k if k <= 3 else 4
    return [k // p + (1 if i < k % p else 0) for i in range(p)]


def synthetic_framework(k: int) -> Framework:
    """A framework of K linear indicators of 2 points each, summed per pillar and in total,
    built from the packaged EGDI file's provenance and bands (validated like any file)."""
    path = resources.files("dx_pipeline") / "config" / "frameworks" / "egdi.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.pop("versions", None)
    pillars, n = [], 0
    for i, size in enumerate(pillar_sizes(k)):
        inds = [{"id": f"P{i + 1}.{j + 1}", "item": f"x{n + j + 1:02d}", "unit": "ratio",
                 "name": {"vi": f"Chỉ số {n + j + 1}", "en": f"Indicator {n + j + 1}"},
                 "max_points": POINTS_EACH, "rule": "linear"}
                for j in range(size)]
        n += size
        pillars.append({"id": f"P{i + 1}", "name": {"vi": f"Trụ cột {i + 1}", "en": f"Pillar {i + 1}"},
                        "max_points": POINTS_EACH * size, "indicators": inds})
    raw.update(id=f"bench_k{k}", version="1", total_points=POINTS_EACH * k, pillars=pillars,
               rounding={"decimals": DECIMALS, "mode": "half_up", "combine": "rounded"},
               aggregation={"total": "sum", "pillar": "sum"},
               policies={"zero_denominator": "full", "missing": "zero"})
    raw["title"] = {"vi": f"Bộ chỉ số thử {k}", "en": f"Benchmark framework of {k} indicators"}
    return build_framework(raw, f"bench_k{k}", known_kpis=())


def _synthetic_values(n: int, seed: int, chunk: int):
    """The long table's values, ``chunk`` rows at a time: in [0, 1.2) (some above the linear
    rule's full mark), 2 % of them empty (scored 0 by the missing policy)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        part = rng.uniform(0.0, 1.2, min(chunk, n - start))
        part[rng.random(len(part)) < MISSING_SHARE] = np.nan
        yield start, part


def _unit_codes(units: int) -> list[str]:
    return [f"U{i:07d}" for i in range(units)]


def synthetic_long(units: int, k: int, seed: int = 17, chunk: int = 4_000_000) -> pd.DataFrame:
    """The long table: every unit has every indicator (:func:`_synthetic_values`); codes as
    categoricals, so the table costs about 13 bytes a row."""
    value = np.empty(units * k)
    for start, part in _synthetic_values(len(value), seed, chunk):
        value[start:start + len(part)] = part
    codes = pd.Index(_unit_codes(units))
    items = pd.Index([f"x{j + 1:02d}" for j in range(k)])
    unit_col = pd.Categorical.from_codes(np.repeat(np.arange(units, dtype=np.int32), k), categories=codes)
    item_col = pd.Categorical.from_codes(np.tile(np.arange(k, dtype=np.int8), units), categories=items)
    return pd.DataFrame({"agency_code": unit_col, "kpi_code": item_col, "value": value}, copy=False)


def write_long_parquet(path: Path, units: int, k: int, seed: int = 17, chunk: int = 4_000_000) -> None:
    """The same long table as :func:`synthetic_long` (same values) as a Parquet file of plain
    string codes, as another tool would write it: row groups of 1Mi rows, ``chunk`` rows in
    memory at a time."""
    unit_codes = pa.array(_unit_codes(units), type=pa.string())
    items = pa.array([f"x{j + 1:02d}" for j in range(k)], type=pa.string())
    schema = pa.schema([("agency_code", pa.string()), ("kpi_code", pa.string()), ("value", pa.float64())])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for start, part in _synthetic_values(units * k, seed, chunk):
            rows = np.arange(start, start + len(part), dtype=np.int64)
            unit = pa.array((rows // k).astype(np.int32))
            item = pa.array((rows % k).astype(np.int32))
            writer.write_table(pa.table({"agency_code": unit_codes.take(unit), "kpi_code": items.take(item),
                                         "value": pa.array(part)}, schema=schema), row_group_size=1 << 20)
    tmp.replace(path)


def engine_input_path(work: Path, units: int, k: int) -> Path:
    """Where the ``stream`` case reads its long table (written once per size, then reused)."""
    return work / f"engine_long_{units}x{k}.parquet"


def engine_case(units: int, k: int, mode: str = "memory", work: Path | None = None) -> Case:
    """``score()`` (``memory``) or ``score_to_parquet`` from and to Parquet files (``stream``);
    returns facts and a callable timed by ``main``."""
    fw = synthetic_framework(k)
    facts = {"units": units, "indicators": k, "rows": units * k, "mode": mode}
    if mode == "stream":
        if work is None:
            raise SystemExit("engine stream needs a work folder")
        source, target = engine_input_path(work, units, k), work / f"index_scores_{units}x{k}.parquet"
        if not source.exists():
            raise SystemExit(f"{source} is missing: the runner writes it first (case engine_input)")
        facts["input_file_bytes"] = source.stat().st_size

        def stream() -> dict:
            result = score_to_parquet(fw, source, target)
            return {"score_rows": result.rows, "output_file_bytes": target.stat().st_size,
                    "total_points_sum": round(float(result.totals.sum()), 4)}

        return facts, stream
    long = synthetic_long(units, k)

    def run() -> dict:
        result = score(fw, long)
        totals = result.scores.loc[result.scores["level"] == "total", "points"]
        return {"score_rows": len(result.scores), "total_points_sum": round(float(totals.sum()), 4)}

    return facts, run


def bare_points(long: pd.DataFrame, sizes: list[int], chunk: int = 4_000_000
                ) -> tuple[np.ndarray, np.ndarray]:
    """Pillar and total points of every unit from the long table, the way a careful numpy user
    would: scatter the values into a units x indicators grid by the codes' positions (in
    chunks), then per indicator share = value clipped to [0, 1] (0 when empty), points = share
    x max rounded half up; pillar and total sums rounded half up."""
    rows = long["agency_code"].cat.codes.to_numpy()
    cols = long["kpi_code"].cat.codes.to_numpy()
    values = long["value"].to_numpy(dtype=float)
    units, k = len(long["agency_code"].cat.categories), len(long["kpi_code"].cat.categories)
    grid = np.full((units, k), np.nan)
    for start in range(0, len(values), chunk):
        end = start + chunk
        grid[rows[start:end], cols[start:end]] = values[start:end]
    full = floor_to(POINTS_EACH, DECIMALS)
    pillars, col = np.zeros((units, len(sizes))), 0
    for p, size in enumerate(sizes):
        for _ in range(size):
            share = np.nan_to_num(np.clip(grid[:, col], 0.0, 1.0), nan=0.0)
            pillars[:, p] += np.minimum(half_up(share * POINTS_EACH, DECIMALS), full)
            col += 1
        pillars[:, p] = half_up(pillars[:, p], DECIMALS)
    return pillars, half_up(pillars.sum(axis=1), DECIMALS)


def engine_baseline_case(units: int, k: int) -> Case:
    """The same points by hand over the same long table (the baseline of ``engine``)."""
    long = synthetic_long(units, k)

    def run() -> dict:
        pillars, total = bare_points(long, pillar_sizes(k))
        return {"score_rows": int(total.size * k + pillars.size + total.size),
                "total_points_sum": round(float(total.sum()), 4)}

    return {"units": units, "indicators": k, "rows": units * k}, run


# -- duplicates --------------------------------------------------------------------------------

def _dup_rules() -> tuple[RowRules, str]:
    registry = build_registry(7)
    registry = registry[[c for c in registry.columns if c in (
        "agency_code", "name_vi", "name_en", "level", "peer_group", "parent_code", "valid_from", "valid_to",
        "provides_public_services")]]
    agency = str(registry.loc[registry["level"] == DUP_AGENCY_LEVEL, "agency_code"].iloc[0])
    return RowRules(catalogue=load_catalogue(), registry=registry, quarter=QUARTER), agency


def write_duplicate_csv(path: Path, rows: int, agency: str) -> None:
    """An inbox CSV of ``rows`` identical indicator rows, written in the submission layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["MaDonVi", "KyBaoCao", "NgayBaoCao", "STT", "MaChiSo", "TenChiSo", "DonViTinh", "TuSo",
                    "MauSo", "GiaTri", "MinhChung"])
        line = [agency, QUARTER.label, "05/07/2025", 1, DUP_INDICATOR, "Hồ sơ công việc trên mạng", "%",
                45, 60, "", "Báo cáo 12/BC"]
        for _ in range(rows):
            w.writerow(line)


def write_duplicate_db(path: Path, rows: int, agency: str, chunk: int = 100_000) -> str:
    """A SQLite reporting database whose table holds ``rows`` identical rows of one quarter."""
    mapping = load_mapping()
    meta = sa.MetaData()
    types = {"report_id": sa.Integer, "numerator": sa.Float, "denominator": sa.Float, "value": sa.Float,
             "submitted_at": sa.DateTime}
    table = sa.Table(mapping.table, meta, *[
        sa.Column(db_col, types.get(logical, sa.String), primary_key=(logical == "report_id"))
        for logical, db_col in mapping.columns.items()])
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    record = {"agency_code": agency, "quarter": QUARTER.label, "indicator_code": DUP_INDICATOR,
              "numerator": 45.0, "denominator": 60.0, "value": None, "unit": "%",
              "evidence_ref": "Báo cáo 12/BC", "submitted_at": dt.datetime(2025, 7, 5, 9, 30)}
    db_record = {mapping.columns[k]: v for k, v in record.items()}
    try:
        meta.create_all(engine)
        with engine.begin() as con:
            for start in range(0, rows, chunk):
                con.execute(table.insert(), [{**db_record, mapping.columns["report_id"]: i + 1}
                                             for i in range(start, min(rows, start + chunk))])
    finally:
        engine.dispose()
    return url


def _dup_facts(rows: int, accepted: int, rejects: list[dict]) -> dict:
    reasons = {r["reason"] for r in rejects}
    return {"rows": rows, "accepted": accepted, "rejected": len(rejects), "distinct_reasons": len(reasons),
            "longest_reason_chars": max((len(r) for r in reasons), default=0),
            "reason_sample": sorted(reasons)[0][:300] if reasons else None}


def duplicates_inbox_case(rows: int, work: Path) -> Case:
    """One inbox CSV of ``rows`` identical rows read as the ingest reads it."""
    rules, agency = _dup_rules()
    path = work / "inbox" / QUARTER.label / f"duplicates_{rows}.csv"
    write_duplicate_csv(path, rows, agency)
    size = path.stat().st_size

    def run() -> dict:
        read = read_submission_file(path, rules, root=path.parent)
        return {**_dup_facts(rows, len(read.accepted), read.rejects), "file_bytes": size,
                "rows_read": read.rows}

    return {"rows": rows, "file_bytes": size}, run


def duplicates_db_case(rows: int, work: Path) -> Case:
    """The reporting database holding ``rows`` identical rows of the quarter."""
    rules, agency = _dup_rules()
    work.mkdir(parents=True, exist_ok=True)
    url = write_duplicate_db(work / f"reporting_{rows}.sqlite", rows, agency)

    def run() -> dict:
        read = read_reporting_db(url, rules)
        return _dup_facts(read.rows, len(read.accepted), read.rejects)

    return {"rows": rows}, run


def engine_input_case(units: int, k: int, work: Path) -> Case:
    """Writes the ``stream`` case's long table (run unmeasured, before the measured case)."""
    path = engine_input_path(work, units, k)

    def run() -> dict:
        if not path.exists():
            write_long_parquet(path, units, k)
        return {"input_file_bytes": path.stat().st_size}

    return {"units": units, "indicators": k}, run


def _prepare(case: str, args: list[str]) -> Case:
    if case == "engine":
        return engine_case(int(args[0]), int(args[1]), args[2] if len(args) > 2 else "memory",
                           Path(args[3]) if len(args) > 3 else None)
    if case == "engine_input":
        return engine_input_case(int(args[0]), int(args[1]), Path(args[2]))
    if case == "engine_baseline":
        return engine_baseline_case(int(args[0]), int(args[1]))
    if case == "duplicates_inbox":
        return duplicates_inbox_case(int(args[0]), Path(args[1]))
    if case == "duplicates_db":
        return duplicates_db_case(int(args[0]), Path(args[1]))
    incremental = {"incremental_full": full_case, "incremental_late": late_case,
                   "incremental_appraisal": appraisal_case}
    if case in incremental:
        return incremental[case](args[0])
    raise SystemExit(f"unknown case {case!r}")


def main(argv: list[str]) -> int:
    """``CASE ARG... RESULT_JSON``: build the inputs, then time the measured call alone."""
    case, args, result_file = argv[0], argv[1:-1], Path(argv[-1])
    cap_mb = float(os.environ.get("DX_BENCH_CAP_MB", "4096"))
    cap_s = float(os.environ.get("DX_BENCH_CAP_S", "300"))
    facts, run = _prepare(case, args)
    facts["input_peak_mb"] = round(own_peak_mb(), 1)
    threading.Thread(target=_watchdog, args=(result_file, cap_mb, cap_s), daemon=True).start()
    cpu0, t0 = os.times(), time.perf_counter()
    facts.update(run())
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    facts.update(seconds=seconds, cpu_seconds=(cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
                 own_peak_mb=round(own_peak_mb(), 1))
    result_file.write_text(json.dumps(facts, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
