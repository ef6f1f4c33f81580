"""Two quarters of the sample province through the real Dagster job, checked as a user would.

The module fixture generates a small sample province (about 1 % of the default volume), then
materializes 2025-Q1 and 2025-Q2 with the quarter job on one instance. The tests read what a
data engineer or an official would look at: the warehouse tables, the published folder and
the Dagster run records.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.index import load_builtin
from dx_pipeline.publish.layout import period_dir, site_dir
from dx_pipeline.publish.site.build import build_site
from dx_pipeline.publish.verify import verify
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.reference.registry import active_agencies
from dx_pipeline.reference.targets import load_plans
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition

pytestmark = pytest.mark.slow

Q1, Q2 = Quarter.parse("2025-Q1"), Quarter.parse("2025-Q2")


def run_quarter(instance, quarter: Quarter, tags: dict | None = None, assets: list[str] | None = None):
    job = build_definitions().resolve_job_def("quarter_job")
    return job.execute_in_process(
        instance=instance,
        partition_key=quarter.partition_key,
        raise_on_error=False,
        tags=tags or {"dx/trigger": "test"},
        asset_selection=[AssetKey(a) for a in assets] if assets else None,
    )


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    root = tmp_path_factory.mktemp("province")
    home = DxHome(root).ensure()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DX_HOME", str(root))
        mp.delenv("DX_REGISTRY", raising=False)
        mp.delenv("DX_REPORTING_DB_URL", raising=False)
        generate_sample(home, seed=7, scale=0.01, quarters=[Q1, Q2])
        instance = DagsterInstance.ephemeral()
        results = {q.label: run_quarter(instance, q) for q in (Q1, Q2)}
        yield home, instance, results


def test_both_quarters_succeed_and_publish_revision_one(province):
    home, _, results = province
    for label, result in results.items():
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert result.success, f"{label}: failed steps {failed}"
        folder = home.published / "ranking" / f"quarter={label}"
        assert (folder / "rev=1" / "manifest.json").exists()
        assert not (folder / "rev=2").exists()
    half = home.published / "ranking" / "period=2025-H1" / "rev=1"
    assert (half / "manifest.json").exists(), "the first half-year is published with Q2"
    report = verify(home)
    assert report.ok, report.summary()


def test_every_active_agency_is_scored_once_per_framework(province):
    home, _, _ = province
    registry = read_partition(home, "agencies", Q2)
    active = active_agencies(registry, Q2)
    scores = read_partition(home, "index_scores", Q2)
    totals = scores[scores["level"] == "total"]
    assert not totals.duplicated(["framework_id", "agency_code"]).any()
    expected = {
        "dti_department": set(active.loc[active["level"] == "department", "agency_code"]),
        "dti_district": set(active.loc[active["level"] == "district", "agency_code"]),
        "dti_commune_2024": set(active.loc[active["level"] == "commune", "agency_code"]),
        "qd766": set(
            active.loc[
                active["level"].isin(["department", "district", "commune"])
                & active["provides_public_services"].astype(bool),
                "agency_code",
            ]
        ),
    }
    for framework_id, codes in expected.items():
        scored = set(totals.loc[totals["framework_id"] == framework_id, "agency_code"])
        assert scored == codes, framework_id
    # the departments merged on 2025-03-01 are no longer scored; their successors are
    assert "SO-TTTT" not in set(totals["agency_code"])


def test_points_stay_within_their_maximum_and_add_up_to_the_total(province):
    home, _, _ = province
    scores = read_partition(home, "index_scores", Q2)
    assert (scores["points"] >= -1e-9).all()
    assert (scores["points"] <= scores["max_points"] + 1e-9).all()
    for framework_id, rows in scores.groupby("framework_id"):
        framework = load_builtin(framework_id)
        totals = rows[rows["level"] == "total"]
        assert np.allclose(totals["max_points"], framework.total_points), framework_id
        pillars = rows[rows["level"] == "pillar"].groupby("agency_code")["points"].sum()
        by_agency = totals.set_index("agency_code")["points"]
        tolerance = 10 ** -framework.decimals * len(framework.pillars)
        assert (pillars.reindex(by_agency.index) - by_agency).abs().max() <= tolerance, framework_id


def test_ranks_follow_each_frameworks_tie_rule_within_peer_groups(province):
    """Tied totals share the best rank, or (qd766, as the portal lists a province's units) take
    consecutive ranks in agency-code order."""
    home, _, _ = province
    ranking = read_partition(home, "ranking_snapshot", Q2)
    ranked = ranking.dropna(subset=["rank"])
    assert len(ranked) > 0
    for (framework_id, _), group in ranked.groupby(["framework_id", "peer_group"]):
        points, codes = group["total_points"].to_numpy(), group["agency_code"].to_numpy()
        if load_builtin(framework_id).ranking.ties == "consecutive":
            ahead = [(points > p) | ((points == p) & (codes < c)) for p, c in zip(points, codes, strict=True)]
            expected = [1 + int(a.sum()) for a in ahead]
        else:
            expected = [1 + int((points > p).sum()) for p in points]
        assert group["rank"].astype(int).tolist() == expected, framework_id
    assert set(ranking["revision"]) == {1}


def test_movement_is_measured_against_the_previous_quarter(province):
    home, _, _ = province
    before = read_partition(home, "ranking_snapshot", Q1)
    after = read_partition(home, "ranking_snapshot", Q2)
    keys = ["framework_id", "agency_code"]
    both = after.merge(before[keys + ["rank"]], on=keys, suffixes=("", "_before"))
    both = both.dropna(subset=["rank", "rank_before"])
    assert len(both) > 10
    assert (both["previous_rank"].astype(int) == both["rank_before"].astype(int)).all()
    assert (
        both["rank_change"].astype(int) == both["rank_before"].astype(int) - both["rank"].astype(int)
    ).all()


def test_a_rerun_with_the_same_inputs_publishes_nothing_new(province):
    home, instance, _ = province
    before = (home.warehouse / "index_scores" / f"quarter={Q2.label}" / "data.parquet").read_bytes()
    # everything from the KPIs on is recomputed from the same inputs and published again
    # (the quarter's ranking and the periods closing with it are published in one step)
    rerun = ["agency_kpis", "index_scores", "rank_uncertainty", "ranking_snapshot", "period_rankings"]
    result = run_quarter(instance, Q2, {"dx/trigger": "test-rerun"}, assets=rerun)
    assert result.success
    # the checks of agency_kpis and index_scores run with them and rewrite their dq_results rows
    assert {e.asset_key.to_user_string() for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"} == set(rerun) | {"dq_results"}
    assert not (home.published / "ranking" / f"quarter={Q2.label}" / "rev=2").exists()
    assert not (home.published / "ranking" / "period=2025-H1" / "rev=2").exists()
    after = (home.warehouse / "index_scores" / f"quarter={Q2.label}" / "data.parquet").read_bytes()
    assert before == after


def test_the_province_is_scored_against_its_plans_and_published_with_the_ranking(province, tmp_path):
    home, _, results = province
    plans = load_plans()
    targets = sum(len(p.targets) for p in plans.plans.values())
    q1, q2 = (read_partition(home, "plan_scorecard", q) for q in (Q1, Q2))
    # before the merger each province is shown as it was, against every target of every plan
    assert q2.groupby("province_code").size().to_dict() == {"UBND-PS": targets, "UBND-TINH": targets}
    assert set(q2["period"]) == {Q2.label} and set(q2["period_kind"]) == {"quarter"}
    assert q2["value"].notna().mean() > 0.9
    # the trend against 2025-Q1, recomputed from its KPIs; 2024-Q4 was never computed here
    assert q2.loc[q2["value"].notna(), "trend"].ne("no_previous").mean() > 0.9
    assert q1["trend"].eq("no_previous").all()
    folder = home.published / "ranking" / f"quarter={Q2.label}" / "rev=1"
    assert len(pd.read_parquet(folder / "plan_scorecard.parquet")) == len(q2)
    # a computed revision gets no public site; its pages build the same from the revision folder
    html = (build_site(folder, tmp_path / "site").path / "ke-hoach.html").read_text(encoding="utf-8")
    assert "Dự thảo <span" in html
    assert "Kế hoạch ứng dụng công nghệ thông tin, chuyển đổi số trong cơ quan nhà nước năm 2024" in html
    assert "Tỉnh Phước Sơn" in html  # the neighbour, before it was merged in
    sheets = openpyxl.load_workbook(folder / "ranking.xlsx", read_only=True).sheetnames
    assert "Kế hoạch - Plans" in sheets
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["row_counts"]["plan_scorecard"] == len(q2)
    checks = {
        c.check_name: c for c in (e.event_specific_data for e in results[Q2.label].all_events
                                  if e.event_type_value == "ASSET_CHECK_EVALUATION")
    }
    coverage = checks["plan_scorecard_every_target"]
    assert coverage.passed or coverage.severity.value == "WARN"  # every row there; maybe a silent reporter


def test_explain_tells_why_an_agency_has_its_points(province, capsys):
    from dx_pipeline.cli.main import main

    home, _, _ = province
    ranking = read_partition(home, "ranking_snapshot", Q2)
    last = ranking[ranking["framework_id"] == "dti_department"].sort_values("rank").iloc[-1]
    assert main(["--home", str(home.root), "explain", "--agency", last["agency_code"],
                 "--quarter", Q2.label, "--framework", "dti_department"]) == 0
    out = capsys.readouterr().out
    assert last["agency_code"] in out and str(last["agency_name"]) in out
    assert "  source: Illustrative framework: the name, points or rule of 40 of 40 indicators" in out


def test_the_asset_pages_say_which_frameworks_are_illustrative(province):
    """index_scores and ranking_snapshot carry each framework's provenance into the Dagster UI:
    the illustrative ones flagged, and the indicators a framework does not assess."""
    _, _, results = province
    for asset in ("index_scores", "ranking_snapshot"):
        mats = [e.event_specific_data.materialization for e in results[Q2.label].all_events
                if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == AssetKey(asset)]
        meta = mats[-1].metadata
        illustrative = set(meta["illustrative_frameworks"].value)
        assert {"dti_department", "dti_district", "qd766"} <= illustrative, asset
        table = meta["framework_provenance"].value
        assert "| dti_department | ⚠ Illustrative framework: the name, points or rule of 40 of 40" in table
        assert "HT.3 (15 points) is not assessed: the district submission form never asked for it" in table


def test_a_blocking_check_failure_stops_the_ranking(province, tmp_path):
    """Beyond its tolerance, a broken input (here: every dossier duplicated) must not be ranked."""
    home, instance, _ = province
    export = home.portal_exports / f"quarter={Q1.label}" / "dossiers.csv"
    original = export.read_bytes()
    header, _, body = original.partition(b"\n")
    try:
        export.write_bytes(header + b"\n" + body + body)
        result = run_quarter(instance, Q1, {"dx/trigger": "test-broken"})
        assert not result.success
        materialized = {
            e.asset_key.to_user_string()
            for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
        }
        assert "portal_dossiers" in materialized
        assert not {"agency_kpis", "index_scores", "ranking_snapshot"} & materialized
        assert not (home.published / "ranking" / f"quarter={Q1.label}" / "rev=2").exists()
        checks = [
            e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        failed = {
            (c.check_name, str(getattr(c.severity, "value", c.severity))) for c in checks if not c.passed
        }
        assert ("dossier_id_unique", "ERROR") in failed
    finally:
        export.write_bytes(original)
    dq = pd.read_parquet(home.warehouse / "dq_results" / f"quarter={Q1.label}")
    assert {"portal_dossiers", "agencies", "agency_submissions"} <= set(dq["dataset"])


def _checks_of(result) -> dict[str, Any]:
    return {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_what_is_published_passes_its_blocking_checks_on_the_sample(province):
    """The ranking, its intervals and the half-year pass their checks in 2025-Q2, each
    naming the quarter; 2025-Q1 closes no period and says so."""
    _, _, results = province
    q2, q1 = _checks_of(results[Q2.label]), _checks_of(results[Q1.label])
    for name in ("ranking_snapshot_ranks_consistent", "rank_uncertainty_intervals_ordered",
                 "period_rankings_complete"):
        check = q2[name]
        assert check.passed, (name, check.description, check.metadata["problems"].value)
        assert check.metadata["outcome"].value == "passed" and check.metadata["quarter"].value == "2025-Q2"
        assert check.metadata[f"problems {Q2.label}"].value == 0
    assert "2025-H1" in q2["period_rankings_complete"].description
    assert q1["period_rankings_complete"].passed
    assert "closes no half-year or year" in q1["period_rankings_complete"].description


def test_the_asset_pages_show_counts_schemas_and_rounded_shares(province):
    home, _, results = province
    mats: dict[str, Any] = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization  # type: ignore[union-attr]
        for e in results[Q2.label].all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    period = mats["period_rankings"].metadata
    half = pd.read_parquet(home.published / "ranking" / "period=2025-H1" / "rev=1" / "ranking.parquet")
    assert period["dagster/row_count"].value == len(half) > 0
    assert [c.name for c in period["dagster/column_schema"].schema.columns][-2:] == ["period", "rev"]
    percent = mats["agency_kpis"].metadata["targets_met_percent"].value
    assert 0 <= percent <= 100 and round(percent, 1) == percent
    schema = mats["ranking_snapshot"].metadata["dagster/column_schema"].schema
    assert "quarter" in [c.name for c in schema.columns]
    report = mats["ranking_snapshot"].metadata["report"]
    assert not str(report.value).startswith("file:") and str(report.value).endswith("report.html")
    # published as computed, not yet appraised: the quarter and the half-year alike, and no
    # website (agencies see a result once it is provisional)
    computed = "computed: kết quả tính toán, chưa thẩm định / computed, not yet appraised"
    assert mats["ranking_snapshot"].metadata["status"].value == computed
    assert period["periods"].value["2025-H1"]["status"] == computed
    for period_label in (Q2.label, "2025-H1"):
        manifest = json.loads((period_dir(home, Period.parse(period_label)) / "rev=1" / "manifest.json")
                              .read_text(encoding="utf-8"))
        assert manifest["status"] == "computed" and "approval" not in manifest, period_label
    site = mats["portal_site"].metadata
    assert site["not_public_yet"].value == [f"{Q2.label} rev=1", "2025-H1 rev=1"] and "served_at" not in site
    assert not site_dir(home, Period.parse(Q2), 1).exists()
    assert mats["quarter_appraisal"].metadata["state"].value.startswith("under_appraisal: ")
