"""What an asset backfill relies on, checked without running one: every cross-quarter read is a
declared partition dependency, the backfill policies keep the per-quarter run limit meaningful,
and ``dx-pipeline backfill`` asks for exactly the quarters it was given.

The backfill itself runs end to end in ``dx_pipeline_tests/scale/test_asset_backfill.py``.
"""

from __future__ import annotations

import pytest
from dagster import AssetKey, BackfillPolicy, TimeWindowPartitionMapping

from dx_pipeline.defs import backfill as bf
from dx_pipeline.reference.quarters import SAMPLE_QUARTERS, Quarter
from dx_pipeline_tests.expected_graph import ASSETS, MATERIALIZED, QUARTER_JOB

CROSS_QUARTER = {
    # child: {parent: (start_offset, end_offset)} -- what the asset body reads
    "index_scores": {"agency_kpis": (-1, 0)},  # carry-forward of last quarter's KPIs
    # the quarter against the one before it; with Q4 the year against the year before
    "plan_scorecard": {"agency_kpis": (-7, 0)},
    "ranking_snapshot": {"ranking_snapshot": (-1, -1)},  # movement against last quarter's rank
    "period_rankings": {
        "agency_kpis": (-3, 0),  # the year's quarters
        "period_rankings": (-4, -2),  # the previous half-year and year
    },
    "portal_site": {"ranking_snapshot": (-7, 0)},  # an agency's trend over eight quarters
}
CHAIN = {"ranking_snapshot", "period_rankings"}
"""Cheap assets that depend on earlier partitions of themselves: one run per backfill range."""


def _graph():
    from dx_pipeline.definitions import defs

    return defs.resolve_asset_graph()


def test_every_cross_quarter_read_is_a_declared_partition_dependency():
    graph = _graph()
    for child, parents in CROSS_QUARTER.items():
        for parent, offsets in parents.items():
            mapping = graph.get_partition_mapping(AssetKey(child), AssetKey(parent))
            assert isinstance(mapping, TimeWindowPartitionMapping), (child, parent)
            assert (mapping.start_offset, mapping.end_offset) == offsets, (child, parent)
            # the first quarters have nothing before them
            assert mapping.allow_nonexistent_upstream_partitions, (child, parent)
    for key in ASSETS:
        node = graph.get(AssetKey(key))
        for parent in node.parent_keys:
            mapping = graph.get_partition_mapping(AssetKey(key), parent)
            declared = CROSS_QUARTER.get(key, {}).get(parent.to_user_string())
            if declared is None:  # everything else reads the same quarter
                assert (mapping.start_offset, mapping.end_offset) == (0, 0), (key, parent)


def test_per_quarter_assets_run_one_quarter_per_run_and_the_chain_one_run_per_range():
    """No policy = one run per partition, tagged ``dagster/partition``: the instance's
    one-run-per-quarter limit applies and different quarters run side by side. A policy with
    several partitions per run would tag ranges instead, and the per-quarter assets read
    ``context.partition_key``, which a range does not have."""
    graph = _graph()
    for key in MATERIALIZED:
        policy = graph.get(AssetKey(key)).backfill_policy
        if key in CHAIN:
            assert policy == BackfillPolicy.single_run(), key
        else:
            assert policy is None, key


def test_the_quarter_job_still_runs_one_quarter_per_run():
    """A job backfill or the UI's job partition page must never make a range run of the
    per-quarter assets, whatever the publication step's asset-backfill policy."""
    from dx_pipeline.definitions import defs

    assert defs.resolve_job_def("quarter_job").backfill_policy == BackfillPolicy.multi_run(1)


def test_backfill_targets_exactly_the_quarters_of_every_asset():
    paths = [["agencies"], ["index_scores"]]
    last = SAMPLE_QUARTERS[-1].partition_key  # 2026-07: the sample runs to 2026-Q3
    params = bf.backfill_params(SAMPLE_QUARTERS, paths)
    assert "assetSelection" not in params and "partitionNames" not in params
    assert params["partitionsByAssets"] == [
        {"assetKey": {"path": p}, "partitions": {"ranges": [{"start": "2024-01", "end": last}]}}
        for p in paths
    ]
    assert {"key": "dx/trigger", "value": "backfill"} in params["tags"]

    gaps = [Quarter.parse(q) for q in ("2025-Q3", "2024-Q1", "2024-Q2", "2025-Q4")]
    ranges = bf.backfill_params(gaps, paths)["partitionsByAssets"][0]["partitions"]["ranges"]
    assert ranges == [{"start": "2024-01", "end": "2024-04"}, {"start": "2025-07", "end": "2025-10"}]

    everything = bf.backfill_params(None, paths)
    assert everything["allPartitions"] is True
    assert everything["assetSelection"] == [{"path": p} for p in paths]
    with pytest.raises(ValueError, match="at least one quarter"):
        bf.backfill_params([], paths)


def test_backfill_selects_every_asset_of_the_quarter_job_and_no_decision():
    """A backfill recomputes quarters and opens their appraisal; it never publishes a
    provisional or final result (those need a person's run config)."""
    from dx_pipeline.definitions import defs

    assert {"/".join(p) for p in bf.quarter_asset_paths()} == QUARTER_JOB
    job = defs.resolve_job_def("quarter_job")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == QUARTER_JOB


def test_a_refused_backfill_says_why():
    answer = {"launchPartitionBackfill": {"__typename": "PythonError", "message": "boom"}}
    with pytest.raises(bf.BackfillError, match="PythonError: boom"):
        bf.backfill_id_from(answer)
    ok = {"launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "abc"}}
    assert bf.backfill_id_from(ok) == "abc"


def test_cli_backfill_refuses_unclear_quarters_before_touching_anything(tmp_path, monkeypatch, capsys):
    from dx_pipeline.cli.main import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    for argv in (["backfill"], ["backfill", "--all", "--from", "2024-Q1"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)  # exactly one of --all, --from, --status
        assert exit_.value.code == 2
    assert main(["backfill", "--to", "2024-Q3", "--all"]) == 1
    assert "--to goes with --from" in capsys.readouterr().err
    assert main(["backfill", "--from", "2025-Q4", "--to", "2024-Q1"]) == 1
    assert "after --to 2024-Q1" in capsys.readouterr().err
    assert not (tmp_path / "dagster").exists()
