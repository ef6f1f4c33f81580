"""``dx-pipeline dq``: run the quality suites of a quarter outside Dagster."""

from __future__ import annotations

import argparse

from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.quality.results import write_dq_results
from dx_pipeline.quality.runner import run_suite
from dx_pipeline.quality.suites import SUITES
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage.parquet import partition_path


def register(subparsers) -> None:
    """Add the ``dq`` verb (data-quality checks of a quarter) to the command line."""
    p = subparsers.add_parser(
        "dq",
        help="run the data-quality checks of a quarter",
        description="Run the expectation suites on the quarter's warehouse partitions, write "
        "dq_results and the HTML report. Exit code 1 when an ERROR check fails.",
    )
    p.add_argument("--quarter", required=True, help="quarter, e.g. 2025-Q2")
    p.add_argument(
        "--dataset", action="append", help="dataset to check (repeatable; default: all with a partition)"
    )
    p.add_argument("--no-gx", action="store_true", help="DuckDB only (skip the Great Expectations pass)")
    p.set_defaults(func=run_dq)


def run_dq(args: argparse.Namespace) -> int:
    """Check a quarter's partitions, write dq_results and the report; 1 when an ERROR check fails."""
    home = home_from_environment(args.home)
    quarter = Quarter.parse(args.quarter)
    datasets = args.dataset or [d for d in SUITES if partition_path(home, d, quarter).exists()]
    if not datasets:
        raise FileNotFoundError(
            f"no checked dataset has a partition for {quarter.label} under {home.warehouse}; "
            f"run the quarter first: dx-pipeline run --quarter {quarter.label}"
        )
    failed_error = 0
    for dataset in datasets:
        outcomes = run_suite(dataset, home, quarter, run_gx=not args.no_gx)
        write_dq_results(home, quarter, outcomes)
        for o in outcomes:
            mark = "ok  " if o.passed else ("FAIL" if o.severity == "ERROR" else "warn")
            print(f"{mark} {dataset}.{o.check} [{o.severity}] {o.observed}")
            failed_error += (not o.passed) and o.severity == "ERROR"
    print(f"report: {home.dq_reports_for(quarter) / 'index.html'}")
    return 1 if failed_error else 0
