"""The Dagster UI, checked the way a data engineer uses it: the real webserver, its GraphQL API
and a headless-Chromium picture of the asset graph.

One webserver for the module (it takes ~20 s to load the code location) on a throwaway
DAGSTER_HOME (SQLite instance from ``ensure_instance``) and a DX_HOME with a 1 % sample of
2025-Q2. Once it answers, the fixture turns the inbox sensor off through the UI (otherwise
the daemon's first tick would queue the sample's inbox files as a second run of the quarter).
The tests run in file order: what the UI lists; an asset backfill launched through the UI and
cancelled before the daemon starts (the daemon then boots while the next test runs); the
asset graph as a picture (before any run, so it shows the plain graph); then a quarter
launched from the UI and run by the daemon. Teardown kills both
process groups and fails if anything survives.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from dx_pipeline.defs import backfill
from dx_pipeline.defs.instance import ensure_instance
from dx_pipeline.quality.suites import SUITES
from dx_pipeline.reference.quarters import SAMPLE_QUARTERS, Quarter
from dx_pipeline.reference.schemas import CONTRACTS
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.expected_graph import ASSETS, QUARTER_JOB
from dx_pipeline_tests.shell_env import PIPELINE_OVERRIDES
from dx_pipeline_tests.support import ui_probe

REPO_ROOT = Path(__file__).resolve().parents[2]
QUARTER = Quarter.parse("2025-Q2")
# Anything in the developer's shell that would point the pipeline elsewhere than the sample.
CLEARED_ENV = (*PIPELINE_OVERRIDES, "DX_DAGSTER_PG_URL")  # the UI test uses SQLite
RUN_START_TIMEOUT = 120.0
"""Seconds for the daemon to start, dequeue the run and finish its first step (~35 s idle)."""
RUN_TO_END = os.environ.get("DX_UI_RUN_TO_END") == "1"
"""Opt-in: wait for the launched quarter to finish and require SUCCESS (a few minutes)."""


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagster_ui")
    dagster_home, dx_home = root / "dagster_home", root / "dx_home"
    ensure_instance(dagster_home)
    server = ui_probe.start_ui(
        REPO_ROOT / "workspace.yaml", dagster_home, dx_home,
        log_dir=root / "logs", extra_env={k: None for k in CLEARED_ENV}, timeout=240,
        before_wait=lambda: generate_sample(
            DxHome(dx_home).ensure(), seed=7, scale=0.01, quarters=[QUARTER]
        ),
    )
    try:
        inventory = ui_probe.ui_inventory(server.base_url)
        sensor = inventory.sensors["inbox_sensor"]
        server.sensor_status_at_start = sensor["status"]
        server.sensor_status_after_stop = ui_probe.stop_sensor(server.base_url, sensor["id"])
        yield server
    finally:
        survivors = server.stop()
        assert not survivors, f"processes survived teardown: {survivors}"


def test_ui_lists_every_asset_check_job_schedule_and_sensor(ui):
    inventory = ui_probe.ui_inventory(ui.base_url)
    assert not inventory.location_errors, inventory.location_errors

    assert ASSETS == set(inventory.assets), sorted(inventory.assets)
    for key, asset in inventory.assets.items():
        assert asset["description"].strip(), f"{key} has no description in the UI"
        assert asset["partitioned"] and QUARTER.partition_key in asset["partition_keys"], key
        assert asset["owners"] == ["team:dx-data"], key
        if key in CONTRACTS:  # the schema is shown before the first materialization, with quarter
            assert asset["columns"] == CONTRACTS[key].names + ["quarter"], key
    assert (inventory.assets["period_rankings"]["columns"] or [])[-2:] == ["period", "rev"]

    expected_checks = {
        (suite.dataset, check.name): check.blocking
        for suite in SUITES.values()
        for check in suite.checks
    }
    shown = {key: check["blocking"] for key, check in inventory.checks.items()}
    missing = set(expected_checks) - set(shown)
    assert not missing, f"checks not in the UI: {sorted(missing)}"
    for key, blocking in expected_checks.items():
        assert shown[key] == blocking, f"{key}: blocking={shown[key]} in the UI, not {blocking}"
    # what is published is checked too, and a defect there blocks
    for key in (("ranking_snapshot", "ranking_snapshot_ranks_consistent"),
                ("rank_uncertainty", "rank_uncertainty_intervals_ordered"),
                ("period_rankings", "period_rankings_complete")):
        assert shown.get(key) is True, key
    for dataset in ("agencies", "portal_dossiers", "agency_submissions"):
        blocking_here = [name for (asset, name), b in shown.items() if asset == dataset and b]
        assert blocking_here, f"{dataset} has no blocking check"

    assert "quarter_job" in inventory.jobs
    assert inventory.jobs["quarter_job"]["description"]

    schedule = inventory.schedules["quarterly_ranking_schedule"]
    assert schedule["cron"] == "0 2 16 1,4,7,10 *"
    assert schedule["timezone"] == "Asia/Ho_Chi_Minh"
    assert schedule["next_ticks"], "the UI shows no upcoming tick"
    vietnam = ZoneInfo("Asia/Ho_Chi_Minh")
    for tick in schedule["next_ticks"]:
        local = dt.datetime.fromtimestamp(tick, vietnam)
        assert (local.day, local.hour, local.minute) == (16, 2, 0), local
        assert local.month in (1, 4, 7, 10), local

    sensor = inventory.sensors["inbox_sensor"]
    assert sensor["type"] == "STANDARD"
    assert sensor["min_interval"] > 0
    assert ui.sensor_status_at_start == "RUNNING"  # on by default: new inbox files start a run
    assert ui.sensor_status_after_stop == sensor["status"] == "STOPPED"  # the UI's toggle works


def _daemon_started(ui) -> None:
    """Start the daemon once, after the backfill test (whose backfill it must never run)."""
    if not any(p.name == "dagster-daemon" for p in ui.processes):
        ui.start_daemon()


def test_an_asset_backfill_launched_through_the_ui_targets_exactly_its_quarters(ui):
    """``launchPartitionBackfill`` through the webserver, the request ``dx-pipeline backfill
    --url`` sends: an asset backfill of every asset a step materializes over the sample quarters.
    It is cancelled before the daemon starts, so nothing runs."""
    inventory = ui_probe.ui_inventory(ui.base_url)
    keys = [q.partition_key for q in SAMPLE_QUARTERS]
    graphql = backfill.http_graphql(ui.base_url)
    params = backfill.backfill_params(
        SAMPLE_QUARTERS, backfill.quarter_asset_paths(),
        tags={"dx/trigger": "ui-test"},
    )
    backfill_id = backfill.launch_backfill(graphql, params)
    try:
        info = backfill.backfill_info(graphql, backfill_id)
        assert info["isAssetBackfill"] and info["status"] == "REQUESTED", info
        assert sorted(info["partitionNames"]) == keys
        assert {"/".join(a["path"]) for a in info["assetSelection"]} == QUARTER_JOB
        assert {"key": "dx/trigger", "value": "ui-test"} in info["tags"]
        assert info["runs"] == []
    finally:
        ui_probe.cancel_backfill(ui.base_url, backfill_id)
    assert backfill.backfill_info(graphql, backfill_id)["status"] in {"CANCELING", "CANCELED"}

    # The UI's own "Materialize" over a partition range sends partitionNames instead; its
    # preview shows the later quarters the partition mappings reach being rebuilt too.
    all_keys = inventory.assets["index_scores"]["partition_keys"]
    preview = ui_probe.asset_backfill_preview(ui.base_url, keys, inventory.assets, all_keys)
    assert preview["agencies"] == keys
    later = [k for k in all_keys if k > keys[-1]]
    if later:  # today is past the sample's last quarter
        assert later[0] in preview["index_scores"] and later[0] in preview["ranking_snapshot"]
    _daemon_started(ui)  # boots while the next test draws the graph


def _non_blank(png: Path) -> tuple[int, float]:
    """(distinct colours, share of the most common colour) of a screenshot."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24)
        top = max(count for count, _ in colours)
        return len(colours), top / (rgb.width * rgb.height)


