"""The reporting database as a source: SQLite always, PostgreSQL at $DX_TEST_POSTGRES_URL."""

import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa

from dx_pipeline.sources import reporting_db
from dx_pipeline.sources.reporting_db import (
    ReportingDbMapping,
    load_mapping,
    make_engine,
    quarter_query,
    read_reporting_db,
)
from dx_pipeline_tests.sources.test_submission_readers import rules

T0 = dt.datetime(2025, 7, 8, 9, 0, 0)
ROWS = [
    # report_id, agency, period, indicator, num, den, value (0..100), unit, evidence, submitted_at
    (1, "SO_YTE", "2025-Q2", "work_records_online_rate", 90, 100, None, "%", None, T0),
    (2, "SO_YTE", "2025-Q2", "e_document_exchange_rate", None, None, 85.5, "%", None, T0),
    (3, "SO_YTE", "2025-Q2", "it_staff_qualified", None, None, 1, "", None, T0),
    (4, "SO_YTE", "2025-Q2", "not_a_kpi", None, None, 3, "", None, T0),
    (5, "SO_TTTT", "2025-Q2", "ipv6_ready", None, None, 1, "", None, T0),  # merged in Feb 2025
    (6, "SO_YTE", "2025-Q2", "digital_inspection_rate", 10, 20, 80, "%", None, T0),  # conflict
    (7, "SO_YTE", "2025-Q1", "ipv6_ready", None, None, 1, "", None, T0),  # other quarter
    (8, "SO_KHCN", "2025-Q2", "dx_plan_issued", None, None, None, "", "QĐ 5/KH ngày 02/02/2025", None),
]


def make_table(engine, mapping: ReportingDbMapping):
    schema, name = mapping.schema_and_table
    md = sa.MetaData(schema=schema)
    c = mapping.columns
    table = sa.Table(
        name,
        md,
        sa.Column(c["report_id"], sa.Integer, primary_key=True),
        sa.Column(c["agency_code"], sa.String(40)),
        sa.Column(c["quarter"], sa.String(10)),
        sa.Column(c["indicator_code"], sa.String(80)),
        sa.Column(c["numerator"], sa.Float),
        sa.Column(c["denominator"], sa.Float),
        sa.Column(c["value"], sa.Float),
        sa.Column(c["unit"], sa.String(20)),
        sa.Column(c["evidence_ref"], sa.String(200)),
        sa.Column(c["submitted_at"], sa.DateTime),
    )
    md.create_all(engine)
    keys = list(c.values())
    with engine.begin() as con:
        con.execute(table.insert(), [dict(zip(keys, r, strict=True)) for r in ROWS])
    return table


def check(read):
    got = {r["indicator_code"]: r for r in read.accepted}
    assert sorted(got) == ["e_document_exchange_rate", "it_staff_qualified", "work_records_online_rate"]
    assert got["work_records_online_rate"]["value"] == pytest.approx(0.9)
    assert got["e_document_exchange_rate"]["value"] == pytest.approx(0.855)  # 0..100 scale
    assert got["it_staff_qualified"]["value"] == 1.0
    assert got["it_staff_qualified"]["submitted_at"] == T0
    assert got["it_staff_qualified"]["source"] == "reporting_db"
    assert got["it_staff_qualified"]["source_ref"].endswith("#report_id=3")
    assert read.rows == 7  # the 2025-Q1 row is not selected
    rej = {r["row"]: r for r in read.rejects}
    assert sorted(rej) == [4, 5, 6, 8]
    assert "not in the KPI catalogue" in rej[4]["reason"] and rej[4]["field"] == "indicator_code"
    assert "ceased on 28/02/2025" in rej[5]["reason"] and rej[5]["field"] == "agency_code"
    assert "does not match numerator/denominator = 10/20 = 50.0%" in rej[6]["reason"]
    assert rej[8]["field"] == "submitted_at" and rej[8]["reason"] == "submission time is empty"
    assert all(r["source"] == "reporting_db" for r in read.rejects)


