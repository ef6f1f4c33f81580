"""The inbox sensor through Dagster: one run request per new or changed file version."""

from dagster import (
    DagsterInstance,
    Definitions,
    asset,
    build_sensor_context,
    define_asset_job,
)

from dx_pipeline.defs.inbox_sensor import build_inbox_sensor
from dx_pipeline.defs.partitions import quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.sources.test_submission_readers import write_xlsx


@asset(partitions_def=quarterly_partitions)
def _probe():
    return None


JOB = define_asset_job("probe_job", selection=[_probe], partitions_def=quarterly_partitions)
ROW = [1, "ipv6_ready", "", "", None, None, "Có", None]


def tick(sensor_def, instance, cursor, home):
    resources = {"dx": DxResource(home=str(home.root))}
    defs = Definitions(assets=[_probe], jobs=[JOB], sensors=[sensor_def], resources=resources)
    ctx = build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources)
    data = sensor_def.evaluate_tick(ctx)
    return data.run_requests or [], data.cursor


def test_sensor_new_same_changed(tmp_path):
    home = DxHome(tmp_path)
    sensor_def = build_inbox_sensor(JOB)
    assert sensor_def.minimum_interval_seconds == 30
    with DagsterInstance.ephemeral() as instance:
        requests, cursor = tick(sensor_def, instance, None, home)
        assert requests == []
        folder = home.inbox_for("2025-Q2")
        folder.mkdir(parents=True)
        write_xlsx(folder / "so_yte.xlsx", [ROW])
        requests, cursor = tick(sensor_def, instance, cursor, home)
        assert len(requests) == 1
        assert requests[0].partition_key == "2025-04"
        assert requests[0].run_key.startswith("2025-Q2:2025-Q2/so_yte.xlsx:")
        assert requests[0].tags["dx/inbox_file"] == "2025-Q2/so_yte.xlsx"
        first_key = requests[0].run_key
        # the same file again: nothing
        requests, cursor = tick(sensor_def, instance, cursor, home)
        assert requests == []
        # changed content: one more, for the same quarter
        write_xlsx(folder / "so_yte.xlsx", [[1, "ipv6_ready", "", "", None, None, "Không", None]])
        requests, cursor = tick(sensor_def, instance, cursor, home)
        assert len(requests) == 1 and requests[0].run_key != first_key
        assert requests[0].partition_key == "2025-04"
        # several files of two quarters in one tick: one run per quarter
        write_xlsx(folder / "so_khcn.xlsx", [ROW], agency_code="SO_KHCN")
        write_xlsx(folder / "so_ct.xlsx", [ROW], agency_code="SO_CT")
        q1 = home.inbox_for("2025-Q1")
        q1.mkdir(parents=True)
        write_xlsx(q1 / "so_yte.xlsx", [ROW], quarter="2025-Q1")
        requests, cursor = tick(sensor_def, instance, cursor, home)
        assert sorted(r.partition_key for r in requests) == ["2025-01", "2025-04"]
        batch = next(r for r in requests if r.partition_key == "2025-04")
        assert batch.run_key.startswith("2025-Q2:batch:") and batch.tags["dx/inbox_files"] == "2"
        assert tick(sensor_def, instance, cursor, home)[0] == []
        # a file for a quarter not closed yet is retried, not forgotten
        future = home.inbox_for("2099-Q1")
        future.mkdir(parents=True)
        write_xlsx(future / "x.xlsx", [ROW], quarter="2099-Q1")
        for _ in range(2):
            requests, cursor = tick(sensor_def, instance, cursor, home)
            assert requests == []
            assert "2099-Q1/x.xlsx" not in cursor
