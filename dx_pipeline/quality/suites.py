"""Expectation suites: every data-quality check of every dataset, declared once, as data.

A suite is a list of named checks with a severity. ``ERROR`` stops the assets below the dataset
(the ranking of that quarter is not published); ``WARN`` is shown and recorded but lets the
pipeline go on. A check is either

- one or more Great Expectations expectations, named by their GX 1.x class and keyword
  arguments (kept as strings so importing this module does not import GX), optionally limited
  to rows matching a simple ``where`` condition; or
- a named custom rule from :mod:`dx_pipeline.quality.rules` for what needs another table
  (agency valid in the quarter, volume against the previous quarter, reported vs portal counts,
  submission rejects).

The runner (:mod:`dx_pipeline.quality.runner`) decides how each is evaluated; this module only
says *what* must hold. Check names are stable: they are the Dagster asset-check names and the
``check`` column of ``dq_results``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

import pyarrow as pa

from dx_pipeline import schemas


class Severity(str, Enum):
    ERROR = "ERROR"
    WARN = "WARN"

    def __str__(self) -> str:
        return self.value


ERROR, WARN = Severity.ERROR, Severity.WARN


@dataclass(frozen=True)
class Expectation:
    """One GX expectation: class name in ``great_expectations.expectations`` and its kwargs."""

    gx_class: str
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class Where:
    """Row filter ``column <op> value`` (op one of ==, !=, <, <=, >, >=, in); becomes a GX
    ``row_condition`` and a DuckDB ``WHERE`` clause, so both engines filter the same rows."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Check:
    name: str
    severity: Severity
    description: str
    expectations: tuple[Expectation, ...] = ()
    where: Where | None = None
    rule: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if bool(self.expectations) == bool(self.rule):
            raise ValueError(f"check {self.name}: give either GX expectations or a rule")

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def expected(self) -> str:
        """The expectation in words, as shown in the UI and stored in dq_results."""
        if self.rule:
            args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            return f"{self.rule}({args}): {self.description}"
        parts = [f"{e.gx_class}({_kwargs_text(e.kwargs)})" for e in self.expectations]
        text = " & ".join(parts) if len(parts) <= 3 else f"{parts[0]} & ... ({len(parts)} expectations)"
        if self.where:
            text += f" where {self.where.column} {self.where.op} {self.where.value!r}"
        return text


@dataclass(frozen=True)
class DatasetSuite:
    dataset: str
    checks: tuple[Check, ...]
    derived: Mapping[str, str] = field(default_factory=dict)
    """Derived columns (name -> DuckDB SQL expression) added to the checked batch, so a
    ``where`` can use them (e.g. which KPIs are rates)."""
    reads: tuple[str, ...] = ()
    """Other datasets the custom rules read; the Dagster checks wait for them."""

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"{self.dataset} has no check {name!r}")


