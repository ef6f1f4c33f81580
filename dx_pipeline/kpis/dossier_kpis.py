"""Dossier and procedure KPIs per agency and quarter, to the national (Decision 766) definitions.

Computed by DuckDB straight over the Parquet partitions (one scan, streamed), so 10M dossiers
never enter pandas; only the per-agency result (agencies x KPIs) does. Every ratio is returned
as numerator and denominator so it can be rolled up as a ratio of sums.

Which dossiers count (quarter [start, end), judged at its last day):
- "received": received in the quarter (received_at on or after its first day). The quarter's
  partition also holds the dossiers carried over - received earlier and still open at the
  quarter's start, exported again with their state at this export (the ingest accepts exactly
  those, :func:`dx_pipeline.sources.portal_mapping.outside_quarter_sql`); they are not received
  in the quarter and count in none of the "received" KPIs (nor in the fee-bearing and resolved
  scopes, which are scopes of received dossiers).
- "judged" (on time, overdue, satisfaction): every dossier of the quarter's export received
  before the quarter's end that was still being processed at some point of the quarter - ended
  in it, or still open at its end - so the carried-over dossiers too; earlier quarters'
  partitions are never read (see :func:`portal_kpis`). Withdrawn dossiers are not judged.
- End of processing by status priority: finished_at, else returned_at, else stopped_at. A
  dossier with no end, or ending after the quarter, is judged at the quarter's last day.
- On time: more than one supplement request is late; otherwise the end, less the days the
  citizen spent supplementing, falls on or before the due date's calendar day (a dossier due
  today and finished today is on time); without a due date, processing days (calendar days,
  less supplement days) <= the procedure's statutory days. Neither: not judged ("unjudged").
- "ended" (average processing days): ended within the quarter, withdrawn excluded.
- Petitions (PAKN) about dossiers: a petition is judged in the quarter when received before
  its end and not answered before its start; it is on time when it was answered (or, still
  open, is judged at the quarter's last day) on or before its due date's calendar day.
  Satisfaction with petition handling counts the petitions received in the quarter, less
  those rated "not satisfied" or late.

A KPI whose input field is absent for all of an agency's dossiers is left out (missing data),
not reported as zero; one with nothing to judge (no certified-copy request, no petition) is
reported with denominator 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, attach_warehouse
from dx_pipeline.storage.duck import budgeted_connection
from dx_pipeline.storage.parquet import partition_path, sql_literal

DOSSIERS_TABLE = "portal_dossiers"
PROCEDURES_TABLE = "procedures"


@dataclass(frozen=True)
class Measure:
    """One KPI as three aggregates over a scope: numerator, denominator, and the scope's size.

    ``needs`` are columns that must be known for a row to count; when the scope has rows but
    none of them has the columns, the KPI is missing for the agency.
    """

    code: str
    scope: str
    numerator: str  # a condition to count; or, with ``aggregate``, SQL where {w} is the scope filter
    needs: tuple[str, ...] = ()
    aggregate: bool = False
    denominator: str | None = None  # aggregate; default: count of the scope with needs known


DOSSIER_MEASURES: tuple[Measure, ...] = (
    Measure("dossiers_received", "received", "TRUE"),
    Measure("online_dossier_rate", "received", "channel = 2", ("channel",)),
    Measure("on_time_rate", "judged", "on_time", ("on_time",)),
    Measure("overdue_rate", "judged", "NOT on_time", ("on_time",)),
    Measure(
        "avg_processing_days",
        "ended",
        # whole seconds summed as integers, so the total does not depend on the order DuckDB's
        # threads add rows in (floating-point sums would differ in the last digit between runs)
        "sum(processing_seconds) FILTER (WHERE {w}) / 86400.0",
        ("processing_seconds",),
        aggregate=True,
    ),
    Measure("online_payment_rate", "fee_bearing", "paid_online", ("paid_online",)),
    Measure("electronic_result_rate", "resolved", "result_digitized", ("result_digitized",)),
    Measure(
        "dossier_digitised_rate",
        "received",
        "input_digitized AND result_digitized",
        ("input_digitized", "result_digitized"),
    ),
    Measure("digitised_reuse_rate", "received", "reused_digitized_data", ("reused_digitized_data",)),
    Measure("population_data_rate", "received", "citizen_data_used", ("citizen_data_used",)),
    Measure("dossier_synced_rate", "received", "synced_national", ("synced_national",)),
    Measure(
        "dossier_satisfaction_rate",
        "judged",
        "count(*) FILTER (WHERE {w}) - count(*) FILTER (WHERE {w} AND NOT on_time) "
        "- count(*) FILTER (WHERE {w} AND (coalesce(complaint, FALSE) OR rating = 1))",
        ("on_time",),
        aggregate=True,
    ),
    Measure(
        "payment_transaction_procedure_rate",
        "fee_bearing",
        "count(DISTINCT procedure_code) FILTER (WHERE {w} AND paid_online)",
        ("procedure_code", "paid_online"),
        aggregate=True,
        denominator="count(DISTINCT procedure_code) FILTER (WHERE {w})",
    ),
    Measure("e_authenticated_rate", "received", "vneid_authenticated", ("vneid_authenticated",)),
    Measure(
        "dossier_handled_online_rate",
        "received",
        "channel = 2 OR input_digitized",
        ("input_digitized",),
    ),
    Measure(
        "interagency_online_rate",
        "received",
        "count(*) FILTER (WHERE {w} AND inter_agency AND coalesce(inter_agency_online, FALSE))",
        ("inter_agency",),
        aggregate=True,
        denominator="count(*) FILTER (WHERE {w} AND inter_agency)",
    ),
    Measure("personal_store_shared_rate", "received", "personal_store_shared", ("personal_store_shared",)),
    Measure(
        "e_certified_copy_rate",
        "received",
        "count(*) FILTER (WHERE {w} AND certified_copy AND coalesce(certified_copy_electronic, FALSE))",
        ("certified_copy",),
        aggregate=True,
        denominator="count(*) FILTER (WHERE {w} AND certified_copy)",
    ),
    Measure(
        "petition_on_time_rate",
        "petitions",
        "count(*) FILTER (WHERE {w} AND petition_judged AND petition_on_time)",
        ("petition_received_at",),
        aggregate=True,
        denominator="count(*) FILTER (WHERE {w} AND petition_judged AND petition_on_time IS NOT NULL)",
    ),
    Measure(
        "petition_satisfaction_rate",
        "petitions",
        "count(*) FILTER (WHERE {w} AND petition_in_period) - count(*) FILTER (WHERE {w} AND "
        "petition_in_period AND (petition_rating = 1 OR petition_on_time IS FALSE))",
        ("petition_received_at",),
        aggregate=True,
        denominator="count(*) FILTER (WHERE {w} AND petition_in_period)",
    ),
)

PROCEDURE_MEASURES: tuple[Measure, ...] = (
    Measure(
        "full_online_service_rate",
        "eligible",
        "service_level = 'full'",
        ("service_level",),
    ),
    Measure("online_service_rate", "all", "service_level IN ('full', 'partial')", ("service_level",)),
    Measure("mobile_service_rate", "full", "mobile_ready", ("mobile_ready",)),
    Measure("portal_integrated_rate", "online", "portal_integrated", ("portal_integrated",)),
    Measure("payment_integrated_rate", "fee_bearing", "payment_integrated", ("payment_integrated",)),
    Measure("procedures_published_on_time_rate", "all", "published_on_time", ("published_on_time",)),
    Measure("procedures_updated_on_time_rate", "all", "updated_on_time", ("updated_on_time",)),
    Measure("procedures_full_content_rate", "all", "full_content", ("full_content",)),
    Measure(
        "population_connected_procedure_rate", "all", "population_db_connected", ("population_db_connected",)
    ),
    Measure("fee_procedure_with_dossiers_rate", "fee_bearing", "had_dossiers", ("had_dossiers",)),
)

_DOSSIER_SCOPES = {
    "received": "in_period",
    "judged": "judged",
    "ended": "ended_in_period",
    "fee_bearing": "in_period AND fee_required AND coalesce(fee_amount, 0) > 0",
    "resolved": "in_period AND status IN ('finished', 'returned')",
    # every dossier with a petition (CoPhanAnh, or a petition date), whatever its quarter
    "petitions": "coalesce(complaint, FALSE) OR petition_received_at IS NOT NULL",
}
_SCOPE_COLUMNS = {
    "eligible": ("full_online_eligible", "service_level"),
    "full": ("service_level",),
    "online": ("service_level",),
    "fee_bearing": ("fee_required",),
}
_DERIVED = {"on_time", "processing_seconds", "had_dossiers", "personal_store_shared"}

_PROCEDURE_SCOPES = {
    "all": "TRUE",
    "eligible": "full_online_eligible",
    "full": "service_level = 'full'",
    "online": "service_level IN ('full', 'partial')",
    "fee_bearing": "fee_required",
}

KPI_COLUMNS = ["agency_code", "kpi_code", "numerator", "denominator", "value", "flags"]

KPI_MEMORY = "600MB"
"""DuckDB memory budget of the KPI query: measured at 10M dossiers, more buys no speed."""


JUDGED_INPUT_COLUMNS = (
    "dossier_id", "agency_code", "procedure_code", "channel", "status", "received_at", "due_at",
    "finished_at", "returned_at", "stopped_at", "updated_at", "supplement_requests",
    "supplement_days", "statutory_days", "fee_required", "fee_amount", "paid_online",
    "input_digitized", "result_digitized", "reused_digitized_data", "citizen_data_used",
    "synced_national", "rating", "complaint", "source_file", "vneid_authenticated",
    "personal_store_component", "personal_store_result", "certified_copy", "certified_copy_electronic",
    "inter_agency", "inter_agency_online",
    "petition_received_at", "petition_due_at", "petition_answered_at", "petition_rating",
)
"""portal_dossiers columns the judgement and the dossier KPIs read (and the tie-breakers)."""


def _ts(value) -> str:
    return f"TIMESTAMP '{value}'"


def judged_dossiers_sql(source: str, quarter: Quarter) -> str:
    """Every dossier of ``source`` relevant to the quarter, with the qd766 judgement columns.

    ``source`` is a FROM-able relation with the portal_dossiers columns (the quarter's own
    partition in the pipeline).

    Long because: it is one SQL statement (the needed columns, de-duplication of repeated ids,
    the judging window and the qd766 judgement), read top to bottom with its comments.
    """
    start, end = _ts(quarter.start), _ts(quarter.end)
    last_moment = _ts(f"{quarter.last_day} 23:59:59.999999")
    return f"""
    WITH src AS NOT MATERIALIZED (
        -- only the columns the KPIs read: the de-duplication below never carries the rest
        SELECT {", ".join(JUDGED_INPUT_COLUMNS)} FROM {source}
        WHERE received_at < {end}
    ), repeated AS (
        -- the few ids that occur more than once (by hash: a collision only sends a few more
        -- rows through the exact window below, never merges two dossiers)
        SELECT hash(dossier_id) AS h FROM src GROUP BY h HAVING count(*) > 1
    ), latest AS (
        -- one row per dossier: a duplicate export row or a later update of the same
        -- dossier in the export counts once (the quality gate reports duplicates; KPIs must not
        -- double-count them); rows without a receipt date cannot be placed in a period.
        -- Ids seen once stream straight through; only repeated ones are windowed.
        SELECT * FROM src WHERE hash(dossier_id) NOT IN (SELECT h FROM repeated)
        UNION ALL
        SELECT * FROM src WHERE hash(dossier_id) IN (SELECT h FROM repeated)
        QUALIFY row_number() OVER (
            PARTITION BY dossier_id
            ORDER BY updated_at DESC NULLS LAST, received_at DESC, agency_code, source_file
        ) = 1
    ), d AS (
        SELECT *, coalesce(finished_at, returned_at, stopped_at) AS end_raw
        FROM latest
    ), e AS (
        SELECT *,
            received_at >= {start} AS in_period,
            CASE WHEN end_raw IS NULL OR end_raw >= {end} THEN {last_moment} ELSE end_raw END AS judged_end,
            coalesce(supplement_days, 0) AS supp_days
        FROM d
    )
    SELECT *,
        status IS DISTINCT FROM 'withdrawn' AND (end_raw IS NULL OR end_raw >= {start}) AS judged,
        status IS DISTINCT FROM 'withdrawn' AND end_raw >= {start} AND end_raw < {end} AS ended_in_period,
        CASE
            WHEN coalesce(supplement_requests, 0) > 1 THEN FALSE
            WHEN due_at IS NOT NULL THEN
                CAST(judged_end - to_seconds(CAST(round(supp_days * 86400) AS BIGINT)) AS DATE)
                <= CAST(due_at AS DATE)
            WHEN statutory_days IS NOT NULL THEN
                (epoch(judged_end) - epoch(received_at)) / 86400.0 - supp_days <= statutory_days
        END AS on_time,
        CASE WHEN end_raw IS NOT NULL THEN
            greatest(
                (epoch_ms(end_raw) - epoch_ms(received_at)) // 1000
                - CAST(round(supp_days * 86400) AS BIGINT),
                0
            )
        END AS processing_seconds,
        CASE WHEN personal_store_component IS NOT NULL OR personal_store_result IS NOT NULL THEN
            coalesce(personal_store_component, FALSE) OR coalesce(personal_store_result, FALSE)
        END AS personal_store_shared,
        petition_received_at < {end}
            AND (petition_answered_at IS NULL OR petition_answered_at >= {start}) AS petition_judged,
        petition_received_at >= {start} AND petition_received_at < {end} AS petition_in_period,
        CAST(CASE WHEN petition_answered_at IS NULL OR petition_answered_at >= {end} THEN {last_moment}
                  ELSE petition_answered_at END AS DATE) <= CAST(petition_due_at AS DATE) AS petition_on_time
    FROM e
    """


def usable(measures: tuple[Measure, ...], columns: set[str], scope_columns=None) -> tuple[Measure, ...]:
    """The measures whose input columns the source actually has (others are missing data)."""
    scope_columns = scope_columns or {}
    out = []
    for m in measures:
        needed = (set(m.needs) | set(scope_columns.get(m.scope, ()))) - _DERIVED
        if needed <= columns:
            out.append(m)
    return tuple(out)


def _aggregates(measures: tuple[Measure, ...], scopes: dict[str, str]) -> str:
    parts = []
    for m in measures:
        scope = scopes[m.scope]
        known = " AND ".join(f"{c} IS NOT NULL" for c in m.needs) or "TRUE"
        where = f"({scope}) AND {known}"
        if m.aggregate:
            num = m.numerator.replace("{w}", f"({where})")
            den = (m.denominator or "count(*) FILTER (WHERE {w})").replace("{w}", f"({where})")
        else:
            num = f"count(*) FILTER (WHERE {where} AND ({m.numerator}))"
            den = f"count(*) FILTER (WHERE {where})"
        parts += [
            f"CAST(coalesce({num}, 0) AS DOUBLE) AS \"{m.code}__n\"",
            f"CAST({den} AS DOUBLE) AS \"{m.code}__d\"",
            f"CAST(count(*) FILTER (WHERE {scope}) AS DOUBLE) AS \"{m.code}__s\"",
            f"CAST(count(*) FILTER (WHERE {where}) AS DOUBLE) AS \"{m.code}__k\"",
        ]
    return ",\n        ".join(parts)


def _to_long(wide: pd.DataFrame, measures: tuple[Measure, ...]) -> pd.DataFrame:
    """Wide aggregates -> one row per agency and KPI, dropping KPIs whose inputs are missing."""
    rows = []
    for rec in wide.to_dict("records"):
        for m in measures:
            num, den, scope = rec[f"{m.code}__n"], rec[f"{m.code}__d"], rec[f"{m.code}__s"]
            if scope > 0 and rec[f"{m.code}__k"] == 0:
                continue  # the agency has rows, but none carries the field: missing, not zero
            if m.code == "dossiers_received":
                rows.append((rec["agency_code"], m.code, num, None, num, ""))
                continue
            value = num / den if den else None
            if value is not None and m.code == "dossier_satisfaction_rate":
                value = max(value, 0.0)
            rows.append((rec["agency_code"], m.code, num, den, value, "" if den else "zero_denominator"))
    return pd.DataFrame(rows, columns=KPI_COLUMNS)


def dossier_kpis_from(con: duckdb.DuckDBPyConnection, source: str, quarter: Quarter) -> pd.DataFrame:
    """Dossier KPIs per agency (own dossiers only) from any relation of portal_dossiers rows."""
    sql = f"""
    SELECT agency_code,
        {_aggregates(DOSSIER_MEASURES, _DOSSIER_SCOPES)},
        count(*) FILTER (WHERE judged AND on_time IS NULL) AS unjudged
    FROM ({judged_dossiers_sql(source, quarter)})
    GROUP BY agency_code ORDER BY agency_code
    """
    wide = con.execute(sql).fetch_df()
    long = _to_long(wide, DOSSIER_MEASURES)
    unjudged = dict(zip(wide["agency_code"], wide["unjudged"], strict=True))
    mask = long["kpi_code"].isin(["on_time_rate", "overdue_rate", "dossier_satisfaction_rate"]) & (
        long["agency_code"].map(unjudged).fillna(0) > 0
    )
    long.loc[mask, "flags"] = long.loc[mask, "flags"].map(
        lambda f: ",".join(str(x) for x in (f, "unjudged_dossiers") if x)
    )
    return long


def procedure_kpis_from(
    con: duckdb.DuckDBPyConnection, procedures: str, dossiers: str | None, quarter: Quarter
) -> pd.DataFrame:
    """Procedure KPIs per agency from the procedure catalogue (and the quarter's dossiers)."""
    if dossiers is not None:
        start, end = _ts(quarter.start), _ts(quarter.end)
        had = f"""EXISTS (SELECT 1 FROM {dossiers} AS x WHERE x.agency_code = p.agency_code
                  AND x.procedure_code = p.procedure_code
                  AND x.received_at >= {start} AND x.received_at < {end})"""
    else:
        had = "CAST(NULL AS BOOLEAN)"
    columns = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {procedures}").fetchall()}
    measures = usable(PROCEDURE_MEASURES, columns, _SCOPE_COLUMNS)
    if not measures or not {"agency_code", "procedure_code"} <= columns:
        return pd.DataFrame(columns=KPI_COLUMNS)
    sql = f"""
    SELECT agency_code, {_aggregates(measures, _PROCEDURE_SCOPES)}
    FROM (SELECT p.*, {had} AS had_dossiers FROM {procedures} AS p)
    GROUP BY agency_code ORDER BY agency_code
    """
    return _to_long(con.execute(sql).fetch_df(), measures)


def portal_kpis(
    home: DxHome, quarter: Quarter | str, con: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Own (not rolled-up) portal and procedure KPIs of every agency for a quarter.

    Reads the quarter's own ``portal_dossiers`` and ``procedures`` partitions and nothing
    else, so a quarter's KPIs are a function of its own inputs: the same whatever other
    quarters were loaded, in whatever order (issue 14). Earlier partitions are not a usable
    source of carried-over dossiers: each holds its dossiers as they stood at *its* export (a
    dossier open then and finished a week later is still "open" there), so reading them judged
    every dossier ever left open as open until this quarter's last day, and the result moved
    with whichever earlier quarters happened to be loaded (903.30 points for Sở NN&MT with
    2025-Q4 alone, 882.30 after the other quarters). A dossier received before the quarter and
    still open at its start comes from the quarter's own export instead, with its state at this
    export (the portal exports open dossiers with their history; the ingest keeps them in the
    quarter's partition and the sample exports them): judged here, not counted as received. A
    missing partition gives no rows. Without ``con`` it runs on a connection of its own under
    the KPI memory budget.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    if con is None:
        # row order is irrelevant to an aggregation: not keeping it saves memory
        with budgeted_connection(KPI_MEMORY, home, keep_order=False, prefix="dx_kpis_") as own:
            return portal_kpis(home, q, own)
    attach_warehouse(con, home)  # a caller's connection may not see a bucket yet
    frames = []
    dossiers = None
    dossier_file = partition_path(home, DOSSIERS_TABLE, q)
    if dossier_file.exists():
        dossiers = f"read_parquet({sql_literal(dossier_file)})"
        frames.append(dossier_kpis_from(con, dossiers, q))
    proc_file = partition_path(home, PROCEDURES_TABLE, q)
    if proc_file.exists():
        frames.append(procedure_kpis_from(con, f"read_parquet({sql_literal(proc_file)})", dossiers, q))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=KPI_COLUMNS)
    return pd.concat(frames, ignore_index=True)


DOSSIER_SCOPE_COLUMNS = {"fee_bearing": ("fee_required", "fee_amount"), "resolved": ("status",)}
"""portal_dossiers columns a dossier scope reads beyond the receipt date every dossier has."""


def computed_kpis() -> dict[str, tuple[str, frozenset[str]]]:
    """Every KPI this module computes -> (the warehouse table it reads, the columns that must be
    filled for it to have a value). Columns derived here (on time, processing time, a procedure
    having dossiers) are computed from dates every row carries and are not listed."""
    out = {}
    for table, measures, scopes in ((DOSSIERS_TABLE, DOSSIER_MEASURES, DOSSIER_SCOPE_COLUMNS),
                                    (PROCEDURES_TABLE, PROCEDURE_MEASURES, _SCOPE_COLUMNS)):
        for m in measures:
            needed = (set(m.needs) | set(scopes.get(m.scope, ()))) - _DERIVED
            out[m.code] = (table, frozenset(needed))
    return out
