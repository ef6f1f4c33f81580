"""Expectation suites: every data-quality check of every dataset, declared once, as data.

A suite is a list of named checks. Each check has a **tolerance**: how many failing rows (a
share of the rows checked and/or a count) it accepts. A check that finds failing rows within
its tolerance fails with severity ``WARN`` (shown in the UI and ``dq_results``, never blocks);
beyond it, it fails with its declared ``severity`` (``ERROR`` for every check today), and an
``ERROR`` stops the assets below the dataset (the ranking of that quarter is not published).
Real portals always carry a few bad rows, so the rate decides, not the mere presence. Schema,
type and required-column checks, and everything *we* compute (KPIs, index points), keep zero
tolerance: any failing row there is a bug. Each tolerance says why it is what it is.

A check is either

- one or more Great Expectations expectations, named by their GX 1.x class and keyword
  arguments (kept as strings so importing this module does not import GX), optionally limited
  to rows matching a simple ``where`` condition; or
- a named custom rule from :mod:`dx_pipeline.quality.rules` for what needs another table
  (agency valid in the quarter, volume against the previous quarter, reported vs portal counts,
  rows rejected at intake).

The runner (:mod:`dx_pipeline.quality.runner`) decides how each is evaluated and which
severity applied; this module only says *what* must hold and how much deviation is tolerable.
Check names are stable: they are the Dagster asset-check names and the ``check`` column of
``dq_results``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

from dx_pipeline.reference import schemas


class Severity(StrEnum):
    """How a failed check counts: ERROR blocks the quarter, WARN is shown."""

    ERROR = "ERROR"
    WARN = "WARN"


ERROR, WARN = Severity.ERROR, Severity.WARN


@dataclass(frozen=True)
class Tolerance:
    """How many failing rows (or groups, for the custom rules) a check accepts as a WARN.

    Within tolerance when ``failing <= max(max_rows, floor(max_share * checked))``: the share
    scales with the partition, the count keeps a small partition (a new agency, a test
    province) from failing hard on one or two rows. ``why`` is the one-line reason it is set
    where it is.
    """

    max_share: float = 0.0
    max_rows: int = 0
    why: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.max_share <= 1 or self.max_rows < 0:
            raise ValueError(f"tolerance needs 0 <= max_share <= 1 and max_rows >= 0, got {self}")

    @property
    def is_zero(self) -> bool:
        return self.max_share == 0 and self.max_rows == 0

    def allowed(self, checked: int) -> int:
        """Failing rows accepted as WARN out of ``checked`` rows."""
        return max(self.max_rows, math.floor(self.max_share * max(checked, 0) + 1e-9))

    def within(self, failing: int, checked: int) -> bool:
        return failing <= self.allowed(checked)

    def __str__(self) -> str:
        if self.is_zero:
            return "zero tolerance"
        parts = []
        if self.max_share:
            parts.append(f"{self.max_share * 100:g} % of checked")
        if self.max_rows:
            parts.append(f"{self.max_rows}")
        return "WARN up to " + (f"max({', '.join(parts)})" if len(parts) > 1 else parts[0])


ZERO = Tolerance(why="a whole-column property or a figure we compute: any failing row is a bug")


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
    """One named check: GX expectations or a custom rule, its severity, filter and tolerance."""

    name: str
    severity: Severity
    """The severity beyond the tolerance (within it, a failing check is a WARN)."""
    description: str
    expectations: tuple[Expectation, ...] = ()
    where: Where | None = None
    rule: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    tolerance: Tolerance = ZERO

    def __post_init__(self) -> None:
        if bool(self.expectations) == bool(self.rule):
            raise ValueError(f"check {self.name}: give either GX expectations or a rule")

    @property
    def blocking(self) -> bool:
        """Declared blocking in Dagster; only a result with severity ERROR actually blocks."""
        return self.severity is Severity.ERROR

    def applied_severity(self, failing: int, checked: int) -> Severity:
        """The severity of a failure with ``failing`` of ``checked`` rows."""
        return Severity.WARN if self.tolerance.within(failing, checked) else self.severity

    @property
    def tolerance_text(self) -> str:
        beyond = f"{self.severity} beyond" if self.severity is Severity.ERROR else "WARN at any rate"
        if self.tolerance.is_zero:
            return f"tolerance: none ({self.severity} on any failing row)"
        return f"tolerance: {self.tolerance}; {beyond}"

    @property
    def expected(self) -> str:
        """The expectation in words and its tolerance, as shown in the UI and stored in dq_results."""
        if self.rule:
            args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            text = f"{self.rule}({args}): {self.description}"
        else:
            parts = [f"{e.gx_class}({_kwargs_text(e.kwargs)})" for e in self.expectations]
            text = " & ".join(parts) if len(parts) <= 3 else f"{parts[0]} & ... ({len(parts)} expectations)"
            if self.where:
                text += f" where {self.where.column} {self.where.op} {self.where.value!r}"
        return f"{text} | {self.tolerance_text}"


@dataclass(frozen=True)
class DatasetSuite:
    """The checks of one dataset, with the derived columns and other datasets they need."""

    dataset: str
    checks: tuple[Check, ...]
    derived: Mapping[str, str] = field(default_factory=dict)
    """Derived columns (name -> DuckDB SQL expression) added to the checked batch, so a
    ``where`` can use them (e.g. which KPIs are rates)."""
    reads: tuple[str, ...] = ()
    """Other datasets the custom rules read; the Dagster checks wait for them."""
    row_label: tuple[str, ...] = ()
    """Columns that name a failing row in the observed text (agency and indicator, dossier id),
    so whoever reads the check, or the KPI stage, knows exactly which figure is suspect."""

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"{self.dataset} has no check {name!r}")


def _kwargs_text(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def E(gx_class: str, **kwargs: Any) -> Expectation:
    """Shorthand for an Expectation: a GX class name and its keyword arguments."""
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


# --- tolerances: each chosen on purpose, the reason next to it --------------------------------

EXPORT_GLITCH = Tolerance(
    0.001, 5,
    "a real portal export carries a few duplicated, unattributable or mis-coded dossiers "
    "(the sample plants ~1e-5); over 0.1 % the export itself is broken and KPIs would move",
)
CLERK_DATE_TYPO = Tolerance(
    0.01, 5,
    "clerks mistype a date now and then; under 1 % of dossiers moves an on-time rate by under "
    "a point, more means a date field is mapped wrongly",
)
RATING_GAP = Tolerance(
    0.01, 5,
    "a stray rating code only touches the satisfaction KPI; over 1 % the portal changed its scale",
)
SUBMISSION_TYPO = Tolerance(
    0.005, 3,
    "one agency mistyping a figure (e.g. 126 % kept as 1.26) is a WARN naming agency and "
    "indicator; more means the reader's unit handling is wrong for everyone",
)
INTAKE_REJECTS = Tolerance(
    0.01, 5,
    "a few unreadable cells or files per quarter are normal and each is listed for the clerk; "
    "over 1 % a template or export format changed and many figures are missing",
)
DOSSIER_REJECTS = Tolerance(
    0.001, 5,
    "a rejected dossier is missing from every KPI; a handful per quarter is an export glitch, "
    "over 0.1 % the mapping no longer fits the export",
)
VOLUME_DROPS = Tolerance(
    0.1, 3,
    "one agency's outage is a WARN to follow up; a tenth of the agencies halving at once "
    "means the export is incomplete",
)
RECONCILIATION = Tolerance(
    0.2, 3,
    "self-reported counts are often off for a few agencies; when a fifth disagree with the "
    "portal, one of the two sources is incomplete",
)
TYPED_AGENCY_CODE = Tolerance(
    0.001, 5,
    "an agency code typed into a report or the reporting DB; a few are a WARN naming them, "
    "over 0.1 % the registry partition of the quarter is stale",
)
WE_ASSIGN = Tolerance(
    why="versions are assigned by our intake, not typed by agencies: any failure is our bug",
)
COMPUTED = Tolerance(why="computed by our KPI/index stage: any out-of-range row is a bug")
REGISTRY = Tolerance(why="the registry is our reference list, maintained by hand: it must be exact")


def contract_checks(table: str) -> tuple[Check, ...]:
    """Schema and type checks generated from the table's contract in :mod:`schemas`: whole
    columns, so zero tolerance."""
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


def _not_null(column: str, why: str, tolerance: Tolerance) -> Check:
    return Check(f"{column}_not_null", ERROR, why, (E("ExpectColumnValuesToNotBeNull", column=column),),
                 tolerance=tolerance)


def _between(name, column, lo, hi, why, tolerance: Tolerance, where=None) -> Check:
    return Check(
        name, ERROR, why,
        (E("ExpectColumnValuesToBeBetween", column=column, min_value=lo, max_value=hi),),
        where=where, tolerance=tolerance,
    )


def _in_set(name, column, values, why, tolerance: Tolerance) -> Check:
    return Check(name, ERROR, why, (E("ExpectColumnValuesToBeInSet", column=column, value_set=list(values)),),
                 tolerance=tolerance)


def _a_ge_b(name, a, b, why, tolerance: Tolerance, where=None) -> Check:
    """``a >= b`` on rows where both are present (a missing value is another check's job)."""
    return Check(
        name, ERROR, why,
        (E("ExpectColumnPairValuesAToBeGreaterThanB", column_A=a, column_B=b, or_equal=True,
           ignore_row_if="either_value_is_missing"),),
        where=where, tolerance=tolerance,
    )


def _valid_agency(tolerance: Tolerance) -> Check:
    return Check(
        "agency_valid_in_quarter",
        ERROR,
        "every agency_code is in the registry and valid (valid_from..valid_to) in the quarter",
        rule="agency_valid_in_quarter",
        params={"column": "agency_code"},
        tolerance=tolerance,
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
        Check(
            "agency_code_unique",
            ERROR,
            "one registry row per agency code",
            (E("ExpectColumnValuesToBeUnique", column="agency_code"),),
            tolerance=REGISTRY,
        ),
        _in_set(
            "level_in_set", "level", LEVELS, "level is province, department, district or commune", REGISTRY
        ),
        _a_ge_b(
            "valid_from_before_valid_to",
            "valid_to",
            "valid_from",
            "an agency stops existing on or after the day it starts",
            REGISTRY,
        ),
    ),
    row_label=("agency_code",),
)

