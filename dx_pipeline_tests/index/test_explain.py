"""Explanations: explain() text and `dx-pipeline explain` over warehouse partitions."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from dx_pipeline.cli.index import register
from dx_pipeline.index import explain, load_builtin, score
from dx_pipeline.storage import DxHome, write_partition


def _result():
    fw = load_builtin("qd766")
    reg = pd.DataFrame([
        ("SYT", "Sở Y tế", "Department of Health", "department", "department", True),
        ("STC", "Sở Tài chính", "Department of Finance", "department", "department", True),
    ], columns=["agency_code", "name_vi", "name_en", "level", "peer_group", "provides_public_services"])
    data = pd.DataFrame([
        ("SYT", "on_time_rate", 0.7), ("SYT", "online_service_combined_rate", 0.6),
        ("SYT", "digitised_reuse_rate", 0.6), ("SYT", "dossier_satisfaction_rate", 0.95),
        ("STC", "on_time_rate", 0.95),
    ], columns=["agency_code", "kpi_code", "value"])
    prev = pd.DataFrame({"framework_id": ["qd766", "qd766"], "agency_code": ["SYT", "STC"], "rank": [2, 1]})
    return score(fw, data, reg, previous_ranking=prev)


def test_explain_tells_where_points_were_lost():
    r = _result()
    text = explain(r.scores, r.ranking, "SYT")
    assert text.startswith("Sở Y tế (SYT) — qd766 v2022.2")
    assert "rank 1 in group 'department' (previous 2, +1) · band Yếu" in text
    lines = text.splitlines()
    first_loss = lines.index("Where points were lost (largest first):") + 1
    assert lines[first_loss].split()[:2] == ["CKMB.1", "−6.00"]  # largest loss first, then by id
    assert "TDGQ.1" in text and "on_time_rate = 0.7; linear → 14.00 / 20.00" in text
    assert "reaching 0.8 (80 %) would add +0.50 points" in text  # MDSH.3 at 60 %, full at 80 %
    assert "MDHL.1" not in text.split("By pillar:")[0]  # full points: not a loss
    clgq = [line for line in text.split("By pillar:")[1].splitlines() if line.strip().startswith("CLGQ")]
    assert clgq and "7.20 / 12.00" in clgq[0] and "Dịch vụ công trực tuyến (Online services)" in clgq[0]
    with pytest.raises(ValueError, match="no scores for agency 'NOPE'"):
        explain(r.scores, r.ranking, "NOPE")


def _cli(argv, home):
    parser = argparse.ArgumentParser()
    parser.add_argument("--home")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--home", str(home), *argv])
    return args.func(args)


def test_cli_explain_reads_the_warehouse(tmp_path, capsys):
    home = DxHome(tmp_path)
    with pytest.raises(FileNotFoundError, match="no index scores for 2025-Q2"):
        _cli(["explain", "--agency", "SYT", "--quarter", "2025-Q2"], tmp_path)
    r = _result()
    write_partition(home, "index_scores", "2025-Q2", r.scores)
    ranking = r.ranking.assign(revision=1, published_at=pd.Timestamp("2025-07-05"))
    write_partition(home, "ranking_snapshot", "2025-Q2", ranking)
    assert _cli(["explain", "--agency", "SYT", "--quarter", "2025-Q2"], tmp_path) == 0
    out = capsys.readouterr().out
    assert "Sở Y tế (SYT) — qd766 v2022.2, 2025-Q2" in out and "Where points were lost" in out
    with pytest.raises(ValueError, match="no framework 'egdi' in the scores of 2025-Q2"):
        _cli(["explain", "--agency", "SYT", "--quarter", "2025-Q2", "--framework", "egdi"], tmp_path)


def test_cli_frameworks_lists_builtins(tmp_path, capsys):
    assert _cli(["frameworks", "--quarter", "2025-Q3", "--level", "commune"], tmp_path) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == ["dx_commune", "qd766"]
    assert " illustrative " in out.splitlines()[0] and " partly illustrative " in out.splitlines()[1]


def test_cli_score_with_registry_and_bad_input(tmp_path, capsys):
    reg = tmp_path / "agencies.csv"
    reg.write_text("agency_code,name_vi,name_en,level,peer_group,provides_public_services\n"
                   "SYT,Sở Y tế,Health,department,department,true\n"
                   "BDT,Ban Dân tộc,Ethnic,department,department,false\n", encoding="utf-8")
    data = tmp_path / "long.csv"
    data.write_text(
        "agency_code,kpi_code,value\nSYT,on_time_rate,0.9\nBDT,on_time_rate,0.5\n", encoding="utf-8"
    )
    assert _cli(["score", "--framework", "qd766", "--input", str(data), "--output", str(tmp_path / "o"),
                 "--registry", str(reg)], tmp_path) == 0
    ranking = pd.read_csv(tmp_path / "o" / "ranking.csv")
    assert ranking.agency_code.tolist() == ["SYT"]  # qd766: agencies with public services only
    capsys.readouterr()
    assert _cli(
        ["score", "--framework", "qd766", "--input", str(tmp_path / "x.csv"), "--output", str(tmp_path)],
        tmp_path,
    ) == 1
    assert (
        capsys.readouterr().err == f"dx-pipeline score: error: {tmp_path / 'x.csv'}: input file not found\n"
    )
