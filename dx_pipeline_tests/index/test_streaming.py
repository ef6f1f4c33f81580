"""Scoring into a Parquet file chunk by chunk (``score_to_parquet``): the same rows and values as
``score().scores``, whatever the chunk size, with policies that look across units computed over
all of them; the file reads back as plain strings."""

from __future__ import annotations

import copy

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.cases import synthetic_framework, synthetic_long
from dx_pipeline.index import builtin_paths, load_builtin, score
from dx_pipeline.index.scores_file import RowGroupWriter
from dx_pipeline.index.streaming import needs_all_units, score_to_parquet
from dx_pipeline_tests.index.conftest import MINIMAL
from dx_pipeline_tests.index.test_engine import fw_from, registry


def _long(fw, units: list[str], seed: int = 3) -> pd.DataFrame:
    """Every input of the framework for every unit: values in [0, 1.2) or counts, 15 % missing,
    a few zero denominators, a few texts that are not numbers."""
    rng = np.random.default_rng(seed)
    codes = sorted({n.input_code for n in fw.indicators() if n.input_code})
    rows = []
    for u in units:
        for c in codes:
            r = rng.random()
            if r < 0.1:
                continue
            if r < 0.15:
                rows.append((u, c, None, None, None))
            elif r < 0.18:
                rows.append((u, c, None, 0.0, 0.0))
            elif r < 0.2:
                rows.append((u, c, "n/a", None, None))
            else:
                v = float(rng.integers(0, 40)) if rng.random() < 0.3 else round(float(rng.uniform(0, 1.2)), 3)
                rows.append((u, c, str(v), None, None))
    return pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value", "numerator", "denominator"])


def _same(tmp_path, fw, data, *args, chunk_units=3, **kwargs):
    """Stream with a tiny chunk; the file and ranking must equal ``score()``'s frames."""
    expected = score(fw, data, *args, **kwargs)
    out = score_to_parquet(fw, data, tmp_path / "index_scores.parquet", *args, chunk_units=chunk_units,
                           **kwargs)
    back = pd.read_parquet(out.path)
    pd.testing.assert_frame_equal(back, expected.scores, check_exact=True)
    pd.testing.assert_frame_equal(out.ranking, expected.ranking, check_exact=True)
    assert out.rows == len(expected.scores)
    totals = expected.scores.loc[expected.scores["level"] == "total", ["agency_code", "points"]]
    assert out.totals.index.tolist() == totals["agency_code"].tolist()
    np.testing.assert_array_equal(out.totals.to_numpy(), totals["points"].to_numpy())
    return expected, out


UNITS = [f"U{i:02d}" for i in range(10)]


@pytest.mark.parametrize("fid", sorted(builtin_paths()))
def test_builtin_frameworks_stream_the_rows_score_returns(tmp_path, fid):
    fw = load_builtin(fid)
    _same(tmp_path, fw, _long(fw, UNITS))


def test_the_bench_framework_streams_the_rows_score_returns(tmp_path):
    fw = synthetic_framework(7)
    expected, _ = _same(tmp_path, fw, synthetic_long(23, 7), chunk_units=5)
    assert len(expected.scores) == 23 * (1 + 4 + 7)


def _cross_unit_doc() -> dict:
    """MINIMAL with every relative rule, the peer-group mean policy and ranking by peer group."""
    doc = copy.deepcopy(MINIMAL)
    doc["policies"]["missing"] = "group_mean"
    doc["ranking"] = {"groups": "peer_group"}
    p1, p2 = doc["pillars"][0]["indicators"], doc["pillars"][1]["indicators"]
    p1[0]["rule"], p1[1]["rule"] = "minmax", "zscore"
    p1[1].pop("params", None)
    p2[0]["rule"], p2[1]["rule"] = "percentile_rank", "rank"
    return doc


def _cross_unit_registry(n: int) -> pd.DataFrame:
    return registry([(f"D{i:02d}", f"Sở {i}", f"Dept {i}", "department", f"g{i % 3}", True)
                     for i in range(n)])


def test_cross_unit_rules_and_policies_use_all_units_not_the_chunk(tmp_path):
    fw = fw_from(_cross_unit_doc())
    assert all(needs_all_units(fw, n) for n in fw.indicators())
    reg = _cross_unit_registry(11)
    data = _long(fw, list(reg["agency_code"]), seed=5)
    expected, streamed = _same(tmp_path, fw, data, reg)
    assert expected.scores["note"].str.contains("peer-group mean").any()
    # the data does exercise them: the first chunk scored alone gives other points
    alone = score(fw, data[data["agency_code"].isin(reg["agency_code"][:3])], reg.iloc[:3])
    first = expected.scores[expected.scores["agency_code"].isin(reg["agency_code"][:3])]
    assert not np.array_equal(alone.scores["points"].to_numpy(), first["points"].to_numpy())
    # chunked and unchunked streams write the same file contents
    whole = score_to_parquet(fw, data, tmp_path / "whole.parquet", reg, chunk_units=1000)
    pd.testing.assert_frame_equal(pd.read_parquet(whole.path), pd.read_parquet(streamed.path))