PORTAL_DOSSIERS_SUITE = DatasetSuite(
    "portal_dossiers",
    contract_checks("portal_dossiers")
    + (
        Check(
            "dossier_id_unique",
            ERROR,
            "each dossier (MaHoSo) appears once; duplicates double-count KPIs",
            (E("ExpectColumnValuesToBeUnique", column="dossier_id"),),
            tolerance=EXPORT_GLITCH,
        ),
        _not_null(
            "received_at",
            "every dossier has a reception date (NgayTiepNhan); "
            "without it the dossier cannot be placed in a period",
            EXPORT_GLITCH,
        ),
        _in_set(
            "channel_in_set",
            "channel",
            (1, 2, 3),
            "channel (KenhThucHien) is 1 in person, 2 online, 3 postal",
            EXPORT_GLITCH,
        ),
        _in_set(
            "status_in_set", "status", STATUSES, "status (TrangThaiHoSo) is a known state", EXPORT_GLITCH
        ),
        _in_set(
            "service_level_in_set",
            "service_level",
            SERVICE_LEVELS,
            "service level (MucDoDVC) is full, partial or none",
            EXPORT_GLITCH,
        ),
        _in_set("rating_in_set", "rating", (1, 2, 3), "rating (MucDoHaiLong) is 1, 2 or 3", RATING_GAP),
        _between(
            "supplement_counts_non_negative",
            "supplement_requests",
            0,
            None,
            "supplement requests are not negative",
            EXPORT_GLITCH,
        ),
        _a_ge_b(
            "received_before_due",
            "due_at",
            "received_at",
            "the promised return date (NgayHenTra) is not before reception (NgayTiepNhan)",
            CLERK_DATE_TYPO,
        ),
        _a_ge_b(
            "received_before_finished",
            "finished_at",
            "received_at",
            "processing ends (NgayKetThucXuLy) on or after reception",
            CLERK_DATE_TYPO,
        ),
        _valid_agency(EXPORT_GLITCH),
        Check(
            "volume_vs_previous_quarter",
            ERROR,
            "no agency receives less than half the dossiers it received the quarter before",
            rule="volume_vs_previous",
            params={"min_ratio": 0.5, "min_previous": 20, "received": "received_at"},
            tolerance=VOLUME_DROPS,
        ),
        Check(
            "no_rejected_dossier_rows",
            ERROR,
            "no exported dossier row was rejected at intake (a required field empty, a value that "
            "cannot be read); rejected rows are missing from every KPI",
            rule="no_rejects",
            params={"table": "portal_rejects", "row_key": ["source_file", "row_number"]},
            tolerance=DOSSIER_REJECTS,
        ),
    ),
    reads=("agencies",),
    row_label=("dossier_id", "agency_code"),
)

