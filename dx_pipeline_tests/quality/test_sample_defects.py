"""Every defect the sample province plants is caught by its named check, as a WARN.

A small sample (scale 0.01) of the two quarters that between them hold every defect kind
(2024-Q3 has the empty inbox file; 2024-Q4 the corrupt workbook and the volume drop against
2024-Q3) goes through the real intake: registry, portal export files, inbox and reporting DB.
The input suites then run on the warehouse partitions the intake wrote. The sample's defect
rate is realistic, so each defect must be found *by name* (its dossier, agency, file, row) with
severity WARN, and no check may fail with ERROR; raising the rate beyond the tolerance must.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dx_pipeline.app.settings import Settings
from dx_pipeline.quality.runner import run_suite
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import load_registry
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline.storage.parquet import partition_path

DEFECT_CHECKS: dict[str, tuple[str, str]] = {
    "duplicate_dossier": ("portal_dossiers", "dossier_id_unique"),
    # the portal reader rejects a dossier without NgayTiepNhan (a required field), so it shows
    # up among the rejected rows, not as a null in portal_dossiers
    "missing_received_at": ("portal_dossiers", "no_rejected_dossier_rows"),
    "due_before_received": ("portal_dossiers", "received_before_due"),
    "unknown_agency": ("portal_dossiers", "agency_valid_in_quarter"),
    "agency_not_valid": ("portal_dossiers", "agency_valid_in_quarter"),
    "volume_drop": ("portal_dossiers", "volume_vs_previous_quarter"),
    # a rate over 100 % is refused at intake (never kept, so never clipped when scored)
    "percent_over_100": ("agency_submissions", "no_rejected_submission_rows"),
    "not_a_number": ("agency_submissions", "no_rejected_submission_rows"),
    "unknown_indicator": ("agency_submissions", "no_rejected_submission_rows"),
    "empty_file": ("agency_submissions", "no_rejected_submission_rows"),
    "corrupt_file": ("agency_submissions", "no_rejected_submission_rows"),
}
"""Which named check catches each kind of defect the sample province plants (the ``kind``
values of ``sample/defects.json``). The sample plants them at a realistic rate, so each is
caught as a WARN within its check's tolerance."""

QUARTERS = [Quarter.parse("2024-Q3"), Quarter.parse("2024-Q4")]
INPUT_DATASETS = ("agencies", "portal_dossiers", "agency_submissions")
SAMPLE_ROWS = 100
"""Failing-row sample size: larger than any failing set here, so every defect can be found."""


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    home = DxHome(tmp_path_factory.mktemp("province"))
    generate_sample(home, scale=0.01, quarters=QUARTERS)
    defects = json.loads((home.sample / "defects.json").read_text(encoding="utf-8"))
    registry = load_registry(home.registry_file)
    for q in QUARTERS:
        write_partition(home, "agencies", q, registry)
        ingest_portal_files(home, q)
        intake = ingest_submissions(home, q, registry, reporting_db_url=Settings(home).reporting_db())
        write_partition(home, "agency_submissions", q, intake.accepted)
        write_partition(home, "submission_rejects", q, intake.rejects)
    outcomes = {
        (q.label, dataset): {o.check: o for o in run_suite(dataset, home, q, sample_size=SAMPLE_ROWS)}
        for q in QUARTERS
        for dataset in INPUT_DATASETS
    }
    return SimpleNamespace(home=home, defects=defects, outcomes=outcomes)


def _same_file(defect: dict, reject: dict) -> bool:
    """Defects name files from DX_HOME (inbox/2024-Q3/x.csv), rejects from the inbox (2024-Q3/x.csv)."""
    return bool(reject.get("file")) and defect["file"].endswith("/" + reject["file"])


