"""Yardsticks measured in the same run as the pipeline: the dossier KPIs of
:mod:`dx_pipeline.kpis.dossier_kpis` computed twice more, and the ingest floor.

- :func:`ingest_floor`: DuckDB's own CSV -> Parquet of the raw export (issue 17 item 1), no
  mapping, no checks - the least any ingest of that file can cost.
- :func:`duckdb_floor`: one hand-written DuckDB query over the portal_dossiers Parquet, no
  framework around it - the least any DuckDB implementation can cost (the "floor").
- :func:`pandas_kpis`: what a user would write with pandas: ``read_parquet`` then column
  arithmetic and ``groupby``.

Both implement the same definitions (received, online, on time / overdue, average processing
days, online payment, electronic results, digitised, reuse, population data, national sync,
satisfaction, fee procedures paid online) per agency, own dossiers only, each dossier id once
(its latest update), so the runner can
check that they agree with each other and the tests can check them against the pipeline.
Both return per-agency numerators/denominators (``wide``) and a few totals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_files import find_export_files
from dx_pipeline.sources.portal_ingest import INGEST_MEMORY
from dx_pipeline.storage import DxHome, warehouse_duckdb
from dx_pipeline.storage.duck import budgeted_connection
from dx_pipeline.storage.parquet import QUERY_COPY_OPTIONS, arrow_location, partition_path, sql_literal

# kpi code -> (numerator column, denominator column) in the wide result; received has none.
KPI_PARTS = {
    "dossiers_received": ("received", None),
    "online_dossier_rate": ("online_n", "online_d"),
    "on_time_rate": ("on_time_n", "judged_d"),
    "overdue_rate": ("overdue_n", "judged_d"),
    "avg_processing_days": ("processing_days_sum", "ended_d"),
    "online_payment_rate": ("paid_n", "paid_d"),
    "electronic_result_rate": ("result_n", "result_d"),
    "dossier_digitised_rate": ("digitised_n", "digitised_d"),
    "digitised_reuse_rate": ("reuse_n", "reuse_d"),
    "population_data_rate": ("population_n", "population_d"),
    "dossier_synced_rate": ("synced_n", "synced_d"),
    "dossier_satisfaction_rate": ("satisfied_n", "judged_d"),
    "payment_transaction_procedure_rate": ("paid_procedures_n", "fee_procedures_d"),
}
PANDAS_COLUMNS = [
    "agency_code", "procedure_code", "channel", "received_at", "due_at", "finished_at", "returned_at",
    "stopped_at", "status", "supplement_requests", "supplement_days", "statutory_days", "fee_required",
    "fee_amount", "paid_online", "input_digitized", "result_digitized", "reused_digitized_data",
    "citizen_data_used", "synced_national", "rating", "complaint",
]
TOTALS = ("received", "on_time_n", "judged_d", "processing_days_sum", "paid_procedures_n")


def _ts(value) -> str:
    return f"TIMESTAMP '{value}'"


def floor_sql(path: str, q: Quarter) -> str:
    """The DuckDB floor: every KPI of a quarter from one Parquet file in one SQL statement.

    Long because: it is one SQL statement (latest version of each dossier, judging window,
    on-time rule, the aggregates), read top to bottom.
    """
    start, end = _ts(q.start), _ts(q.end)
    last = _ts(f"{q.last_day} 23:59:59.999999")
    return f"""
    WITH latest AS (
        SELECT {", ".join(PANDAS_COLUMNS + ["dossier_id", "updated_at", "source_file"])}
        FROM read_parquet('{path}') WHERE received_at < {end}
        QUALIFY row_number() OVER (PARTITION BY dossier_id
            ORDER BY updated_at DESC NULLS LAST, received_at DESC, agency_code, source_file) = 1
    ), d AS (
        SELECT *, coalesce(finished_at, returned_at, stopped_at) AS end_raw,
               coalesce(supplement_days, 0) AS supp_days
        FROM latest
    ), j AS (
        SELECT *,
            received_at >= {start} AS in_period,
            status IS DISTINCT FROM 'withdrawn' AND (end_raw IS NULL OR end_raw >= {start}) AS judged,
            status IS DISTINCT FROM 'withdrawn' AND end_raw >= {start} AND end_raw < {end} AS ended,
            CASE WHEN end_raw IS NULL OR end_raw >= {end} THEN {last} ELSE end_raw END AS judged_end
        FROM d
    ), k AS (
        SELECT *,
            CASE WHEN coalesce(supplement_requests, 0) > 1 THEN FALSE
                 WHEN due_at IS NOT NULL
                     THEN CAST(judged_end - to_seconds(CAST(round(supp_days * 86400) AS BIGINT)) AS DATE)
                          <= CAST(due_at AS DATE)
                 WHEN statutory_days IS NOT NULL
                     THEN (epoch(judged_end) - epoch(received_at)) / 86400.0 - supp_days <= statutory_days
            END AS on_time,
            CASE WHEN end_raw IS NOT NULL THEN greatest((epoch_ms(end_raw) - epoch_ms(received_at)) // 1000
                 - CAST(round(supp_days * 86400) AS BIGINT), 0) END AS psecs,
            in_period AND fee_required AND coalesce(fee_amount, 0) > 0 AS fee_scope
        FROM j
    )
    SELECT agency_code,
        count(*) FILTER (WHERE in_period) AS received,
        count(*) FILTER (WHERE in_period AND channel = 2) AS online_n,
        count(channel) FILTER (WHERE in_period) AS online_d,
        count(*) FILTER (WHERE judged AND on_time) AS on_time_n,
        count(on_time) FILTER (WHERE judged) AS judged_d,
        count(*) FILTER (WHERE judged AND NOT on_time) AS overdue_n,
        coalesce(sum(psecs) FILTER (WHERE ended), 0) / 86400.0 AS processing_days_sum,
        count(psecs) FILTER (WHERE ended) AS ended_d,
        count(*) FILTER (WHERE fee_scope AND paid_online) AS paid_n,
        count(paid_online) FILTER (WHERE fee_scope) AS paid_d,
        count(*) FILTER (WHERE in_period AND status IN ('finished', 'returned') AND result_digitized)
            AS result_n,
        count(result_digitized) FILTER (WHERE in_period AND status IN ('finished', 'returned')) AS result_d,
        count(*) FILTER (WHERE in_period AND input_digitized AND result_digitized) AS digitised_n,
        count(*) FILTER (WHERE in_period AND input_digitized IS NOT NULL AND result_digitized IS NOT NULL)
            AS digitised_d,
        count(*) FILTER (WHERE in_period AND reused_digitized_data) AS reuse_n,
        count(reused_digitized_data) FILTER (WHERE in_period) AS reuse_d,
        count(*) FILTER (WHERE in_period AND citizen_data_used) AS population_n,
        count(citizen_data_used) FILTER (WHERE in_period) AS population_d,
        count(*) FILTER (WHERE in_period AND synced_national) AS synced_n,
        count(synced_national) FILTER (WHERE in_period) AS synced_d,
        count(*) FILTER (WHERE judged AND on_time)
            - count(*) FILTER (WHERE judged AND on_time IS NOT NULL AND (complaint OR rating = 1))
            AS satisfied_n,
        count(DISTINCT procedure_code) FILTER (WHERE fee_scope AND paid_online) AS paid_procedures_n,
        count(DISTINCT procedure_code) FILTER (WHERE fee_scope AND paid_online IS NOT NULL)
            AS fee_procedures_d
    FROM k GROUP BY agency_code ORDER BY agency_code
    """


def ingest_floor(home: DxHome, quarter: Quarter, target: Path) -> dict:
    """The ingest floor: DuckDB converts the quarter's dossier export CSV to ``target`` Parquet.

    What a user would type - ``COPY (SELECT * FROM read_csv(export)) TO ...`` with the reader's
    own type detection - under the ingest's budget (every core, :data:`INGEST_MEMORY` or
    ``DX_DUCKDB_MEMORY``, a spill folder) and written with the warehouse's Parquet options
    (zstd, 1M-row groups), so the only difference from the ingest is the pipeline's own work:
    mapping, checks, reasons. ``store_rejects`` keeps a line the detected types cannot read from
    stopping the copy; ``rows`` counts the records read (written + rejected lines).
    """
    exports, _ = find_export_files(home.portal_exports, quarter)
    if len(exports) != 1 or exports[0].suffix.lower() != ".csv":
        raise ValueError(f"the ingest floor needs one CSV dossier export, found {exports}")
    export = exports[0]
    reader = (f"read_csv({sql_literal(export)}, header = true, hive_partitioning = false, "
              "store_rejects = true)")
    with budgeted_connection(INGEST_MEMORY, home, prefix="dx_bench_ingest_floor_") as con:
        [(written,)] = con.execute(
            f"COPY (SELECT * FROM {reader}) TO {sql_literal(target)} ({QUERY_COPY_OPTIONS})"
        ).fetchall()
        [(rejected,)] = con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchall()
        columns = len(con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_literal(target)})").fetchall())
    return {"rows": int(written) + int(rejected), "rows_written": int(written),
            "rejected_lines": int(rejected), "columns": columns,
            "csv_mb": round(export.stat().st_size / 1e6, 1),
            "parquet_mb": round(target.stat().st_size / 1e6, 1)}


def _result(wide: pd.DataFrame) -> dict:
    return {"agencies": len(wide), "totals": {c: float(wide[c].sum()) for c in TOTALS}, "wide": wide}


def duckdb_floor(home: DxHome, quarter: Quarter, threads: int | None = None) -> dict:
    """The floor: the dossier KPIs as a single DuckDB query over the quarter's Parquet."""
    path = str(partition_path(home, "portal_dossiers", quarter)).replace("'", "''")
    con = warehouse_duckdb(home)
    try:
        if threads:
            con.execute(f"SET threads TO {int(threads)}")
        wide = con.execute(floor_sql(path, quarter)).fetch_df()
    finally:
        con.close()
    return _result(wide)