@pytest.mark.browser
def test_asset_graph_renders_in_headless_chromium(ui, tmp_path):
    browser = ui_probe.chromium_binary()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no chromium is installed (.ci/run installs it)")
        pytest.skip("no chromium installed")
    inventory = ui_probe.ui_inventory(ui.base_url)
    groups = {asset["group"] for asset in inventory.assets.values()}
    assert ui_probe.dismiss_community_prompt(ui.base_url)

    png = Path(os.environ.get("DX_UI_SCREENSHOT") or tmp_path / "asset-graph.png")
    url = ui_probe.asset_graph_url(ui.base_url, groups)
    # Tall enough for the whole graph at the zoom Dagster opens with: nodes outside the
    # viewport are not drawn (period_rankings, lowest in publish, fell off at 1600 x 1000).
    # A loaded machine can hand Chromium's virtual-time budget to the page before the
    # webserver answered (the screenshot is then a spinner): take it again, with more time.
    for budget_ms in (15000, 30000, 60000):
        dom = ui_probe.capture_page(url, png, chromium=browser, window=(1920, 1600), budget_ms=budget_ms)
        if all(f">{asset}<" in dom for asset in ASSETS):
            break

    colours, top_share = _non_blank(png)
    assert colours > 200 and top_share < 0.98, (png, colours, top_share)
    for asset in sorted(ASSETS):
        assert f">{asset}<" in dom, f"{asset} not drawn in the asset graph ({png})"
    for group in groups:
        assert f">{group}<" in dom, group
    assert "Join the Dagster community" not in dom


