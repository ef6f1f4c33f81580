"""Numbers entering through agencies' submissions are read as their unit says or refused, never
silently changed: the inbox (a real xlsx workbook read by openpyxl) and the reporting database
(SQLite, and PostgreSQL at $DX_TEST_POSTGRES_URL), one row at a time, each refusal naming its
file or table, row, field and value."""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
import uuid

import pytest
import sqlalchemy as sa

from dx_pipeline.sources.reporting_db import ReportingDbMapping, load_mapping, make_engine, read_reporting_db
from dx_pipeline.sources.submission_readers import read_submission_file
from dx_pipeline_tests.sources.test_submission_readers import rules, write_xlsx

T0 = dt.datetime(2025, 7, 8, 9, 0, 0)


def _rejects(read) -> dict[int, dict]:
    return {r["row"]: r for r in read.rejects}


def test_inbox_codes_are_normalised_and_wrong_ones_refused_with_the_known_ones(tmp_path):
    rows = [
        [1, unicodedata.normalize("NFD", " it_staff_qualified "), "", "có/không", None, None, "Có", None],
        [2, "WEBSITE_MONITORED", "", "có/không", None, None, "x", None],
        [3, "website_monitor", "", "có/không", None, None, "x", None],
        [4, "chu_ky_so_rate", "", "%", None, None, "75,0", None],
        [5, "digital_inspection_rate", "", "%", 12, 10, None, None],
        [6, "e_document_exchange_rate", "", "%", None, None, "126", None],
        [7, "staff_digital_trained_rate", "", "%", None, None, "n/a", None],
        [8, "work_records_online_rate", "", "%", None, None, "0,8", None],
    ]
    read = read_submission_file(write_xlsx(tmp_path / "so_yte.xlsx", rows), rules())
    accepted = {r["indicator_code"]: r["value"] for r in read.accepted}
    assert accepted == {"it_staff_qualified": 1.0, "work_records_online_rate": pytest.approx(0.8)}
    rej = _rejects(read)
    assert sorted(rej) == [9, 10, 11, 12, 13, 14]  # sheet rows (the table starts on row 8)
    assert rej[9]["reason"] == ("indicator code 'WEBSITE_MONITORED' is not in the KPI catalogue: codes are "
                                "case-sensitive, did you mean 'website_monitored'?")
    assert "did you mean 'website_monitored'?" in rej[10]["reason"]
    assert "codes agencies report: " in rej[11]["reason"] and "website_monitored" in rej[11]["reason"]
    assert rej[12]["field"] == "TuSo"
    assert rej[12]["reason"] == "TuSo 12 is above MauSo 10: a rate cannot exceed 100 %"
    assert (rej[13]["field"], rej[13]["value"]) == ("GiaTri", "126")
    assert "is above 100 %: a rate cannot exceed 100 % (check the figure; it is refused, never clipped)" \
        in rej[13]["reason"]
    assert rej[14]["reason"] == "value 'n/a' is not a number"
    assert all(r["file"] == "so_yte.xlsx" for r in read.rejects)


def test_inbox_agency_code_in_the_wrong_case_is_refused_naming_the_right_one(tmp_path):
    rows = [[1, "it_staff_qualified", "", "có/không", None, None, "Có", None]]
    read = read_submission_file(write_xlsx(tmp_path / "x.xlsx", rows, agency_code="so_yte"), rules())
    assert read.accepted == []
    assert read.rejects[0]["reason"] == ("agency code 'so_yte' is not in the agency registry: codes are "
                                         "case-sensitive, did you mean 'SO_YTE'?")
    read = read_submission_file(write_xlsx(tmp_path / "y.xlsx", rows, agency_code="  SO_YTE "), rules())
    assert [r["agency_code"] for r in read.accepted] == ["SO_YTE"] and read.rejects == []


DB_ROWS = [
    # report_id, agency, period, indicator, numerator, denominator, value (text, 0..100), submitted_at
    (1, " SO_YTE ", "2025-Q2", "e_document_exchange_rate", None, None, "85,5", T0),
    (2, "SO_YTE", "2025-Q2", "digital_inspection_rate", None, None, "126", T0),
    (3, "SO_YTE", "2025-Q2", "IPV6_READY", None, None, "1", T0),
    (4, "SO_YTE", "2025-Q2", "work_records_online_rate", 30, 20, None, T0),
    (5, "SO_YTE", "2025-Q2", "staff_digital_trained_rate", None, None, "không rõ", T0),
]


def _table(engine, mapping: ReportingDbMapping, rows) -> None:
    schema, name = mapping.schema_and_table
    md = sa.MetaData(schema=schema)
    c = mapping.columns
    table = sa.Table(
        name, md,
        sa.Column(c["report_id"], sa.Integer, primary_key=True),
        sa.Column(c["agency_code"], sa.String(40)),
        sa.Column(c["quarter"], sa.String(10)),
        sa.Column(c["indicator_code"], sa.String(80)),
        sa.Column(c["numerator"], sa.Float),
        sa.Column(c["denominator"], sa.Float),
        sa.Column(c["value"], sa.String(20)),  # a system that stores what the clerk typed
        sa.Column(c["unit"], sa.String(20)),
        sa.Column(c["evidence_ref"], sa.String(200)),
        sa.Column(c["submitted_at"], sa.DateTime),
    )
    md.create_all(engine)
    keys = [c[k] for k in ("report_id", "agency_code", "quarter", "indicator_code", "numerator",
                           "denominator", "value", "submitted_at")]
    with engine.begin() as con:
        if rows:
            con.execute(table.insert(), [dict(zip(keys, r, strict=True)) for r in rows])


def _check_db(engine, mapping: ReportingDbMapping) -> None:
    read = read_reporting_db(engine, rules("2025-Q2"), mapping)
    assert [(r["agency_code"], r["indicator_code"]) for r in read.accepted] == [
        ("SO_YTE", "e_document_exchange_rate")]
    assert read.accepted[0]["value"] == pytest.approx(0.855)  # "85,5" on the mapping's 0..100 scale
    rej = _rejects(read)
    assert sorted(rej) == [2, 3, 4, 5]
    assert "'126' is above 100 %" in rej[2]["reason"]
    assert "codes are case-sensitive, did you mean 'ipv6_ready'?" in rej[3]["reason"]
    assert "30 is above" in rej[4]["reason"] and "a rate cannot exceed 100 %" in rej[4]["reason"]
    assert rej[5]["reason"] == "value 'không rõ' is not a number"
    assert all(r["source"] == "reporting_db" for r in read.rejects)
    assert all(r["source_ref"].startswith("reporting_db:") for r in read.rejects)
    # a quarter with no rows is refused, naming the table and how its periods must be written
    empty = read_reporting_db(engine, rules("2025-Q3"), mapping)
    assert empty.accepted == [] and len(empty.rejects) == 1
    why = empty.rejects[0]["reason"]
    assert f"has no rows for 2025-Q3 in table {mapping.table!r}" in why and "written 2025-Q3" in why


def test_reporting_db_sqlite(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    try:
        _table(engine, load_mapping(), DB_ROWS)
        _check_db(engine, load_mapping())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_reporting_db_postgres():
    url = os.environ.get("DX_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("DX_TEST_POSTGRES_URL is not set")
    schema = f"dx_strict_{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f'create schema "{schema}"'))
    try:
        mapping = ReportingDbMapping(table=f"{schema}.dx_indicator_reports",
                                     columns=dict(load_mapping().columns))
        _table(engine, mapping, DB_ROWS)
        _check_db(engine, mapping)
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()
