"""Data-quality asset checks, generated from the suites in :mod:`dx_pipeline.quality.suites`.

One ``@multi_asset_check`` per dataset, with one partitioned check spec per named check, so a
dataset's partition is scanned once (DuckDB + GX, see :mod:`dx_pipeline.quality.runner`) and
every check still shows in the UI under its own name.

Every check whose severity beyond its tolerance is ERROR is declared ``blocking``; the
*result's* severity is decided by the observed failing rows against the check's tolerance
(:mod:`dx_pipeline.quality.suites`): within it a failed check is a WARN, beyond it an ERROR.
Dagster blocks only on a failed, blocking result with severity ERROR
(``dagster/_core/execution/plan/execute_step.py``), so a few duplicate dossiers are shown and
recorded while the quarter goes on, and a broken export stops the assets below the dataset
(KPIs, scores, the ranking) for that quarter. Each execution writes the dataset's rows of
``dq_results`` (with the severity that applied and the tolerance), reports that as a
materialization of the ``dq_results`` asset, and refreshes the quarter's HTML report.

``index_scores_reproducible`` and ``portal_site_links_resolve`` are not suites: the ranking is
published from the stored scores, so before it is, the scores must still follow from the
stored KPIs; and a published site must have no link that leads nowhere. Nor are the
appraisal's: every verdict in force is about a scored indicator
(``quarter_appraisal_on_scored_units``, on the appraisal: it blocks the provisional and the
final revision, and the provisional and approval jobs run it first), and every approval
follows a published provisional revision and every final revision has an approval
(``final_result_approval_after_provisional``: it blocks the site built after it).
"""


from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetMaterialization,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from dx_pipeline.app.appraisal_checks import approvals_follow_provisional, verdicts_on_scored_units
from dx_pipeline.app.quarter import (
    quality_report_path,
    run_quality_suite,
    scorecard_coverage,
    scores_reproduce,
)
from dx_pipeline.app.site import quarter_site_links
from dx_pipeline.defs.metadata import written_metadata
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions, run_quarters
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.index.period_scoring import periods_closing_with
from dx_pipeline.quality.runner import CheckOutcome
from dx_pipeline.quality.suites import SUITES, DatasetSuite, Severity
from dx_pipeline.reference.quarters import Period, Quarter

SAMPLE_CELL_CHARS = 40


def with_periods(quarter: Quarter) -> list[Period]:
    """The quarter and the half-year and year that close with it: each has its own appraisal."""
    return [Period.parse(quarter), *periods_closing_with(quarter)]


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_no failing rows_"
    cols = list(rows[0].keys())

    def cell(v: Any) -> str:
        text = "" if v is None else str(v)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= SAMPLE_CELL_CHARS else text[: SAMPLE_CELL_CHARS - 1] + "…"

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _severity(severity: str) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if severity == Severity.ERROR.value else AssetCheckSeverity.WARN


def _check_specs(spec: DatasetSuite) -> list[AssetCheckSpec]:
    """One partitioned check spec per named check of the suite, with its tolerance."""
    deps = [AssetKey(d) for d in spec.reads if d != spec.dataset]
    return [
        AssetCheckSpec(
            name=check.name,
            asset=AssetKey(spec.dataset),
            description=f"[{check.tolerance_text}] {check.description}",
            blocking=check.blocking,
            additional_deps=deps,
            partitions_def=quarterly_partitions,
            metadata={
                "severity_beyond_tolerance": str(check.severity),
                "tolerance": check.tolerance_text,
                "tolerance_why": check.tolerance.why,
                "expectation": check.expected,
            },
        )
        for check in spec.checks
    ]


def _outcome(o: CheckOutcome) -> str:
    """The result in words: a pass reads as a pass, a failure says whether it blocks."""
    if o.passed:
        return "passed"
    if o.severity == Severity.ERROR.value:
        return "failed: ERROR beyond tolerance, blocks what reads this dataset in this quarter"
    return "failed: WARN within tolerance, recorded, does not block"


