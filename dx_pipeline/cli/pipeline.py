"""``dx-pipeline run``, ``backfill`` and ``ui``: quarters through Dagster from the terminal.

Runs go to the persistent Dagster instance under ``DAGSTER_HOME`` (default
``<DX_HOME>/dagster``), so every run done here shows in the UI afterwards. ``backfill``
submits an asset backfill that the daemon runs (see :mod:`dx_pipeline.defs.backfill`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import threading
import time
import uuid
from importlib import resources
from pathlib import Path

import pandas as pd
from dagster import DagsterInstance

from dx_pipeline.app.appraisal import appraisal_workbook_path
from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.cli.processes import run_group
from dx_pipeline.defs import backfill as bf
from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.defs.instance import prepare_dagster_home
from dx_pipeline.defs.partitions import quarterly_partitions, require_partition
from dx_pipeline.publish.layout import period_dir
from dx_pipeline.publish.manifest import read_manifest, status_words
from dx_pipeline.reference.quarters import SAMPLE_QUARTERS, Quarter, quarter_range
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.storage import DxHome, read_partition

WORKSPACE = Path(str(resources.files("dx_pipeline").joinpath("dagster_yaml", "workspace.yaml")))
"""The packaged workspace.yaml (the dx_pipeline code location), so ``ui`` and ``backfill`` work
from an installed wheel as from a checkout (whose top-level workspace.yaml links to it)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the pipeline verbs (run, backfill, ui) to the command line."""
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

    backfill = sub.add_parser(
        "backfill",
        help="submit an asset backfill of quarters; the daemon runs it in dependency order",
        description="Submit an asset backfill of every quarter asset over a range of quarters, "
        "the same request as the UI's Materialize over a partition range. The Dagster daemon "
        "(dagster-daemon run, or dx-pipeline ui) launches one run per quarter and step group "
        "within the instance's run limits: each quarter's ingestion, checks and KPIs at once, "
        "the ranking chain through the previous quarter in order.",
    )
    which = backfill.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every quarter partition (2024-Q1 to "
                       "the last closed quarter)")
    which.add_argument("--from", dest="first", metavar="QUARTER", help="first quarter, e.g. 2024-Q1")
    which.add_argument("--status", metavar="BACKFILL_ID", help="show a backfill's progress instead")
    backfill.add_argument("--to", dest="last", metavar="QUARTER",
                          help="last quarter with --from (default: the last closed quarter)")
    backfill.add_argument("--url", help="submit to the Dagster webserver at this URL instead of "
                          "loading workspace.yaml in this process")
    backfill.add_argument("--wait", action="store_true", help="follow the backfill until it finishes")
    backfill.add_argument("--timeout", type=float, default=6 * 3600,
                          help="seconds --wait waits at most (default 6 h)")
    backfill.set_defaults(func=_backfill)

    ui = sub.add_parser(
        "ui",
        help="start the Dagster UI and daemon (dagster dev) on this DX_HOME's instance",
        description="Start dagster dev (webserver and daemon) on DAGSTER_HOME (default "
        "<DX_HOME>/dagster). Ctrl-C or SIGTERM stops it and every process it started.",
    )
    ui.add_argument("--port", type=int, default=3000, help="webserver port (default 3000)")
    ui.set_defaults(func=_ui)


def _run(args: argparse.Namespace) -> int:
    home = home_from_environment(args.home).ensure()
    quarters = SAMPLE_QUARTERS if args.all else [require_partition(q) for q in args.quarter]
    dagster_home = prepare_dagster_home(home)
    os.environ["DX_HOME"] = str(home.root)
    print(f"DX_HOME      {home.root}")
    print(f"DAGSTER_HOME {dagster_home}")
    server = None
    source = "files"
    if args.portal == "sample-server":
        token = os.environ.get("DX_PORTAL_TOKEN") or uuid.uuid4().hex
        server = serve_portal(home, token=token)
        os.environ["DX_PORTAL_URL"], os.environ["DX_PORTAL_TOKEN"] = server.url, token
        print(f"sample portal {server.url}")
        source = "http"
    elif args.portal == "http":
        source = "http"
    failed = []
    try:
        # the code location is built now, from the environment this command has just set up
        # (its configuration checked before any quarter runs)
        job = build_definitions().resolve_job_def("quarter_job")
        for quarter in quarters:
            ok = run_quarter(job, quarter, source)
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


def run_quarter(job, quarter: Quarter, portal_source: str = "files") -> bool:
    """Execute the quarter job in process on the persistent instance, printing progress."""
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
    # Only the events after the last one read (a cursor), not the whole log again every 0.3 s.
    cursor = None
    while True:
        finished = stop.is_set()
        try:
            page = instance.get_records_for_run(run_id, cursor=cursor)
            records, cursor = [r.event_log_entry for r in page.records], page.cursor
        except Exception:  # the run may not be registered yet
            records = []
        for record in records:
            line = _progress_line(record)
            if line:
                print(line, flush=True)
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


def revision_status(home: DxHome, quarter: Quarter, revision: int) -> tuple[str, str]:
    """(short, in words) of a published revision's state: ``computed`` and ``Kết quả tính toán,
    chưa thẩm định / computed, not yet appraised``; said plainly when the revision is missing."""
    try:
        status = read_manifest(period_dir(home, quarter) / f"rev={revision}").get("status")
    except FileNotFoundError:
        return "unknown", f"revision {revision} is not in the published folder: its state is unknown"
    vi, en = status_words(status)
    return str(status or "no state"), f"{vi[:1].upper()}{vi[1:]} / {en}"


def print_ranking(home: DxHome, quarter: Quarter, top: int = 10) -> None:
    """Print the top of a quarter's published ranking (rank, movement, points, band, agency),
    under its revision's state: a computed result is said not to be an official ranking."""
    try:
        ranking = read_partition(home, "ranking_snapshot", quarter)
    except FileNotFoundError:
        print(f"\n{quarter.label}: no ranking (not published)")
        return
    revision = int(ranking["revision"].max())
    short, words = revision_status(home, quarter, revision)
    print(f"\n{quarter.label} lần công bố / revision {revision}: trạng thái / status {short}: {words}")
    if short != "final":
        print("   Chưa phải kết quả xếp hạng chính thức (chưa được phê duyệt). / "
              "Not an official ranking (not approved).")
    for (framework, group), rows in ranking.groupby(["framework_id", "peer_group"], sort=True):
        rows = rows.sort_values(["rank", "agency_code"], na_position="last")
        print(f"\nXếp hạng / Ranking {quarter.label} [{short}] — {framework} — {group} ({len(rows)} units)")
        print(f"  {'#':>3} {'Δ':>4}  {'points':>8}  {'band':<11} agency")
        for r in rows.head(top).to_dict("records"):
            rank = "-" if pd.isna(r["rank"]) else int(r["rank"])  # assessed but not ranked
            change = "" if pd.isna(r["rank_change"]) else f"{int(r['rank_change']):+d}"
            print(
                f"  {rank:>3} {change:>4}  {r['total_points']:8.2f}  {str(r['band']):<11} "
                f"{r['agency_name']} ({r['agency_code']})"
            )
        if len(rows) > top:
            print(f"  … {len(rows) - top} more")


