"""GX runs the same expectations as DuckDB and agrees; dq_results and the report are written."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from dx_pipeline.quality.report import write_report
from dx_pipeline.quality.results import read_dq_results, write_dq_results
from dx_pipeline.quality.runner import _clean, run_suite
from dx_pipeline.reference import schemas
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline.storage.parquet import partition_path
from dx_pipeline_tests.quality import factories as f


def _broken_home(tmp_path) -> DxHome:
    home = DxHome(tmp_path)
    f.write_valid_quarter(home)
    d = f.dossiers()
    d.loc[1, "dossier_id"] = d.loc[0, "dossier_id"]
    d.loc[3, "due_at"] = d.loc[3, "received_at"] - pd.Timedelta(days=1)
    d.loc[4, "channel"] = 9
    write_partition(home, "portal_dossiers", f.Q, d)
    return home


def test_gx_and_duckdb_agree_on_a_full_batch(tmp_path):
    home = _broken_home(tmp_path)
    outcomes = run_suite("portal_dossiers", home, f.Q)
    by = {o.check: o for o in outcomes}
    for o in outcomes:
        if o.gx is None:
            assert o.engine == "duckdb"  # custom rules
            continue
        assert o.engine == "duckdb + gx (all rows)"
        gx_ok = all(r["success"] for r in o.gx)
        assert gx_ok == (o.failing_rows == 0) == o.passed, o.check
    unique = by["dossier_id_unique"].gx[0]
    assert unique["expectation"] == "expect_column_values_to_be_unique"
    assert unique["result"]["unexpected_count"] == 2
    assert by["channel_in_set"].gx[0]["result"]["unexpected_count"] == 1
    types = by["column_types_match_contract"].gx
    assert len(types) == len(schemas.PORTAL_DOSSIERS.columns) and all(r["success"] for r in types)


def test_gx_on_a_sample_when_the_partition_is_large(tmp_path):
    home = _broken_home(tmp_path)
    outcomes = run_suite("portal_dossiers", home, f.Q, gx_max_rows=50, gx_sample_rows=20)
    by = {o.check: o for o in outcomes}
    assert by["column_types_match_contract"].engine.startswith("duckdb + gx (20-row sample")
    assert by["column_types_match_contract"].passed
    assert by["dossier_id_unique"].failing_rows == 2 and not by["dossier_id_unique"].passed


def test_dq_results_keep_other_datasets_and_replace_the_same_one(tmp_path):
    home = _broken_home(tmp_path)
    dossier_outcomes = run_suite("portal_dossiers", home, f.Q, run_gx=False)
    write_dq_results(home, f.Q, dossier_outcomes, run_id="r1")
    write_dq_results(home, f.Q, run_suite("agencies", home, f.Q, run_gx=False), run_id="r2")
    write_dq_results(home, f.Q, dossier_outcomes, run_id="r3")

    dq = read_dq_results(home, f.Q)
    assert len(dq) == len(dossier_outcomes) + len(run_suite("agencies", home, f.Q, run_gx=False))
    assert set(dq.loc[dq["dataset"] == "portal_dossiers", "run_id"]) == {"r3"}
    assert set(dq.loc[dq["dataset"] == "agencies", "run_id"]) == {"r2"}
    row = dq[(dq["dataset"] == "portal_dossiers") & (dq["check"] == "received_before_due")].iloc[0]
    assert row["severity"] == "WARN" and not row["passed"] and row["failing_rows"] == 1
    # the severity that applied (a duplicate within tolerance is a WARN) and the tolerance itself
    row = dq[(dq["dataset"] == "portal_dossiers") & (dq["check"] == "dossier_id_unique")].iloc[0]
    assert row["severity"] == "WARN" and not row["passed"] and row["failing_rows"] == 2
    assert row["expected"].endswith(
        "tolerance: WARN up to max(0.1 % of checked, 5); ERROR beyond (allowed 5 of 90)"
    )
    passed = dq[dq["passed"]]
    assert len(passed) and set(passed["severity"]) == {"ERROR"}  # what a failure beyond tolerance would be
    schema = pq.read_schema(partition_path(home, "dq_results", f.Q))
    assert schema.names[:7] == [
        "dataset",
        "check",
        "severity",
        "passed",
        "observed",
        "expected",
        "failing_rows",
    ]

    folder = home.dq_reports_for(f.Q)
    assert {p.name for p in (folder / "runs").iterdir()} == {
        "r1_portal_dossiers.json", "r2_agencies.json", "r3_portal_dossiers.json"}
    page = write_report(home, f.Q).read_text(encoding="utf-8")
    assert "dossier_id_unique" in page and "<script" not in page
    assert "No ERROR check failed." in page and "0 failed ERROR, 3 failed WARN" in page
    assert "2 of 90<br><small>(WARN up to 5)</small>" in page  # the duplicates against the tolerance
    # officials read a verdict and the datasets in Vietnamese, warnings in words, no check codes
    summary = page[page.index("Tóm tắt cho lãnh đạo"):page.index("Detail for engineers")]
    assert "đủ điều kiện chấm điểm và xếp hạng" in summary
    assert "Hồ sơ trên Cổng dịch vụ công" in summary and "3 cảnh báo, 0 lỗi phải sửa" in summary
    assert "Cảnh báo: " in summary and "dossier_id_unique" not in summary

    d = f.dossiers()
    d.loc[:9, "channel"] = 9  # 10 of 90 rows: beyond the tolerance
    write_partition(home, "portal_dossiers", f.Q, d)
    write_dq_results(home, f.Q, run_suite("portal_dossiers", home, f.Q, run_gx=False), run_id="r4")
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "1 ERROR checks failed" in page
    assert "Chưa thể chấm điểm và xếp hạng quý" in page and "Lỗi phải sửa: " in page
    assert "10 dòng / 90" in page
    row = read_dq_results(home, f.Q).set_index("check").loc["channel_in_set"]
    assert (row["severity"], row["failing_rows"]) == ("ERROR", 10)


def test_gx_context_and_suites_are_built_once_per_process(tmp_path):
    from dx_pipeline.quality import runner

    home = _broken_home(tmp_path)
    first = run_suite("portal_dossiers", home, f.Q)
    built = dict(runner._GX._validations)
    second = run_suite("portal_dossiers", home, f.Q)
    assert runner._GX.contexts_created == 1
    assert runner._GX._validations == built  # the same validation definition was reused
    assert [(o.check, o.passed, o.gx) for o in first] == [(o.check, o.passed, o.gx) for o in second]


def test_samples_are_the_first_failing_rows_in_file_order(tmp_path):
    """Samples read by file position (one query for every check) are the rows a ``LIMIT``
    query per failing check returns: the first failing rows, in file order, over row groups;
    a duplicated id's rows in file order too."""
    import duckdb

    home = DxHome(tmp_path)
    f.write_valid_quarter(home)
    d = f.dossiers(n_per_agency=60)
    late = list(range(7, len(d), 11))  # failing rows spread over every row group
    d.loc[late, "due_at"] = d.loc[late, "received_at"] - pd.Timedelta(days=1)
    ids = d["dossier_id"].tolist()
    for i in (5, 40, 90):
        ids[i + 1] = ids[i]
    d["dossier_id"] = ids
    path = partition_path(home, "portal_dossiers", f.Q)
    write_partition(home, "portal_dossiers", f.Q, d)
    pq.write_table(pq.read_table(path), path, row_group_size=25)
    by = {o.check: o for o in run_suite("portal_dossiers", home, f.Q, run_gx=False)}
    con = duckdb.connect()
    batch = f"read_parquet('{path}', hive_partitioning = false)"

    def rows(sql: str) -> list[dict]:
        cur = con.execute(sql)
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    due = by["received_before_due"]
    assert due.failing_rows == len(late) and len(due.sample) == 5
    expected = rows(f"SELECT * FROM {batch} WHERE NOT (due_at >= received_at) LIMIT 5")
    assert due.sample == _clean(expected)
    unique = by["dossier_id_unique"]
    assert unique.failing_rows == 6 and len(unique.sample) == 6
    keys = sorted({ids[5], ids[40], ids[90]})
    numbered = batch.replace(")", ", file_row_number = true)")
    expected = rows(f"SELECT * EXCLUDE (file_row_number) FROM {numbered} WHERE dossier_id IN {tuple(keys)} "
                    "ORDER BY dossier_id, file_row_number")  # the rows of a repeated id in file order
    assert unique.sample == _clean(expected)
