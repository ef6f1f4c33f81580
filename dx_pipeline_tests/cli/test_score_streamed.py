"""``dx-pipeline score`` streamed (a large Parquet input) gives what the in-memory way gives: the
same index_scores and ranking, the same refusals in strict mode, the same rejects in lenient
mode; and it says which way ran, so a silent fall-back to memory fails here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from dx_pipeline.cli import index as cli_index
from dx_pipeline.cli.main import main
from dx_pipeline.index.builtins import FRAMEWORKS_DIR, resolve_framework
from dx_pipeline.index.input_checks import input_specs
from dx_pipeline.reference.catalogue import load_catalogue

STREAMED = "streamed: "


def run(capsys, *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def clean_values(framework: str, units: int, seed: int = 3) -> pd.DataFrame:
    """Every unit with every input of the framework, values as their units allow."""
    rng = np.random.default_rng(seed)
    specs = input_specs(resolve_framework(framework), load_catalogue())
    rows = []
    for u in range(units):
        for code, spec in specs.items():
            if rng.random() < 0.05:
                value = np.nan
            elif spec.unit in ("bool", "evidence"):
                value = float(rng.integers(0, 2))
            elif spec.unit == "level":
                value = float(rng.choice(list(spec.levels.values())))
            elif spec.unit == "count":
                value = float(rng.integers(0, 50))
            elif spec.unit == "ratio":
                value = round(float(rng.random()), 4)
            else:
                value = round(float(rng.random() * 40), 2)
            rows.append((f"U{u:03d}", code, value))
    return pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"])


def write_parquet(table: pd.DataFrame, path: Path, group_rows: int = 50) -> Path:
    """Small row groups, so a file is read in several batches."""
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=group_rows)
    return path


def both_ways(tmp_path: Path, capsys, framework: str, data: Path, *extra: str) -> dict:
    """Exit code, stdout, stderr and output folder of the command in memory and streamed."""
    got = {}
    for way in ("--in-memory", "--stream"):
        out = tmp_path / way.strip("-")
        code, stdout, err = run(capsys, "score", "--framework", framework, "--input", str(data),
                                "--output", str(out), way, *extra)
        got[way] = (code, stdout, err, out)
    return got


def assert_same_outputs(memory: Path, streamed: Path, *names: str) -> None:
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(memory / f"{name}.parquet"),
                                      pd.read_parquet(streamed / f"{name}.parquet"), check_exact=True)
    assert (memory / "ranking.csv").read_bytes() == (streamed / "ranking.csv").read_bytes()


@pytest.mark.parametrize("framework", ["qd766", "egdi", "dti_department", "dti_district"])
def test_streamed_scores_and_ranking_equal_the_in_memory_ones(framework, tmp_path, capsys):
    data = write_parquet(clean_values(framework, 40), tmp_path / "long.parquet")
    got = both_ways(tmp_path, capsys, framework, data)
    (m_code, m_out, m_err, m_dir), (s_code, s_out, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert (m_code, s_code, m_err, s_err) == (0, 0, [], [])
    assert STREAMED not in m_out and STREAMED in s_out  # which way ran
    assert_same_outputs(m_dir, s_dir, "index_scores", "ranking")
    assert (m_dir / "index_scores.csv").exists() and not (s_dir / "index_scores.csv").exists()
    # the same report, and the line saying how it ran
    assert s_out.replace(str(s_dir), "DIR").splitlines()[:-1] == m_out.replace(str(m_dir), "DIR").splitlines()
    assert "index_scores.csv not written" in s_out.splitlines()[-1]


def hostile(tmp_path: Path) -> Path:
    """Bad codes, out-of-range and non-finite values, duplicates within and across row groups,
    catalogue KPIs qd766 does not use, and codes only clean_text makes equal."""
    table = clean_values("qd766", 30)
    bad = pd.DataFrame([
        ("U001", "on_time_rat", 0.5),  # unknown code
        ("U002", "ON_TIME_RATE", 0.5),  # wrong case
        ("", "on_time_rate", 0.5),  # blank agency
        (None, "on_time_rate", 0.5),  # missing agency
        ("U003", None, 0.5),  # missing code
        ("U004", "on_time_rate", 1.7),  # out of range
        ("U005", "dossier_synced_rate", -0.2),
        ("U006", "dossier_synced_rate", np.inf),
        ("U007", " electronic_result_rate ", 0.4),  # the same pair once trimmed: a duplicate
        ("U000", "on_time_rate", 0.3),  # duplicate of a row in the first row group
        ("Hòa", "on_time_rate", 0.3),
        ("Ho\u0300a", "on_time_rate", 0.4),  # the same unit once NFC-normalised: a duplicate
        ("U999", "population_data_rate", 0.2),  # fine
    ], columns=["agency_code", "kpi_code", "value"])
    catalogue_only = sorted(set(load_catalogue()) - set(input_specs(resolve_framework("qd766"),
                                                                      load_catalogue())))[:1]
    extra = pd.DataFrame({"agency_code": ["U009"], "kpi_code": catalogue_only, "value": [0.5]})
    return write_parquet(pd.concat([table, bad, extra], ignore_index=True), tmp_path / "hostile.parquet",
                         group_rows=37)


def test_strict_refusals_are_the_same_either_way(tmp_path, capsys):
    got = both_ways(tmp_path, capsys, "qd766", hostile(tmp_path))
    (m_code, _, m_err, m_dir), (s_code, _, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert (m_code, s_code) == (1, 1)
    assert s_err == m_err
    assert any("more than once" in line for line in m_err) and any("above 1" in line for line in m_err)
    assert not m_dir.exists() and not s_dir.exists()


def test_lenient_rejects_and_scores_are_the_same_either_way(tmp_path, capsys):
    got = both_ways(tmp_path, capsys, "qd766", hostile(tmp_path), "--lenient")
    (m_code, m_out, m_err, m_dir), (s_code, s_out, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert (m_code, s_code) == (0, 0)
    assert STREAMED in s_out and STREAMED not in m_out
    assert [line.replace(str(s_dir), "DIR") for line in s_err] == [
        line.replace(str(m_dir), "DIR") for line in m_err]
    assert_same_outputs(m_dir, s_dir, "index_scores", "ranking", "rejects")
    rejects = pd.read_parquet(s_dir / "rejects.parquet")
    assert len(rejects) >= 12 and rejects["row"].is_monotonic_increasing


def test_clipping_is_the_same_either_way(tmp_path, capsys):
    framework = tmp_path / "clip.yaml"
    raw = yaml.safe_load((FRAMEWORKS_DIR / "qd766.yaml").read_text(encoding="utf-8"))
    raw.setdefault("policies", {})["out_of_range"] = "clip"
    framework.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    table = clean_values("qd766", 20)
    units = {c: s.unit for c, s in input_specs(resolve_framework("qd766"), load_catalogue()).items()}
    rates = table["kpi_code"].map(units).eq("ratio").to_numpy()
    table.loc[rates & (np.arange(len(table)) % 7 == 0), "value"] = 1.5
    data = write_parquet(table, tmp_path / "long.parquet")
    got = both_ways(tmp_path, capsys, str(framework), data)
    (m_code, _, m_err, m_dir), (s_code, _, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert (m_code, s_code) == (0, 0)
    assert s_err == m_err and "clipped" in m_err[0]
    assert_same_outputs(m_dir, s_dir, "index_scores", "ranking")


def test_a_large_parquet_input_streams_by_itself(tmp_path, capsys, monkeypatch):
    data = write_parquet(clean_values("qd766", 10), tmp_path / "long.parquet")
    out = tmp_path / "out"
    (out).mkdir()
    (out / "index_scores.csv").write_text("an earlier run's rows\n", encoding="utf-8")
    argv = ["score", "--framework", "qd766", "--input", str(data), "--output", str(out)]
    code, stdout, err = run(capsys, *argv)
    assert (code, err) == (0, []) and STREAMED not in stdout  # small: in memory, as before
    assert (out / "index_scores.csv").read_text(encoding="utf-8") != "an earlier run's rows\n"
    monkeypatch.setattr(cli_index, "STREAM_ROWS", 100)
    code, stdout, err = run(capsys, *argv)
    assert (code, err) == (0, []) and STREAMED in stdout  # large: streamed, without a flag
    assert not (out / "index_scores.csv").exists()  # the earlier run's CSV is not left behind


def test_what_cannot_stream_is_scored_in_memory_saying_why(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_index, "STREAM_ROWS", 10)
    table = clean_values("qd766", 10)
    text = table.assign(value=table["value"].map(lambda v: "" if pd.isna(v) else f"{v:g}".replace(".", ",")))
    text.loc[3, "value"] = "n/a"  # a value that is not a number
    cases = {
        "text values": (write_parquet(text, tmp_path / "text.parquet"), (), "value column is not numeric"),
        "csv": (tmp_path / "long.csv", (), "only a Parquet input is streamed"),
        "previous": (write_parquet(table, tmp_path / "long.parquet"),
                     ("--previous", str(tmp_path / "long.parquet")), "--previous"),
    }
    table.to_csv(tmp_path / "long.csv", index=False)
    for name, (data, extra, why) in cases.items():
        for way in ((), ("--stream",)) if name != "csv" else (("--stream",),):  # a CSV's rows are not counted
            out = tmp_path / f"{name}{len(way)}"
            code, stdout, err = run(capsys, "score", "--framework", "qd766", "--input", str(data),
                                    "--output", str(out), *way, *extra)
            assert STREAMED not in stdout, name
            note = f"dx-pipeline score: note: checking and scoring {data.name} in memory"
            assert err[0].startswith(note), err
            assert why in err[0], (name, err)
            if name == "text values":  # refused in memory, row named, as for any input
                assert code == 1 and "row 5, field value, value 'n/a'" in " ".join(err)
            else:
                assert code == 0 and (out / "index_scores.csv").exists()


def items_framework(path: Path) -> Path:
    """A framework of items in the units no built-in one has (number, days) and count, yes/no."""
    raw = yaml.safe_load((FRAMEWORKS_DIR / "egdi.yaml").read_text(encoding="utf-8"))
    raw.pop("versions", None)
    units = ["number", "days", "count", "bool", "amount"]
    inds = [{"id": f"P1.{i + 1}", "item": f"x_{u}", "unit": u, "name": {"vi": u, "en": u},
             "max_points": 2.0, "rule": "linear"} for i, u in enumerate(units)]
    raw.update(id="items", version="1", total_points=10.0, policies={"missing": "zero"},
               pillars=[{"id": "P1", "name": {"vi": "Một", "en": "One"}, "max_points": 10.0,
                         "indicators": inds}])
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", ["--strict", "--lenient"])
def test_numbers_days_counts_and_yes_no_are_checked_alike(mode, tmp_path, capsys):
    framework = items_framework(tmp_path / "items.yaml")
    rng = np.random.default_rng(5)
    rows = [(f"U{u:02d}", f"x_{unit}", value) for u in range(30) for unit, value in [
        ("number", round(float(rng.normal(0, 50)), 1)), ("days", round(float(rng.random() * 30), 2)),
        ("count", float(rng.integers(0, 9))), ("bool", float(rng.integers(0, 2))),
        ("amount", float(rng.random() * 1e6))]]
    rows += [("V1", "x_number", 1.234), ("V2", "x_days", 12.345), ("V3", "x_days", -3.0),
             ("V4", "x_count", 2.5), ("V5", "x_bool", 2.0), ("V6", "x_number", 1.5),
             ("V7", "x_number", -999.5), ("V8", "x_count", np.inf), ("V9", "x_amount", -1.0)]
    data = write_parquet(pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"]),
                         tmp_path / "items.parquet", group_rows=29)
    got = both_ways(tmp_path, capsys, str(framework), data, mode)
    (m_code, _, m_err, m_dir), (s_code, s_out, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert m_code == s_code == (1 if mode == "--strict" else 0)
    assert [line.replace(str(s_dir), "DIR") for line in s_err] == [
        line.replace(str(m_dir), "DIR") for line in m_err]
    if mode == "--lenient":
        assert STREAMED in s_out
        assert_same_outputs(m_dir, s_dir, "index_scores", "ranking", "rejects")
        m_err = pd.read_parquet(s_dir / "rejects.parquet")["reason"].tolist()
    assert any("ambiguous" in line for line in m_err) and any("whole number" in line for line in m_err)
    assert any("not yes/no" in line for line in m_err) and any("below 0" in line for line in m_err)


@pytest.mark.parametrize("mode", ["--strict", "--lenient"])
def test_an_infinite_value_is_refused_either_way(mode, tmp_path, capsys):
    """A Parquet float can hold inf: under a unit without an upper bound it used to score full
    points (and to set the best value others are judged against); it is refused, row named."""
    framework = items_framework(tmp_path / "items.yaml")
    rows = [(f"U{u:02d}", f"x_{unit}", float(u)) for u in range(6) for unit in ("number", "days", "amount")]
    rows += [("W1", "x_number", np.inf), ("W2", "x_amount", np.inf), ("W3", "x_days", -np.inf)]
    data = write_parquet(pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"]),
                         tmp_path / "inf.parquet", group_rows=7)
    got = both_ways(tmp_path, capsys, str(framework), data, mode)
    (m_code, _, m_err, m_dir), (s_code, _, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert m_code == s_code == (1 if mode == "--strict" else 0)
    assert [line.replace(str(s_dir), "DIR") for line in s_err] == [
        line.replace(str(m_dir), "DIR") for line in m_err]
    if mode == "--strict":
        said = " ".join(s_err)
        for row in (20, 21, 22):
            assert f"row {row}, field value" in said
        assert "infinite" in said
    else:
        rejects = pd.read_parquet(s_dir / "rejects.parquet")
        assert rejects["row"].tolist() == [20, 21, 22] and set(rejects["field"]) == {"value"}
        scores = pd.read_parquet(s_dir / "index_scores.parquet")
        assert not np.isinf(scores["input_value"].dropna()).any()
        assert_same_outputs(m_dir, s_dir, "index_scores", "ranking", "rejects")


def test_an_input_with_no_good_row_is_refused_either_way(tmp_path, capsys):
    """Lenient, every row refused: nothing is scored and both ways say so, naming the file."""
    rows = [("U1", "not_a_code", 0.5), ("", "on_time_rate", 0.5), ("U2", "on_time_rate", 3.0)]
    data = write_parquet(pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"]),
                         tmp_path / "bad.parquet")
    got = both_ways(tmp_path, capsys, "qd766", data, "--lenient")
    (m_code, _, m_err, m_dir), (s_code, _, s_err, s_dir) = got["--in-memory"], got["--stream"]
    assert (m_code, s_code) == (1, 1)
    assert s_err == m_err == ["dx-pipeline score: error: bad.parquet: no row is left to score"]
    assert not (m_dir / "ranking.parquet").exists() and not (s_dir / "ranking.parquet").exists()