def print_outputs(home: DxHome, quarters: list[Quarter]) -> None:
    """Print where the warehouse, the publications and the Dagster UI of a run are."""
    print("\nOutputs:")
    print(f"  warehouse (Parquet, Hive-partitioned): {home.warehouse}")
    for quarter in quarters:
        latest = home.published / "ranking" / f"quarter={quarter.label}"
        if latest.exists():
            print(f"  published {quarter.label}: {latest}")
        workbook = appraisal_workbook_path(home, quarter)
        if workbook.exists():
            print(f"  appraisal workbook {quarter.label}: {workbook}  (dx-pipeline appraisal status "
                  f"--quarter {quarter.label})")
        site = home.published / "site" / f"quarter={quarter.label}" / "latest" / "index.html"
        if site.exists():
            print(f"  website {quarter.label}: {site}  (dx-pipeline site --serve shows it)")
    print(f"  Dagster UI on this instance: make ui  (DAGSTER_HOME={os.environ.get('DAGSTER_HOME')})")


def _backfill(args: argparse.Namespace) -> int:
    if args.last and not args.first:
        raise ValueError("--to goes with --from")
    quarters = None if args.all or args.status else _quarters_from(args.first, args.last)
    params = None if args.status else bf.backfill_params(quarters, bf.quarter_asset_paths())
    backfill_id = args.status
    with contextlib.ExitStack() as stack:
        if args.url:  # the webserver's instance and workspace
            graphql = bf.http_graphql(args.url)
            if params is not None:
                backfill_id = bf.launch_backfill(graphql, params)
            progress = functools.partial(bf.progress_from_graphql, graphql, backfill_id)
        else:  # this machine's DAGSTER_HOME, the code location of workspace.yaml
            home = home_from_environment(args.home).ensure()
            print(f"DAGSTER_HOME {prepare_dagster_home(home)}")
            if params is not None:
                with bf.in_process_graphql(WORKSPACE) as graphql:
                    backfill_id = bf.launch_backfill(graphql, params)
            instance = stack.enter_context(DagsterInstance.get())
            progress = functools.partial(bf.progress_from_instance, instance, backfill_id)
        if params is not None:
            which = "every quarter" if quarters is None else f"{quarters[0]} to {quarters[-1]}"
            print(f"asset backfill {backfill_id} submitted: {which}, every quarter asset")
            print("The Dagster daemon launches its runs (dagster-daemon run, or dx-pipeline ui).")
            ui = (args.url or "http://127.0.0.1:3000").rstrip("/")
            print(f"Watch it: {ui}/runs/b/{backfill_id} (UI: Overview -> Backfills)")
            print(f"      or: dx-pipeline backfill --status {backfill_id} [--wait]")
        if not args.wait:
            if params is None:  # --status: one line of progress
                print(progress().line())
            return 0
        last = bf.wait_for_backfill(
            progress, args.timeout, on_change=lambda p: print(p.line(), flush=True)
        )
    if not last.finished:
        print(f"still {last.status} after {args.timeout:.0f} s; is the daemon running?")
    return 0 if last.status == "COMPLETED_SUCCESS" else 1


def _quarters_from(first: str, last: str | None) -> list[Quarter]:
    last = last or quarterly_partitions.get_last_partition_key()
    if last is None:
        raise ValueError("no quarter has closed yet to backfill up to; give --to")
    start, end = require_partition(first), require_partition(last)
    quarters = quarter_range(start, end)
    if not quarters:
        raise ValueError(f"--from {first} is after --to {end}")
    return quarters


def _ui(args: argparse.Namespace) -> int:
    home = home_from_environment(args.home).ensure()
    prepare_dagster_home(home)
    os.environ["DX_HOME"] = str(home.root)
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE), "-p", str(args.port)]
    print(" ".join(cmd), flush=True)
    print(f"Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C or SIGTERM stops it and everything "
          "it started)", flush=True)
    return run_group(cmd)
