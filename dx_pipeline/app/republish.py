"""Republishing a quarter after a late or corrected submission file, without its dossiers.

Why: a submission file that lands after the quarter ran changes a handful of agency-level rows,
yet the quarter job runs every stage again, the portal ingest re-reading the whole export (34 s
of a 52 s quarter at 10M dossiers). Nothing a submission carries can change the dossiers, so
here only the stages it reaches run again, in the order the quarter job runs them: the
submissions (and their quality suite), the KPIs (whose dossier scan is reused while the portal
partitions are the same bytes, :mod:`dx_pipeline.kpis.portal_cache`), the plan scorecard, the
scores with the verdicts in force, the rank uncertainty, the output suites, the blocking
reproducibility check and the publication. The result is the one a full run of the quarter
gives (the app layer's ``test_republish`` compares the bytes).

An appraisal workbook or an accepted appeal needs even less: :mod:`dx_pipeline.app.appraisal`
re-scores from the stored ``agency_kpis`` and publishes, never reading a dossier.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dx_pipeline.app.quarter import (
    KpisComputed,
    QuarterPublished,
    compute_quarter_kpis,
    ingest_quarter_submissions,
    publish_quarter,
    run_quality_suite,
    score_against_plans,
    score_quarter_kpis,
    scores_reproduce,
    simulate_rank_uncertainty,
)
from dx_pipeline.app.settings import Settings
from dx_pipeline.publish.exports import build_bi_database
from dx_pipeline.quality.runner import CheckOutcome
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_client import landed_pages
from dx_pipeline.sources.portal_files import find_export_files
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.home import is_remote
from dx_pipeline.storage.parquet import partition_path

LATE_REASON = "late or corrected submission taken in"
LATE_REASON_VI = "tiếp nhận báo cáo nộp muộn hoặc bổ sung"

T = TypeVar("T")


@dataclass(frozen=True)
class Republished:
    """The new publication, the KPI stage's record (was the dossier scan reused?) and the
    seconds of each step, in the order they ran."""

    published: QuarterPublished
    kpis: KpisComputed
    steps: dict[str, float] = field(default_factory=dict)


def republish_after_submissions(
    settings: Settings, quarter: Quarter | str, trigger: dict[str, Any], run_id: str = "republish",
    reason: str = LATE_REASON, reason_vi: str = LATE_REASON_VI,
) -> Republished:
    """Take in the quarter's inbox and reporting database again and republish the quarter from
    its stored portal partitions (refused, naming the command, when they were never ingested)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    home = settings.home
    for table in ("agencies", "portal_dossiers", "procedures"):
        if not partition_path(home, table, q).exists():
            raise FileNotFoundError(
                f"{q.label} has no {table} partition: a republication reuses the quarter's ingested "
                f"dossiers, so run the whole quarter first (dx-pipeline run --quarter {q.label})"
            )
    steps: dict[str, float] = {}

    def step(name: str, call: Callable[[], T]) -> T:
        t0 = time.perf_counter()
        out = call()
        steps[name] = round(time.perf_counter() - t0, 3)
        return out

    def quality(dataset: str) -> None:
        """The dataset's suite, stopping here on a failed blocking check, as Dagster would."""
        outcomes, _ = step(f"quality {dataset}", lambda: run_quality_suite(settings, q, dataset, run_id))
        _stop_on_blocking(q, dataset, outcomes)

    step("agency_submissions", lambda: ingest_quarter_submissions(settings, q))
    quality("agency_submissions")
    kpis = step("agency_kpis", lambda: compute_quarter_kpis(settings, q))
    step("plan_scorecard", lambda: score_against_plans(settings, q))
    step("index_scores", lambda: score_quarter_kpis(settings, q))
    step("rank_uncertainty", lambda: simulate_rank_uncertainty(settings, q))
    quality("agency_kpis")
    quality("index_scores")
    reproduced, why = step("index_scores_reproducible", lambda: scores_reproduce(settings, q))
    if not reproduced:
        raise RuntimeError(f"not republished: {why}")
    published = step("publish", lambda: publish_quarter(settings, q, trigger, reason, reason_vi))
    step("bi_database", lambda: build_bi_database(home))
    return Republished(published, kpis, steps)


def dossiers_current(home: DxHome, quarter: Quarter | str) -> bool:
    """Whether a republication may reuse the quarter's ingested dossiers: its ``agencies``,
    ``portal_dossiers`` and ``procedures`` partitions are local files and no portal export
    file or landed page of the quarter changed after the dossier partition was written (a
    newer export must be ingested: the whole quarter runs). Stat only, nothing is read; a
    remote warehouse or any doubt answers False."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    parts = [partition_path(home, table, q) for table in ("agencies", "portal_dossiers", "procedures")]
    local = [Path(str(p)) for p in parts if not is_remote(p)]
    if len(local) < len(parts) or not all(p.exists() for p in local):
        return False
    written = local[1].stat().st_mtime_ns
    try:
        dossiers, procedures = find_export_files(home.portal_exports, q)
        inputs = [*dossiers, *procedures, *landed_pages(home, q)]
        return all(p.lstat().st_mtime_ns < written and p.lstat().st_ctime_ns < written for p in inputs)
    except (OSError, ValueError):
        return False


class BlockedByQuality(RuntimeError):
    """A blocking quality check failed: the quarter is not republished."""


def _stop_on_blocking(quarter: Quarter, dataset: str, outcomes: list[CheckOutcome]) -> None:
    """Refuse to go on past a failed ERROR check (the quarter job's checks are blocking)."""
    failed = [o for o in outcomes if o.blocking]
    if failed:
        named = "; ".join(f"{o.check}: {o.observed} (expected {o.expected})" for o in failed)
        raise BlockedByQuality(f"{quarter.label} not republished: {dataset} failed {named} "
                               f"(see the quarter's data-quality report)")