def test_carry_forward_and_previous_ranking(tmp_path):
    doc = copy.deepcopy(MINIMAL)
    doc["policies"]["missing"] = "carry_forward"
    fw = fw_from(doc)
    reg = _cross_unit_registry(8)
    data = _long(fw, list(reg["agency_code"]), seed=7)
    prev = _long(fw, list(reg["agency_code"]), seed=8)
    previous_ranking = score(fw, prev, reg).ranking
    expected, _ = _same(tmp_path, fw, data, reg, prev, previous_ranking=previous_ranking)
    assert expected.scores["note"].str.contains("carried forward").any()
    assert expected.ranking["previous_rank"].notna().any()


def test_parquet_input_read_row_group_by_row_group(tmp_path):
    fw = load_builtin("dti_district")  # a minmax indicator
    data = _long(fw, UNITS, seed=11).sample(frac=1.0, random_state=2)  # rows in any order
    source = tmp_path / "long.parquet"
    data.to_parquet(source, index=False, row_group_size=17)
    assert pq.ParquetFile(source).num_row_groups > 10
    expected = score(fw, data)
    out = score_to_parquet(fw, source, tmp_path / "scores.parquet", chunk_units=4)
    pd.testing.assert_frame_equal(pd.read_parquet(out.path), expected.scores, check_exact=True)
    pd.testing.assert_frame_equal(out.ranking, expected.ranking, check_exact=True)


def test_a_pair_repeated_in_another_row_group_is_refused(tmp_path):
    fw = fw_from(MINIMAL)
    data = pd.DataFrame({"agency_code": ["A", "B", "A"], "kpi_code": ["on_time_rate"] * 3,
                         "value": [0.5, 0.6, 0.7]})
    source = tmp_path / "long.parquet"
    data.to_parquet(source, index=False, row_group_size=2)
    with pytest.raises(ValueError, match="repeat an .agency_code, kpi_code. pair, e.g. A/on_time_rate"):
        score_to_parquet(fw, source, tmp_path / "scores.parquet")
    assert not (tmp_path / "scores.parquet").exists()  # nothing half-written


def test_file_reads_back_as_plain_strings_in_pandas_arrow_and_duckdb(tmp_path):
    fw = load_builtin("qd766")
    data = _long(fw, UNITS)
    out = score_to_parquet(fw, data, tmp_path / "s.parquet", chunk_units=5)
    expected = score(fw, data).scores
    schema = pq.read_schema(out.path)
    assert schema.equals(pa.Schema.from_pandas(expected, preserve_index=False), check_metadata=True)
    assert not any(pa.types.is_dictionary(f.type) for f in schema)
    back = pd.read_parquet(out.path)
    assert back.dtypes.to_dict() == expected.dtypes.to_dict()
    assert not any(isinstance(t, pd.CategoricalDtype) for t in back.dtypes)
    described = _duck(f"DESCRIBE SELECT * FROM read_parquet('{out.path}')").fetchall()
    types = {r[0]: r[1] for r in described}
    assert types["note"] == "VARCHAR" and types["agency_code"] == "VARCHAR"
    notes = _duck(f"SELECT note FROM read_parquet('{out.path}')").fetchall()
    assert [n[0] for n in notes] == [None if pd.isna(n) else n for n in expected["note"]]


def _duck(query: str) -> duckdb.DuckDBPyRelation:
    relation = duckdb.sql(query)
    assert relation is not None
    return relation


def test_duckdb_reads_the_numbers_score_gives_whatever_their_encoding(tmp_path):
    fw = load_builtin("qd766")
    data = _long(fw, UNITS, seed=13)
    out = score_to_parquet(fw, data, tmp_path / "s.parquet", chunk_units=4)
    expected = score(fw, data).scores
    group = pq.ParquetFile(out.path).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    assert "BYTE_STREAM_SPLIT" in encodings["input_value"]
    assert any("DICT" in e for e in encodings["points"])
    numbers = "input_value, points, max_points, reported_value, reported_points, adjustment_id"
    got = _duck(f"SELECT {numbers} FROM read_parquet('{out.path}')").df()
    for col in ("input_value", "points", "max_points", "reported_value", "reported_points"):
        np.testing.assert_array_equal(got[col].to_numpy(dtype=float), expected[col].to_numpy(dtype=float))
    assert got["adjustment_id"].isna().all()


def test_an_error_while_writing_in_the_background_reaches_the_caller(tmp_path):
    good = pa.table({"x": pa.array([1.0, 2.0])})
    wrong = pa.table({"x": pa.array(["a", "b"])})  # not the file's schema: the writer refuses it
    with pytest.raises((ValueError, pa.ArrowInvalid)):
        with RowGroupWriter(tmp_path / "f.parquet", good.schema) as writer:
            writer.write(good)
            writer.write(wrong)
    with RowGroupWriter(tmp_path / "g.parquet", good.schema) as writer:
        writer.write(good)
        writer.write(good)
    assert pq.read_table(tmp_path / "g.parquet")["x"].to_pylist() == [1.0, 2.0, 1.0, 2.0]


