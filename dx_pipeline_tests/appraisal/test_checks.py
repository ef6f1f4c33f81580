"""The appraisal's blocking checks: a verdict on a unit the quarter no longer scores, an approval
without a published provisional revision (each an
ERROR in Dagster: :mod:`dx_pipeline.defs.checks`)."""

from __future__ import annotations

import datetime as dt

from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, materialize

from dx_pipeline.app import appraisal as ap
from dx_pipeline.app.appraisal_checks import approvals_follow_provisional, verdicts_on_scored_units
from dx_pipeline.app.appraisal_db import appraisal_db
from dx_pipeline.app.quarter import score_quarter_kpis
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.adjustments import VerdictRequest
from dx_pipeline.appraisal.approvals import ApprovalRequest, record_approval
from dx_pipeline.defs.appraisal import provisional_result, quarter_appraisal
from dx_pipeline.defs.assets import index_scores
from dx_pipeline.defs.checks import quarter_appraisal_on_scored_units
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline_tests.appraisal.conftest import SMALL_QUARTER as Q


def test_a_verdict_on_an_agency_no_longer_scored_is_an_error(home):
    settings = Settings(DxHome(home))
    assert verdicts_on_scored_units(settings, Q)[0]  # no database at all: nothing to check
    ap.open_for_appraisal(settings, Q, "test")
    ap.adjust(settings, Q, VerdictRequest("dti_department", "SO-01", "NT.2", "reject", "Chưa ký"), "An")
    ok, text, problems = verdicts_on_scored_units(settings, Q)
    assert ok and text == "1 verdict(s) in force, each on a scored indicator"
    registry = read_partition(settings.home, "agencies", Q).drop(columns="quarter")
    write_partition(settings.home, "agencies", Q, registry[registry["agency_code"] != "SO-01"])
    score_quarter_kpis(settings, Q)  # the registry changed: SO-01 is no longer scored
    ok, text, problems = verdicts_on_scored_units(settings, Q)
    assert not ok and "1 about an indicator not scored" in text
    assert problems == [problems[0]] and problems[0].startswith("adjustment #1: 'SO-01' is not scored under "
                                                                "dti_department in 2025-Q4")


def test_an_approval_without_a_published_provisional_revision_is_an_error(home):
    settings = Settings(DxHome(home))
    ap.open_for_appraisal(settings, Q, "test")
    assert approvals_follow_provisional(settings, Q)[0]
    with appraisal_db(settings) as db, db.begin(Q.label) as conn:  # a row written past the workflow
        record_approval(conn, Q.label, ApprovalRequest("9/QĐ-UBND", dt.date(2026, 1, 20), "UBND tỉnh"),
                        recorded_by="x", provisional_revision=7, scores_sha256="0" * 64)
    ok, _, problems = approvals_follow_provisional(settings, Q)
    assert not ok and problems == ["approval #1 (9/QĐ-UBND) names provisional revision 7, which is "
                                   "not published"]


def test_a_quarter_that_went_through_appraisal_passes_both(home):
    settings = Settings(DxHome(home))
    t0 = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=10)
    ap.open_for_appraisal(settings, Q, "test", now=t0)
    ap.adjust(settings, Q, VerdictRequest("dti_department", "SO-02", "NT.2", "accept", "Đúng"), "An", now=t0)
    ap.publish_provisional(settings, Q, "test", days=3, now=t0 + dt.timedelta(days=1))
    ap.approve(settings, Q, ApprovalRequest("12/QĐ-UBND", dt.date.today(), "UBND tỉnh"), "Văn phòng")
    assert verdicts_on_scored_units(settings, Q)[0]
    ok, text, problems = approvals_follow_provisional(settings, Q)
    assert ok and problems == [] and text == ("1 approval(s), each after a provisional revision; "
                                              "1 final revision(s)")


def test_dagster_runs_the_check_as_a_blocking_error(home):
    settings = Settings(DxHome(home))
    ap.open_for_appraisal(settings, Q, "test")
    ap.adjust(settings, Q, VerdictRequest("dti_department", "SO-01", "NT.2", "reject", "Chưa ký"), "An")
    registry = read_partition(settings.home, "agencies", Q).drop(columns="quarter")
    write_partition(settings.home, "agencies", Q, registry[registry["agency_code"] != "SO-01"])
    check = quarter_appraisal_on_scored_units
    result = materialize(
        [index_scores, quarter_appraisal, check, provisional_result], partition_key="2025-10",
        instance=DagsterInstance.ephemeral(), resources={"dx": DxResource(home=str(home))},
        run_config={"ops": {"provisional_result": {"config": {"by": "An"}}}},
        raise_on_error=False,
    )
    (scope,) = result.get_asset_check_evaluations()
    assert not scope.passed and scope.severity == AssetCheckSeverity.ERROR
    assert "adjustment #1: 'SO-01' is not scored" in str(scope.metadata["problems"].value)
    # the scores (with the verdicts in force) and the appraisal are written, and the check stops
    # the provisional result: nothing is published for the agencies
    assert [str(e.asset_key) for e in result.get_asset_materialization_events()] == [
        str(AssetKey("index_scores")), str(AssetKey("quarter_appraisal"))]
    assert ap.provisional_revision(settings, Q) is None
