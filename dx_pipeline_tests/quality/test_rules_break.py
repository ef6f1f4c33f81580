"""Break each rule on purpose, on small hand-made partitions, and see the right check fail
with the right severity (and every other check of the dataset still pass)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dx_pipeline.quality.runner import run_suite
from dx_pipeline.quality.suites import SUITES
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline_tests.quality import factories as f


@pytest.fixture()
def home(tmp_path) -> DxHome:
    h = DxHome.from_env(tmp_path)
    f.write_valid_quarter(h)
    return h


def _outcomes(home, dataset, **kw):
    return {o.check: o for o in run_suite(dataset, home, f.Q, run_gx=False, **kw)}


def _only_failure(home, dataset, frame, expected_check):
    write_partition(home, dataset, f.Q, frame)
    outcomes = _outcomes(home, dataset)
    failed = {name for name, o in outcomes.items() if not o.passed}
    assert failed == {expected_check}, {n: outcomes[n].observed for n in failed}
    return outcomes[expected_check]


@pytest.mark.parametrize("dataset", sorted(SUITES))
def test_valid_partition_passes_every_check(home, dataset):
    outcomes = _outcomes(home, dataset)
    assert len(outcomes) == len(SUITES[dataset].checks)
    assert all(o.passed for o in outcomes.values()), {n: o.observed for n, o in outcomes.items() if not o.passed}


def _dossiers_with(mutate):
    d = f.dossiers()
    mutate(d)
    return d


DOSSIER_BREAKS = [
    ("dossier_id_unique", "ERROR", 2, lambda d: d.__setitem__("dossier_id", d["dossier_id"].where(d.index != 1, d.loc[0, "dossier_id"]))),
    ("received_at_not_null", "WARN", 1, lambda d: d.__setitem__("received_at", d["received_at"].where(d.index != 2))),
    ("received_before_due", "WARN", 1, lambda d: d.__setitem__("due_at", d["due_at"].where(d.index != 3, d["received_at"] - pd.Timedelta(days=1)))),
    ("received_before_finished", "WARN", 1, lambda d: d.__setitem__("finished_at", d["finished_at"].where(d.index != 5, d["received_at"] - pd.Timedelta(hours=1)))),
    ("channel_in_set", "ERROR", 1, lambda d: d.__setitem__("channel", d["channel"].where(d.index != 4, 7))),
    ("status_in_set", "ERROR", 1, lambda d: d.__setitem__("status", d["status"].where(d.index != 4, "lost"))),
    ("rating_in_set", "WARN", 1, lambda d: d.__setitem__("rating", d["rating"].where(d.index != 4, 9))),
    ("agency_valid_in_quarter", "ERROR", 1, lambda d: d.__setitem__("agency_code", d["agency_code"].where(d.index != 6, "KHONG_CO"))),
    ("required_columns_not_null", "ERROR", 1, lambda d: d.__setitem__("agency_code", d["agency_code"].where(d.index != 6, None))),
]


@pytest.mark.parametrize("check,severity,failing,mutate", DOSSIER_BREAKS, ids=[b[0] for b in DOSSIER_BREAKS])
def test_dossier_rule_broken(home, check, severity, failing, mutate):
    o = _only_failure(home, "portal_dossiers", _dossiers_with(mutate), check)
    assert o.severity == severity and o.failing_rows == failing
    assert o.sample, "a failing check shows failing rows"


def test_agency_not_valid_in_quarter_names_the_reason(home):
    d = f.dossiers()
    d.loc[0, "agency_code"] = "SO_OLD"  # merged away at the end of 2024
    o = _only_failure(home, "portal_dossiers", d, "agency_valid_in_quarter")
    assert "SO_OLD" in o.observed and "not valid in 2025-Q2" in o.observed


def test_volume_drop_against_previous_quarter_warns(home):
    prev = f.Q.previous()
    write_partition(home, "portal_dossiers", prev, f.dossiers(n_per_agency=30, prefix="OLD"))
    assert _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"].passed
    d = f.dossiers(n_per_agency=30)
    d = d[~((d["agency_code"] == "SO_TC") & (d.index % 30 >= 10))]  # SO_TC: 30 -> 10
    o = _only_failure(home, "portal_dossiers", d, "volume_vs_previous_quarter")
    assert o.severity == "WARN" and o.failing_rows == 1 and o.sample[0]["agency_code"] == "SO_TC"


def test_volume_without_previous_quarter_passes(home):
    o = _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"]
    assert o.passed and "no previous quarter" in o.observed


def test_percentage_over_100_in_submissions(home):
    s = f.submissions()
    s.loc[0, "value"] = 85.0  # 85 % typed as 85 instead of 0.85
    o = _only_failure(home, "agency_submissions", s, "ratio_values_within_0_1")
    assert o.severity == "ERROR" and o.failing_rows == 1


def test_submission_numerator_above_denominator(home):
    s = f.submissions()
    s.loc[0, "numerator"] = 120.0
    assert _only_failure(home, "agency_submissions", s, "numerator_le_denominator").severity == "ERROR"


def test_duplicate_submission_version(home):
    s = pd.concat([f.submissions(), f.submissions().iloc[[0]]], ignore_index=True)
    o = _only_failure(home, "agency_submissions", s, "submission_version_unique")
    assert o.severity == "ERROR" and o.failing_rows == 2


def test_reconciliation_without_reported_counts_passes(home):
    o = _outcomes(home, "agency_submissions")["reported_vs_portal_dossiers"]
    assert o.passed and o.observed == "no reported counts"


def test_reconciliation_reported_counts_against_portal(home):
    s = f.submissions()
    extra = pd.DataFrame([
        dict(agency_code="SO_TTTT", indicator_code="dossiers_received", value=30.0, unit="count", version=1),
        dict(agency_code="SO_TC", indicator_code="dossiers_received", value=31.0, unit="count", version=1),
        dict(agency_code="UBND_HX", indicator_code="dossiers_received", value=60.0, unit="count", version=1),
    ])
    s = pd.concat([s, extra], ignore_index=True)
    s["is_effective"] = True
    s["submitted_at"] = pd.Timestamp("2025-07-05 09:00")
    o = _only_failure(home, "agency_submissions", s, "reported_vs_portal_dossiers")
    assert o.severity == "WARN" and o.failing_rows == 1
    assert o.sample[0]["agency_code"] == "UBND_HX" and o.sample[0]["portal"] == 30


def test_rejected_submission_rows_warn(home):
    rejects = pd.DataFrame([
        dict(agency_code="SO_TC", indicator_code="dx_budget_share", value="mười", source_ref="so_tc.xlsx!A7",
             field="value", reason="not a number", submitted_at=dt.datetime(2025, 7, 1), source="inbox"),
        dict(agency_code="SO_TC", indicator_code="no_such_kpi", value="0.5", source_ref="so_tc.xlsx!A8",
             field="indicator_code", reason="unknown indicator code", submitted_at=dt.datetime(2025, 7, 1), source="inbox"),
    ])
    write_partition(home, "submission_rejects", f.Q, rejects)
    o = _outcomes(home, "agency_submissions")["no_rejected_submission_rows"]
    assert not o.passed and o.severity == "WARN" and o.failing_rows == 2
    assert "value: 1" in o.observed and "indicator_code: 1" in o.observed


def test_kpi_rate_above_one_but_counts_may_exceed_one(home):
    k = f.kpis()
    assert (k.loc[k["kpi_code"] == "dossiers_received", "value"] > 1).all()  # counts are not rates
    k.loc[0, ["numerator", "value"]] = [40.0, 40 / 30]
    failed = {n for n, o in _outcomes_after(home, "agency_kpis", k).items() if not o.passed}
    assert failed == {"rates_within_0_1", "numerator_le_denominator"}


def _outcomes_after(home, dataset, frame):
    write_partition(home, dataset, f.Q, frame)
    return _outcomes(home, dataset)


def test_index_points_above_max(home):
    s = f.index_scores()
    s.loc[1, "points"] = 120.0
    o = _only_failure(home, "index_scores", s, "points_within_max")
    assert o.severity == "ERROR" and o.failing_rows == 1


def test_registry_ends_before_it_starts(home):
    a = f.agencies()
    a.loc[0, "valid_to"] = dt.date(2019, 1, 1)
    assert _only_failure(home, "agencies", a, "valid_from_before_valid_to").severity == "ERROR"


def test_missing_contract_column_fails_schema_checks(home, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dx_pipeline.storage.parquet import partition_path

    table = pa.Table.from_pandas(f.kpis().drop(columns=["target"]), preserve_index=False)
    pq.write_table(table, partition_path(home, "agency_kpis", f.Q))  # bypasses the contract cast
    outcomes = _outcomes(home, "agency_kpis")
    assert not outcomes["columns_match_contract"].passed
    assert "target" in outcomes["columns_match_contract"].observed
    assert not outcomes["targets_within_0_1"].passed


def test_missing_partition_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="portal_dossiers has no partition for 2025-Q2"):
        run_suite("portal_dossiers", DxHome.from_env(tmp_path), f.Q)