def test_a_failure_in_the_writing_thread_leaves_no_file(tmp_path, monkeypatch):
    def broken(self, table, row_group_size=None):
        raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", broken)
    fw = load_builtin("qd766")
    with pytest.raises(OSError, match="disk full"):
        score_to_parquet(fw, _long(fw, UNITS), tmp_path / "s.parquet", chunk_units=4)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def _numeric_long(fw, units: list[str], seed: int) -> pd.DataFrame:
    """A long table with numbers in ``value`` (no text): codes padded with spaces, a KPI the
    framework does not use, empty values, a quarter column."""
    rng = np.random.default_rng(seed)
    codes = sorted({n.input_code for n in fw.indicators() if n.input_code}) + ["not_a_kpi"]
    rows = [(f" {u} " if rng.random() < 0.2 else u, c,
             np.nan if rng.random() < 0.1 else float(rng.uniform(0, 1.2)))
            for u in units for c in codes if rng.random() < 0.9]
    data = pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"])
    data["quarter"] = "2025-Q2"
    return data.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("value_type", ["float64", "float32", "int64"])
def test_a_plain_parquet_long_table_is_placed_straight_from_arrow(tmp_path, monkeypatch, value_type):
    import dx_pipeline.index.long_grid as long_grid

    fw = load_builtin("dti_district")  # a minmax indicator: the global pass reads the grid too
    reg = registry([(f"H{i:02d}", f"Huyện {i}", f"District {i}", "district", f"g{i % 2}", True)
                    for i in range(12)])
    data = _numeric_long(fw, [*reg["agency_code"][:10], "NOT_SCORED"], seed=21)
    if value_type == "int64":
        data["value"] = data["value"].fillna(0).round().astype("int64")
    else:
        data["value"] = data["value"].astype(value_type)
    source = tmp_path / "long.parquet"
    data.to_parquet(source, index=False, row_group_size=13)
    expected = score(fw, data, reg)
    assert len(expected.units) == 12 and expected.scores["points"].gt(0).any()

    def refused(*args, **kwargs):
        raise AssertionError("a plain batch went through read_long")

    monkeypatch.setattr(long_grid, "read_long", refused)  # every batch must take the plain path
    for given in (reg, None):
        out = score_to_parquet(fw, source, tmp_path / "scores.parquet", given, chunk_units=4)
        want = expected if given is not None else score(fw, data)
        pd.testing.assert_frame_equal(pd.read_parquet(out.path), want.scores, check_exact=True)
        pd.testing.assert_frame_equal(out.ranking, want.ranking, check_exact=True)


@pytest.mark.parametrize("fault", ["repeat_in_group", "repeat_across_groups", "padded_repeat", "blank",
                                   "two_quarters"])
def test_a_plain_parquet_long_table_with_a_fault_is_refused_as_read_long_refuses_it(tmp_path, fault):
    fw = fw_from(MINIMAL)
    data = pd.DataFrame({"agency_code": ["A", "B", "C", "D"], "kpi_code": ["on_time_rate"] * 4,
                         "value": [0.5, 0.6, 0.7, 0.8], "quarter": ["2025-Q2"] * 4})
    group = 4
    if fault == "repeat_in_group":
        data.loc[1, "agency_code"] = "A"
    elif fault == "repeat_across_groups":
        data.loc[3, "agency_code"], group = "A", 2
    elif fault == "padded_repeat":
        data.loc[1, "agency_code"] = " A "
    elif fault == "blank":
        data.loc[2, "agency_code"] = "  "
    else:
        data.loc[3, "quarter"], group = "2025-Q3", 2
    source = tmp_path / "long.parquet"
    data.to_parquet(source, index=False, row_group_size=group)
    with pytest.raises(ValueError) as from_frame:
        score(fw, data)
    with pytest.raises(ValueError) as from_file:
        score_to_parquet(fw, source, tmp_path / "scores.parquet")
    if fault == "repeat_across_groups":  # counted in the later row group alone, as before
        assert "1 rows repeat an (agency_code, kpi_code) pair, e.g. A/on_time_rate" in str(from_file.value)
    else:
        assert str(from_file.value).split(":", 1)[1] == str(from_frame.value).split(":", 1)[1]
    assert not (tmp_path / "scores.parquet").exists()


def test_reading_ahead_keeps_the_order_and_raises_the_readers_error():
    from dx_pipeline.index.long_grid import _ahead

    assert list(_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]

    def failing():
        yield 1
        raise OSError("truncated file")

    got = []
    with pytest.raises(OSError, match="truncated file"):
        for item in _ahead(failing()):
            got.append(item)
    assert got == [1]
