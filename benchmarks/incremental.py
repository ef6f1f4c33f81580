"""Incremental republication (issue 17 item 2): a file lands after the quarter ran; how long until
the new published revision?

Cases, each ``python -m benchmarks.cases CASE HOME RESULT_JSON`` in a fresh process (inputs
prepared before the clock, as every case):

- ``incremental_full``: the whole quarter through the app-layer stages the Dagster assets call
  (registry, portal ingest, submissions, the input suites, KPIs, plan scorecard, scores, rank
  uncertainty, output suites, reproducibility check, publication, BI database): the baseline,
  and what the quarter job did for every late file until now.
- ``incremental_late``: a late submission lands in the inbox (:func:`land_late_submission`,
  before the clock); timed: :func:`dx_pipeline.app.republish.republish_after_submissions`.
- ``incremental_appraisal``: the evaluator's workbook is exported and one verdict filled in
  (before the clock); timed: importing it (verdicts recorded, quarter re-scored) and publishing
  the provisional revision with its site, the two commands an operator runs.

``seconds_to_revision`` is when the new revision's manifest was written (its folder is renamed
into place right after), measured from the clock's start: what the targets are judged on. The
case's ``seconds`` also include what follows the revision (the BI database; the site and its
link check after a provisional publication).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import time
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from dx_pipeline.app import appraisal as ap
from dx_pipeline.app import quarter as stages
from dx_pipeline.app.republish import republish_after_submissions
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.workbook import HEADER_ROWS, KEYS, SHEET
from dx_pipeline.publish.exports import build_bi_database
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import active_agencies
from dx_pipeline.storage import DxHome, read_partition

LATE_REPORT_DATE = "28/07/2025"
"""Thirteen days after the 2025-Q2 deadline (15 days after the quarter's end)."""
INPUT_SUITES = ("agencies", "portal_dossiers", "agency_submissions")
EVALUATOR = "bench evaluator"
WARM_IMPORTS = ("great_expectations", "dx_pipeline.quality.runner", "dx_pipeline.publish",
                "dx_pipeline.app.site", "openpyxl")
"""Imported before the clock, as a worker has them loaded (the quarter stages' convention)."""


def _to_revision(publication: Any, t0: float) -> float:
    """Seconds from ``t0`` (``time.time()``) to the revision's manifest being written: the
    moment the revision exists (its folder is renamed into place right after)."""
    return round((publication.path / "manifest.json").stat().st_mtime - t0, 3)


def _warm() -> None:
    for module in WARM_IMPORTS:
        importlib.import_module(module)


def land_late_submission(home: DxHome, quarter: Quarter) -> tuple[Path, str]:
    """Drop a late first report into the quarter's inbox: a CSV file of an active agency that
    has not reported, made from a reporting agency's file of the same level (its code and report
    date replaced, bytes otherwise kept). Returns the file and the agency."""
    registry = read_partition(home, "agencies", quarter)
    level = dict(zip(registry["agency_code"].astype(str), registry["level"].astype(str), strict=True))
    reporting = set(read_partition(home, "agency_submissions", quarter)["agency_code"].astype(str))
    active = active_agencies(registry, quarter)
    silent = active[~active["agency_code"].astype(str).isin(reporting) & (active["level"] != "province")]
    for source in sorted(home.inbox_for(quarter).glob("*.csv")):
        code = source.name.split("_")[1]
        same_level = silent["level"].astype(str) == level.get(code)
        candidates = sorted(silent.loc[same_level, "agency_code"].astype(str))
        if candidates:
            agency = candidates[0]
            data = re.sub(rb"(?m)^" + re.escape(code.encode()) + rb"([;,][^;,\n]*[;,])\d{2}/\d{2}/\d{4}",
                          agency.encode() + rb"\g<1>" + LATE_REPORT_DATE.encode(), source.read_bytes())
            target = source.with_name(f"BC-CDS_{agency}_{quarter.label}.csv")
            target.write_bytes(data)
            return target, agency
    raise ValueError(f"{quarter.label}: no CSV report in the inbox of a level with a silent agency")


def run_full_quarter(settings: Settings, quarter: Quarter, trigger: dict[str, Any]) -> dict:
    """Every stage of the quarter, in the quarter job's order; facts for the table."""
    stages.load_agencies(settings, quarter)
    portal = stages.ingest_portal(settings, quarter)
    stages.ingest_quarter_submissions(settings, quarter)
    for dataset in INPUT_SUITES:
        stages.run_quality_suite(settings, quarter, dataset, "full")
    kpis = stages.compute_quarter_kpis(settings, quarter)
    stages.score_against_plans(settings, quarter)
    stages.score_quarter_kpis(settings, quarter)
    stages.simulate_rank_uncertainty(settings, quarter)
    for dataset in ("agency_kpis", "index_scores"):
        stages.run_quality_suite(settings, quarter, dataset, "full")
    reproduced, why = stages.scores_reproduce(settings, quarter)
    if not reproduced:
        raise RuntimeError(why)
    published = stages.publish_quarter(settings, quarter, trigger)
    build_bi_database(settings.home)
    return {"rows": portal.dossier_rows, "revision": published.publication.revision,
            "portal_kpis_reused": kpis.portal_kpis_reused}


def full_case(home_dir: str) -> tuple[dict, Any]:
    settings, q = Settings(DxHome.local(home_dir)), Quarter.parse("2025-Q2")
    _warm()
    return {"quarter": q.label}, lambda: run_full_quarter(settings, q, {"by": "bench"})


def late_case(home_dir: str) -> tuple[dict, Any]:
    settings, q = Settings(DxHome.local(home_dir)), Quarter.parse("2025-Q2")
    _warm()
    path, agency = land_late_submission(settings.home, q)

    def run() -> dict:
        t0 = time.time()
        done = republish_after_submissions(settings, q, {"by": "bench", "file": path.name})
        return {"revision": done.published.publication.revision,
                "seconds_to_revision": _to_revision(done.published.publication, t0),
                "new_revision": done.published.publication.created,
                "portal_kpis_reused": done.kpis.portal_kpis_reused, "steps": done.steps}

    return {"file": path.name, "agency": agency}, run


def fill_one_verdict(workbook: Path, out: Path) -> tuple[str, str, str]:
    """Set the first scored rate indicator with points below its maximum to 0 (adjust_value),
    as an evaluator fills the workbook; returns (framework, agency, node) of that row."""
    col = {k: i + 1 for i, k in enumerate(KEYS)}
    wb = load_workbook(workbook)
    ws: Any = wb[SHEET]
    for r in range(HEADER_ROWS + 1, ws.max_row + 1):
        cell = {k: ws.cell(r, col[k]).value for k in KEYS}
        if cell["unit"] == "ratio" and 0 < (cell["reported_points"] or 0) < cell["max_points"]:
            ws.cell(r, col["verdict"]).value = "Điều chỉnh giá trị - adjust_value"
            ws.cell(r, col["adjusted_value"]).value = 0.0
            ws.cell(r, col["reason"]).value = "Biên bản kiểm tra (bench)"
            wb.save(out)
            return str(cell["framework_id"]), str(cell["agency_code"]), str(cell["node_id"])
    raise ValueError(f"{workbook.name}: no rate indicator with points below its maximum")


def appraisal_case(home_dir: str) -> tuple[dict, Any]:
    settings, q = Settings(DxHome.local(home_dir)), Quarter.parse("2025-Q2")
    _warm()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    exported = ap.export_workbook(settings, q, None, EVALUATOR, now=now - dt.timedelta(minutes=5))
    filled = exported.path.with_name(f"da-tham-dinh-{q.label}.xlsx")
    row = fill_one_verdict(exported.path, filled)

    def run() -> dict:
        t0 = time.time()
        imported = ap.import_workbook(settings, filled, EVALUATOR, q.label, now=now)
        imported_s = time.time() - t0
        published = ap.publish_provisional(settings, q, EVALUATOR, now=now)
        return {"verdicts": len(imported.recorded.ids), "revision": published.publication.revision,
                "import_seconds": round(imported_s, 3),
                "seconds_to_revision": _to_revision(published.publication, t0),
                "new_revision": published.publication.created, "site_pages": sum(
                    b.pages for b in published.sites.built)}

    return {"workbook_rows": exported.rows, "adjusted": "/".join(row)}, run
