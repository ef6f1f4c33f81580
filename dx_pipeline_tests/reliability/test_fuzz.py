"""Bounded fuzzing (hypothesis) of what reads outside input: value parsers, the CSV submission
reader, the portal field mapping and the framework loader. Each either returns a result or
raises the project's own clear error (a ValueError with a message); nothing else escapes."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pyarrow as pa
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dx_pipeline.index.loader import FrameworkError, load_framework
from dx_pipeline.sources import submission_numbers as sn
from dx_pipeline.sources.portal_files import read_portal_file
from dx_pipeline.sources.portal_mapping import map_table
from dx_pipeline.sources.submission_readers import read_submission_file
from dx_pipeline_tests.reliability.inputs import CSV_HEADERS, Q, rules
from dx_pipeline_tests.sources.portal_fixtures import HEADER as PORTAL_HEADER

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cell_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["85,5 %", "1.234,5", "1,234.5", "Có", "không", "x", "=1+1", "-", "31/02/2025",
                     "2025-Q2", "Quý 2/2025", "1e309", "nan", "inf", "١٢٣", "½", "   ", "100%%"]),
)
values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    cell_text, st.dates(), st.datetimes(),
)


def _ok_or_value_error(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        assert str(exc).strip(), f"{fn.__name__}: ValueError without a message"
        return None


@FAST
@given(values)
def test_value_parsers_return_or_raise_a_clear_value_error(value):
    _ok_or_value_error(sn.parse_number, value)
    _ok_or_value_error(sn.parse_ratio, value)
    _ok_or_value_error(sn.ratio_readings, value)
    _ok_or_value_error(sn.parse_bool, value)
    _ok_or_value_error(sn.parse_level, value, {"head": 1.0, "deputy": 0.5})
    _ok_or_value_error(sn.parse_date, value)
    _ok_or_value_error(sn.parse_period, value)


def _check_read(read):
    """Every row ended somewhere, every reject has a reason, everything is storable text."""
    for rej in read.rejects:
        assert rej["reason"], rej
    for rec in read.accepted + read.rejects:
        texts = [v for v in rec.values() if isinstance(v, str)]
        pa.array(texts, pa.string())  # lone surrogates or other unstorable text would raise


@SLOW
@given(st.binary(max_size=2000))
def test_csv_reader_survives_random_bytes(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.csv"
        path.write_bytes(data)
        _check_read(read_submission_file(path, rules()))


csv_cell = st.one_of(cell_text, st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
                     st.sampled_from(['"', '""', "a\nb", ";", ",", "\r", "\x00"]))


@SLOW
@given(
    rows=st.lists(st.lists(csv_cell, min_size=0, max_size=13), max_size=6),
    delimiter=st.sampled_from([";", ",", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1258", "cp1252"]),
)
def test_csv_reader_survives_well_formed_ish_files(rows, delimiter, encoding):
    buf = io.StringIO()
    import csv

    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(CSV_HEADERS)
    for row in rows:
        writer.writerow(row)
    data = buf.getvalue().encode(encoding, errors="replace")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.csv"
        path.write_bytes(data)
        _check_read(read_submission_file(path, rules()))


portal_value = st.one_of(st.none(), cell_text, st.integers(), st.floats(allow_nan=False),
                         st.sampled_from(["01/04/2025 08:30:00", "20250401083000", "31/02/2025 08:00:00",
                                          "4", "toan_trinh", "1", "0", "2025-04-01"]))


@SLOW
@given(st.lists(st.dictionaries(st.sampled_from(PORTAL_HEADER), portal_value, max_size=len(PORTAL_HEADER)),
                max_size=8))
@example([{"MaHoSo": "H1", "MucDoHaiLong": 9223372036854775296}])  # beyond BIGINT: once crashed DuckDB
def test_portal_mapping_survives_random_records(records):
    mapped = _ok_or_value_error(map_table, records, "dossiers", Q, source_file="page.json")
    if mapped is not None:
        assert mapped.rows.num_rows <= len(records)


@SLOW
@given(
    header=st.lists(st.sampled_from(PORTAL_HEADER), min_size=1, max_size=len(PORTAL_HEADER), unique=True),
    rows=st.lists(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                                   max_size=12), max_size=30), max_size=5),
)
def test_portal_csv_export_survives_random_files(header, rows):
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row[: len(header)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dossiers.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        _ok_or_value_error(read_portal_file, path, "dossiers", Q)


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=12), st.dates())
yaml_docs = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["id", "name", "vi", "en", "pillars", "indicators", "weight",
                                         "max_points", "kpi", "rule", "aggregation", "version",
                                         "valid_from", "ranking", "levels", "x"]) | st.text(max_size=6),
                        children, max_size=5),
    ),
    max_leaves=25,
)


@SLOW
@given(st.one_of(yaml_docs, st.text(max_size=200)))
def test_framework_loader_returns_or_raises_framework_error(doc):
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_framework(path, known_kpis=set())
        except FrameworkError as exc:
            assert str(exc).startswith("fuzzed.yaml: ")
