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
    h = DxHome(tmp_path)
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
    assert all(o.passed for o in outcomes.values()), {
        n: o.observed for n, o in outcomes.items() if not o.passed
    }


def _dossiers_with(mutate, rows):
    d = f.dossiers()
    mutate(d, rows)
    return d


def _set(column, value):
    """Mutation that sets ``column`` on the given rows to ``value(frame, rows)``."""
    def mutate(d, rows):
        d.loc[rows, column] = value(d, rows)
    return mutate


WITHIN = [5]
"""One broken row of 90: within every tolerance that is not zero (at least 5 rows allowed)."""
BEYOND = list(range(1, 21, 2))
"""Ten broken rows of 90 (odd rows, which all have a finished_at): beyond every tolerance."""

DOSSIER_BREAKS = [
    # check, severity with 1 broken row, with 10, failing rows per broken row, mutation
    ("dossier_id_unique", "WARN", "ERROR", 2,
     _set("dossier_id", lambda d, rows: d.loc[[r - 1 for r in rows], "dossier_id"].to_numpy())),
    ("received_at_not_null", "WARN", "ERROR", 1, _set("received_at", lambda d, rows: pd.NaT)),
    ("received_before_due", "WARN", "ERROR", 1,
     _set("due_at", lambda d, rows: d.loc[rows, "received_at"] - pd.Timedelta(days=1))),
    ("received_before_finished", "WARN", "ERROR", 1,
     _set("finished_at", lambda d, rows: d.loc[rows, "received_at"] - pd.Timedelta(hours=1))),
    ("channel_in_set", "WARN", "ERROR", 1, _set("channel", lambda d, rows: 7)),
    ("status_in_set", "WARN", "ERROR", 1, _set("status", lambda d, rows: "lost")),
    ("rating_in_set", "WARN", "ERROR", 1, _set("rating", lambda d, rows: 9)),
    ("supplement_counts_non_negative", "WARN", "ERROR", 1, _set("supplement_requests", lambda d, rows: -1)),
    ("agency_valid_in_quarter", "WARN", "ERROR", 1, _set("agency_code", lambda d, rows: "KHONG_CO")),
    # a whole-column contract check: zero tolerance
    ("required_columns_not_null", "ERROR", "ERROR", 1, _set("agency_code", lambda d, rows: None)),
]


@pytest.mark.parametrize(
    "check,within,beyond,per_row,mutate", DOSSIER_BREAKS, ids=[b[0] for b in DOSSIER_BREAKS]
)
def test_dossier_rule_broken_within_and_beyond_tolerance(home, check, within, beyond, per_row, mutate):
    o = _only_failure(home, "portal_dossiers", _dossiers_with(mutate, WITHIN), check)
    assert (o.severity, o.failing_rows, o.checked) == (within, per_row, 90)
    assert o.sample, "a failing check shows failing rows"
    assert o.allowed == (0 if within == "ERROR" else 5)
    assert ("within tolerance" in o.observed) == (within == "WARN")

    o = _only_failure(home, "portal_dossiers", _dossiers_with(mutate, BEYOND), check)
    assert (o.severity, o.failing_rows) == (beyond, per_row * len(BEYOND))
    assert o.blocking and "beyond tolerance" in o.observed


def test_failing_dossiers_are_named_in_the_observed_text(home):
    d = f.dossiers()
    d.loc[1, "dossier_id"] = d.loc[0, "dossier_id"]
    d.loc[3, "due_at"] = d.loc[3, "received_at"] - pd.Timedelta(days=1)
    write_partition(home, "portal_dossiers", f.Q, d)
    outcomes = _outcomes(home, "portal_dossiers")
    assert d.loc[0, "dossier_id"] in outcomes["dossier_id_unique"].observed
    assert f"{d.loc[3, 'dossier_id']}/{d.loc[3, 'agency_code']}" in outcomes["received_before_due"].observed


