"""The inbox sensor through Dagster: nothing on a new instance, a run for what arrives later,
and a quarter waits while an earlier quarter is being computed."""

import os
import time

from dagster import (
    AssetCheckResult,
    AssetMaterialization,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    MaterializeResult,
    asset,
    asset_check,
    build_sensor_context,
    define_asset_job,
    multi_asset,
)

from dx_pipeline.app.republish import dossiers_current
from dx_pipeline.defs.inbox_sensor import build_inbox_sensor
from dx_pipeline.defs.partitions import quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.parquet import partition_path
from dx_pipeline_tests.sources.test_inbox import YES, inbox_with_two_quarters, taken_in
from dx_pipeline_tests.sources.test_submission_readers import write_xlsx


@asset(partitions_def=quarterly_partitions)
def _probe():
    return None


JOB = define_asset_job("probe_job", selection=[_probe], partitions_def=quarterly_partitions)
Q1, Q2 = Quarter.parse("2025-Q1"), Quarter.parse("2025-Q2")


def tick(sensor_def, instance, cursor, home):
    resources = {"dx": DxResource(home=str(home.root))}
    defs = Definitions(assets=[_probe], jobs=[JOB], sensors=[sensor_def], resources=resources)
    ctx = build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
    data = sensor_def.evaluate_tick(ctx)
    return data.run_requests or [], data.cursor, data.skip_message


def running(instance, quarter: Quarter):
    """A run of ``quarter`` in progress."""
    return instance.create_run_for_job(
        job_def=JOB.resolve(asset_graph=Definitions(assets=[_probe]).get_repository_def().asset_graph),
        status=DagsterRunStatus.STARTED,
        tags={"dagster/partition": quarter.partition_key},
    )


def test_nothing_on_a_new_instance_then_one_quarter_at_a_time(tmp_path):
    home = inbox_with_two_quarters(tmp_path)
    sensor_def = build_inbox_sensor(JOB)
    assert sensor_def.minimum_interval_seconds == 30
    with DagsterInstance.ephemeral() as instance:
        requests, cursor, _ = tick(sensor_def, instance, None, home)
        assert requests == []
        assert cursor is not None and len(cursor) < 200, cursor

        # late files for both quarters: the older one first
        write_xlsx(home.inbox_for(Q1) / "so_ct.xlsx", [YES], agency_code="SO_CT", quarter=Q1.label)
        write_xlsx(home.inbox_for(Q2) / "so_khcn.xlsx", [YES], agency_code="SO_KHCN", quarter=Q2.label)
        requests, cursor, _ = tick(sensor_def, instance, cursor, home)
        assert [r.partition_key for r in requests] == ["2025-01"]
        (first,) = requests
        assert first.tags["dx/quarter"] == "2025-Q1" and first.tags["dx/trigger"] == "sensor:inbox"
        assert first.tags["dx/inbox_file"] == "2025-Q1/so_ct.xlsx"

        # its run is in progress: asking again for it is the same run key (Dagster refuses
        # it); 2025-Q2 waits
        run = running(instance, Q1)
        requests, cursor, _ = tick(sensor_def, instance, cursor, home)
        assert [r.run_key for r in requests] == [first.run_key]
        # the run has read the late file but is still scoring and ranking: 2025-Q2 still waits
        taken_in(home, Q1)
        requests, cursor, skipped = tick(sensor_def, instance, cursor, home)
        assert requests == [] and "2025-Q2 has new files; it waits for the run of 2025-Q1" in str(skipped)

        # 2025-Q1's run ended (whichever way): now 2025-Q2
        instance.report_run_failed(run)
        requests, cursor, _ = tick(sensor_def, instance, cursor, home)
        assert [(r.partition_key, r.tags["dx/quarter"]) for r in requests] == [("2025-04", "2025-Q2")]
        assert requests[0].tags["dx/inbox_files"] == "2"

        taken_in(home, Q2)
        assert tick(sensor_def, instance, cursor, home)[0] == []


# A quarter's graph in miniature: the registry and the portal ingest upstream of the
# submissions, KPIs (with a check) downstream, and a step people take (not in the job).
@asset(partitions_def=quarterly_partitions, name="agencies")
def _agencies():
    return None