def _check_result(dataset: str, o: CheckOutcome, report: Path, quarter: Quarter) -> AssetCheckResult:
    """A check's outcome as Dagster shows it: verdict, severity that applied, counts, sample."""
    return AssetCheckResult(
        asset_key=AssetKey(dataset),
        check_name=o.check,
        passed=bool(o.passed),
        severity=_severity(o.severity),
        description=o.description,
        metadata={
            "observed": MetadataValue.text(o.observed),
            "expected": MetadataValue.text(o.expected),
            # named with the quarter: the UI plots each numeric key across executions, so one
            # key per quarter keeps one quarter's line apart from the others
            f"failing_rows {quarter.label}": MetadataValue.int(int(o.failing_rows)),
            f"checked_rows {quarter.label}": MetadataValue.int(int(o.checked)),
            f"allowed_failing_rows {quarter.label}": MetadataValue.int(int(o.allowed)),
            # a pass has no severity to speak of; a failure says which applied
            "severity": MetadataValue.text(o.severity if not o.passed else "none (passed)"),
            "outcome": MetadataValue.text(_outcome(o)),
            "quarter": MetadataValue.text(quarter.label),
            "evaluated_by": MetadataValue.text(o.engine),
            "failing_sample": MetadataValue.md(_markdown_table(o.sample)),
            "report": MetadataValue.path(str(report)),
        },
    )


def build_dataset_checks(spec: DatasetSuite) -> AssetChecksDefinition:
    """The multi-asset check that runs ``spec`` on one quarter partition of its dataset."""

    @multi_asset_check(
        name=f"{spec.dataset}_quality",
        specs=_check_specs(spec),
        description=(
            f"Data-quality suite of {spec.dataset} (DuckDB over the partition, Great Expectations 1.x)"
        ),
        compute_kind="great_expectations",
    )
    def _checks(context: AssetCheckExecutionContext, dx: DxResource) -> Iterator[AssetCheckResult]:
        settings, quarter = dx.settings(), quarter_of(context.partition_key)
        outcomes, written = run_quality_suite(settings, quarter, spec.dataset, context.run.run_id)
        report = quality_report_path(settings, quarter)
        context.op_execution_context.log_event(
            AssetMaterialization(
                asset_key="dq_results",
                partition=context.partition_key,
                metadata={**written_metadata(written), "dataset": spec.dataset,
                          "report": MetadataValue.path(str(report))},
            )
        )
        for o in outcomes:
            yield _check_result(spec.dataset, o, report, quarter)

    return _checks


@asset_check(
    asset="index_scores",
    name="index_scores_reproducible",
    blocking=True,
    partitions_def=quarterly_partitions,
    additional_deps=["agency_kpis", "agencies"],
    description="Điểm đã lưu khớp với điểm tính lại từ KPI đã lưu. / The stored scores are what "
    "the stored KPIs give today: the ranking is published from them.",
)
def index_scores_reproducible(context: AssetCheckExecutionContext, dx: DxResource) -> AssetCheckResult:
    """Recompute the quarter's scores from its stored KPIs and compare."""
    ok, text = scores_reproduce(dx.settings(), quarter_of(context.partition_key))
    return AssetCheckResult(
        passed=ok,
        severity=AssetCheckSeverity.ERROR,
        description=text,
        metadata={"quarter": quarter_of(context.partition_key).label},
    )


@asset_check(
    asset="portal_site",
    name="portal_site_links_resolve",
    blocking=True,
    partitions_def=quarterly_partitions,
    description="Mọi liên kết của trang công bố đều dẫn tới một tệp của trang, không có gì từ bên "
    "ngoài. / Every link of the published site resolves to one of its files; nothing is fetched "
    "from elsewhere.",
)
def portal_site_links_resolve(context: AssetCheckExecutionContext, dx: DxResource) -> AssetCheckResult:
    """Read the quarter's built sites back and list every link that does not resolve."""
    checked, broken = quarter_site_links(dx.settings(), quarter_of(context.partition_key))
    rows = [{"page": b.page, "link": b.href, "problem": b.problem} for b in broken[:50]]
    return AssetCheckResult(
        passed=not broken,
        severity=AssetCheckSeverity.ERROR,
        description=f"{checked} site(s) checked, {len(broken)} broken link(s)",
        metadata={"sites_checked": MetadataValue.int(checked),
                  "broken_links": MetadataValue.int(len(broken)),
                  "first_broken": MetadataValue.md(_markdown_table(rows))},
    )


