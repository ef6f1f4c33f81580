"""The test queue's ordering by measured file costs (dx_pipeline_tests/file_costs.py)."""

from pathlib import Path

from dx_pipeline_tests import file_costs


def test_unmeasured_files_rank_by_their_slow_marker():
    costs = {"a.py": 300.0, "b.py": 90.0, "c.py": 5.0}
    files = ["a.py", "b.py", "c.py", "new_slow.py", "new.py"]
    got = file_costs.queue_costs(files, {"a.py", "b.py", "new_slow.py"}, costs)
    assert got == {"a.py": 300.0, "b.py": 90.0, "c.py": 5.0, "new_slow.py": 90.0, "new.py": 0.0}
    order = sorted(got, key=lambda f: -got[f])
    assert order[:2] == ["a.py", "b.py"] and order[-1] == "new.py"


def test_no_measurement_puts_slow_files_first():
    got = file_costs.queue_costs(["x.py", "y.py"], {"y.py"}, {})
    assert got["y.py"] > got["x.py"]


def test_costs_from_junit_sum_setup_call_and_teardown_per_file(tmp_path: Path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="dx_pipeline_tests.test_file_costs" name="t1" time="1.25"/>'
        '<testcase classname="dx_pipeline_tests.test_file_costs" name="t2" time="2.5"/>'
        '<testcase classname="dx_pipeline_tests.test_architecture.TestLayers" name="t3" time="4"/>'
        '<testcase classname="not_a_module" name="t4" time="9"/>'
        "</testsuite></testsuites>", encoding="utf-8")
    assert file_costs.costs_from_junit(report) == {
        "dx_pipeline_tests/test_architecture.py": 4.0,
        "dx_pipeline_tests/test_file_costs.py": 3.8,
    }


def test_the_committed_table_names_existing_files():
    repo = Path(file_costs.__file__).parent.parent
    missing = [f for f in file_costs.load_costs() if not (repo / f).is_file()]
    assert not missing, f"file_costs.json names files that are gone: {missing}"
