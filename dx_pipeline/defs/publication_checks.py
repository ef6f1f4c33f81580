"""Blocking checks of what is published: ``ranking_snapshot``, ``rank_uncertainty`` and
``period_rankings``, thin wiring over :mod:`dx_pipeline.app.publication_checks`.

Partitioned like their assets, so each quarter has its own verdict. A defect (a rank out of
order, an interval out of bounds, a period not published) is an ERROR: Dagster then stops what
reads the asset in that quarter (the intervals stop the ranking; the rankings stop the
website). A period combined from fewer quarters than it spans is a WARN. A pass says
``passed`` and nothing about severities; the counts are named with the quarter
(``problems 2025-Q4``), so a metric plot follows one quarter, not every partition mixed.
"""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from dx_pipeline.app.publication_checks import (
    Verdict,
    check_period_rankings,
    check_rank_uncertainty,
    check_ranking_snapshot,
)
from dx_pipeline.defs.partitions import quarterly_partitions, run_quarters
from dx_pipeline.defs.resources import DxResource

PROBLEMS_SHOWN = 50


def outcome_text(passed: bool, severity: AssetCheckSeverity) -> str:
    """What a check result means, in words (the UI shows a result's severity next to it)."""
    if passed:
        return "passed"
    if severity == AssetCheckSeverity.ERROR:
        return "failed: ERROR, blocks what reads this asset in this quarter"
    return "failed: WARN, shown, does not block"


def _range_result(verdicts: list[Verdict]) -> AssetCheckResult:
    """One result for the quarters of a range run: passed only if every quarter passed,
    each quarter's counts and problems named with it."""
    if len(verdicts) == 1:
        return _result(verdicts[0])
    errors = [f"{v.quarter.label}: {p}" for v in verdicts for p in v.errors]
    warnings = [f"{v.quarter.label}: {p}" for v in verdicts for p in v.warnings]
    first, last = verdicts[0].quarter, verdicts[-1].quarter
    combined = Verdict(
        quarter=first, text=" ".join(f"{v.quarter.label}: {v.text}" for v in verdicts),
        errors=errors, warnings=warnings,
    )
    result = _result(combined)
    metadata = dict(result.metadata or {})
    metadata["quarter"] = MetadataValue.text(f"{first.label}..{last.label}")
    for v in verdicts:
        metadata.update({f"{name} {v.quarter.label}": MetadataValue.int(n) for name, n in v.counts.items()})
    return AssetCheckResult(passed=result.passed, severity=result.severity,
                            description=result.description, metadata=metadata)


def _result(verdict: Verdict) -> AssetCheckResult:
    """A verdict as Dagster shows it: outcome, the quarter, counts named with it, problems."""
    severity = AssetCheckSeverity.ERROR if verdict.errors else AssetCheckSeverity.WARN
    label = verdict.quarter.label
    problems = verdict.errors + verdict.warnings
    return AssetCheckResult(
        passed=verdict.passed,
        severity=severity,
        description=verdict.text,
        metadata={
            "outcome": MetadataValue.text(outcome_text(verdict.passed, severity)),
            "quarter": MetadataValue.text(label),
            **{f"{name} {label}": MetadataValue.int(n) for name, n in verdict.counts.items()},
            "problems": MetadataValue.md(
                "\n".join(f"- {p}" for p in problems[:PROBLEMS_SHOWN]) or "_none_"),
        },
    )


@asset_check(
    asset="ranking_snapshot",
    name="ranking_snapshot_ranks_consistent",
    blocking=True,
    partitions_def=quarterly_partitions,
    description="Mỗi đơn vị một dòng cho mỗi bộ chỉ số; điểm không vượt điểm tối đa; hạng liên tục từ 1 "
    "trong từng nhóm theo quy tắc đồng hạng. / One row per agency and framework, points within "
    "their maximum, ranks 1..n within each framework and peer group under its tie rule.",
)
def ranking_snapshot_ranks_consistent(
    context: AssetCheckExecutionContext, dx: DxResource
) -> AssetCheckResult:
    """Check the quarter's stored ranking before its website is built."""
    return _range_result([check_ranking_snapshot(dx.settings(), q) for q in run_quarters(context)])


@asset_check(
    asset="rank_uncertainty",
    name="rank_uncertainty_intervals_ordered",
    blocking=True,
    partitions_def=quarterly_partitions,
    description="Khoảng hạng có thứ tự (P5 ≤ trung vị ≤ P95) và nằm trong 1..số đơn vị của nhóm. / "
    "Every rank interval is ordered (p05 ≤ median ≤ p95) and within 1..the size of its group; "
    "published ranks outside their interval are counted, not failed.",
)
def rank_uncertainty_intervals_ordered(
    context: AssetCheckExecutionContext, dx: DxResource
) -> AssetCheckResult:
    """Check the quarter's rank intervals before the ranking publishes them."""
    return _range_result([check_rank_uncertainty(dx.settings(), q) for q in run_quarters(context)])


@asset_check(
    asset="period_rankings",
    name="period_rankings_complete",
    blocking=True,
    partitions_def=quarterly_partitions,
    description="Kỳ 6 tháng / cả năm kết thúc cùng quý đã công bố, mỗi đơn vị một dòng, hạng đúng; đủ "
    "các quý của kỳ (thiếu quý: cảnh báo). / The half-year and year closing with the quarter are "
    "published, one row per agency and framework, ranks sound; every quarter of the period "
    "combined (a missing quarter: WARN).",
)
def period_rankings_complete(context: AssetCheckExecutionContext, dx: DxResource) -> AssetCheckResult:
    """Check the periods published with the quarter before their website is built."""
    return _range_result([check_period_rankings(dx.settings(), q) for q in run_quarters(context)])


PUBLICATION_CHECKS = [
    ranking_snapshot_ranks_consistent, rank_uncertainty_intervals_ordered, period_rankings_complete]
"""Add to ``Definitions(asset_checks=...)`` next to the quality checks."""