def test_passed_checks_keep_their_declared_severity_and_show_the_tolerance(home):
    o = _outcomes(home, "portal_dossiers")["dossier_id_unique"]
    assert o.passed and o.severity == "ERROR" and not o.blocking
    assert "tolerance: WARN up to max(0.1 % of checked, 5); ERROR beyond" in o.expected
    assert o.expected.endswith("(allowed 5 of 90)")


def test_agency_not_valid_in_quarter_names_the_reason(home):
    d = f.dossiers()
    d.loc[0, "agency_code"] = "SO_OLD"  # merged away at the end of 2024
    o = _only_failure(home, "portal_dossiers", d, "agency_valid_in_quarter")
    assert "SO_OLD" in o.observed and "not valid in 2025-Q2" in o.observed
    assert o.severity == "WARN"


def test_agency_validity_without_a_registry_is_an_error(home):
    from dx_pipeline.storage.parquet import partition_path

    partition_path(home, "agencies", f.Q).unlink()
    o = _outcomes(home, "portal_dossiers")["agency_valid_in_quarter"]
    assert not o.passed and o.severity == "ERROR" and o.failing_rows == 90
    assert "no agencies registry partition" in o.observed


def test_volume_drop_against_previous_quarter_warns(home):
    prev = f.Q.previous()
    write_partition(home, "portal_dossiers", prev, f.dossiers(n_per_agency=30, prefix="OLD"))
    assert _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"].passed
    d = f.dossiers(n_per_agency=30)
    d = d[~((d["agency_code"] == "SO_TC") & (d.index % 30 >= 10))]  # SO_TC: 30 -> 10
    # and 25 of SO_TC's dossiers received last quarter, still open: carried over, not received now
    d = pd.concat([d, _carried_over(f.dossiers(n_per_agency=25, prefix="OLD"), "SO_TC")], ignore_index=True)
    o = _only_failure(home, "portal_dossiers", d, "volume_vs_previous_quarter")
    assert o.severity == "WARN" and o.failing_rows == 1 and o.sample[0]["agency_code"] == "SO_TC"
    assert o.sample[0]["current"] == 10 and o.sample[0]["previous"] == 30
    assert o.checked == 3 and "1 of 3 agencies" in o.observed


