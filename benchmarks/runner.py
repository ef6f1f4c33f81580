"""Run the benchmark: generate (or reuse) the quarter, time each stage and baseline in its own
process, compare with the targets, print and save the table.

Why a process per stage: Dagster's multiprocess executor runs each step in a fresh process, and
a process's peak memory is only a stage's own when nothing else ran in it. Each child is
started through :func:`benchmarks.memory.run_measured`, a small launcher whose ``wait4`` gives
the child's peak RSS without the runner's own high-water mark (which a child started directly
by the runner would inherit); the data are generated in a child process of their own too, so
the runner stays small. A stage's ``wall s`` is timed inside the child after its imports (a
long-lived worker pays those once); ``process s`` is the child's whole life.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.baselines import kpi_values
from benchmarks.generate import DEFAULT_QUARTER, DEFAULT_SEED, MARKER, dataset_dir, ensure_dataset
from benchmarks.memory import run_measured
from benchmarks.stages import BASELINES, STAGES
from dx_pipeline.reference.quarters import Quarter

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout the benchmarks run from (``benchmarks`` is not installed with the package)."""

DEFAULT_ROWS = 10_000_000
INPUT_DIRS = {"registry", "portal_exports", "inbox", "sample", MARKER}
LABELS = {
    "ingest": "ingest (export CSV -> Parquet, registry, submissions)",
    "quality": "quality checks (agencies, dossiers, submissions)",
    "kpis": "dossier KPIs (agency_kpis)",
    "scores": "scores + ranking + uncertainty",
    "publication": "publication (+ KPI/index checks, half-year, BI db)",
    "site": "DX portal site (public revisions only; rows = agencies)",
    "ingest_floor": "baseline: DuckDB CSV->Parquet of export (ingest floor)",
    "duckdb_floor": "baseline: bare DuckDB query (floor)",
    "pandas": "baseline: plain pandas",
}
TARGETS = {
    "kpi_vs_floor": ("KPI stage / DuckDB floor (time)", "<=", 2.0),
    "pandas_vs_kpi": ("pandas / KPI stage (time)", ">=", 3.0),
    "kpi_peak_vs_pandas": ("KPI peak / pandas peak (memory)", "<=", 0.2),
    "quarter_wall_s": ("whole quarter wall s", "<=", 90.0),
    "quarter_peak_mb": ("whole quarter peak MB", "<=", 2048.0),
    # issue 17 item 1: against DuckDB's own CSV -> Parquet of the export, in the same run
    "ingest_vs_floor": ("ingest / ingest floor (time)", "<=", 1.3),
    "quarter_vs_ingest_floor": ("whole quarter / ingest floor (time)", "<=", 2.0),
    "quarter_peak_mb_17": ("whole quarter peak MB (issue 17)", "<=", 1536.0),
    "scale_time_ratio": ("3x rows: time ratio", "<=", 3.3),
    "scale_peak_ratio": ("3x rows: peak ratio", "<=", 1.2),
}


@dataclass
class StageRun:
    """One stage or baseline, measured in its own process."""

    name: str
    label: str
    seconds: float
    process_seconds: float
    cpu_seconds: float
    peak_mb: float
    rows: int
    rows_per_s: float
    load_before: float
    facts: dict = field(default_factory=dict)


