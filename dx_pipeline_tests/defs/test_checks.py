"""The quality checks inside Dagster: ERROR blocks the assets below, WARN does not."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import AssetKey, DagsterInstance, MaterializeResult, asset, materialize

from dx_pipeline.defs.checks import build_quality_checks
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.quality.results import read_dq_results
from dx_pipeline.quality.suites import SUITES
from dx_pipeline.storage import write_partition
from dx_pipeline_tests.quality import factories

KEY = "2025-04"


def _stub_assets(dossiers: pd.DataFrame):
    """Stand-ins for the real assets: write small partitions through dx_pipeline.storage."""

    @asset(partitions_def=quarterly_partitions)
    def agencies(context, dx: DxResource) -> MaterializeResult:
        quarter = quarter_of(context.partition_key)
        write_partition(dx.settings().home, "agencies", quarter, factories.agencies())
        return MaterializeResult()

    @asset(partitions_def=quarterly_partitions, deps=[agencies])
    def portal_dossiers(context, dx: DxResource) -> MaterializeResult:
        quarter = quarter_of(context.partition_key)
        write_partition(dx.settings().home, "portal_dossiers", quarter, dossiers)
        return MaterializeResult()

    @asset(partitions_def=quarterly_partitions, deps=[portal_dossiers])
    def agency_kpis(context, dx: DxResource) -> MaterializeResult:
        quarter = quarter_of(context.partition_key)
        write_partition(dx.settings().home, "agency_kpis", quarter, factories.kpis())
        return MaterializeResult()

    return [agencies, portal_dossiers, agency_kpis]


def _run(tmp_path, dossiers):
    # only the dossier suite, to keep the test fast; the factory test covers the rest
    checks = [
        c
        for c in build_quality_checks()
        if {k.asset_key for k in c.check_keys} == {AssetKey("portal_dossiers")}
    ]
    return materialize(
        [*_stub_assets(dossiers), *checks],
        partition_key=KEY,
        instance=DagsterInstance.ephemeral(),
        resources={"dx": DxResource(home=str(tmp_path))},
        raise_on_error=False,
    )


def _evaluations(result) -> dict[str, Any]:
    return {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == AssetKey("portal_dossiers")
    }


def test_factory_covers_every_suite_check_with_its_severity():
    checks = build_quality_checks()
    specs = {(k.asset_key.path[0], k.name) for c in checks for k in c.check_keys}
    declared = {(s.dataset, c.name) for s in SUITES.values() for c in s.checks}
    assert specs == declared | {("index_scores", "index_scores_reproducible"),
                                ("plan_scorecard", "plan_scorecard_every_target"),
                                ("portal_site", "portal_site_links_resolve"),
                                ("quarter_appraisal", "quarter_appraisal_on_scored_units"),
                                ("final_result", "final_result_approval_after_provisional")}
    # every spec is declared blocking; the result's severity (decided by the observed rate
    # against the tolerance) is what decides whether Dagster blocks
    blocking = {(spec.asset_key.path[0], spec.name): spec.blocking for c in checks for spec in c.check_specs}
    assert all(blocking.values())
    specs = {(spec.asset_key.path[0], spec.name): spec for c in checks for spec in c.check_specs}
    assert "tolerance: WARN up to" in specs[("portal_dossiers", "dossier_id_unique")].metadata["tolerance"]


def _duplicated(pairs: int) -> pd.DataFrame:
    """Dossiers where ``pairs`` dossiers were exported twice (rows 2k+1 repeat rows 2k)."""
    bad = factories.dossiers()
    rows = [2 * k + 1 for k in range(pairs)]
    bad.loc[rows, "dossier_id"] = bad.loc[[r - 1 for r in rows], "dossier_id"].to_numpy()
    return bad


def test_error_defect_blocks_downstream_and_is_recorded(tmp_path):
    result = _run(tmp_path, _duplicated(5))  # 10 of 90 rows duplicated: beyond max(5, 0.1 %)

    evals = _evaluations(result)
    dup = evals["dossier_id_unique"]
    assert not dup.passed and dup.severity.value == "ERROR" and dup.blocking
    assert dup.metadata["outcome"].value.startswith("failed: ERROR beyond tolerance, blocks")
    # the counts are named with their quarter, so each quarter plots apart
    assert dup.metadata["failing_rows 2025-Q2"].value == 10
    assert dup.metadata["allowed_failing_rows 2025-Q2"].value == 5
    assert "beyond tolerance" in dup.metadata["observed"].value
    assert factories.dossiers().loc[0, "dossier_id"] in dup.metadata["failing_sample"].value
    assert evals["received_before_due"].passed

    materialized = {
        m.event_specific_data.materialization.asset_key for m in result.get_asset_materialization_events()
    }
    assert AssetKey("portal_dossiers") in materialized
    assert AssetKey("agency_kpis") not in materialized  # blocked by the ERROR check

    dq = read_dq_results(factories_home(tmp_path), factories.Q)
    row = dq[(dq["dataset"] == "portal_dossiers") & (dq["check"] == "dossier_id_unique")].iloc[0]
    assert not row["passed"] and row["failing_rows"] == 10 and row["severity"] == "ERROR"
    assert set(dq["dataset"]) == {"portal_dossiers"}
    assert (factories_home(tmp_path).dq_reports_for(factories.Q) / "index.html").exists()


def test_warn_defect_within_tolerance_is_visible_but_does_not_block(tmp_path):
    bad = _duplicated(1)  # one dossier exported twice: the same check, within its tolerance
    bad.loc[3, "due_at"] = bad.loc[3, "received_at"] - pd.Timedelta(days=2)  # due before received
    result = _run(tmp_path, bad)
    assert result.success

    evals = _evaluations(result)
    for name, failing in (("dossier_id_unique", 2), ("received_before_due", 1)):
        warn = evals[name]
        assert not warn.passed and warn.severity.value == "WARN" and warn.blocking  # declared blocking
        assert warn.metadata["failing_rows 2025-Q2"].value == failing
        assert warn.metadata["severity"].value == "WARN"
        assert "within tolerance" in warn.metadata["observed"].value
    passing = [e for name, e in evals.items() if name not in ("dossier_id_unique", "received_before_due")]
    assert passing and all(e.passed for e in passing)
    # a pass reads as a pass: no "ERROR" next to it, and it names its quarter
    for e in passing:
        assert e.metadata["outcome"].value == "passed" and e.metadata["severity"].value == "none (passed)"
        assert e.metadata["quarter"].value == "2025-Q2"
    assert evals["dossier_id_unique"].metadata["outcome"].value.startswith("failed: WARN")

    materialized = {
        m.event_specific_data.materialization.asset_key for m in result.get_asset_materialization_events()
    }
    assert AssetKey("agency_kpis") in materialized
    # the check step reports the dq_results table it wrote as that asset's materialization
    assert AssetKey("dq_results") in materialized
    dq_event = next(m.event_specific_data.materialization for m in result.get_asset_materialization_events()
                    if m.event_specific_data.materialization.asset_key == AssetKey("dq_results"))
    assert dq_event.partition == KEY and dq_event.metadata["dataset"].value == "portal_dossiers"
    dq = read_dq_results(factories_home(tmp_path), factories.Q).set_index("check")
    assert dq.loc["dossier_id_unique", "severity"] == "WARN" and not dq.loc["dossier_id_unique", "passed"]


def factories_home(tmp_path):
    return DxResource(home=str(tmp_path)).settings().home
