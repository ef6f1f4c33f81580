"""A small quarterly job standing in for the real quarter job in the scale-out tests.

Three assets over ``quarterly_partitions``; each writes ``<DX_HOME>/toy/<asset>/<quarter>.json``
recording the process id and host that ran it, and reads its upstream file, so a test can see
where every step ran and that steps ran in dependency order. The module must be importable by
other processes (multiprocess children, Celery workers): keep it free of test-only state.
"""


import json
import os
import socket
import time
from pathlib import Path

from dagster import AssetExecutionContext, Definitions, EnvVar, asset, define_asset_job

from dx_pipeline.defs.executors import HIGH_MEMORY_TAG, dx_multiprocess_executor
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxResource

ASSETS = ("toy_dossiers", "toy_kpis", "toy_scores")

BARRIER_ENV = "DX_TOY_BARRIER"
"""If set to N, ``toy_dossiers`` waits until N quarters have started: proof runs overlapped."""


def record_path(root: Path, asset_name: str, quarter_label: str) -> Path:
    return Path(root) / "toy" / asset_name / f"{quarter_label}.json"


def _write_record(context: AssetExecutionContext, dx: DxResource, upstream: str | None):
    quarter = quarter_of(context.partition_key)
    root = dx.settings().home.root
    rows = 0
    if upstream is not None:
        previous = json.loads(record_path(root, upstream, quarter.label).read_text())
        rows = previous["rows"]
    record = {
        "asset": context.asset_key.path[-1],
        "quarter": quarter.label,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "rows": rows + 1,
    }
    target = record_path(root, record["asset"], quarter.label)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record))
    context.add_output_metadata({"pid": record["pid"], "rows": record["rows"]})


def _wait_for_peers(root: Path, expected: int, timeout_s: float = 90.0) -> None:
    folder = Path(root) / "toy" / "toy_dossiers"
    deadline = time.monotonic() + timeout_s
    while len(list(folder.glob("*.json"))) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(folder.glob('*.json')))}/{expected} quarters started")
        time.sleep(0.1)


@asset(partitions_def=quarterly_partitions)
def toy_dossiers(context: AssetExecutionContext, dx: DxResource) -> None:
    _write_record(context, dx, None)
    if os.environ.get(BARRIER_ENV):
        _wait_for_peers(dx.settings().home.root, int(os.environ[BARRIER_ENV]))


@asset(partitions_def=quarterly_partitions, deps=[toy_dossiers], op_tags=HIGH_MEMORY_TAG)
def toy_kpis(context: AssetExecutionContext, dx: DxResource) -> None:
    _write_record(context, dx, "toy_dossiers")


@asset(partitions_def=quarterly_partitions, deps=[toy_kpis])
def toy_scores(context: AssetExecutionContext, dx: DxResource) -> None:
    _write_record(context, dx, "toy_kpis")


toy_quarter_job = define_asset_job(
    "toy_quarter_job",
    selection=list(ASSETS),
    partitions_def=quarterly_partitions,
    executor_def=dx_multiprocess_executor,
)

defs = Definitions(
    assets=[toy_dossiers, toy_kpis, toy_scores],
    jobs=[toy_quarter_job],
    resources={"dx": DxResource(home=EnvVar("DX_HOME"))},
)


def get_toy_quarter_job():
    """Resolved job for ``reconstructable`` (asset jobs must be resolved against their defs)."""
    return defs.resolve_job_def("toy_quarter_job")


def run_partition(partition_key: str) -> tuple[str, bool]:
    """Run ``toy_quarter_job`` for one quarter on ``$DAGSTER_HOME``'s instance (one process).

    Module-level so a process pool can call it: several of these at once are what a backfill
    does, one run per quarter.
    """
    from dagster import DagsterInstance, execute_job, reconstructable

    with DagsterInstance.get() as instance:
        result = execute_job(
            reconstructable(get_toy_quarter_job),
            instance,
            tags={"dagster/partition": partition_key},
        )
        return result.run_id, result.success
