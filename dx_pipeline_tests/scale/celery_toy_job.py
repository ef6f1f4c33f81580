"""The toy quarter job on the Celery executor, for the end-to-end Celery test.

A module of its own because the executor reads broker, backend and queue from the environment
when it is built: the test sets ``DX_CELERY_QUEUE`` to a queue of its own before importing this.
Celery workers import it too (the run ships a pointer to ``get_toy_celery_job``, not code).
"""

from dagster import Definitions, EnvVar, define_asset_job

from dx_pipeline.defs.executors import executor_for
from dx_pipeline.defs.partitions import quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline_tests.scale.toy_job import ASSETS, toy_dossiers, toy_kpis, toy_scores

toy_celery_job = define_asset_job(
    "toy_celery_job",
    selection=list(ASSETS),
    partitions_def=quarterly_partitions,
    executor_def=executor_for("celery"),
)

defs = Definitions(
    assets=[toy_dossiers, toy_kpis, toy_scores],
    jobs=[toy_celery_job],
    resources={"dx": DxResource(home=EnvVar("DX_HOME"))},
)


def get_toy_celery_job():
    return defs.resolve_job_def("toy_celery_job")