def pandas_kpis(home: DxHome, quarter: Quarter) -> dict:
    """The same KPIs written the straightforward pandas way: load, derive columns, groupby."""
    source, filesystem = arrow_location(partition_path(home, "portal_dossiers", quarter))
    df = pd.read_parquet(source, filesystem=filesystem,
                         columns=PANDAS_COLUMNS + ["dossier_id", "updated_at", "source_file"])
    start, end = pd.Timestamp(quarter.start), pd.Timestamp(quarter.end)
    last = pd.Timestamp(f"{quarter.last_day} 23:59:59.999999")
    df = df[df["received_at"] < end]
    # each dossier once: its latest update (duplicates in the export must not double-count)
    df = df.sort_values(["updated_at", "received_at", "agency_code", "source_file"],
                        ascending=[False, False, True, True], na_position="last", kind="stable")
    df = df.drop_duplicates("dossier_id", keep="first")

    def known_true(col: str) -> pd.Series:
        return df[col].fillna(False).astype(bool)

    end_raw = df["finished_at"].fillna(df["returned_at"]).fillna(df["stopped_at"])
    supp_days = df["supplement_days"].fillna(0)
    in_period = df["received_at"] >= start
    not_withdrawn = df["status"].fillna("") != "withdrawn"
    judged = not_withdrawn & (end_raw.isna() | (end_raw >= start))
    ended = not_withdrawn & (end_raw >= start) & (end_raw < end)
    judged_end = end_raw.where(end_raw.notna() & (end_raw < end), last)
    late_by_requests = df["supplement_requests"].fillna(0) > 1
    by_due = (judged_end - pd.to_timedelta((supp_days * 86400).round(), unit="s")).dt.floor("D") <= df[
        "due_at"
    ].dt.floor("D")
    elapsed = (judged_end - df["received_at"]).dt.total_seconds() / 86400.0 - supp_days
    by_statute = elapsed <= df["statutory_days"]
    on_time = pd.Series(np.nan, index=df.index, dtype="object")
    on_time = on_time.mask(df["statutory_days"].notna(), by_statute)
    on_time = on_time.mask(df["due_at"].notna(), by_due)
    on_time = on_time.mask(late_by_requests, False)
    on_time_known = on_time.notna()
    on_time_true = on_time.fillna(False).astype(bool)
    duration: pd.Series[pd.Timedelta] = end_raw - df["received_at"]
    psecs = (duration // pd.Timedelta(milliseconds=1) // 1000 - (supp_days * 86400).round()).clip(lower=0)
    fee_scope = in_period & known_true("fee_required") & (df["fee_amount"].fillna(0) > 0)
    resolved = in_period & df["status"].isin(["finished", "returned"])
    unhappy = known_true("complaint") | (df["rating"] == 1)

    parts = pd.DataFrame(
        {
            "agency_code": df["agency_code"],
            "received": in_period,
            "online_n": in_period & (df["channel"] == 2),
            "online_d": in_period & df["channel"].notna(),
            "on_time_n": judged & on_time_known & on_time_true,
            "judged_d": judged & on_time_known,
            "overdue_n": judged & on_time_known & ~on_time_true,
            "processing_days_sum": psecs.where(ended & psecs.notna(), 0.0),
            "ended_d": ended & psecs.notna(),
            "paid_n": fee_scope & known_true("paid_online"),
            "paid_d": fee_scope & df["paid_online"].notna(),
            "result_n": resolved & known_true("result_digitized"),
            "result_d": resolved & df["result_digitized"].notna(),
            "digitised_n": in_period & known_true("input_digitized") & known_true("result_digitized"),
            "digitised_d": in_period & df["input_digitized"].notna() & df["result_digitized"].notna(),
            "reuse_n": in_period & known_true("reused_digitized_data"),
            "reuse_d": in_period & df["reused_digitized_data"].notna(),
            "population_n": in_period & known_true("citizen_data_used"),
            "population_d": in_period & df["citizen_data_used"].notna(),
            "synced_n": in_period & known_true("synced_national"),
            "synced_d": in_period & df["synced_national"].notna(),
            # as the pipeline counts it: on time, less every unhappy judged dossier (late ones too)
            "satisfied_n": (judged & on_time_known & on_time_true).astype(int)
            - (judged & on_time_known & unhappy).astype(int),
        }
    )
    wide = parts.groupby("agency_code", sort=True).sum().reset_index()
    wide["processing_days_sum"] = wide["processing_days_sum"] / 86400.0
    paid_proc = df.loc[fee_scope & known_true("paid_online"), ["agency_code", "procedure_code"]]
    fee_proc = df.loc[fee_scope & df["paid_online"].notna(), ["agency_code", "procedure_code"]]
    wide["paid_procedures_n"] = (
        wide["agency_code"].map(paid_proc.groupby("agency_code")["procedure_code"].nunique()).fillna(0)
    )
    wide["fee_procedures_d"] = (
        wide["agency_code"].map(fee_proc.groupby("agency_code")["procedure_code"].nunique()).fillna(0)
    )
    return _result(wide)


def kpi_values(wide: pd.DataFrame) -> pd.DataFrame:
    """Wide numerators/denominators -> (agency_code, kpi_code, value); rates as fractions."""
    rows = []
    for code, (num, den) in KPI_PARTS.items():
        n = wide[num].astype(float)
        if den is None:
            v = n
        else:
            d = wide[den].astype(float)
            v = (n / d).where(d > 0)
            if code == "dossier_satisfaction_rate":
                v = v.clip(lower=0)
        rows.append(
            pd.DataFrame({"agency_code": wide["agency_code"].astype(str), "kpi_code": code, "value": v})
        )
    return pd.concat(rows, ignore_index=True)
