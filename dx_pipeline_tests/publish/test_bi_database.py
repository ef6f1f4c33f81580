"""The BI DuckDB file as an analyst meets it: moved with its DX_HOME, opened from anywhere,
with lookup tables, zoned timestamps and a date axis."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

from dx_pipeline.cli.main import main
from dx_pipeline.publish.bi_database import build_bi_database, open_bi_database
from dx_pipeline.publish.lookups import framework_node_lookup
from dx_pipeline.reference import schemas
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline_tests.index.test_explain import _result

from .conftest import make_inputs, publish

LOOKUPS = ("lookup_kpis", "lookup_framework_nodes", "lookup_codes")


@pytest.fixture
def bi_home(home):
    """A home with two quarters in the warehouse, three revisions and a half-year published,
    and its BI database built."""
    q1, q2 = make_inputs("2025-Q1", seed=3), make_inputs("2025-Q2")
    for q, inp in (("2025-Q1", q1), ("2025-Q2", q2)):
        write_partition(home, "agency_kpis", q, inp["kpis"])
        write_partition(home, "index_scores", q, inp["index_scores"])
    publish(home, q1)
    second = publish(home, q2)
    write_partition(home, "ranking_snapshot", "2025-Q2", second.ranking())
    publish(home, q2, quarter=None, period="2025-H1")
    build_bi_database(home)
    return home


def _objects(con) -> list[str]:
    views = [r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    return views + tables


def _query_all(con) -> dict[str, int]:
    """Every view and table read in full: name -> rows."""
    out = {}
    for name in _objects(con):
        rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
        out[name] = len(rows)
    return out


def test_bi_file_works_after_the_home_is_moved(bi_home, tmp_path, monkeypatch):
    original = bi_home.root
    sql = " ".join(r[0] for r in duckdb.connect(str(original / "bi" / "dx_pipeline.duckdb"), read_only=True)
                   .execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall())
    assert str(original) not in sql and "warehouse/agency_kpis" in sql

    moved = tmp_path / "mounted" / "dx"
    shutil.copytree(original, moved, symlinks=True)
    shutil.rmtree(original)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    db = moved / "bi" / "dx_pipeline.duckdb"

    # Python, from any folder: open_bi_database sets file_search_path to the home
    con = open_bi_database(db)
    try:
        counts = _query_all(con)
    finally:
        con.close()
    assert set(schemas.CONTRACTS) | {"publications", "published_ranking_latest", *LOOKUPS} <= set(counts)
    assert counts["agency_kpis"] == 96 and counts["published_ranking"] == 16
    assert counts["published_period_ranking"] == 8 and counts["publications"] == 3
    assert counts["published_index_scores_latest"] == 144

    # a BI tool's init SQL (or the DuckDB CLI's -cmd): SET file_search_path to the home
    con = duckdb.connect(str(db), read_only=True)
    try:
        with pytest.raises(duckdb.IOException):  # without it, paths resolve against the cwd
            con.execute("SELECT count(*) FROM agency_kpis").fetchone()
        con.execute(f"SET file_search_path = '{moved}'")
        assert _query_all(con) == counts
    finally:
        con.close()

    # the DuckDB CLI way: cd to the home and open bi/dx_pipeline.duckdb
    monkeypatch.chdir(moved)
    con = duckdb.connect("bi/dx_pipeline.duckdb", read_only=True)
    try:
        assert _query_all(con) == counts
    finally:
        con.close()


def test_lookup_tables_in_the_database_and_as_parquet(bi_home):
    folder = bi_home.root / "bi" / "lookups"
    kpis = pd.read_parquet(folder / "lookup_kpis.parquet")
    row = kpis.set_index("kpi_code").loc["online_dossier_rate"].to_dict()
    assert row["name_vi"] and row["name_en"] and row["unit"] == "ratio" and row["direction"] == "higher"
    assert {"kpi_code", "name_vi", "name_en", "unit", "unit_vi", "direction"} <= set(kpis.columns)
    nodes = pd.read_parquet(folder / "lookup_framework_nodes.parquet")
    assert {"framework_id", "framework_version", "node_id", "parent_id", "name_vi", "name_en",
            "max_points"} <= set(nodes.columns)
    assert "qd766" in set(nodes["framework_id"]) and (nodes["max_points"] > 0).all()
    codes = pd.read_parquet(folder / "lookup_codes.parquet")
    assert {"channel", "rating", "payment_channel"} <= set(codes["column_name"])

    con = open_bi_database(bi_home.root / "bi" / "dx_pipeline.duckdb")
    try:
        assert con.execute(
            "SELECT label_vi, label_en FROM lookup_codes WHERE column_name = 'channel' AND code = 2"
        ).fetchone() == ("Trực tuyến", "Online")
        assert con.execute(
            "SELECT label_vi FROM lookup_codes WHERE column_name = 'rating' ORDER BY code"
        ).fetchall() == [("Không hài lòng",), ("Hài lòng",), ("Rất hài lòng",)]
        assert con.execute(
            "SELECT code, label_en FROM lookup_codes WHERE column_name = 'payment_channel' ORDER BY code"
        ).fetchall()[0] == (0, "Not paid online")
        assert con.execute("SELECT count(*) FROM lookup_kpis").fetchone() == (len(kpis),)
        # every KPI the warehouse holds has its names and direction
        missing = con.execute(
            "SELECT DISTINCT k.kpi_code FROM agency_kpis k ANTI JOIN lookup_kpis l USING (kpi_code)"
        ).fetchall()
        assert missing == []
        comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'lookup_codes'").fetchone()
        assert comment is not None and "Mã số" in comment[0]
    finally:
        con.close()


def test_views_have_zoned_times_a_date_axis_and_booleans(bi_home):
    con = open_bi_database(bi_home.root / "bi" / "dx_pipeline.duckdb")
    try:
        def types(view):
            return {r[0]: r[1] for r in con.execute(f"DESCRIBE {view}").fetchall()}

        for view in ("publications", "published_ranking", "ranking_snapshot", "published_period_ranking"):
            assert types(view)["published_at"] == "TIMESTAMP WITH TIME ZONE", view
        assert types("portal_dossiers")["received_at"] == "TIMESTAMP WITH TIME ZONE"
        assert types("agency_kpis")["quarter_start"] == "DATE"
        assert types("agency_kpis")["target_met"] == "BOOLEAN"
        assert con.execute(
            "SELECT DISTINCT quarter, quarter_start FROM agency_kpis ORDER BY 1").fetchall() == [
            ("2025-Q1", pd.Timestamp("2025-01-01").date()), ("2025-Q2", pd.Timestamp("2025-04-01").date())]
        assert con.execute(
            "SELECT DISTINCT period_start FROM published_period_ranking").fetchall() == [
            (pd.Timestamp("2025-01-01").date(),)]
        pubs = con.execute("SELECT period, period_start, published_at FROM publications").df()
        assert str(pubs["published_at"].dt.tz) in ("UTC", "Etc/UTC")
        stored = con.execute("SELECT published_at FROM published_ranking LIMIT 1").df()
        assert stored["published_at"].dt.tz is not None
        # published_at in the ranking files is UTC: the same instant as the manifest's
        joined = con.execute(
            "SELECT count(*) FROM published_ranking r JOIN publications p "
            "ON p.period = r.quarter AND p.revision = r.revision AND p.published_at = r.published_at"
        ).fetchone()
        assert joined == (16,)
        kpis = con.execute("SELECT target_met FROM agency_kpis").df()
        assert str(kpis["target_met"].dtype) == "boolean"
    finally:
        con.close()


def test_empty_home_builds_typed_empty_views(tmp_path):
    home = DxHome.local(tmp_path / "h").ensure()
    path = build_bi_database(home)
    con = open_bi_database(path)
    try:
        assert _query_all(con)["publications"] == 0
        cols = {r[0]: r[1] for r in con.execute("DESCRIBE publications").fetchall()}
        assert cols["published_at"] == "TIMESTAMP WITH TIME ZONE" and cols["period_start"] == "DATE"
    finally:
        con.close()


def test_framework_lookup_names_every_scored_node():
    """Scores of the built-in qd766 join the lookup on framework, version and node: every
    pillar and indicator has its names and the same max points; the EGDI's nodes are under
    each of its versions."""
    scores = _result().scores
    nodes = framework_node_lookup()
    scored = scores[scores["level"] != "total"]
    joined = scored.merge(nodes, on=["framework_id", "framework_version", "node_id"], how="left",
                          suffixes=("", "_lookup"))
    assert len(joined) == len(scored) and joined["name_vi"].notna().all()
    assert (joined["max_points"] == joined["max_points_lookup"]).all()
    egdi = nodes[nodes["framework_id"] == "egdi"]
    assert set(egdi["framework_version"]) == {"2001", "2018"}
    assert len(egdi[egdi["framework_version"] == "2001"]) == len(egdi[egdi["framework_version"] == "2018"])


def test_export_bi_says_how_to_open_the_file(tmp_path, capsys):
    root = tmp_path / "h"
    assert main(["--home", str(root), "export-bi"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(root / "bi" / "dx_pipeline.duckdb")
    assert f"SET file_search_path = '{root}'" in out[1]
