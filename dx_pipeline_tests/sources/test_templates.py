"""Templates: pre-filled, validated, and a filled-in template reads back through the readers."""

import argparse
import csv
import io
import os

import openpyxl
import pytest

from dx_pipeline.cli import sources as sources_cli
from dx_pipeline.reference import schemas
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.sources.submission_readers import read_submission_file
from dx_pipeline.sources.templates import applicable_indicators, write_template
from dx_pipeline_tests.sources.test_submission_readers import REGISTRY, rules, touch

CATALOGUE = load_catalogue()
FILL = {
    "ratio": "85,5",
    "bool": "Có",
    "evidence": "Có",
    "level": "Cấp phó",
    "count": 3,
    "days": 4,
    "amount": 1500,
}


def _fill(k):
    """A valid value for KPI ``k``: its middle level (Cấp phó, Một phần) for level KPIs."""
    return list(k.levels)[1] if k.unit == "level" else FILL[k.unit]


def test_indicators_follow_the_agency_level():
    dept = {k.code for k in applicable_indicators(CATALOGUE, "department")}
    province = {k.code for k in applicable_indicators(CATALOGUE, "province")}
    assert "work_records_online_rate" in dept and "ehealth_record_rate" in dept
    assert "work_records_online_rate" not in province
    assert all(CATALOGUE[c].source == "submission" for c in dept)


def test_xlsx_template_prefilled_validated_and_round_trips(tmp_path):
    path = write_template(REGISTRY, "SO_YTE", "2025-Q2", tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["BaoCao"]
    assert ws["B3"].value == "SO_YTE" and ws["B4"].value == "2025-Q2"
    assert [ws.cell(7, c).value.split("\n")[0] for c in range(1, 9)] == [
        "STT", "Mã chỉ số", "Tên chỉ số", "Đơn vị tính", "Tử số", "Mẫu số", "Giá trị", "Minh chứng"]
    expected = [k.code for k in applicable_indicators(CATALOGUE, "department")]
    codes = [ws.cell(r, 2).value for r in range(8, 8 + len(expected))]
    assert codes == expected
    assert ws.cell(8, 3).value.startswith("Tỷ lệ") and ws.cell(8, 9).value  # vi + en names
    dv = ws.data_validations.dataValidation
    kinds = {d.type for d in dv}
    assert {"decimal", "list", "date", "textLength"} <= kinds
    lists = [d.formula1 for d in dv if d.type == "list"]
    assert '"Có,Không"' in lists
    # fill it in as a clerk would, save, read back
    ws["B5"] = "12/07/2025"
    for r in range(8, 8 + len(expected)):
        k = CATALOGUE[ws.cell(r, 2).value]
        ws.cell(r, 7).value = _fill(k)
        if k.unit == "evidence":
            ws.cell(r, 8).value = "Kế hoạch số 1/KH ngày 2/1/2025"
    wb.save(tmp_path / "filled.xlsx")
    read = read_submission_file(touch(tmp_path / "filled.xlsx"), rules())
    assert read.rejects == []
    assert [r["indicator_code"] for r in read.accepted] == expected
    got = {r["indicator_code"]: r["value"] for r in read.accepted}
    assert got["work_records_online_rate"] == pytest.approx(0.855)
    assert got["dx_steering_led_by_head"] == 0.5


def test_csv_template_round_trips(tmp_path):
    path = write_template(REGISTRY, "SO_KHCN", "2025-Q2", tmp_path / "t.csv", fmt="csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["MaDonVi", "KyBaoCao", "NgayBaoCao", "STT", "MaChiSo"]
    header = rows[0]
    for r in rows[1:]:
        k = CATALOGUE[r[header.index("MaChiSo")]]
        r[header.index("NgayBaoCao")] = "12/07/2025"
        r[header.index("GiaTri")] = str(_fill(k))
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    (tmp_path / "filled.csv").write_bytes(out.getvalue().encode("utf-8-sig"))
    read = read_submission_file(touch(tmp_path / "filled.csv"), rules())
    assert read.rejects == [] and len(read.accepted) == len(rows) - 1


def test_template_for_agency_not_valid_in_quarter(tmp_path):
    with pytest.raises(ValueError, match="successor SO_KHCN"):
        write_template(REGISTRY, "SO_TTTT", "2025-Q2", tmp_path / "x.xlsx")


def main(argv):
    """Our subcommands under a parser shaped like dx_pipeline.cli's (global --home)."""
    parser = argparse.ArgumentParser(prog="dx-pipeline")
    parser.add_argument("--home")
    sources_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_template_and_ingest(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    (home / "registry").mkdir(parents=True)
    reg = REGISTRY.copy()
    reg["valid_from"] = reg["valid_from"].map(str)
    reg["valid_to"] = reg["valid_to"].map(lambda d: "" if d is None else str(d))
    reg["provides_public_services"] = reg["provides_public_services"].map(lambda b: "true" if b else "false")
    reg[schemas.AGENCIES.names].to_csv(home / "registry" / "agencies.csv", index=False)
    monkeypatch.delenv("DX_REGISTRY", raising=False)
    monkeypatch.delenv("DX_REPORTING_DB_URL", raising=False)
    out = home / "inbox" / "2025-Q2" / "so_yte.xlsx"
    assert main(["--home", str(home), "template", "--agency", "SO_YTE", "--quarter", "2025-Q2",
                 "--output", str(out)]) == 0
    wb = openpyxl.load_workbook(out)
    ws = wb["BaoCao"]
    ws["B5"] = "12/07/2025"
    ws["G8"] = "tám mươi"
    ws["G9"] = "90"
    wb.save(out)
    capsys.readouterr()
    assert main(["--home", str(home), "ingest-submissions", "--quarter", "2025-Q2"]) == 0
    text = capsys.readouterr().out
    assert "accepted 1 row(s)" in text and "rejected" in text
    assert "value 'tám mươi' is not a number" in text
    assert "no value given" in text  # the indicators left blank
    assert os.path.exists(out)
