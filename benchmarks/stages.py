"""The quarter's stages as the Dagster assets run them, callable one per process.

Each function does what the matching asset (or asset check) body in
:mod:`dx_pipeline.defs.assets` / :mod:`dx_pipeline.defs.checks` does - same domain calls, same
partitions written - minus Dagster, and returns ``{"rows": ..., ...}`` facts for the table.
``python -m benchmarks.stages STAGE HOME QUARTER RESULT_JSON`` runs one stage in a
fresh process: imports happen first, then only the stage itself is timed, so the runner can
report the stage's wall time and the process's own peak memory separately.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.baselines import duckdb_floor, ingest_floor, pandas_kpis
from benchmarks.memory import own_peak_mb
from dx_pipeline.app.period import publish_periods_closing_with
from dx_pipeline.app.quarter import publish_quarter
from dx_pipeline.app.settings import Settings
from dx_pipeline.app.site import build_quarter_sites
from dx_pipeline.index.quarter_scoring import (
    kpi_long,
    provincial_frameworks,
    score_quarter,
)
from dx_pipeline.index.uncertainty import rank_uncertainty as simulate
from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.publish.appraisal import computed_record
from dx_pipeline.publish.exports import build_bi_database
from dx_pipeline.quality.results import write_dq_results
from dx_pipeline.quality.runner import run_suite
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import load_registry
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline.storage.parquet import parquet_file, partition_path

INPUT_SUITES = ("agencies", "portal_dossiers", "agency_submissions")
OUTPUT_SUITES = ("agency_kpis", "index_scores")


def _dossier_rows(home: DxHome, q: Quarter) -> int:
    return parquet_file(partition_path(home, "portal_dossiers", q)).metadata.num_rows


def _try_read(home: DxHome, table: str, q: Quarter) -> pd.DataFrame | None:
    try:
        return read_partition(home, table, q)
    except FileNotFoundError:
        return None


def _timed_portal(home: DxHome, q: Quarter) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = ingest_portal_files(home, q)
    return result, time.perf_counter() - t0


def ingest(home: DxHome, q: Quarter) -> dict:
    """agencies, then portal_dossiers (from the export CSV) and agency_submissions side by side.

    The two depend on agencies alone, so the quarter job's multiprocess executor runs them at
    the same time (up to one step per CPU); here the export is read on a thread (DuckDB works
    outside the GIL) while the submissions are read on this one. ``portal_cpu_seconds`` is the
    process's CPU less this thread's own (the submissions)."""

    registry = load_registry(home.registry_file)
    write_partition(home, "agencies", q, registry)
    cpu0 = os.times()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal_dossiers") as pool:
        portal = pool.submit(_timed_portal, home, q)
        own0 = time.thread_time()
        subs = ingest_submissions(home, q, read_partition(home, "agencies", q),
                                  reporting_db_url=Settings(home).reporting_db())
        write_partition(home, "agency_submissions", q, subs.accepted)
        write_partition(home, "submission_rejects", q, subs.rejects)
        submissions_cpu = time.thread_time() - own0
        result, portal_seconds = portal.result()
    cpu1 = os.times()
    process_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    # the export's own part (what the ingest floor does), beside registry and submissions
    return {"rows": result.dossier_rows, "rejected_rows": result.rejected_rows,
            "submission_rows": len(subs.accepted),
            "typed_scan": not any("typed scan" in n for n in result.notes),
            "portal_seconds": round(portal_seconds, 2),
            "portal_cpu_seconds": round(max(process_cpu - submissions_cpu, 0.0), 2),
            "submissions_cpu_seconds": round(submissions_cpu, 2)}


def _run_suites(home: DxHome, q: Quarter, datasets) -> dict:
    outcomes = []
    for dataset in datasets:
        outcomes += run_suite(dataset, home, q)
    write_dq_results(home, q, outcomes, run_id="bench")
    return {
        "checks": len(outcomes),
        "failed": sorted(f"{o.dataset}.{o.check}" for o in outcomes if not o.passed),
    }


def quality(home: DxHome, q: Quarter) -> dict:
    """The input datasets' suites (the ones that gate the KPIs), written to dq_results."""
    return {"rows": _dossier_rows(home, q), **_run_suites(home, q, INPUT_SUITES)}


def kpis(home: DxHome, q: Quarter) -> dict:
    """agency_kpis: dossier and procedure KPIs, rolled up, with submissions and targets."""

    registry = read_partition(home, "agencies", q)
    submissions = read_partition(home, "agency_submissions", q)
    table = compute_agency_kpis(home, q, registry, submissions)
    write_partition(home, "agency_kpis", q, table)
    return {"rows": _dossier_rows(home, q), "kpi_rows": len(table)}


def _score(home: DxHome, q: Quarter):
    return score_quarter(
        q,
        read_partition(home, "agency_kpis", q),
        read_partition(home, "agencies", q),
        previous_kpis=_try_read(home, "agency_kpis", q.previous()),
        previous_ranking=_try_read(home, "ranking_snapshot", q.previous()),
    )