@pytest.mark.slow
def test_a_quarter_launched_from_the_ui_is_queued_and_run_by_the_daemon(ui):
    _daemon_started(ui)
    run = ui_probe.launch_quarter(ui.base_url, QUARTER, tags={"dx/trigger": "ui-test"})
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["jobName"] == "quarter_job"
    assert tags["dagster/partition"] == QUARTER.partition_key == "2025-04"
    assert run["status"] in {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"}, run
    listed = ui_probe.runs_of_quarter(ui.base_url, QUARTER, job="quarter_job")
    assert run["runId"] in {r["runId"] for r in listed}

    def first_step_done(info: dict) -> bool:
        return any(step["status"] == "SUCCESS" for step in info["stepStats"])

    def finished(info: dict) -> bool:
        return info["status"] in ui_probe.TERMINAL_RUN_STATUSES

    info = ui_probe.wait_for_run(
        ui.base_url, run["runId"],
        finished if RUN_TO_END else first_step_done,
        timeout=900 if RUN_TO_END else RUN_START_TIMEOUT,
    )
    steps = {s["stepKey"]: s["status"] for s in info["stepStats"]}
    assert info["status"] != "QUEUED", f"the daemon never dequeued the run\n{ui.logs()}"
    assert steps.get("agencies") == "SUCCESS", f"{info['status']} {steps}\n{ui.logs()}"
    # The run wrote the sample quarter into this DX_HOME's warehouse, not somewhere else.
    registry = DxHome(Path(ui.env["DX_HOME"])).partition_dir("agencies", QUARTER) / "data.parquet"
    with duckdb.connect() as con:
        rows = con.execute("select count(*) from read_parquet(?)", [str(registry)]).fetchone()[0]
    assert rows > 100, rows

    if RUN_TO_END:
        assert info["status"] == "SUCCESS", f"{info['status']} {steps}"
        return
    if info["status"] not in ui_probe.TERMINAL_RUN_STATUSES:
        # The rest of the quarter takes minutes on 2 cores; terminate it from the UI instead.
        ui_probe.terminate_run(ui.base_url, run["runId"])  # raises unless the UI accepted it
        final = ui_probe.wait_for_run(ui.base_url, run["runId"], lambda i: False, timeout=60)
        assert final["status"] == "CANCELED", final["status"]
