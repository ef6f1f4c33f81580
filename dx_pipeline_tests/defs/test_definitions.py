"""The code location loads, and its graph, checks, job and schedule are what the UI should show."""

import datetime as dt
import re
from pathlib import Path

from dagster import AssetKey, build_schedule_context

from dx_pipeline.definitions import defs
from dx_pipeline.defs.schedules import quarter_just_closed, quarterly_ranking_schedule
from dx_pipeline.reference.schemas import CONTRACTS
from dx_pipeline_tests.expected_graph import ASSETS, INPUTS, TABLES


def test_asset_graph_is_the_designed_data_flow():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == ASSETS
    parents = {
        k: {p.to_user_string() for p in graph.get(AssetKey(k)).parent_keys} for k in ASSETS
    }
    assert parents["agency_kpis"] == {"portal_dossiers", "procedures", "agency_submissions"}
    assert parents["dq_results"] == {
        "agencies", "portal_dossiers", "agency_submissions", "agency_kpis", "index_scores"}
    # one step writes the dossiers, their rejects and the procedure catalogue; another the
    # submissions and theirs
    by_step = {}
    written_together = ("portal_dossiers", "portal_rejects", "procedures", "agency_submissions",
                        "submission_rejects")
    for key in written_together:
        by_step.setdefault(graph.get(AssetKey(key)).assets_def.node_def.name, set()).add(key)
    assert sorted(map(sorted, by_step.values())) == [
        ["agency_submissions", "submission_rejects"], ["portal_dossiers", "portal_rejects", "procedures"]]
    # ranking movement reads last quarter's ranking: a self-dependency one quarter back; the
    # plan scorecard is published with the ranking
    assert parents["ranking_snapshot"] == {
        "index_scores", "rank_uncertainty", "plan_scorecard", "ranking_snapshot"}
    # the province against its plans, from the KPIs (this quarter and the seven before)
    assert parents["plan_scorecard"] == {"agencies", "agency_kpis"}
    for key in ASSETS:
        node = graph.get(AssetKey(key))
        assert node.partitions_def is not None, key
        if key in TABLES:  # the column schema is there before the first materialization
            columns = [c.name for c in node.metadata["dagster/column_schema"].columns]
            # with the quarter a partitioned table has when read whole (hive folder name)
            assert columns == CONTRACTS[key].names + ["quarter"], key
        # someone answers for it, and its page links the code that defines it
        assert node.owners == ["team:dx-data"], key
        references = node.metadata["dagster/code_references"].code_references
        assert references and all(Path(r.file_path).is_file() for r in references), key
        # bilingual: Vietnamese first, English alongside
        assert re.search("[ăâđêôơưạảấầẩậắằẳặẹẻếềểệịọỏốồổộớờởợụủứừửựỳỵỷỹ]", node.description.lower()), key
        assert re.search(r"\b(the|of|and|per|quarter)\b", node.description.lower()), key


def test_every_input_has_a_blocking_check():
    graph = defs.resolve_asset_graph()
    blocking = {
        spec.asset_key.to_user_string()
        for key in graph.asset_check_keys
        for spec in [graph.get_check_spec(key)]
        if spec.blocking
    }
    assert INPUTS <= blocking