def test_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    engine = sa.create_engine(url)
    make_table(engine, load_mapping())
    engine.dispose()
    check(read_reporting_db(url, rules("2025-Q2")))


def test_mapping_reads_database_column_to_field():
    m = load_mapping()
    assert m.columns["quarter"] == "period" and m.columns["agency_code"] == "agency_code"


def test_query_is_parameterised(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    make_table(engine, load_mapping())
    sql = str(quarter_query(load_mapping()).compile(engine))
    assert "2025" not in sql and "?" in sql
    with engine.connect() as con:
        rows = con.execute(quarter_query(load_mapping()), {"period": "x' OR '1'='1"}).all()
    assert rows == []


def test_missing_table_fails_loudly(tmp_path):
    with pytest.raises(ValueError, match="cannot read table 'dx_indicator_reports'"):
        read_reporting_db(f"sqlite:///{tmp_path / 'empty.db'}", rules())


@pytest.mark.postgres
def test_postgres():
    url = os.environ.get("DX_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("DX_TEST_POSTGRES_URL is not set")
    schema = f"dx_sub_{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f'create schema "{schema}"'))
    try:
        mapping = ReportingDbMapping(
            table=f"{schema}.dx_indicator_reports", columns=dict(load_mapping().columns)
        )
        make_table(engine, mapping)
        check(read_reporting_db(engine, rules("2025-Q2"), mapping))
        # and through a plain URL string, as the CLI and the asset pass it
        check(read_reporting_db(url, rules("2025-Q2"), mapping))
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


def _watched_database(tmp_path, copies: int):
    """The sample table plus ``copies`` duplicates of its first row, read through a view that
    counts the rows SQLite has stepped through (a Python function on one column): what the
    database has handed over so far, whether or not the reader has looked at it."""
    url = f"sqlite:///{tmp_path / 'watched.db'}"
    base = ReportingDbMapping(table="raw_reports", columns=dict(load_mapping().columns))
    engine = sa.create_engine(url)
    table = make_table(engine, base)
    c = base.columns
    first = dict(zip(c.values(), ROWS[0], strict=True))
    with engine.begin() as con:
        con.execute(table.insert(), [{**first, c["report_id"]: 100 + i} for i in range(copies)])
        watched = ", ".join(f"stepped({col}) as {col}" if logical == "agency_code" else col
                            for logical, col in c.items())
        con.execute(sa.text(f"create view watched as select {watched} from raw_reports"))
    engine.dispose()
    stepped: list[int] = []
    engine = sa.create_engine(url)

    def on_connect(dbapi_con, _record):
        dbapi_con.create_function("stepped", 1, lambda v: stepped.append(1) or v)

    sa.event.listen(engine, "connect", on_connect)
    return engine, ReportingDbMapping(table="watched", columns=dict(c)), stepped


def test_the_table_is_read_in_chunks_never_whole(tmp_path, monkeypatch):
    """With chunks of 5 rows, the database is never more than a chunk ahead of the rows read
    (reading the table whole first would put it 47 ahead), and the result is the one-shot
    read's, duplicates' reason included."""
    engine, mapping, stepped = _watched_database(tmp_path, copies=40)
    monkeypatch.setattr(reporting_db, "CHUNK_ROWS", 1_000_000)
    whole = read_reporting_db(engine, rules("2025-Q2"), mapping)
    stepped.clear()
    ahead: list[int] = []
    real = reporting_db._raw_row

    def watching(rec, label, names):
        ahead.append(len(stepped) - len(ahead) - 1)
        return real(rec, label, names)

    monkeypatch.setattr(reporting_db, "_raw_row", watching)
    monkeypatch.setattr(reporting_db, "CHUNK_ROWS", 5)
    chunked = read_reporting_db(engine, rules("2025-Q2"), mapping)
    engine.dispose()
    assert len(ahead) == 47 and max(ahead) <= 5, ahead  # a chunk fetched ahead at most
    assert chunked == whole and chunked.rows == 47
    [reason] = {r["reason"] for r in chunked.rejects if r["row"] is not None and r["row"] >= 100}
    assert "(41 times: rows 1, 100, 101 and 38 others)" in reason