@asset(partitions_def=quarterly_partitions, name="portal_dossiers", deps=["agencies"])
def _portal_dossiers():
    return None


@multi_asset(partitions_def=quarterly_partitions, name="agency_submissions",
             specs=[AssetSpec("agency_submissions", deps=["agencies"]),
                    AssetSpec("submission_rejects", deps=["agencies"])])
def _agency_submissions():
    yield MaterializeResult(asset_key="agency_submissions")
    yield MaterializeResult(asset_key="submission_rejects")


@asset(partitions_def=quarterly_partitions, name="agency_kpis",
       deps=["portal_dossiers", "agency_submissions"])
def _agency_kpis():
    return None


@asset(partitions_def=quarterly_partitions, name="final_result", deps=["agency_kpis"])
def _final_result():
    return None


@asset_check(asset="agency_kpis")
def _kpis_ok():
    return AssetCheckResult(passed=True)


MINI = [_agencies, _portal_dossiers, _agency_submissions, _agency_kpis, _final_result]
MINI_JOB = define_asset_job("mini_quarter_job",
                            selection=AssetSelection.all() - AssetSelection.assets("final_result"),
                            partitions_def=quarterly_partitions)


def mini_tick(sensor_def, instance, cursor, home):
    resources = {"dx": DxResource(home=str(home.root))}
    defs = Definitions(assets=MINI, asset_checks=[_kpis_ok], jobs=[MINI_JOB], sensors=[sensor_def],
                       resources=resources)
    ctx = build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
    data = sensor_def.evaluate_tick(ctx)
    return data.run_requests or [], data.cursor


def _ingested(home, quarter: Quarter) -> None:
    """The quarter's export, then its partitions written after it (mtime 10 s later)."""
    export = home.portal_exports / f"quarter={quarter.label}" / "dossiers.csv"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text("ma_ho_so\n1\n", encoding="utf-8")
    later = time.time() + 10
    for table in ("agencies", "portal_dossiers", "procedures"):
        path = partition_path(home, table, quarter)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1")
        os.utime(path, (later, later))


def test_a_late_file_on_an_ingested_quarter_runs_from_the_submissions_down(tmp_path):
    home = inbox_with_two_quarters(tmp_path)
    taken_in(home, Q2)
    sensor_def = build_inbox_sensor(MINI_JOB)
    with DagsterInstance.ephemeral() as instance:
        _, cursor = mini_tick(sensor_def, instance, None, home)

        # never ingested (no materialization): the whole quarter
        write_xlsx(home.inbox_for(Q2) / "so_khcn.xlsx", [YES], agency_code="SO_KHCN", quarter=Q2.label)
        (whole,), _ = mini_tick(sensor_def, instance, cursor, home)
        assert whole.asset_selection is None and "dx/scope" not in whole.tags

        # ingested and materialized: from agency_submissions down, with the KPI check, never
        # the registry, the portal ingest or a step people take
        _ingested(home, Q2)
        instance.report_runless_asset_event(
            AssetMaterialization(asset_key="portal_dossiers", partition=Q2.partition_key))
        (late,), _ = mini_tick(sensor_def, instance, cursor, home)
        selected = [k.to_user_string() for k in late.asset_selection or []]
        assert selected == ["agency_kpis", "agency_submissions", "submission_rejects"]
        assert [c.name for c in late.asset_check_keys or []] == ["_kpis_ok"]
        assert late.partition_key == Q2.partition_key and late.run_key == whole.run_key
        assert late.tags["dx/scope"].startswith("from agency_submissions")

        # a newer export than the ingested dossiers: the whole quarter again (it must be read)
        export = home.portal_exports / f"quarter={Q2.label}" / "dossiers.csv"
        newer = partition_path(home, "portal_dossiers", Q2).stat().st_mtime + 5
        os.utime(export, (newer, newer))
        (again,), _ = mini_tick(sensor_def, instance, cursor, home)
        assert again.asset_selection is None


def test_dossiers_current_needs_every_partition_and_no_newer_export(tmp_path):
    home = DxHome(tmp_path / "home").ensure()
    assert not dossiers_current(home, Q2)
    _ingested(home, Q2)
    assert dossiers_current(home, Q2)
    partition_path(home, "procedures", Q2).unlink()
    assert not dossiers_current(home, Q2)