def _found(defect: dict, outcome) -> bool:
    """Whether the check's failing rows contain this very defect (not just any failure)."""
    kind, rows = defect["kind"], outcome.sample
    if kind in ("duplicate_dossier", "due_before_received"):
        return any(r["dossier_id"] == defect["dossier_id"] for r in rows)
    if kind in ("unknown_agency", "agency_not_valid"):
        reason = "unknown agency code" if kind == "unknown_agency" else "agency not valid in"
        return any(r["agency_code"] == defect["value"] and r["reason"].startswith(reason) for r in rows)
    if kind == "volume_drop":
        return any(
            r["agency_code"] == defect["agency_code"] and r["current"] == defect["actual"] for r in rows
        )
    if kind == "missing_received_at":
        return any(r["dossier_id"] == defect["dossier_id"] and r["field"] == defect["field"] for r in rows)
    if kind in ("percent_over_100", "not_a_number", "unknown_indicator"):
        return any(
            _same_file(defect, r)
            and r["agency_code"] == defect["agency_code"]
            and r["field"] == defect["field"]
            and r["row"] == defect["row"]
            for r in rows
        )
    if kind in ("empty_file", "corrupt_file"):
        return any(_same_file(defect, r) and r["field"] == "file" for r in rows)
    raise AssertionError(f"no matcher for defect kind {kind!r}")


def test_defect_checks_name_exactly_the_kinds_the_sample_plants(province):
    assert {d["kind"] for d in province.defects} == set(DEFECT_CHECKS)


@pytest.mark.parametrize("kind", sorted(DEFECT_CHECKS))
def test_every_planted_defect_is_caught_by_its_named_check_as_a_warning(province, kind):
    dataset, check = DEFECT_CHECKS[kind]
    planted = [d for d in province.defects if d["kind"] == kind]
    assert planted, f"the sample planted no {kind}"
    for defect in planted:
        o = province.outcomes[(defect["quarter"], dataset)][check]
        assert not o.passed, f"{kind} in {defect['quarter']} not caught by {dataset}.{check}: {o.observed}"
        assert o.severity == "WARN", (kind, o.observed)
        assert "within tolerance" in o.observed and 0 < o.failing_rows <= o.allowed
        assert _found(defect, o), f"{kind} {defect} is not among the failing rows of {check}: {o.sample}"


def test_a_realistic_defect_rate_never_blocks_a_quarter(province):
    expected_failures = set(DEFECT_CHECKS.values())
    for (quarter, dataset), outcomes in province.outcomes.items():
        for name, o in outcomes.items():
            assert o.passed or o.severity == "WARN", f"{quarter} {dataset}.{name}: {o.observed}"
            assert o.passed or (dataset, name) in expected_failures, (
                f"{quarter} {dataset}.{name}: {o.observed}"
            )


def test_raised_defect_rates_fail_with_error(province, tmp_path):
    """The 2024-Q4 dossiers with 1 % more of them exported twice and 10 more rows on an unknown
    agency code: the same checks now fail beyond their tolerance, with ERROR."""
    q = QUARTERS[1]
    home = DxHome(tmp_path)
    write_partition(home, "agencies", q, pq.read_table(partition_path(province.home, "agencies", q)))
    dossiers = pq.read_table(partition_path(province.home, "portal_dossiers", q))
    extra = dossiers.num_rows // 100
    raised = pa.concat_tables([dossiers, dossiers.slice(0, extra)])
    codes = raised.column("agency_code").to_pylist()
    codes[extra: extra + 10] = ["X-99017"] * 10  # past the duplicated head, so both counts stay exact
    raised = raised.set_column(raised.schema.get_field_index("agency_code"), "agency_code", pa.array(codes))
    write_partition(home, "portal_dossiers", q, raised)

    before = province.outcomes[(q.label, "portal_dossiers")]
    after = {o.check: o for o in run_suite("portal_dossiers", home, q, run_gx=False,
                                           checks=["dossier_id_unique", "agency_valid_in_quarter"])}
    dup = after["dossier_id_unique"]
    assert (dup.passed, dup.severity) == (False, "ERROR") and dup.blocking
    assert dup.failing_rows == before["dossier_id_unique"].failing_rows + 2 * extra > dup.allowed
    agency = after["agency_valid_in_quarter"]
    assert (agency.passed, agency.severity) == (False, "ERROR")
    assert agency.failing_rows >= before["agency_valid_in_quarter"].failing_rows + 10 > agency.allowed
    assert "X-99017" in agency.observed and "beyond tolerance" in agency.observed
