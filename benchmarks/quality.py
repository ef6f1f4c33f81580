"""Benchmark of the dossier checks: N synthetic dossiers in Parquet, then ``run_suite``.

The issue asks for the checks over 10 million dossiers in under 15 s on 2 cores. The data is
generated vectorised with numpy/Arrow (no Python loop per row) and written in one Parquet
file, as the portal asset would. The timing covers ``run_suite("portal_dossiers", ...)`` only;
Great Expectations is imported (several seconds, once per process) before the clock starts.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dx_pipeline.quality.runner import run_suite
from dx_pipeline.reference import schemas
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, write_partition

BENCH_QUARTER = Quarter.parse("2025-Q2")
N_AGENCIES = 200


def synthetic_dossiers(n_rows: int, quarter: Quarter = BENCH_QUARTER, seed: int = 7) -> pa.Table:
    """``n_rows`` plausible dossiers spread over ``N_AGENCIES`` agencies, valid against the suite."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(quarter.start.isoformat(), "us")
    span_us = (quarter.end - quarter.start).days * 86_400 * 1_000_000
    received = start + rng.integers(0, span_us, n_rows).astype("timedelta64[us]")
    day = np.timedelta64(86_400_000_000, "us")
    due = received + rng.integers(1, 20, n_rows) * day
    done = rng.random(n_rows) < 0.8
    finished = np.where(done, received + rng.integers(0, 25, n_rows) * day, np.datetime64("NaT"))
    agency = rng.integers(0, N_AGENCIES, n_rows)
    ids = pa.array(np.arange(n_rows)).cast(pa.string())
    agency_codes = pa.array([f"AG{i:03d}" for i in range(N_AGENCIES)]).take(pa.array(agency))
    statuses = pa.array(["finished", "processing"]).take(pa.array((~done).astype(np.int64)))
    bools = lambda p: pa.array(rng.random(n_rows) < p)  # noqa: E731
    cols = {
        # binary_join_element_wise is generated at import time
        "dossier_id": pc.binary_join_element_wise("HS", ids, "-"),  # pyright: ignore[reportAttributeAccessIssue]
        "agency_code": agency_codes,
        "procedure_code": pa.array(np.char.add("1.", rng.integers(0, 500, n_rows).astype(str))),
        "service_level": pa.array(["full", "partial", "none"]).take(pa.array(rng.integers(0, 3, n_rows))),
        "channel": pa.array(rng.integers(1, 4, n_rows).astype(np.int8)),
        "received_at": pa.array(received),
        "due_at": pa.array(due),
        "finished_at": pa.array(finished, mask=~done),
        "status": statuses,
        "supplement_requests": pa.array(rng.integers(0, 3, n_rows).astype(np.int16)),
        "supplement_days": pa.array(rng.random(n_rows) * 3),
        "fee_required": bools(0.3), "paid_online": bools(0.2), "input_digitized": bools(0.7),
        "result_digitized": bools(0.6), "reused_digitized_data": bools(0.4), "citizen_data_used": bools(0.5),
        "rating": pa.array(rng.integers(1, 4, n_rows).astype(np.int8)),
        "source_file": pa.array(np.full(n_rows, "bench.csv")),
        "returned_at": pa.array(finished, mask=~done),
        "stopped_at": pa.nulls(n_rows, schemas.TS),
        "statutory_days": pa.array(rng.integers(1, 20, n_rows).astype(np.float64)),
        "fee_amount": pa.array(rng.integers(0, 100_000, n_rows)),
        "payment_channel": pa.array(rng.integers(0, 3, n_rows).astype(np.int8)),
        "synced_national": bools(0.9), "complaint": bools(0.01),
        "updated_at": pa.array(received),
    }
    return schemas.conform("portal_dossiers", pa.table(cols))


def _registry() -> pa.Table:
    import datetime as dt

    codes = [f"AG{i:03d}" for i in range(N_AGENCIES)]
    n = len(codes)
    return pa.table(
        {
            "agency_code": codes,
            "name_vi": codes,
            "name_en": codes,
            "level": ["department"] * n,
            "peer_group": ["department"] * n,
            "parent_code": [None] * n,
            "provides_public_services": [True] * n,
            "valid_from": [dt.date(2020, 1, 1)] * n,
            "valid_to": pa.nulls(n, pa.date32()),
            "successor_code": [None] * n,
        }
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_checks(n_rows: int, home: str | Path | None = None, run_gx: bool = True) -> dict:
    """Generate ``n_rows`` dossiers (and the previous quarter, for the volume rule) and time the
    portal_dossiers suite. Returns seconds (wall), cpu_seconds (all threads; on a busy shared
    machine wall time rises, CPU time does not), the 1-minute load average, peak_mb (process
    peak RSS, including data generation), rows and failed checks."""
    import great_expectations  # noqa: F401  (import cost is per process, not per check run)


    with tempfile.TemporaryDirectory() as tmp:
        dx = DxHome.local(home or tmp)
        write_partition(dx, "agencies", BENCH_QUARTER, _registry())
        data = synthetic_dossiers(n_rows)
        write_partition(dx, "portal_dossiers", BENCH_QUARTER, data)
        write_partition(
            dx,
            "portal_dossiers",
            BENCH_QUARTER.previous(),
            synthetic_dossiers(n_rows, BENCH_QUARTER.previous(), seed=8),
        )
        del data
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        outcomes = run_suite("portal_dossiers", dx, BENCH_QUARTER, run_gx=run_gx)
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": n_rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "peak_mb": round(peak_mb, 1),
        "checks": len(outcomes),
        "failed": [o.check for o in outcomes if not o.passed],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_checks(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