def scores(home: DxHome, q: Quarter) -> dict:
    """index_scores and rank_uncertainty (the ranking itself is computed with the scores)."""

    scored = _score(home, q)
    write_partition(home, "index_scores", q, scored.scores)
    registry = read_partition(home, "agencies", q)
    data = kpi_long(read_partition(home, "agency_kpis", q))
    frames = [simulate(fw, data, registry, quarter=q) for fw in provincial_frameworks(q, registry)]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True)
    write_partition(home, "rank_uncertainty", q, table)
    return {"rows": len(data), "score_rows": len(scored.scores), "ranked": len(scored.ranking),
            "uncertainty_rows": len(table)}


def publication(home: DxHome, q: Quarter) -> dict:
    """The output suites, then what the publish_rankings asset does for one quarter: the
    stored scores ranked and published as a ``computed`` revision
    (:func:`~dx_pipeline.app.quarter.publish_quarter`), the half-year and year that close with
    the quarter published after it, and the BI database."""

    checks = _run_suites(home, q, OUTPUT_SUITES)
    settings, trigger = Settings(home=home), {"by": "bench"}
    published = publish_quarter(settings, q, trigger, "benchmark", appraisal=computed_record())
    periods = publish_periods_closing_with(settings, q, trigger, computed_record())
    build_bi_database(home)
    pub = published.publication
    return {"rows": published.ranking.rows, "revision": pub.revision, "new_revision": pub.created,
            "periods": [p.period.label for p in periods], **checks}


def site(home: DxHome, q: Quarter) -> dict:
    """The portal_site asset and its link check: the DX portal site of every revision of the
    quarter (and of the periods closing with it) that agencies may see. The quarter job
    publishes ``computed`` revisions, which stay private until the appraisal makes them
    provisional, so this builds no page here; building one is timed by the incremental
    appraisal case (``benchmarks/incremental.py``), where it happens."""
    built = build_quarter_sites(Settings(home=home), q)
    return {"rows": sum(b.agencies for b in built.built), "pages": sum(b.pages for b in built.built),
            "private": built.private, "broken_links": len(built.broken)}


def _keep_wide(home: DxHome, name: str, result: dict) -> dict:
    """Save a baseline's per-agency result beside the warehouse, for the runner to compare."""
    wide = result.pop("wide")
    folder = home.root / "bench"
    folder.mkdir(exist_ok=True)
    wide.to_parquet(folder / f"{name}.parquet", index=False)
    return result


def export_floor(home: DxHome, q: Quarter) -> dict:
    """DuckDB's own CSV -> Parquet of the quarter's export (:func:`baselines.ingest_floor`)."""
    folder = home.root / "bench"
    folder.mkdir(exist_ok=True)
    return ingest_floor(home, q, folder / "ingest_floor.parquet")


def floor(home: DxHome, q: Quarter) -> dict:
    return {"rows": _dossier_rows(home, q), **_keep_wide(home, "duckdb_floor", duckdb_floor(home, q))}


def pandas(home: DxHome, q: Quarter) -> dict:
    return {"rows": _dossier_rows(home, q), **_keep_wide(home, "pandas", pandas_kpis(home, q))}


STAGES = {
    "ingest": ingest,
    "quality": quality,
    "kpis": kpis,
    "scores": scores,
    "publication": publication,
    "site": site,
}
BASELINES = {"ingest_floor": export_floor, "duckdb_floor": floor, "pandas": pandas}

# What each process imports before its clock starts (Dagster pays these once per worker).
WARM_IMPORTS = {
    "ingest": ("dx_pipeline.sources.portal_files", "dx_pipeline.sources.submissions"),
    "quality": ("great_expectations", "dx_pipeline.quality.runner", "dx_pipeline.quality.results"),
    "kpis": ("dx_pipeline.kpis.compute",),
    "scores": ("dx_pipeline.index.quarter_scoring", "dx_pipeline.index.uncertainty"),
    "publication": ("great_expectations", "dx_pipeline.quality.runner", "dx_pipeline.publish"),
    "site": ("dx_pipeline.app.site",),
    "ingest_floor": ("duckdb", "dx_pipeline.sources.portal_files"),
    "duckdb_floor": ("duckdb",),
    "pandas": ("pandas", "pyarrow.parquet"),
}


def main(argv: list[str]) -> int:
    name, home_dir, quarter, result_file = argv
    func = {**STAGES, **BASELINES}[name]
    for module in WARM_IMPORTS.get(name, ()):
        importlib.import_module(module)
    home, q = DxHome.local(home_dir), Quarter.parse(quarter)
    cpu0, t0 = os.times(), time.perf_counter()
    facts = func(home, q)
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    facts.update(seconds=seconds, cpu_seconds=(cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
                 own_peak_mb=round(own_peak_mb(), 1))
    Path(result_file).write_text(json.dumps(facts, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