AGENCY_SUBMISSIONS_SUITE = DatasetSuite(
    "agency_submissions",
    contract_checks("agency_submissions")
    + (
        Check(
            "submission_version_unique",
            ERROR,
            "one row per (agency, indicator, version)",
            (E("ExpectCompoundColumnsToBeUnique", column_list=["agency_code", "indicator_code", "version"]),),
            tolerance=WE_ASSIGN,
        ),
        _between(
            "ratio_values_within_0_1",
            "value",
            0,
            1,
            "rates are fractions 0..1 (a value over 1 is a percentage over 100 % or typed as 0..100); "
            "the named agency and indicator must not be ranked on it",
            SUBMISSION_TYPO,
            where=Where("unit", "in", list(RATIO_UNITS)),
        ),
        _between(
            "values_non_negative", "value", 0, None, "reported values are not negative", SUBMISSION_TYPO
        ),
        _a_ge_b(
            "numerator_le_denominator",
            "denominator",
            "numerator",
            "a reported numerator does not exceed its denominator",
            SUBMISSION_TYPO,
        ),
        _between("version_positive", "version", 1, None, "versions start at 1", WE_ASSIGN),
        _valid_agency(TYPED_AGENCY_CODE),
        Check(
            "reported_vs_portal_dossiers",
            ERROR,
            "dossier counts an agency reports match what the portal holds within the tolerance",
            rule="reported_vs_portal",
            params={"indicators": list(REPORTED_DOSSIER_INDICATORS), "tolerance": 0.05, "min_abs_diff": 5},
            tolerance=RECONCILIATION,
        ),
        Check(
            "no_rejected_submission_rows",
            ERROR,
            "no submitted row was rejected at intake "
            "(non-numeric value, unknown indicator, malformed or empty file)",
            rule="no_rejects",
            params={"table": "submission_rejects"},
            tolerance=INTAKE_REJECTS,
        ),
    ),
    reads=("agencies", "portal_dossiers"),
    row_label=("agency_code", "indicator_code", "value"),
)

