"""Tolerances: the arithmetic, and that each is declared on purpose where the brief wants it."""

from __future__ import annotations

import pytest

from dx_pipeline.quality.suites import ERROR, SUITES, WARN, Check, E, Tolerance


def test_allowed_is_the_larger_of_share_and_count():
    t = Tolerance(0.001, 5, "test")
    assert [t.allowed(n) for n in (0, 90, 5_000, 6_000, 200_000)] == [5, 5, 5, 6, 200]
    assert t.within(5, 90) and not t.within(6, 90)
    assert Tolerance(0.01).allowed(250) == 2 and Tolerance(max_rows=3).allowed(10**6) == 3
    assert Tolerance().allowed(10**6) == 0


def test_severity_is_warn_within_and_declared_beyond():
    check = Check(
        "c", ERROR, "d", (E("ExpectColumnValuesToNotBeNull", column="x"),), tolerance=Tolerance(0.01, 2)
    )
    assert check.applied_severity(2, 100) is WARN
    assert check.applied_severity(3, 100) is ERROR
    assert check.applied_severity(10, 1000) is WARN and check.applied_severity(11, 1000) is ERROR
    assert check.blocking  # declared blocking; the result's severity decides


def test_bad_tolerances_are_refused():
    with pytest.raises(ValueError):
        Tolerance(1.5)
    with pytest.raises(ValueError):
        Tolerance(0.1, -1)


def test_every_tolerance_is_chosen_and_explained():
    for suite in SUITES.values():
        for check in suite.checks:
            assert check.tolerance.why, f"{suite.dataset}.{check.name} has no reason for its tolerance"
            assert check.severity is ERROR and check.blocking, f"{suite.dataset}.{check.name}"
            assert "tolerance:" in check.expected


@pytest.mark.parametrize("dataset", sorted(SUITES))
def test_whole_column_checks_keep_zero_tolerance(dataset):
    for name in ("columns_match_contract", "column_types_match_contract", "required_columns_not_null"):
        assert SUITES[dataset].check(name).tolerance.is_zero


@pytest.mark.parametrize("dataset", ["agency_kpis", "index_scores", "agencies"])
def test_what_we_compute_or_maintain_has_zero_tolerance(dataset):
    assert all(c.tolerance.is_zero for c in SUITES[dataset].checks)


def test_realistic_input_defects_are_tolerated_at_about_a_tenth_of_a_percent():
    dossiers = SUITES["portal_dossiers"]
    for name in ("dossier_id_unique", "agency_valid_in_quarter"):
        t = dossiers.check(name).tolerance
        assert t.max_share == 0.001 and t.allowed(200_000) == 200
    assert SUITES["agency_submissions"].check("ratio_values_within_0_1").tolerance.allowed(2_000) >= 1