def test_quarter_job_and_schedule_target_the_quarter_that_just_closed():
    job = defs.resolve_job_def("quarter_job")
    assert job.partitions_def is not None
    assert quarter_just_closed(dt.date(2025, 7, 16)).label == "2025-Q2"
    assert quarter_just_closed(dt.date(2025, 1, 16)).label == "2024-Q4"
    context = build_schedule_context(
        scheduled_execution_time=dt.datetime(2025, 10, 16, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    )
    request = quarterly_ranking_schedule(context)
    assert request.partition_key == "2025-07"
    assert request.tags["dx/trigger"] == "schedule"
    schedule = defs.resolve_schedule_def("quarterly_ranking_schedule")
    assert schedule.cron_schedule == "0 2 16 1,4,7,10 *" and schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert schedule.owners == ["team:dx-data"]


def test_inbox_sensor_is_registered_for_the_quarter_job():
    sensor = defs.resolve_sensor_def("inbox_sensor")
    assert sensor.job_name == "quarter_job"


def test_the_scores_are_checked_to_reproduce_before_anything_is_published():
    graph = defs.resolve_asset_graph()
    specs = {graph.get_check_spec(k).name: graph.get_check_spec(k) for k in graph.asset_check_keys}
    check = specs["index_scores_reproducible"]
    assert check.asset_key == AssetKey("index_scores") and check.blocking


def test_period_rankings_has_its_schema_before_the_first_materialization():
    node = defs.resolve_asset_graph().get(AssetKey("period_rankings"))
    columns = [c.name for c in node.metadata["dagster/column_schema"].columns]
    assert columns == CONTRACTS["ranking_snapshot"].names + ["period", "rev"]


def test_what_is_published_is_checked_per_quarter_and_a_defect_blocks():
    """The ranking, its intervals and the period rankings each have a blocking check,
    partitioned like the asset (a verdict per quarter)."""
    graph = defs.resolve_asset_graph()
    specs = {graph.get_check_spec(k).name: graph.get_check_spec(k) for k in graph.asset_check_keys}
    for name, asset in (("ranking_snapshot_ranks_consistent", "ranking_snapshot"),
                        ("rank_uncertainty_intervals_ordered", "rank_uncertainty"),
                        ("period_rankings_complete", "period_rankings")):
        spec = specs[name]
        assert spec.asset_key == AssetKey(asset) and spec.blocking, name
        assert spec.partitions_def == graph.get(AssetKey(asset)).partitions_def, name


def test_the_appraisal_steps_are_assets_in_their_own_jobs_after_their_blocking_checks():
    """The quarter's job opens the appraisal; the provisional and final results are jobs of
    their own, each run only after the appraisal's check, and the site only after them."""
    graph = defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {p.to_user_string() for p in graph.get(AssetKey(key)).parent_keys}

    assert parents("quarter_appraisal") == {"index_scores", "ranking_snapshot"}
    assert parents("provisional_result") == {"quarter_appraisal"}
    assert parents("final_result") == {"provisional_result", "quarter_appraisal"}
    assert {"provisional_result", "final_result"} <= parents("portal_site")
    for key in ("quarter_appraisal", "provisional_result", "final_result"):
        assert graph.get(AssetKey(key)).group_name == "appraisal", key
    specs = {graph.get_check_spec(k).name: graph.get_check_spec(k) for k in graph.asset_check_keys}
    for name, asset in (("quarter_appraisal_on_scored_units", "quarter_appraisal"),
                        ("final_result_approval_after_provisional", "final_result"),
                        ("portal_site_links_resolve", "portal_site")):
        assert specs[name].asset_key == AssetKey(asset) and specs[name].blocking, name
    assert defs.resolve_schedule_def("quarterly_ranking_schedule").job_name == "quarter_job"
    for job_name, step in (("provisional_job", "provisional_result"), ("approval_job", "final_result")):
        job = defs.resolve_job_def(job_name)
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {step, "portal_site"}
        waits_for = {node.name: str(dep) for node, dep in job.graph.dependencies.items()}
        assert "quarter_appraisal_quarter_appraisal_on_scored_units" in waits_for[step], job_name
        assert step in waits_for["portal_site"], job_name
    # the steps between: a workbook imported, an appeal filed, an appeal decided; each its own
    # job with only its asset (no site: nothing new is public), in the appraisal group
    assert parents("appraisal_verdicts") == {"quarter_appraisal"}
    assert parents("agency_appeals") == {"provisional_result"}
    assert parents("appeal_decisions") == {"agency_appeals"}
    for job_name, step in (("appraisal_import_job", "appraisal_verdicts"), ("appeal_job", "agency_appeals"),
                           ("appeal_decision_job", "appeal_decisions")):
        job = defs.resolve_job_def(job_name)
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {step}, job_name
        assert graph.get(AssetKey(step)).group_name == "appraisal", step
        assert step not in {k.to_user_string() for k in
                            defs.resolve_job_def("quarter_job").asset_layer.selected_asset_keys}, step


def test_an_appraisal_step_names_a_half_year_or_year_closing_with_its_quarter():
    """The steps' run config may name the half-year or year closing with the partition's quarter
    (their appraisal of their own); any other period is refused before anything is recorded."""
    from dagster import Failure

    from dx_pipeline.defs.appraisal import step_period
    from dx_pipeline.reference.quarters import Quarter

    q4 = Quarter.parse("2025-Q4")
    assert [step_period(q4, p).label for p in (None, " ", "2025-Q4", "2025-H2", "2025")] == [
        "2025-Q4", "2025-Q4", "2025-Q4", "2025-H2", "2025"]
    for wrong, quarter in (("2025-H1", q4), ("2025", Quarter.parse("2025-Q2")),
                           ("2025-H1", Quarter.parse("2025-Q1"))):
        try:
            step_period(quarter, wrong)
        except Failure as exc:
            assert f"{wrong} does not close with {quarter.label}" in str(exc.description)
        else:
            raise AssertionError(f"{wrong} accepted for {quarter.label}")


def test_a_decision_step_refuses_to_run_outside_its_own_job(tmp_path, monkeypatch):
    """"Materialize all" (the implicit asset job) with a decision step in it: the step fails at
    once with a message naming its job, before anything is read or recorded."""
    from dagster import DagsterInstance

    from dx_pipeline.defs.appraisal import DECISION_JOBS
    from dx_pipeline.reference.quarters import Quarter

    for step, job_name in DECISION_JOBS.items():  # each names the job that selects it alone
        selected = defs.resolve_job_def(job_name).asset_layer.selected_asset_keys
        assert AssetKey(step) in selected, job_name
    monkeypatch.setenv("DX_HOME", str(tmp_path))  # empty: a step that went further would fail otherwise
    everything = defs.resolve_implicit_global_asset_job_def()
    result = everything.execute_in_process(
        instance=DagsterInstance.ephemeral(), partition_key=Quarter.parse("2025-Q1").partition_key,
        raise_on_error=False,
        asset_selection=[AssetKey("provisional_result")],
        run_config={"ops": {"provisional_result": {"config": {"by": "Ai đó"}}}})
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    text = failure.event_specific_data.error.to_string()
    assert "provisional_result is a person's decision: it runs only in provisional_job" in text
    assert "Materialize all" in text and "__ASSET_JOB" in text
    assert not (tmp_path / "appraisal").exists()