AGENCY_KPIS_SUITE = DatasetSuite(
    "agency_kpis",
    contract_checks("agency_kpis")
    + (
        Check(
            "agency_kpi_unique",
            ERROR,
            "one value per (agency, KPI)",
            (E("ExpectCompoundColumnsToBeUnique", column_list=["agency_code", "kpi_code"]),),
            tolerance=COMPUTED,
        ),
        _between(
            "rates_within_0_1",
            "value",
            0,
            1,
            "rate KPIs (codes ending _rate) are fractions 0..1",
            COMPUTED,
            where=Where("is_rate", "==", True),
        ),
        _between(
            "targets_within_0_1",
            "target",
            0,
            1,
            "targets of rate KPIs are fractions 0..1",
            COMPUTED,
            where=Where("is_rate", "==", True),
        ),
        _between(
            "denominator_non_negative", "denominator", 0, None, "denominators are not negative", COMPUTED
        ),
        _a_ge_b(
            "numerator_le_denominator",
            "denominator",
            "numerator",
            "for rate KPIs the numerator does not exceed the denominator",
            COMPUTED,
            where=Where("is_rate", "==", True),
        ),
        _valid_agency(COMPUTED),
    ),
    derived={"is_rate": "kpi_code LIKE '%\\_rate' ESCAPE '\\'"},
    reads=("agencies",),
    row_label=("agency_code", "kpi_code", "value"),
)

INDEX_SCORES_SUITE = DatasetSuite(
    "index_scores",
    contract_checks("index_scores")
    + (
        Check(
            "node_unique",
            ERROR,
            "one row per (framework, agency, node)",
            (E("ExpectCompoundColumnsToBeUnique", column_list=["framework_id", "agency_code", "node_id"]),),
            tolerance=COMPUTED,
        ),
        _between("points_non_negative", "points", 0, None, "points are not negative", COMPUTED),
        _a_ge_b(
            "points_within_max", "max_points", "points", "points never exceed the points available", COMPUTED
        ),
        _in_set("level_in_set", "level", INDEX_LEVELS, "node level is total, pillar or indicator", COMPUTED),
        _valid_agency(COMPUTED),
    ),
    reads=("agencies",),
    row_label=("framework_id", "agency_code", "node_id", "points"),
)

SUITES: dict[str, DatasetSuite] = {
    s.dataset: s
    for s in (
        AGENCIES_SUITE,
        PORTAL_DOSSIERS_SUITE,
        AGENCY_SUBMISSIONS_SUITE,
        AGENCY_KPIS_SUITE,
        INDEX_SCORES_SUITE,
    )
}
"""dataset -> suite; the keys are also the Dagster asset keys the checks attach to."""


def suite(dataset: str) -> DatasetSuite:
    """The suite of ``dataset``; a clear error lists the datasets that have one."""
    try:
        return SUITES[dataset]
    except KeyError:
        raise KeyError(f"no quality suite for {dataset!r}; known: {sorted(SUITES)}") from None