def _kwargs_text(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def E(gx_class: str, **kwargs: Any) -> Expectation:
    return Expectation(gx_class, kwargs)


# --- types: what a contract's Arrow type looks like to GX on the pandas batch -----------------

def gx_type_name(arrow_type: pa.DataType) -> str:
    """The ``type_`` ExpectColumnValuesToBeOfType expects for a column of ``arrow_type``, given
    the runner's Arrow -> pandas conversion (nullable integers and booleans keep their width,
    dates become datetime64)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return str(arrow_type.to_pandas_dtype().__name__)
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime64"
    return str(arrow_type)


def contract_checks(table: str) -> tuple[Check, ...]:
    """Schema and type checks generated from the table's contract in :mod:`schemas`."""
    contract = schemas.CONTRACTS[table]
    return (
        Check(
            "columns_match_contract",
            ERROR,
            f"every {table} contract column is present",
            (E("ExpectTableColumnsToMatchSet", column_set=contract.names, exact_match=False),),
        ),
        Check(
            "column_types_match_contract",
            ERROR,
            f"every {table} column has its contract type",
            tuple(
                E("ExpectColumnValuesToBeOfType", column=c.name, type_=gx_type_name(c.type))
                for c in contract.columns
            ),
        ),
        Check(
            "required_columns_not_null",
            ERROR,
            f"{table} columns the contract marks required have no nulls",
            tuple(
                E("ExpectColumnValuesToNotBeNull", column=c.name)
                for c in contract.columns
                if not c.nullable
            ),
        ),
    )


def _not_null(column: str, severity: Severity, why: str) -> Check:
    return Check(f"{column}_not_null", severity, why, (E("ExpectColumnValuesToNotBeNull", column=column),))


def _between(name, severity, column, lo, hi, why, where=None) -> Check:
    return Check(
        name, severity, why,
        (E("ExpectColumnValuesToBeBetween", column=column, min_value=lo, max_value=hi),),
        where=where,
    )


def _in_set(name, severity, column, values, why) -> Check:
    return Check(name, severity, why, (E("ExpectColumnValuesToBeInSet", column=column, value_set=list(values)),))


def _a_ge_b(name, severity, a, b, why, where=None) -> Check:
    """``a >= b`` on rows where both are present (a missing value is another check's job)."""
    return Check(
        name, severity, why,
        (E("ExpectColumnPairValuesAToBeGreaterThanB", column_A=a, column_B=b, or_equal=True,
           ignore_row_if="either_value_is_missing"),),
        where=where,
    )


def _valid_agency(severity: Severity = ERROR) -> Check:
    return Check(
        "agency_valid_in_quarter",
        severity,
        "every agency_code is in the registry and valid (valid_from..valid_to) in the quarter",
        rule="agency_valid_in_quarter",
        params={"column": "agency_code"},
    )


LEVELS = ("province", "department", "district", "commune")
SERVICE_LEVELS = ("full", "partial", "none")
STATUSES = ("received", "processing", "supplement", "finished", "returned", "stopped", "withdrawn")
INDEX_LEVELS = ("total", "pillar", "indicator")
RATIO_UNITS = ("ratio",)
"""Submission units whose values are fractions 0..1 (rates are stored as fractions)."""
REPORTED_DOSSIER_INDICATORS = ("dossiers_received",)
"""Submission indicators that are an agency's own count of its dossiers, reconciled with the portal."""

AGENCIES_SUITE = DatasetSuite(
    "agencies",
    contract_checks("agencies")
    + (
        Check("agency_code_unique", ERROR, "one registry row per agency code",
              (E("ExpectColumnValuesToBeUnique", column="agency_code"),)),
        _in_set("level_in_set", ERROR, "level", LEVELS, "level is province, department, district or commune"),
        _a_ge_b("valid_from_before_valid_to", ERROR, "valid_to", "valid_from",
                "an agency stops existing on or after the day it starts"),
    ),
)

PORTAL_DOSSIERS_SUITE = DatasetSuite(
    "portal_dossiers",
    contract_checks("portal_dossiers")
    + (
        Check("dossier_id_unique", ERROR, "each dossier (MaHoSo) appears once; duplicates double-count KPIs",
              (E("ExpectColumnValuesToBeUnique", column="dossier_id"),)),
        _not_null("received_at", WARN,
                  "every dossier has a reception date (NgayTiepNhan); without it the dossier cannot be placed in a period"),
        _in_set("channel_in_set", ERROR, "channel", (1, 2, 3), "channel (KenhThucHien) is 1 in person, 2 online, 3 postal"),
        _in_set("status_in_set", ERROR, "status", STATUSES, "status (TrangThaiHoSo) is a known state"),
        _in_set("service_level_in_set", ERROR, "service_level", SERVICE_LEVELS, "service level (MucDoDVC) is full, partial or none"),
        _in_set("rating_in_set", WARN, "rating", (1, 2, 3), "rating (MucDoHaiLong) is 1, 2 or 3"),
        _between("supplement_counts_non_negative", ERROR, "supplement_requests", 0, None,
                 "supplement requests are not negative"),
        _a_ge_b("received_before_due", WARN, "due_at", "received_at",
                "the promised return date (NgayHenTra) is not before reception (NgayTiepNhan)"),
        _a_ge_b("received_before_finished", WARN, "finished_at", "received_at",
                "processing ends (NgayKetThucXuLy) on or after reception"),
        _valid_agency(ERROR),
        Check(
            "volume_vs_previous_quarter",
            WARN,
            "no agency receives less than half the dossiers it received the quarter before",
            rule="volume_vs_previous",
            params={"min_ratio": 0.5, "min_previous": 20},
        ),
    ),
    reads=("agencies",),
)

AGENCY_SUBMISSIONS_SUITE = DatasetSuite(
    "agency_submissions",
    contract_checks("agency_submissions")
    + (
        Check("submission_version_unique", ERROR, "one row per (agency, indicator, version)",
              (E("ExpectCompoundColumnsToBeUnique", column_list=["agency_code", "indicator_code", "version"]),)),
        _between("ratio_values_within_0_1", ERROR, "value", 0, 1,
                 "rates are fractions 0..1 (a value over 1 is a percentage typed as 0..100)",
                 where=Where("unit", "in", list(RATIO_UNITS))),
        _between("values_non_negative", ERROR, "value", 0, None, "reported values are not negative"),
        _a_ge_b("numerator_le_denominator", ERROR, "denominator", "numerator",
                "a reported numerator does not exceed its denominator"),
        _between("version_positive", ERROR, "version", 1, None, "versions start at 1"),
        _valid_agency(ERROR),
        Check(
            "reported_vs_portal_dossiers",
            WARN,
            "dossier counts an agency reports match what the portal holds within the tolerance",
            rule="reported_vs_portal",
            params={"indicators": list(REPORTED_DOSSIER_INDICATORS), "tolerance": 0.05, "min_abs_diff": 5},
        ),
        Check(
            "no_rejected_submission_rows",
            WARN,
            "no submitted row was rejected at intake (non-numeric value, unknown indicator, malformed or empty file)",
            rule="no_rejects",
        ),
    ),
    reads=("agencies", "portal_dossiers"),
)

AGENCY_KPIS_SUITE = DatasetSuite(
    "agency_kpis",
    contract_checks("agency_kpis")
    + (
        Check("agency_kpi_unique", ERROR, "one value per (agency, KPI)",
              (E("ExpectCompoundColumnsToBeUnique", column_list=["agency_code", "kpi_code"]),)),
        _between("rates_within_0_1", ERROR, "value", 0, 1, "rate KPIs (codes ending _rate) are fractions 0..1",
                 where=Where("is_rate", "==", True)),
        _between("targets_within_0_1", ERROR, "target", 0, 1, "targets of rate KPIs are fractions 0..1",
                 where=Where("is_rate", "==", True)),
        _between("denominator_non_negative", ERROR, "denominator", 0, None, "denominators are not negative"),
        _a_ge_b("numerator_le_denominator", ERROR, "denominator", "numerator",
                "for rate KPIs the numerator does not exceed the denominator",
                where=Where("is_rate", "==", True)),
        _valid_agency(ERROR),
    ),
    derived={"is_rate": "kpi_code LIKE '%\\_rate' ESCAPE '\\'"},
    reads=("agencies",),
)

INDEX_SCORES_SUITE = DatasetSuite(
    "index_scores",
    contract_checks("index_scores")
    + (
        Check("node_unique", ERROR, "one row per (framework, agency, node)",
              (E("ExpectCompoundColumnsToBeUnique", column_list=["framework_id", "agency_code", "node_id"]),)),
        _between("points_non_negative", ERROR, "points", 0, None, "points are not negative"),
        _a_ge_b("points_within_max", ERROR, "max_points", "points", "points never exceed the points available"),
        _in_set("level_in_set", ERROR, "level", INDEX_LEVELS, "node level is total, pillar or indicator"),
        _valid_agency(ERROR),
    ),
    reads=("agencies",),
)

SUITES: dict[str, DatasetSuite] = {
    s.dataset: s
    for s in (AGENCIES_SUITE, PORTAL_DOSSIERS_SUITE, AGENCY_SUBMISSIONS_SUITE, AGENCY_KPIS_SUITE, INDEX_SCORES_SUITE)
}
"""dataset -> suite; the keys are also the Dagster asset keys the checks attach to."""

DEFECT_CHECKS: dict[str, tuple[str, str]] = {
    "duplicate_dossiers": ("portal_dossiers", "dossier_id_unique"),
    "missing_received_at": ("portal_dossiers", "received_at_not_null"),
    "due_before_received": ("portal_dossiers", "received_before_due"),
    "unknown_agency_code": ("portal_dossiers", "agency_valid_in_quarter"),
    "agency_not_valid_in_quarter": ("portal_dossiers", "agency_valid_in_quarter"),
    "percentage_over_100": ("agency_submissions", "ratio_values_within_0_1"),
    "non_numeric_value": ("agency_submissions", "no_rejected_submission_rows"),
    "unknown_indicator_code": ("agency_submissions", "no_rejected_submission_rows"),
    "malformed_file": ("agency_submissions", "no_rejected_submission_rows"),
    "empty_file": ("agency_submissions", "no_rejected_submission_rows"),
    "volume_drop": ("portal_dossiers", "volume_vs_previous_quarter"),
}
"""Which named check catches each kind of defect the sample province plants."""


def suite(dataset: str) -> DatasetSuite:
    try:
        return SUITES[dataset]
    except KeyError:
        raise KeyError(f"no quality suite for {dataset!r}; known: {sorted(SUITES)}") from None
