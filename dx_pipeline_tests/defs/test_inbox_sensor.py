"""The inbox sensor through Dagster: nothing on a new instance, a run for what arrives later,
and a quarter waits while an earlier quarter is being computed."""

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    asset,
    build_sensor_context,
    define_asset_job,
)

from dx_pipeline.defs.inbox_sensor import build_inbox_sensor
from dx_pipeline.defs.partitions import quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.reference.quarters import Quarter
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
