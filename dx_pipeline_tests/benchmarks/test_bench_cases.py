"""The ``engine`` and ``duplicates`` bench cases end to end at tiny sizes: each measurement in
its own process, the JSON and the printed table complete, the engine's baseline computing the
engine's own points, every duplicate row rejected with one reason, the file row limit refusing.

No timing assertions: speed is what the benchmark reports, not what the tests judge.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.__main__ import main
from benchmarks.case_runner import SMALL_DUP_ROWS, SMALL_ENGINE_SIZES, run_case
from dx_pipeline.sources.file_safety import DEFAULT_LIMITS


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_cases")
    assert main(["--case", "engine", "--case", "duplicates", "--small", "--out", str(out)]) == 0
    return json.loads((out / "bench_cases.json").read_text(encoding="utf-8"))


def _measured(run: dict) -> None:
    assert run["seconds"] > 0 and run["process_seconds"] >= run["seconds"]
    assert run["launcher_mb"] < 30  # the child's own peak, not the test process's
    assert run["peak_mb"] >= run["own_peak_mb"] - 1 >= run["input_peak_mb"] - 1


def test_engine_case_measures_score_against_a_baseline_that_agrees(cases):
    engine = cases["engine"]
    assert [(r["units"], r["indicators"]) for r in engine["sizes"]] == list(SMALL_ENGINE_SIZES)
    for row in engine["sizes"]:
        _measured(row["engine"])
        _measured(row["baseline"])
        # the baseline computes the same points: same sum of every unit's total
        assert row["agree"] and row["engine"]["total_points_sum"] > 0
        units, k = row["units"], row["indicators"]
        pillars = k if k <= 3 else 4
        assert row["engine"]["score_rows"] == units * (1 + pillars + k)
        assert row["time_ratio"] > 0 and row["peak_ratio"] > 0
    assert len(engine["targets"]) == 3
    assert all(isinstance(t["met"], bool) for t in engine["targets"])


def test_duplicates_case_rejects_every_row_and_the_file_limit_refuses(cases):
    dup = cases["duplicates"]
    limit = DEFAULT_LIMITS.max_rows
    assert dup["row_limit"] == limit
    runs = {(r["case"], r["rows"]): r for r in dup["runs"]}
    assert set(runs) == {("duplicates_inbox", n) for n in (*SMALL_DUP_ROWS, limit - 1)} | {
        ("duplicates_db", n) for n in SMALL_DUP_ROWS}
    for run in runs.values():
        _measured(run)
        assert run["accepted"] == 0
        assert run["rejected"] == run["rows"] and run["distinct_reasons"] == 1
        # one reason per group, naming a few rows and counting the rest
        assert f"{run['rows']:,} times" in run["reason_sample"] and "others" in run["reason_sample"]
        assert run["longest_reason_chars"] < 250
    assert dup["db_time_ratio"] > 0
    assert all(isinstance(t["met"], bool) for t in dup["targets"])


def test_a_file_over_the_row_limit_is_one_reject(tmp_path):
    run = run_case("duplicates_inbox", [DEFAULT_LIMITS.max_rows, tmp_path / "in"], tmp_path / "logs")
    assert run["accepted"] == 0 and run["rejected"] == 1
    assert f"more than {DEFAULT_LIMITS.max_rows:,} filled rows" in run["reason_sample"]


def test_a_case_over_its_memory_cap_is_stopped_and_reported(tmp_path):
    run = run_case("engine", [200, 3], tmp_path, caps={"cap_mb": 50, "cap_s": 60})
    assert run["over_cap"] == "memory" and run["rss_mb_at_cap"] > 50
    assert "seconds" not in run


def test_printed_table_names_every_target(tmp_path, capsys, cases):
    from benchmarks.case_runner import format_cases

    text = format_cases(cases)
    for key in ("engine", "duplicates"):
        for t in cases[key]["targets"]:
            assert t["label"] in text
    assert "engine: units x indicators" in text and "reporting db" in text and "inbox CSV" in text
    assert "MET" in text or "MISSED" in text
