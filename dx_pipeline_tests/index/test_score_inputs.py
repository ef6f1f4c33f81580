"""``dx-pipeline score`` takes no bad input silently: every case the issue found, through the real
command (``dx_pipeline.cli.main.main``, the console script's function), with its exit code,
its stderr lines and the files it writes."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dx_pipeline.cli.main import main
from dx_pipeline.index.builtins import FRAMEWORKS_DIR

HEADER = "agency_code,kpi_code,value\n"


def run(capsys, *argv: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, stderr lines) of one dx-pipeline command."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def score_args(tmp_path: Path, data: Path, framework: str = "qd766", *extra: str) -> list[str]:
    out = str(tmp_path / "out")
    return ["score", "--framework", framework, "--input", str(data), "--output", out, *extra]


def one_line_errors(err: list[str]) -> None:
    assert err and all(line.startswith("dx-pipeline score: ") for line in err), err
    assert not any("Traceback" in line for line in err)


def points(tmp_path: Path, node: str, agency: str = "A") -> float:
    scores = pd.read_parquet(tmp_path / "out" / "index_scores.parquet")
    return float(scores.set_index(["agency_code", "node_id"]).loc[(agency, node), "points"])


def test_vietnamese_decimal_comma_and_percent_are_read_as_the_unit_says(tmp_path, capsys):
    data = write(tmp_path / "in.csv", HEADER + 'A,on_time_rate,"0,8"\nA,dossier_synced_rate,45%\n'
                                               "A,digitised_reuse_rate,0.4\n")
    code, out, err = run(capsys, *score_args(tmp_path, data))
    assert (code, err) == (0, [])
    assert points(tmp_path, "TDGQ.1") == 16.0  # 0,8 × 20 (it was read as missing: 0 points)
    assert points(tmp_path, "CKMB.4") == 2.7  # 45 % × 6
    assert points(tmp_path, "MDSH.3") == 1.0
    assert "qd766 v2022.2: scored 1 units" in out


def test_semicolon_separated_csv_with_decimal_commas(tmp_path, capsys):
    data = write(tmp_path / "in.csv", "agency_code;kpi_code;value\nA;on_time_rate;0,75\n")
    assert run(capsys, *score_args(tmp_path, data))[0] == 0
    assert points(tmp_path, "TDGQ.1") == 15.0


@pytest.mark.parametrize(("cell", "reason"), [
    ("n/a", "value 'n/a' is not a number (leave the cell empty when there is no data)"),
    ("1.7", "value '1.7' is above 1, out of range for a rate (0..1, or 0..100 with '%') "
            "(for 1.7 per cent write '1.7 %')"),
    ("-0.2", "value '-0.2' is below 0, out of range for a rate (0..1, or 0..100 with '%')"),
    ("45", "value '45' is above 1, out of range for a rate (0..1, or 0..100 with '%') "
           "(for 45 per cent write '45 %')"),
])
def test_a_bad_value_is_refused_with_file_row_field_and_value(cell, reason, tmp_path, capsys):
    data = write(tmp_path / "in.csv", HEADER + "A,dossier_synced_rate,0.5\n" + f"A,on_time_rate,{cell}\n")
    code, _, err = run(capsys, *score_args(tmp_path, data))
    assert code == 1
    one_line_errors(err)
    assert err == [f"dx-pipeline score: error: in.csv, row 3, field value, value '{cell}': {reason}"]
    assert not (tmp_path / "out").exists()  # strict: nothing written


def test_wrong_case_and_unknown_codes_are_refused_with_the_known_ones(tmp_path, capsys):
    data = write(tmp_path / "in.csv", "unit,indicator,value\nViet Nam,OSI,0.8\nViet Nam,hci,0.7\n"
                                      "Viet Nam,tii,0.6\nViet Nam,eparticipation,0.5\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, "egdi"))
    assert code == 1
    one_line_errors(err)
    assert err[0] == ("dx-pipeline score: error: in.csv, row 2, field kpi_code, value 'OSI': indicator code "
                      "'OSI' is not known: codes are case-sensitive, did you mean 'osi'? "
                      "(the framework's inputs: hci, osi, tii)")
    assert err[1] == ("dx-pipeline score: error: in.csv, row 5, field kpi_code, value 'eparticipation': "
                      "indicator code 'eparticipation' is not known (the framework's inputs: hci, osi, tii)")
    assert "--lenient scores the good rows" in err[2]


def test_case_insensitive_codes_only_where_the_framework_says_so(tmp_path, capsys):
    raw = yaml.safe_load((FRAMEWORKS_DIR / "egdi.yaml").read_text(encoding="utf-8"))
    raw["policies"]["input_codes"] = "ignore_case"
    fw = tmp_path / "egdi_any_case.yaml"
    fw.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    data = write(tmp_path / "in.csv", "unit,indicator,value\nViet Nam,OSI,0.8\nViet Nam,Hci,0.7\n"
                                      "Viet Nam,tii,0.6\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, str(fw)))
    assert (code, err) == (0, [])
    assert points(tmp_path, "total", "Viet Nam") == 0.7


def test_catalogue_kpis_the_framework_does_not_use_are_skipped_and_counted(tmp_path, capsys):
    data = write(tmp_path / "in.csv",
                 HEADER + "A,on_time_rate,0.9\nA,dx_plan_issued,1\nB,dx_plan_issued,0\n")
    code, out, err = run(capsys, *score_args(tmp_path, data))
    assert (code, err) == (0, [])
    assert "skipped rows of catalogue KPIs that qd766 does not use: dx_plan_issued (2)" in out


def test_one_name_in_composed_and_decomposed_unicode_is_one_unit(tmp_path, capsys):
    composed = "Hòa Bình"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    data = write(tmp_path / "in.csv", f"unit,indicator,value\n{composed},osi,0.8\n{decomposed},hci,0.7\n"
                                      f" {decomposed} ,tii,0.6\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, "egdi"))
    assert (code, err) == (0, [])
    ranking = pd.read_parquet(tmp_path / "out" / "ranking.parquet")
    assert ranking["agency_code"].tolist() == [composed]
    assert ranking["total_points"].tolist() == [0.7]  # all three components of one unit


def test_the_same_unit_twice_under_two_spellings_is_refused(tmp_path, capsys):
    data = write(tmp_path / "in.csv", "unit,indicator,value\nHòa Bình,osi,0.8\n"
                 f"{unicodedata.normalize('NFD', 'Hòa Bình')},osi,0.7\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, "egdi"))
    assert code == 1
    assert err[0].startswith("dx-pipeline score: error: in.csv, row 2, field agency_code, kpi_code, value "
                             "'Hòa Bình': unit 'Hòa Bình' has indicator 'osi' more than once (rows 2 and 3)")


def test_a_unit_repeated_a_thousand_times_gets_short_refusals(tmp_path, capsys):
    data = write(tmp_path / "in.csv", "unit,indicator,value\n" + "Hòa Bình,osi,0.8\n" * 1000)
    code, _, err = run(capsys, *score_args(tmp_path, data, "egdi"))
    assert code == 1
    assert err[0].endswith("'Hòa Bình': unit 'Hòa Bình' has indicator 'osi' more than once "
                           "(rows 2, 3, 4 and 997 others); give it once")
    assert max(len(line) for line in err) < 300


def test_clipping_only_where_the_framework_declares_it(tmp_path, capsys):
    raw = yaml.safe_load((FRAMEWORKS_DIR / "qd766.yaml").read_text(encoding="utf-8"))
    raw["policies"]["out_of_range"] = "clip"
    fw = tmp_path / "qd766_clip.yaml"
    fw.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    data = write(tmp_path / "in.csv", HEADER + "A,on_time_rate,1.7\nA,dossier_synced_rate,-0.2\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, str(fw)))
    assert code == 0
    assert err == ["dx-pipeline score: warning: 2 values outside their unit's range were clipped "
                   "(the framework's policies.out_of_range is clip)"]
    assert (points(tmp_path, "TDGQ.1"), points(tmp_path, "CKMB.4")) == (20.0, 0.0)


@pytest.mark.parametrize(("content", "reason"), [
    ("", "in.csv: the input file is empty"),
    ("\n\n", "in.csv: the file is empty"),
    (HEADER, "in.csv: the input file has a header but no rows (columns: agency_code, kpi_code, value)"),
    ("agency,score\nA,1\n", "in.csv, field columns: needs the columns agency_code (or unit), kpi_code (or "
                            "indicator), value (or numerator and denominator); found agency, score"),
])
def test_empty_header_only_and_columnless_files_are_refused_naming_it(content, reason, tmp_path, capsys):
    data = write(tmp_path / "in.csv", content)
    code, _, err = run(capsys, *score_args(tmp_path, data))
    assert (code, err) == (1, [f"dx-pipeline score: error: {reason}"])
    assert not (tmp_path / "out").exists()


def test_an_empty_parquet_file_is_refused_naming_it(tmp_path, capsys):
    pd.DataFrame({"agency_code": pd.Series(dtype=str), "kpi_code": pd.Series(dtype=str),
                  "value": pd.Series(dtype=float)}).to_parquet(tmp_path / "in.parquet")
    code, _, err = run(capsys, *score_args(tmp_path, tmp_path / "in.parquet"))
    assert code == 1
    assert err == ["dx-pipeline score: error: in.parquet: the input file has a header but no rows "
                   "(columns: agency_code, kpi_code, value)"]


@pytest.mark.parametrize("make", ["file", "inner_folder"])
def test_the_output_path_is_checked_before_any_work(make, tmp_path, capsys):
    out = tmp_path / "out"
    if make == "file":
        out.write_text("not a folder", encoding="utf-8")
        why = "is a file, not a folder"
    else:
        (out / "ranking.csv").mkdir(parents=True)
        why = "ranking.csv in it is a folder"
    # the input would be refused too: the output is checked first, so that is the one error
    data = write(tmp_path / "in.csv", HEADER + "A,on_time_rate,n/a\n")
    code, _, err = run(capsys, *score_args(tmp_path, data))
    assert (code, err) == (1, [f"dx-pipeline score: error: --output {out}: {why}"])


def test_an_output_under_a_file_is_refused(tmp_path, capsys):
    blocker = write(tmp_path / "blocker", "x")
    data = write(tmp_path / "in.csv", HEADER + "A,on_time_rate,0.5\n")
    code, _, err = run(capsys, "score", "--framework", "qd766", "--input", str(data),
                       "--output", str(blocker / "out"))
    assert (code, err) == (1, [f"dx-pipeline score: error: --output {blocker / 'out'}: "
                               f"{blocker} is a file, not a folder"])


def test_lenient_scores_the_good_rows_and_writes_a_rejects_table(tmp_path, capsys):
    data = write(tmp_path / "in.csv", HEADER + "A,on_time_rate,0.9\nA,dossier_synced_rate,n/a\n"
                                               "B,on_time_rate,0.5\nB,ON_TIME_RATE,0.5\n")
    code, out, err = run(capsys, *score_args(tmp_path, data, "qd766", "--lenient"))
    assert code == 0
    written = tmp_path / "out" / "rejects.csv"
    assert err == [f"dx-pipeline score: warning: 2 rows refused, written to {written}"]
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", keep_default_na=False)
    assert rejects[["file", "row", "field", "value"]].values.tolist() == [
        ["in.csv", 3, "value", "n/a"], ["in.csv", 5, "kpi_code", "ON_TIME_RATE"]]
    assert rejects["reason"].str.len().gt(20).all()
    assert (points(tmp_path, "TDGQ.1", "A"), points(tmp_path, "TDGQ.1", "B")) == (18.0, 10.0)
    assert points(tmp_path, "CKMB.4", "A") == 0.0  # refused, so missing: scored by the missing policy


def test_strict_is_the_default_and_says_how_to_go_on(tmp_path, capsys):
    data = write(tmp_path / "in.csv", HEADER + "A,on_time_rate,x\nA,dossier_synced_rate,y\n")
    code, _, err = run(capsys, *score_args(tmp_path, data))
    assert code == 1 and len(err) == 3
    one_line_errors(err)
    assert run(capsys, *score_args(tmp_path, data, "qd766", "--strict"))[0] == 1
    assert not (tmp_path / "out").exists()


def test_numerator_and_denominator_are_checked_too(tmp_path, capsys):
    data = write(tmp_path / "in.csv", "agency_code,kpi_code,value,numerator,denominator\n"
                                      "A,on_time_rate,,8,10\nA,dossier_synced_rate,,12,10\n"
                                      "A,electronic_result_rate,0.9,8,10\nA,dossier_digitised_rate,,5,\n"
                                      "A,digitised_reuse_rate,,80%,100\nA,population_data_rate,,3,0\n")
    code, _, err = run(capsys, *score_args(tmp_path, data))
    assert code == 1
    assert err[:5] == [
        "dx-pipeline score: error: in.csv, row 3, field numerator, value '12': value '12/10' is above 1, "
        "out of range for a rate (0..1, or 0..100 with '%')",
        "dx-pipeline score: error: in.csv, row 4, field value, value '0.9': value does not match "
        "numerator/denominator = 8/10 = 0.8",
        "dx-pipeline score: error: in.csv, row 5, field numerator, value '5': numerator given without "
        "denominator",
        "dx-pipeline score: error: in.csv, row 6, field numerator, value '80%': numerator '80%' is a "
        "percentage; write the count",
        "dx-pipeline score: error: in.csv, row 7, field numerator, value '3': numerator 3 with a "
        "denominator of 0",
    ]
    assert "row 2" not in " ".join(err)  # 8/10 is fine


def test_registry_codes_and_names_are_checked(tmp_path, capsys):
    reg = write(tmp_path / "agencies.csv", "agency_code,name_vi,level,peer_group,provides_public_services\n"
                                           "SYT, Sở Y tế ,department,department,Có\n"
                                           "STC,Sở Tài chính,department,department,maybe\n")
    data = write(tmp_path / "in.csv", HEADER + "SYT,on_time_rate,0.9\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, "qd766", "--registry", str(reg)))
    assert code == 1
    assert err == ["dx-pipeline score: error: agencies.csv, row 3, field provides_public_services, value "
                   "'maybe': value 'maybe' is not yes/no (write Có or Không)"]
    reg = write(tmp_path / "agencies.csv", "agency_code,name_vi,level,peer_group,provides_public_services\n"
                                           "SYT, Sở Y tế ,department,department,Có\n")
    data = write(tmp_path / "in.csv", HEADER + "SYT,on_time_rate,0.9\nsyt,dossier_synced_rate,0.9\n"
                                               "SXD,on_time_rate,0.5\n")
    code, _, err = run(capsys, *score_args(tmp_path, data, "qd766", "--registry", str(reg)))
    assert code == 1
    assert err[:2] == [
        "dx-pipeline score: error: in.csv, row 3, field agency_code, value 'syt': agency code 'syt' is not "
        "in the registry: codes are case-sensitive, did you mean 'SYT'?",
        "dx-pipeline score: error: in.csv, row 4, field agency_code, value 'SXD': agency code 'SXD' is not "
        "in the registry (known: SYT)",
    ]
    data = write(tmp_path / "in.csv", HEADER + "SYT,on_time_rate,0.9\n")
    assert run(capsys, *score_args(tmp_path, data, "qd766", "--registry", str(reg)))[0] == 0
    ranking = pd.read_parquet(tmp_path / "out" / "ranking.parquet")
    assert ranking["agency_name"].tolist() == ["Sở Y tế"]  # trimmed
