"""``dx-pipeline run`` and ``dx-pipeline ui``: a quarter through Dagster from the terminal.

Runs go to the persistent Dagster instance under ``DAGSTER_HOME`` (default
``<DX_HOME>/dagster``), so every run done here shows in the UI afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from dx_pipeline.instance import prepare_dagster_home
from dx_pipeline.quarters import SAMPLE_QUARTERS, Quarter
from dx_pipeline.storage import DxHome


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="materialize every asset of one or more quarters through Dagster",
        description="Materialize every asset and check of a quarter through Dagster, with a "
        "persistent instance, printing a line per stage and the ranking at the end.",
    )
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--quarter", action="append", help="quarter label, e.g. 2025-Q2 (repeatable)")
    which.add_argument("--all", action="store_true", help="every sample quarter, in order")
    run.add_argument(
        "--portal",
        choices=["files", "http", "sample-server"],
        default="files",
        help="dossiers from export files, from the portal API at $DX_PORTAL_URL, or from the "
        "sample portal server started on 127.0.0.1 for this run",
    )
    run.add_argument("--top", type=int, default=10, help="ranking rows to print per peer group")
    run.set_defaults(func=_run)

    ui = sub.add_parser("ui", help="start the Dagster UI on the same instance")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_ui)


def _run(args: argparse.Namespace) -> int:
    home = DxHome.from_env(args.home).ensure()
    quarters = SAMPLE_QUARTERS if args.all else [Quarter.parse(q) for q in args.quarter]
    dagster_home = prepare_dagster_home(home)
    os.environ["DX_HOME"] = str(home.root)
    print(f"DX_HOME      {home.root}")
    print(f"DAGSTER_HOME {dagster_home}")
    server = None
    source = "files"
    if args.portal == "sample-server":
        from dx_pipeline.sample.portal_server import serve_portal

        token = os.environ.get("DX_PORTAL_TOKEN") or uuid.uuid4().hex
        server = serve_portal(home, token=token)
        os.environ["DX_PORTAL_URL"], os.environ["DX_PORTAL_TOKEN"] = server.url, token
        print(f"sample portal {server.url}")
        source = "http"
    elif args.portal == "http":
        source = "http"
    failed = []
    try:
        for quarter in quarters:
            ok = run_quarter(quarter, source)
            if not ok:
                failed.append(quarter.label)
    finally:
        if server is not None:
            server.stop()
    for quarter in quarters:
        if quarter.label not in failed:
            print_ranking(home, quarter, top=args.top)
    print_outputs(home, quarters)
    if failed:
        print(f"\nfailed quarters: {', '.join(failed)} (see the run in the UI: make ui)")
        return 1
    return 0


def run_quarter(quarter: Quarter, portal_source: str = "files") -> bool:
    """Execute the quarter job in process on the persistent instance, printing progress."""
    from dagster import DagsterInstance

    from dx_pipeline.definitions import defs

    job = defs.resolve_job_def("quarter_job")
    instance = DagsterInstance.get()
    run_id = str(uuid.uuid4())
    print(f"\n== {quarter.label} (partition {quarter.partition_key}, run {run_id[:8]}) ==")
    stop = threading.Event()
    watcher = threading.Thread(target=_print_progress, args=(instance, run_id, stop), daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        result = job.execute_in_process(
            instance=instance,
            partition_key=quarter.partition_key,
            run_id=run_id,
            raise_on_error=False,
            run_config={
                "ops": {"portal_dossiers": {"config": {"source": portal_source}}},
                # our own progress lines replace Dagster's console log; the full log is in the UI
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
            tags={"dx/trigger": "cli", "dx/quarter": quarter.label},
        )
    finally:
        stop.set()
        watcher.join()
    print(f"   {'done' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f} s")
    return result.success


def _print_progress(instance, run_id: str, stop: threading.Event) -> None:
    seen = 0
    while True:
        finished = stop.is_set()
        try:
            records = instance.all_logs(run_id)
        except Exception:  # the run may not be registered yet
            records = []
        for record in records[seen:]:
            line = _progress_line(record)
            if line:
                print(line, flush=True)
        seen = max(seen, len(records))
        if finished:
            return
        stop.wait(0.3)


def _progress_line(record) -> str | None:
    event = record.dagster_event
    if event is None:
        return None
    kind = event.event_type_value
    if kind == "ASSET_MATERIALIZATION":
        mat = event.event_specific_data.materialization
        rows = mat.metadata.get("dagster/row_count")
        rows_txt = f"{rows.value:>10,} rows" if rows is not None else ""
        return f"   ✓ {mat.asset_key.to_user_string():<22} {rows_txt}"
    if kind == "ASSET_CHECK_EVALUATION":
        ev = event.event_specific_data
        if ev.passed:
            return None
        sev = getattr(ev.severity, "value", ev.severity)
        return f"   ! check {ev.asset_key.to_user_string()}.{ev.check_name} failed ({sev})"
    if kind == "STEP_FAILURE":
        err = event.event_specific_data.error
        while err is not None and err.cause is not None:  # the user code's own error
            err = err.cause
        msg = err.message.strip().splitlines()[-1] if err else ""
        return f"   ✗ {event.step_key} failed: {msg}"
    if kind == "STEP_SKIPPED":
        return f"   - {event.step_key} skipped (an upstream step or blocking check failed)"
    return None


def print_ranking(home: DxHome, quarter: Quarter, top: int = 10) -> None:
    import pandas as pd

    from dx_pipeline.storage import read_partition

    try:
        ranking = read_partition(home, "ranking_snapshot", quarter)
    except FileNotFoundError:
        print(f"\n{quarter.label}: no ranking (not published)")
        return
    for (framework, group), rows in ranking.groupby(["framework_id", "peer_group"], sort=True):
        rows = rows.sort_values(["rank", "agency_code"], na_position="last")
        print(f"\nXếp hạng / Ranking {quarter.label} — {framework} — {group} ({len(rows)} units)")
        print(f"  {'#':>3} {'Δ':>4}  {'points':>8}  {'band':<11} agency")
        for r in rows.head(top).itertuples(index=False):
            rank = "-" if pd.isna(r.rank) else int(r.rank)  # assessed but not ranked
            change = "" if pd.isna(r.rank_change) else f"{int(r.rank_change):+d}"
            print(f"  {rank:>3} {change:>4}  {r.total_points:8.2f}  {str(r.band):<11} {r.agency_name} ({r.agency_code})")
        if len(rows) > top:
            print(f"  … {len(rows) - top} more")


def print_outputs(home: DxHome, quarters: list[Quarter]) -> None:
    print("\nOutputs:")
    print(f"  warehouse (Parquet, Hive-partitioned): {home.warehouse}")
    for quarter in quarters:
        latest = home.published / "ranking" / f"quarter={quarter.label}"
        if latest.exists():
            print(f"  published {quarter.label}: {latest}")
    print(f"  Dagster UI on this instance: make ui  (DAGSTER_HOME={os.environ.get('DAGSTER_HOME')})")


def _ui(args: argparse.Namespace) -> int:
    home = DxHome.from_env(args.home).ensure()
    prepare_dagster_home(home)
    os.environ["DX_HOME"] = str(home.root)
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(root / "workspace.yaml"), "-p", str(args.port)]
    print(" ".join(cmd))
    return subprocess.call(cmd, cwd=root)