def run_in_child(name: str, home: Path, quarter: Quarter, log_dir: Path) -> StageRun:
    """Run one stage in a fresh interpreter; wall and peak RSS are that child's alone."""
    log_dir.mkdir(parents=True, exist_ok=True)
    result_file = log_dir / f"{name}.result.json"
    result_file.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    with open(log_dir / f"{name}.log", "wb") as out:
        run = run_measured([sys.executable, "-m", "benchmarks.stages", name, str(home), quarter.label,
                            str(result_file)], stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    if run.returncode != 0 or not result_file.exists():
        tail = (log_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(
            f"bench stage {name!r} failed (exit {run.returncode}); log {log_dir / (name + '.log')}:\n{tail}"
        )
    facts = json.loads(result_file.read_text(encoding="utf-8"))
    seconds = float(facts.pop("seconds"))
    cpu = float(facts.pop("cpu_seconds"))
    rows = int(facts.get("rows", 0))
    facts["launcher_mb"] = round(run.launcher_mb, 1)
    return StageRun(
        name=name, label=LABELS.get(name, name), seconds=round(seconds, 2),
        process_seconds=round(run.seconds, 2), cpu_seconds=round(cpu, 2),
        peak_mb=round(run.peak_mb, 1), rows=rows, rows_per_s=round(rows / seconds) if seconds > 0 else 0.0,
        load_before=round(load, 2), facts=facts,
    )


def generate_in_child(out_dir: Path, rows: int, seed: int, quarter: Quarter) -> None:
    """Generate (or find cached) the dataset in a child process: the runner stays small."""
    run = run_measured([sys.executable, "-m", "benchmarks.generate", str(out_dir), str(rows), str(seed),
                        quarter.label], cwd=REPO_ROOT)
    if run.returncode != 0:
        raise RuntimeError(f"generating {rows:,} dossiers failed (exit {run.returncode})")


def clear_outputs(home: Path) -> None:
    """Everything but the generated inputs, so each run starts from an empty warehouse."""
    for entry in home.iterdir():
        if entry.name not in INPUT_DIRS:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def baselines_agree(home: Path) -> dict:
    """Largest difference between the two baselines' KPI values (they implement one definition)."""
    import pandas as pd


    a = kpi_values(pd.read_parquet(home / "bench" / "duckdb_floor.parquet"))
    b = kpi_values(pd.read_parquet(home / "bench" / "pandas.parquet"))
    m = a.merge(
        b, on=["agency_code", "kpi_code"], how="outer", suffixes=("_duckdb", "_pandas"), indicator=True
    )
    both = m[m["_merge"] == "both"]
    diff = (both["value_duckdb"] - both["value_pandas"]).abs()
    nulls = both["value_duckdb"].isna() != both["value_pandas"].isna()
    return {
        "rows_compared": int(len(both)),
        "unmatched": int((m["_merge"] != "both").sum()),
        "null_mismatches": int(nulls.sum()),
        "max_abs_diff": float(diff.max()) if len(diff.dropna()) else 0.0,
        "agree": bool((m["_merge"] == "both").all() and not nulls.any() and (diff.fillna(0) <= 1e-9).all()),
    }


def measure(rows: int, out_dir: Path, seed: int, quarter: Quarter, keep: bool, log=print) -> dict:
    """Generate/reuse the dataset, run every stage then both baselines; one size's results."""
    cached = (dataset_dir(out_dir, rows, seed, quarter) / MARKER).exists()
    generate_in_child(out_dir, rows, seed, quarter)
    ds = ensure_dataset(out_dir, rows, seed, quarter, log=log)  # generated by now: reads the marker
    log(f"dataset: {ds.rows:,} dossiers, {ds.csv_bytes / 1e9:.2f} GB CSV "
        f"({'cached' if cached else f'generated in {ds.generated_seconds:.0f} s'}) at {ds.home}")
    clear_outputs(ds.home)
    runs: list[StageRun] = []
    try:
        for name in [*STAGES, *BASELINES]:
            log(f"  running {name} ...")
            run = run_in_child(name, ds.home, quarter, out_dir / "logs" / f"rows={rows}")
            log(f"    {run.seconds:.1f} s, peak {run.peak_mb:.0f} MB")
            runs.append(run)
        agreement = baselines_agree(ds.home)
    finally:
        if not keep:
            clear_outputs(ds.home)
    by = {r.name: r for r in runs}
    stage_runs = [by[n] for n in STAGES]
    ingest, floor = by["ingest"], by["ingest_floor"]
    return {
        "rows": ds.rows,
        "csv_bytes": ds.csv_bytes,
        "dataset": str(ds.home),
        "generated_seconds": ds.generated_seconds,
        "generation_cached": cached,
        "stages": [asdict(r) for r in runs],
        "quarter_wall_s": round(sum(r.seconds for r in stage_runs), 2),
        "quarter_process_s": round(sum(r.process_seconds for r in stage_runs), 2),
        "quarter_cpu_s": round(sum(r.cpu_seconds for r in stage_runs), 2),
        "quarter_peak_mb": max(r.peak_mb for r in stage_runs),
        "ingest_vs_floor": round(by["ingest"].seconds / by["ingest_floor"].seconds, 2),
        "quarter_vs_ingest_floor": round(sum(r.seconds for r in stage_runs) / by["ingest_floor"].seconds, 2),
        "quarter_peak_mb_17": max(r.peak_mb for r in stage_runs),
        # the same ratios in CPU seconds (on a shared machine wall time counts others' work too),
        # and the export's own part of the ingest (registry and submissions left out)
        "ingest_floor_ratios": {
            "ingest_cpu": _ratio(ingest.cpu_seconds, floor.cpu_seconds),
            "quarter_cpu": _ratio(sum(r.cpu_seconds for r in stage_runs), floor.cpu_seconds),
            "export_wall": _ratio(ingest.facts.get("portal_seconds"), floor.seconds),
            "export_cpu": _ratio(ingest.facts.get("portal_cpu_seconds"), floor.cpu_seconds),
        },
        "kpi_vs_floor": round(by["kpis"].seconds / by["duckdb_floor"].seconds, 2),
        "pandas_vs_kpi": round(by["pandas"].seconds / by["kpis"].seconds, 2),
        "kpi_peak_vs_pandas": round(by["kpis"].peak_mb / by["pandas"].peak_mb, 3),
        "baselines_agree": agreement,
    }


def _ratio(a: float | None, b: float) -> float | None:
    return None if a is None or not b else round(a / b, 2)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(x.split()[1])
            for x in Path("/proc/meminfo").read_text().splitlines()
            if x.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    import duckdb
    import pandas as pd

    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pd.__version__,
            "platform": platform.platform()}


def _verdict(key: str, value: float | None) -> dict:
    label, op, target = TARGETS[key]
    met = None if value is None else (value <= target if op == "<=" else value >= target)
    return {"key": key, "label": label, "value": value, "target": f"{op} {target:g}", "met": met}


def run_bench(rows: int = DEFAULT_ROWS, out_dir: str | Path = "bench_out", seed: int = DEFAULT_SEED,
              keep: bool = False, scale_check: bool = False, quarter: Quarter = DEFAULT_QUARTER,
              log=print) -> dict:
    """The whole benchmark; returns the report (also written to ``out_dir/bench.json``)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now().replace(microsecond=0)
    load_start = os.getloadavg()
    main = measure(rows, out, seed, quarter, keep, log)
    scaled = measure(rows * 3, out, seed, quarter, keep, log) if scale_check else None
    verdicts = [_verdict(k, main[k]) for k in ("kpi_vs_floor", "pandas_vs_kpi", "kpi_peak_vs_pandas",
                                              "quarter_wall_s", "quarter_peak_mb", "ingest_vs_floor",
                                              "quarter_vs_ingest_floor", "quarter_peak_mb_17")]
    if scaled:
        scaled["time_ratio"] = round(scaled["quarter_wall_s"] / main["quarter_wall_s"], 2)
        scaled["peak_ratio"] = round(scaled["quarter_peak_mb"] / main["quarter_peak_mb"], 2)
        verdicts += [_verdict("scale_time_ratio", scaled["time_ratio"]),
                     _verdict("scale_peak_ratio", scaled["peak_ratio"])]
    report = {
        "started": started.isoformat(),
        "finished": dt.datetime.now().replace(microsecond=0).isoformat(),
        "quarter": quarter.label,
        "seed": seed,
        "machine": machine(),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "main": main,
        "scale": scaled,
        "targets": verdicts,
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    for name in ("bench.json", f"bench_rows={rows}.json"):
        with tempfile.NamedTemporaryFile("w", dir=out, delete=False, suffix=".tmp", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(fh.name, out / name)
    return report


def _fmt_rate(x: float) -> str:
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k" if x >= 1e3 else f"{x:.0f}"


def format_table(report: dict) -> str:
    """The report as a plain-text table (also pasted into docs/performance.md)."""
    lines = []
    m = report["machine"]
    lines.append(
        f"dx_pipeline bench {report['started']}  quarter {report['quarter']}  "
        f"{m['cpus']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, DuckDB {m['duckdb']}, pandas {m['pandas']}"
    )
    lines.append(f"load average at start {report['load_average_start']}, at end {report['load_average_end']}")
    for res in (report["main"], report.get("scale")):
        if not res:
            continue
        lines.append("")
        lines.append(f"{res['rows']:,} dossiers ({res['csv_bytes'] / 1e9:.2f} GB export CSV)")
        head = (
            f"{'stage':<54} {'wall s':>7} {'proc s':>7} {'cpu s':>7} {'rows/s':>9} {'peak MB':>8} {'load':>5}"
        )
        lines.append(head)
        lines.append("-" * len(head))
        first_baseline = next((s["name"] for s in res["stages"] if s["name"] in BASELINES), None)
        for s in res["stages"]:
            if s["name"] == first_baseline:
                cpu = f"{res['quarter_cpu_s']:>7.1f}" if "quarter_cpu_s" in res else f"{'':>7}"
                lines.append(
                    f"{'whole quarter (sum of stages; peak = max)':<54} {res['quarter_wall_s']:>7.1f} "
                    f"{res['quarter_process_s']:>7.1f} {cpu} "
                    f"{_fmt_rate(res['rows'] / res['quarter_wall_s']):>9} {res['quarter_peak_mb']:>8.0f}"
                )
                lines.append("-" * len(head))
            lines.append(
                f"{s['label']:<54} {s['seconds']:>7.1f} {s['process_seconds']:>7.1f} "
                f"{s['cpu_seconds']:>7.1f} "
                f"{_fmt_rate(s['rows_per_s']):>9} {s['peak_mb']:>8.0f} {s['load_before']:>5.1f}"
            )
        agree = res["baselines_agree"]
        lines.append(f"baselines agree: {agree['agree']} ({agree['rows_compared']} agency-KPI values, "
                     f"max |diff| {agree['max_abs_diff']:.2g})")
        r = res.get("ingest_floor_ratios")
        if r:
            lines.append(f"against the ingest floor in CPU seconds: ingest {r['ingest_cpu']}x, whole quarter "
                         f"{r['quarter_cpu']}x; the export's own part of the ingest (no registry, "
                         f"submissions): {r['export_wall']}x wall, {r['export_cpu']}x CPU")
    lines.append("")
    lines.append(f"{'target':<36} {'value':>9} {'target':>9}  verdict")
    for v in report["targets"]:
        verdict = "n/a" if v["met"] is None else "MET" if v["met"] else "MISSED"
        lines.append(f"{v['label']:<36} {v['value']:>9} {v['target']:>9}  {verdict}")
    return "\n".join(lines)
