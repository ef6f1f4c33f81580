"""Custom quality rules: checks that need another table, evaluated in DuckDB.

Each rule gets a DuckDB connection on which the view ``batch`` is the checked partition, reads
any other table straight from its Parquet partition, and returns a :class:`RuleResult`.
``failing_rows`` counts what the rule judges (rows for the registry rule and ``no_rejects``,
agencies for the volume rule, reported counts for the reconciliation) and ``checked`` how many
of those were judged, so the check's tolerance can be a share; the sample holds the failing
rows or groups with the figures behind the verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import active_agencies, successors_in
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.home import WarehousePath
from dx_pipeline.storage.parquet import partition_path, read_arrow, sql_literal


@dataclass
class RuleContext:
    """What a custom rule may read: the DuckDB connection, DX_HOME, quarter and dataset."""

    con: duckdb.DuckDBPyConnection
    home: DxHome
    quarter: Quarter
    dataset: str
    sample_size: int = 5


@dataclass
class RuleResult:
    """A custom rule's verdict with the failing rows' count and a sample of them."""

    passed: bool
    observed: str
    failing_rows: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    checked: int | None = None
    """How many rows/groups were judged (the tolerance's base); None: the batch's rows."""


def _batch_rows(ctx: RuleContext) -> int:
    return int(ctx.con.execute("SELECT count(*) FROM batch").fetchall()[0][0])


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def agency_valid_in_quarter(ctx: RuleContext, column: str = "agency_code") -> RuleResult:
    """Every agency code is in the registry and valid in the quarter (valid_from <= last day,
    valid_to empty or >= first day). The registry is the quarter's ``agencies`` partition."""
    registry = partition_path(ctx.home, "agencies", ctx.quarter)
    if not registry.exists():
        n = _batch_rows(ctx)  # no row can be verified: all of them fail, beyond any tolerance
        return RuleResult(
            False, f"no agencies registry partition for {ctx.quarter.label} ({registry})", n, checked=n
        )
    rows = _records(
        ctx.con,
        f"""
        WITH reg AS (
            SELECT agency_code,
                   bool_or(valid_from <= ?::DATE AND (valid_to IS NULL OR valid_to >= ?::DATE)) AS valid
            FROM read_parquet({sql_literal(registry)}) GROUP BY agency_code)
        SELECT b."{column}" AS agency_code,
               CASE WHEN r.agency_code IS NULL THEN 'unknown agency code'
                    ELSE 'agency not valid in {ctx.quarter.label}' END AS reason,
               count(*) AS rows
        FROM batch b LEFT JOIN reg r ON b."{column}" = r.agency_code
        WHERE b."{column}" IS NOT NULL AND (r.agency_code IS NULL OR NOT r.valid)
        GROUP BY ALL ORDER BY rows DESC, agency_code
        """,
        [ctx.quarter.last_day, ctx.quarter.start],
    )
    if not rows:
        return RuleResult(True, "all agency codes valid in the quarter")
    total = sum(r["rows"] for r in rows)
    listed = ", ".join(f"{r['agency_code']} ({r['reason']}, {r['rows']} rows)" for r in rows[:5])
    return RuleResult(
        False, f"{len(rows)} invalid agency codes on {total} rows: {listed}", total, rows[: ctx.sample_size]
    )


def volume_vs_previous(
    ctx: RuleContext, min_ratio: float = 0.5, min_previous: int = 20, received: str | None = None
) -> RuleResult:
    """Per agency, rows this quarter against the previous quarter's partition of the same
    dataset; agencies with at least ``min_previous`` rows before that fall below
    ``min_ratio`` of it are flagged (the portal export may have lost part of an agency).
    With ``received`` (a receipt-date column) only the rows received in each quarter count,
    not those carried over from before it (a dossier export carries the dossiers still open).

    Both quarters are counted under the agencies valid at the end of this quarter (a merger
    mid-quarter moves the old agencies' rows of both quarters to the successor), and an
    agency dissolved without a successor (the district level on 2025-07-01) is not compared:
    it cannot receive dossiers any more."""
    prev_q = ctx.quarter.previous()
    prev = partition_path(ctx.home, ctx.dataset, prev_q)
    if not prev.exists():
        return RuleResult(True, f"no previous quarter to compare with ({prev_q.label} has no partition)")
    _register_successors(ctx, prev)

    def own(alias: str, q) -> str:
        return f'WHERE {alias}."{received}" >= TIMESTAMP \'{q.start}\'' if received else ""

    rows = _records(
        ctx.con,
        f"""
        WITH cur AS (
                SELECT coalesce(s.successor, b.agency_code) AS agency_code, count(*) AS n
                FROM batch b LEFT JOIN cur_successor s USING (agency_code) {own("b", ctx.quarter)}
                GROUP BY 1),
             prev AS (
                SELECT coalesce(s.successor, p.agency_code) AS agency_code, count(*) AS n
                FROM read_parquet({sql_literal(prev)}) p LEFT JOIN prev_successor s USING (agency_code)
                {own("p", prev_q)}
                GROUP BY 1)
        SELECT p.agency_code, p.n AS previous, coalesce(c.n, 0) AS current,
               round(coalesce(c.n, 0) / p.n, 3) AS ratio,
               coalesce(c.n, 0) < ? * p.n AS dropped,
               count(*) OVER () AS compared
        FROM prev p LEFT JOIN cur c USING (agency_code)
        WHERE p.n >= ? AND p.agency_code NOT IN (SELECT agency_code FROM dissolved)
        ORDER BY ratio, agency_code
        """,
        [min_ratio, min_previous],
    )
    compared = len(rows)
    rows = [{k: v for k, v in r.items() if k not in ("dropped", "compared")} for r in rows if r["dropped"]]
    if not rows:
        return RuleResult(True, f"no agency below {min_ratio:.0%} of its {prev_q.label} volume "
                                f"({compared} agencies with at least {min_previous} dossiers compared)",
                          checked=compared)
    listed = ", ".join(f"{r['agency_code']} {r['previous']}->{r['current']}" for r in rows[:5])
    return RuleResult(
        False,
        f"{len(rows)} of {compared} agencies below {min_ratio:.0%} of their {prev_q.label} volume: {listed}",
        len(rows),
        rows[: ctx.sample_size],
        checked=compared,
    )


def _register_successors(ctx: RuleContext, prev: WarehousePath) -> None:
    """Tables ``prev_successor`` / ``cur_successor`` (agency_code, successor): where the
    previous and this quarter's agencies carry on at the end of this quarter, so a merger
    (Sở TT&TT into Sở KH&CN) is not mistaken for a lost export; and ``dissolved``
    (agency_code): last quarter's agencies that end before this quarter does, with no
    successor valid in it. Without a registry partition every table is empty."""
    import pandas as pd


    def codes_of(source: str) -> list[str]:
        return [r[0] for r in ctx.con.execute(
            f"SELECT DISTINCT agency_code FROM {source} WHERE agency_code IS NOT NULL"
        ).fetchall()]

    prev_codes, cur_codes = codes_of(f"read_parquet({sql_literal(prev)})"), codes_of("batch")
    registry_file = partition_path(ctx.home, "agencies", ctx.quarter)
    prev_pairs, cur_pairs, dissolved = [], [], []
    if registry_file.exists():
        registry = read_arrow(registry_file).to_pandas()
        known = set(registry["agency_code"].astype(str))
        valid = set(active_agencies(registry, ctx.quarter)["agency_code"])
        prev_map = successors_in(registry, [c for c in prev_codes if c in known], ctx.quarter)
        cur_map = successors_in(registry, [c for c in cur_codes if c in known], ctx.quarter)
        prev_pairs, cur_pairs = list(prev_map.items()), list(cur_map.items())
        dissolved = [(code,) for code in sorted(set(prev_map.values()) - valid)]
    for name, rows, columns in (
        ("prev_successor", prev_pairs, ["agency_code", "successor"]),
        ("cur_successor", cur_pairs, ["agency_code", "successor"]),
        ("dissolved", dissolved, ["agency_code"]),
    ):
        ctx.con.register(name, pd.DataFrame(rows, columns=columns).astype("object"))


def reported_vs_portal(
    ctx: RuleContext, indicators: list[str], tolerance: float = 0.05, min_abs_diff: int = 5
) -> RuleResult:
    """Dossier counts agencies report (effective version of ``indicators``) against the
    portal dossiers received in the quarter per agency (not those carried over from before it).
    A difference above ``max(min_abs_diff, tolerance * portal count)`` fails. Agencies that report
    no count are not judged, so a quarter without reported counts passes with "no reported counts"."""
    reported = _records(
        ctx.con,
        """
        SELECT agency_code, value AS reported FROM (
            SELECT *, row_number() OVER (PARTITION BY agency_code, indicator_code
                                         ORDER BY coalesce(is_effective, false) DESC, version DESC) AS k
            FROM batch WHERE indicator_code IN (SELECT unnest(?::VARCHAR[])) AND value IS NOT NULL)
        WHERE k = 1
        """,
        [list(indicators)],
    )
    if not reported:
        return RuleResult(True, "no reported counts", checked=0)
    portal = partition_path(ctx.home, "portal_dossiers", ctx.quarter)
    if not portal.exists():
        return RuleResult(
            True,
            f"{len(reported)} reported counts, but no portal_dossiers partition to reconcile with",
            checked=0,
        )
    ctx.con.register("reported_counts", _as_arrow(reported))
    rows = _records(
        ctx.con,
        f"""
        WITH portal AS (
            -- dossiers received in the quarter: not those carried over from before it
            SELECT agency_code, count(*) AS portal FROM read_parquet({sql_literal(portal)})
            WHERE received_at >= TIMESTAMP '{ctx.quarter.start}' GROUP BY 1
        )
        SELECT r.agency_code, r.reported, coalesce(p.portal, 0) AS portal,
               r.reported - coalesce(p.portal, 0) AS difference
        FROM reported_counts r LEFT JOIN portal p USING (agency_code)
        WHERE abs(r.reported - coalesce(p.portal, 0)) > greatest(?, ? * coalesce(p.portal, 0))
        ORDER BY abs(difference) DESC, agency_code
        """,
        [min_abs_diff, tolerance],
    )
    ctx.con.unregister("reported_counts")
    if not rows:
        return RuleResult(
            True,
            f"{len(reported)} reported counts agree with the portal within {tolerance:.0%}",
            checked=len(reported),
        )
    listed = ", ".join(
        f"{r['agency_code']} reported {r['reported']:g} vs portal {r['portal']}" for r in rows[:5]
    )
    return RuleResult(
        False, f"{len(rows)} of {len(reported)} reported counts differ from the portal: {listed}",
        len(rows), rows[: ctx.sample_size], checked=len(reported),
    )


def no_rejects(
    ctx: RuleContext, table: str = "submission_rejects", row_key: list[str] | None = None
) -> RuleResult:
    """The quarter's rejects partition (``table``, written by the dataset's intake next to the
    dataset) is empty; otherwise count the rejected rows (distinct ``row_key`` when one input
    row may hold several bad values), name the fields and list a sample with file, row, field,
    value and reason. The base of the tolerance is every row the intake read: accepted + rejected."""
    path = partition_path(ctx.home, table, ctx.quarter)
    accepted = _batch_rows(ctx)
    if not path.exists():
        return RuleResult(True, f"no {table} partition (nothing rejected)", checked=accepted)
    src = f"read_parquet({sql_literal(path)})"
    if row_key:
        key = ", ".join(f'"{k}"' for k in row_key)
        total = ctx.con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {src})").fetchall()[0][0]
    else:
        total = ctx.con.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
    if total == 0:
        return RuleResult(True, "no rejected rows", checked=accepted)
    by_field = _records(
        ctx.con,
        f"SELECT coalesce(field, '(file)') AS field, count(*) AS n FROM {src} GROUP BY 1 ORDER BY n DESC, 1",
    )
    sample = _records(ctx.con, f"SELECT * FROM {src} LIMIT {int(ctx.sample_size)}")
    listed = ", ".join(f"{r['field']}: {r['n']}" for r in by_field)
    return RuleResult(False, f"{total} rejected rows of {accepted + total} read ({listed})", total, sample,
                      checked=accepted + total)


def _as_arrow(records: list[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist(records)


RULES: dict[str, Callable[..., RuleResult]] = {
    "agency_valid_in_quarter": agency_valid_in_quarter,
    "volume_vs_previous": volume_vs_previous,
    "reported_vs_portal": reported_vs_portal,
    "no_rejects": no_rejects,
}