def _carried_over(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    """``code``'s dossiers of ``frame`` as received in the previous quarter, still open at the
    start of this one (the quarter's export carries them)."""
    part = frame[frame["agency_code"] == code].copy()
    part["received_at"] = part["received_at"] - pd.Timedelta(days=20)
    part["due_at"] = part["received_at"] + pd.Timedelta(days=30)
    part["status"], part["finished_at"] = "processing", None
    return part


def _registry_with(*rows: dict) -> pd.DataFrame:
    extra = pd.DataFrame([{**f.agencies().iloc[0].to_dict(), **row} for row in rows])
    return pd.concat([f.agencies(), extra], ignore_index=True)


def _as_agency(frame: pd.DataFrame, code: str, start: int = 0, stop: int | None = None):
    """Rows ``start:stop`` of ``frame`` (one agency's dossiers) moved to agency ``code``."""
    part = frame.iloc[start:stop].copy()
    part["agency_code"] = code
    part["dossier_id"] = part["dossier_id"] + "-" + code
    return part


def test_volume_counts_both_quarters_under_a_mid_quarter_merger(home):
    """SO_X and SO_Y merge into SO_NEW on 1 May: April's dossiers still carry the old codes,
    so this quarter is counted under the successor too (the sample's 2025-03-01 mergers)."""
    write_partition(home, "agencies", f.Q, _registry_with(
        dict(agency_code="SO_X", valid_to=dt.date(2025, 4, 30), successor_code="SO_NEW"),
        dict(agency_code="SO_Y", valid_to=dt.date(2025, 4, 30), successor_code="SO_NEW"),
        dict(agency_code="SO_NEW", valid_from=dt.date(2025, 5, 1), valid_to=None, successor_code=None),
    ))
    one = f.dossiers(n_per_agency=30)
    one = one[one["agency_code"] == "SO_TC"]
    before = pd.concat([f.dossiers(n_per_agency=30, prefix="OLD"), _as_agency(one, "SO_X"),
                        _as_agency(one, "SO_Y")], ignore_index=True)
    write_partition(home, "portal_dossiers", f.Q.previous(), before)
    now = pd.concat([f.dossiers(n_per_agency=30), _as_agency(one, "SO_X", 0, 10),
                     _as_agency(one, "SO_Y", 0, 10), _as_agency(one, "SO_NEW", 0, 20)],
                    ignore_index=True)  # SO_NEW: 60 -> 40 with April's old codes
    write_partition(home, "portal_dossiers", f.Q, now)
    o = _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"]
    assert o.passed, o.observed
    assert o.checked == 4  # SO_TTTT, SO_TC, UBND_HX and SO_NEW

    lost = now[now["agency_code"] != "SO_NEW"]  # SO_NEW: 60 -> 20, a lost export
    write_partition(home, "portal_dossiers", f.Q, lost)
    o = _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"]
    assert not o.passed and [r["agency_code"] for r in o.sample] == ["SO_NEW"], o.observed


def test_volume_does_not_compare_an_agency_dissolved_without_successor(home):
    """UBND_HX ends on the last day of the previous quarter (the district level on
    2025-07-01): no dossiers this quarter is not a lost export."""
    registry = f.agencies()
    registry.loc[registry["agency_code"] == "UBND_HX", "valid_to"] = f.Q.start - dt.timedelta(days=1)
    write_partition(home, "agencies", f.Q, registry)
    write_partition(home, "portal_dossiers", f.Q.previous(), f.dossiers(n_per_agency=30, prefix="OLD"))
    now = f.dossiers(n_per_agency=30)
    write_partition(home, "portal_dossiers", f.Q, now[now["agency_code"] != "UBND_HX"])
    o = _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"]
    assert o.passed and o.checked == 2, o.observed


def test_volume_without_previous_quarter_passes(home):
    o = _outcomes(home, "portal_dossiers")["volume_vs_previous_quarter"]
    assert o.passed and "no previous quarter" in o.observed


def test_percentage_over_100_in_submissions_warns_and_names_agency_and_indicator(home):
    s = f.submissions()
    s.loc[0, ["value", "numerator"]] = [1.2, None]  # "120 %" kept as read by the readers
    o = _only_failure(home, "agency_submissions", s, "ratio_values_within_0_1")
    assert o.severity == "WARN" and o.failing_rows == 1 and o.checked == 3  # only ratio rows count
    assert "SO_TTTT/work_records_online_rate value=1.2" in o.observed


def _many_rate_submissions() -> pd.DataFrame:
    frames = []
    for code in ("work_records_online_rate", "reporting_system_rate", "security_plan_rate"):
        part = f.submissions()
        part = part[part["unit"] == "ratio"].assign(indicator_code=code)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def test_percentages_over_100_beyond_tolerance_are_an_error(home):
    s = _many_rate_submissions()  # 9 ratio rows; 3 are tolerated
    s.loc[:3, ["value", "numerator"]] = [1.2, None]
    o = _only_failure(home, "agency_submissions", s, "ratio_values_within_0_1")
    assert (o.severity, o.failing_rows, o.allowed) == ("ERROR", 4, 3)


def test_submission_numerator_above_denominator(home):
    s = f.submissions()
    s.loc[0, "numerator"] = 120.0
    assert _only_failure(home, "agency_submissions", s, "numerator_le_denominator").severity == "WARN"


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
    # SO_TTTT's 30 reported match its 30 received: its 20 carried over are not received this quarter
    carried = _carried_over(f.dossiers(n_per_agency=20, prefix="OLD"), "SO_TTTT")
    write_partition(home, "portal_dossiers", f.Q, pd.concat([f.dossiers(), carried], ignore_index=True))
    o = _only_failure(home, "agency_submissions", s, "reported_vs_portal_dossiers")
    assert o.severity == "WARN" and o.failing_rows == 1
    assert o.sample[0]["agency_code"] == "UBND_HX" and o.sample[0]["portal"] == 30


def test_rejected_submission_rows_warn(home):
    rejects = pd.DataFrame(
        [
            dict(
                agency_code="SO_TC",
                indicator_code="dx_budget_share",
                value="mười",
                source_ref="so_tc.xlsx!A7",
                field="value",
                reason="not a number",
                submitted_at=dt.datetime(2025, 7, 1),
                source="inbox",
            ),
            dict(
                agency_code="SO_TC",
                indicator_code="no_such_kpi",
                value="0.5",
                source_ref="so_tc.xlsx!A8",
                field="indicator_code",
                reason="unknown indicator code",
                submitted_at=dt.datetime(2025, 7, 1),
                source="inbox",
            ),
        ]
    )
    write_partition(home, "submission_rejects", f.Q, rejects)
    o = _outcomes(home, "agency_submissions")["no_rejected_submission_rows"]
    assert not o.passed and o.severity == "WARN" and o.failing_rows == 2 and o.checked == 8
    assert "value: 1" in o.observed and "indicator_code: 1" in o.observed
    assert {r["source_ref"] for r in o.sample} == {"so_tc.xlsx!A7", "so_tc.xlsx!A8"}

    write_partition(home, "submission_rejects", f.Q, pd.concat([rejects] * 3, ignore_index=True))
    o = _outcomes(home, "agency_submissions")["no_rejected_submission_rows"]
    assert o.severity == "ERROR" and o.failing_rows == 6  # more than 5 rejects and over 1 % of 12


def _portal_rejects(rows: list[int], fields=("NgayTiepNhan",)) -> pd.DataFrame:
    return pd.DataFrame([
        dict(dataset="dossiers", source_file="portal_exports/quarter=2025-Q2/dossiers.csv", row_number=r,
             dossier_id=f"HS-{r}", agency_code="SO_TC", field=fld, column="received_at", value=None,
             reason="required field is empty")
        for r in rows for fld in fields
    ])


def test_rejected_dossier_rows_count_rows_not_bad_values(home):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dx_pipeline.storage.parquet import partition_path

    def put(frame):  # portal_rejects has no contract in schemas: written as the intake does
        path = partition_path(home, "portal_rejects", f.Q)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)

    assert _outcomes(home, "portal_dossiers")["no_rejected_dossier_rows"].passed
    put(_portal_rejects([7], fields=("NgayTiepNhan", "NgayHenTra")))
    o = _outcomes(home, "portal_dossiers")["no_rejected_dossier_rows"]
    assert (o.passed, o.severity, o.failing_rows, o.checked) == (False, "WARN", 1, 91)
    assert "NgayTiepNhan: 1" in o.observed and o.sample[0]["dossier_id"] == "HS-7"

    put(_portal_rejects(list(range(2, 8))))
    o = _outcomes(home, "portal_dossiers")["no_rejected_dossier_rows"]
    assert (o.severity, o.failing_rows) == ("ERROR", 6)


def test_kpi_rate_above_one_but_counts_may_exceed_one(home):
    k = f.kpis()
    assert (k.loc[k["kpi_code"] == "dossiers_received", "value"] > 1).all()  # counts are not rates
    k.loc[0, ["numerator", "value"]] = [40.0, 40 / 30]
    outcomes = _outcomes_after(home, "agency_kpis", k)
    failed = {n for n, o in outcomes.items() if not o.passed}
    assert failed == {"rates_within_0_1", "numerator_le_denominator"}
    # computed by us: zero tolerance, one row is an ERROR naming agency and KPI
    assert outcomes["rates_within_0_1"].severity == "ERROR"
    assert "SO_TTTT/online_dossier_rate value=1.33333" in outcomes["rates_within_0_1"].observed


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
    assert outcomes["columns_match_contract"].severity == outcomes["targets_within_0_1"].severity == "ERROR"


def test_missing_partition_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="portal_dossiers has no partition for 2025-Q2"):
        run_suite("portal_dossiers", DxHome(tmp_path), f.Q)