def _markdown_list(items: list[str], limit: int = 50) -> MetadataValue:
    """At most ``limit`` items as a Markdown list (the UI shows it under the check)."""
    return MetadataValue.md("\n".join(f"- {p}" for p in items[:limit]) or "none")


@asset_check(
    asset="quarter_appraisal",
    name="quarter_appraisal_on_scored_units",
    blocking=True,
    partitions_def=quarterly_partitions,
    description="Mọi kết quả thẩm định đang hiệu lực đều về một chỉ tiêu đã được tính điểm. / Every "
    "evaluator's verdict in force is about an indicator of an agency the quarter scored.",
)
def quarter_appraisal_on_scored_units(
    context: AssetCheckExecutionContext, dx: DxResource
) -> AssetCheckResult:
    """List the verdicts in force about an agency or indicator the stored scores lack."""
    quarter = quarter_of(context.partition_key)
    # the quarter's verdicts, and those of the half-year and year closing with it
    outcomes = [(p, *verdicts_on_scored_units(dx.settings(), p)) for p in with_periods(quarter)]
    ok = all(passed for _, passed, _, _ in outcomes)
    text = " ".join(f"{p.label}: {t}" if p.kind != "quarter" else t for p, _, t, _ in outcomes)
    problems = [f"{p.label} {x}" for p, _, _, found in outcomes for x in found]
    return AssetCheckResult(passed=ok, severity=AssetCheckSeverity.ERROR, description=text,
                            metadata={"problems": _markdown_list(problems)})


@asset_check(
    asset="final_result",
    name="final_result_approval_after_provisional",
    blocking=True,
    partitions_def=quarterly_partitions,
    description="Mỗi phê duyệt đều sau một kết quả tạm thời đã công bố; mỗi bản chính thức đều có "
    "phê duyệt. / Every approval names a published provisional revision; every final revision has "
    "an approval.",
)
def final_result_approval_after_provisional(
    context: AssetCheckExecutionContext, dx: DxResource
) -> AssetCheckResult:
    """Compare the recorded approvals with the published revisions' states."""
    outcomes = [(p, *approvals_follow_provisional(dx.settings(), p))
                for q in run_quarters(context) for p in with_periods(q)]
    ok = all(passed for _, passed, _, _ in outcomes)
    text = " ".join(f"{q.label}: {t}" for q, _, t, _ in outcomes) if len(outcomes) > 1 else outcomes[0][2]
    problems = [p for _, _, _, found in outcomes for p in found]
    return AssetCheckResult(passed=ok, severity=AssetCheckSeverity.ERROR, description=text,
                            metadata={"problems": _markdown_list(problems)})


@asset_check(
    asset="plan_scorecard",
    name="plan_scorecard_every_target",
    blocking=True,  # blocks the publication only on ERROR: a target without its row
    partitions_def=quarterly_partitions,
    description="Mỗi chỉ tiêu của mỗi kế hoạch có một dòng cho tỉnh, có giá trị hoặc lý do. / Every "
    "target of every plan has one row for the province, with a value or a stated reason (ERROR: "
    "a target without its row; WARN: a target nobody reported).",
)
def plan_scorecard_every_target(context: AssetCheckExecutionContext, dx: DxResource) -> AssetCheckResult:
    """Count the scorecard's rows against the plans' targets and list the targets without data."""
    verdict, text, missing = scorecard_coverage(dx.settings(), quarter_of(context.partition_key))
    return AssetCheckResult(
        passed=verdict == "complete",
        # a target without its row is a defect; a target nobody reported is worth a look
        severity=AssetCheckSeverity.ERROR if verdict == "incomplete" else AssetCheckSeverity.WARN,
        description=text,
        metadata={"targets_without_data": MetadataValue.md("\n".join(f"- {m}" for m in missing) or "_none_")},
    )


def build_quality_checks() -> list[AssetChecksDefinition]:
    """Every dataset's quality checks, the scores' reproducibility check, the plan
    scorecard's coverage and the published site's link check; add them to
    ``Definitions(asset_checks=...)``."""
    return [build_dataset_checks(spec) for spec in SUITES.values()] + [
        index_scores_reproducible, plan_scorecard_every_target, portal_site_links_resolve,
        quarter_appraisal_on_scored_units, final_result_approval_after_provisional]
