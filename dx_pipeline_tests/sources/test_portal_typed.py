"""The typed CSV scan gives exactly what the field mapping gives, or steps aside.

Every test ingests the same export twice, into two homes: once as users get it (the typed scan
where it applies) and once through the reference mapping (``typed_scan=False``), and compares
the three partitions value for value and row for row, rejects included. The notes say which way
each file was read, so the tests also prove the fast way is taken where it should be.
"""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sources import portal_typed
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.parquet import partition_path

from .portal_fixtures import HEADER, PROC_HEADER

Q = Quarter.parse("2025-Q2")
TABLES = ("portal_dossiers", "portal_rejects", "procedures")


def _ingest_both(tmp_path: Path, exports: Path):
    """Ingest ``exports`` (a portal_exports folder) typed and through the mapping; return both
    results (or the error each raised) and the tables each wrote."""
    out = {}
    for way, typed in (("typed", True), ("reference", False)):
        home = DxHome(tmp_path / way)
        shutil.copytree(exports, home.portal_exports, dirs_exist_ok=True)
        try:
            result = ingest_portal_files(home, Q, typed_scan=typed)
        except Exception as exc:  # both ways must fail alike
            out[way] = (f"{type(exc).__name__}: {exc}".replace(str(home.root), "HOME"), None)
            continue
        out[way] = (result, {t: pq.read_table(partition_path(home, t, Q)) for t in TABLES})
    return out["typed"], out["reference"]


def _rows(table) -> list[dict]:
    """Rows as dicts, NaN spelled out (NaN != NaN would fail the comparison of equal rows)."""
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
            for row in table.to_pylist()]


def _assert_same(typed, reference):
    (t_result, t_tables), (r_result, r_tables) = typed, reference
    if r_tables is None or t_tables is None:
        assert t_result == r_result
        return
    for table in TABLES:
        # names and types; DuckDB marks a column "not null" when its input's statistics show no
        # null (the mapping's scratch file), which the reader's scan cannot: not part of the data
        assert [(f.name, f.type) for f in t_tables[table].schema] == [
            (f.name, f.type) for f in r_tables[table].schema], table
        assert _rows(t_tables[table]) == _rows(r_tables[table]), table
    assert (t_result.dossier_rows, t_result.rejected_rows, t_result.reject_count) == (
        r_result.dossier_rows, r_result.rejected_rows, r_result.reject_count)


def _typed_used(result) -> bool:
    return not any("not the typed scan" in n for n in result.notes)


@pytest.fixture(scope="module")
def sample_exports(tmp_path_factory) -> Path:
    home = DxHome(tmp_path_factory.mktemp("sample"))
    generate_sample(home, scale=0.05, quarters=[Q])
    return home.portal_exports


def test_the_sample_export_reads_the_same_both_ways_and_the_fast_way_is_taken(tmp_path, sample_exports):
    typed, reference = _ingest_both(tmp_path, sample_exports)
    _assert_same(typed, reference)
    assert _typed_used(typed[0]), typed[0].notes
    assert typed[0].dossier_rows > 1000
    # the sample plants dossiers without NgayTiepNhan: rejected by the reader, explained by the mapping
    rejects = typed[1]["portal_rejects"].to_pylist()
    assert rejects and {r["reason"] for r in rejects} == {"required field is empty"}
    assert all(r["field"] == "NgayTiepNhan" and r["row_number"] > 1 for r in rejects)


def test_a_rerun_writes_the_same_bytes(tmp_path, sample_exports):
    home = DxHome(tmp_path / "home")
    shutil.copytree(sample_exports, home.portal_exports)
    first = ingest_portal_files(home, Q)
    before = [first.dossiers_path.read_bytes(), first.rejects_path.read_bytes()]
    again = ingest_portal_files(home, Q)
    assert [again.dossiers_path.read_bytes(), again.rejects_path.read_bytes()] == before
    assert _typed_used(first) and _typed_used(again)


# ------------------------------------------------------------------ files written by the test
CLEAN = {
    "MaHoSo": lambda r, i: f"H{i:05d}",
    "MaCoQuan": lambda r, i: r.choice(["SO_TP", "XA_01"]),
    "MaTTHC": lambda r, i: r.choice(["P1", "2.009521", ""]),
    "MucDoDVC": lambda r, i: r.choice(["toan_trinh", "mot_phan", "khac", ""]),
    "KenhThucHien": lambda r, i: r.choice(["1", "2", "3", ""]),
    "NgayTiepNhan": lambda r, i: f"{r.randint(1, 28):02d}/0{r.randint(4, 6)}/2025 {r.randint(0, 23):02d}:30:0"
                                 + str(r.randint(0, 9)),
    "TrangThaiHoSo": lambda r, i: r.choice(["1", "4", "5", "7", ""]),
    "SoLanBoSung": lambda r, i: r.choice(["0", "2", ""]),
    "SoNgayBoSung": lambda r, i: r.choice(["0", "1.5", ""]),
    "ThoiHanGiaiQuyet": lambda r, i: r.choice(["10", "0.5", ""]),
    "PhiLePhi": lambda r, i: r.choice(["0", "50000", ""]),
    "DuocThanhToanTrucTuyen": lambda r, i: r.choice(["0", "1", "2", ""]),
    "MucDoHaiLong": lambda r, i: r.choice(["1", "2", "3", ""]),
}
DATES = ["NgayHenTra", "NgayKetThucXuLy", "NgayTraKetQua", "NgayDungXuLy", "NgayCapNhat"]
BOOLS = ["CoNghiaVuTaiChinh", "CoKetQuaDienTu", "DaSoHoaThanhPhan", "TaiSuDungDuLieu", "SuDungDuLieuDanCu",
         "DongBoCongQG", "CoPhanAnh"]
# values the mapping reads after trimming or in another accepted form, and values it rejects
ODD = {
    "string": [" B7 ", "  ", "a,b", 'x"y', "Sở Tư pháp"],
    "MucDoDVC": [" toan_trinh", "TOAN_TRINH", "full", "x"],
    "TrangThaiHoSo": ["finished", " 4", "9", "4.0"],
    "int_allowed": ["2.0", " 2", "+2", "4", "x", "02"],
    "int": ["1.5", "1e2", " 3", "+3", "3.0", "99999999999999999999", "x", "1_0"],
    "float": ["1,5", "nan", "1e3", " 2.5", "x", "inf", "1_000", ".5"],
    "bool": ["true", "Có", "x", "maybe", "TRUE", " 1", "co", "không", "2"],
    "date": ["05/04/2025", "20250405083000", "2025-04-05 08:30:00", " 05/04/2025 08:30:00",
             "31/02/2025 08:00:00", "x", "5/4/2025 8:30:00", "05/04/2025 08:30"],
    "NgayTiepNhan": ["", "  ", "05/07/2025 08:30:00", "05/03/2025 08:30:00", "2025-04-05 08:30:00", "bad"],
}
# values the reader cannot type and the mapping rejects: such files stay on the fast way
READER_BAD = {
    "string": [], "MucDoDVC": ["x"], "TrangThaiHoSo": ["9"], "int_allowed": ["4", "x"], "int": [],
    "float": ["x", "0x10"], "bool": ["maybe", "2"], "date": ["31/02/2025 08:00:00", "x"],
    "NgayTiepNhan": ["", "bad"],
}
KIND = {"MaHoSo": "string", "MaCoQuan": "string", "MaTTHC": "string", "MucDoDVC": "MucDoDVC",
        "TrangThaiHoSo": "TrangThaiHoSo", "KenhThucHien": "int_allowed", "DuocThanhToanTrucTuyen":
        "int_allowed", "MucDoHaiLong": "int_allowed", "SoLanBoSung": "int", "PhiLePhi": "int",
        "SoNgayBoSung": "float", "ThoiHanGiaiQuyet": "float", "NgayTiepNhan": "NgayTiepNhan"} | {
        d: "date" for d in DATES} | {b: "bool" for b in BOOLS}


def _cell(r: random.Random, field: str, i: int, mess: float, odd: dict[str, list[str]]) -> str:
    if r.random() < mess and odd[KIND[field]]:
        return r.choice(odd[KIND[field]])
    if field in CLEAN:
        return CLEAN[field](r, i)
    if field in DATES:
        return r.choice(["", f"{r.randint(1, 28):02d}/0{r.randint(4, 9)}/2025 17:00:00"])
    return r.choice(["0", "1", ""])


def _quote(value: str, always: bool) -> str:
    if always or any(c in value for c in ',"\n') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def write_export(folder: Path, seed: int, rows: int = 12, mess: float = 0.0, *, crlf: bool = False,
                 bom: bool = True, quote_all: bool = False, blank_at: int | None = None,
                 trailing_blank: bool = False, header: list[str] | None = None,
                 odd: dict[str, list[str]] = ODD) -> Path:
    """A dossier export (and a procedure catalogue) with ``mess`` of its cells ``odd``."""
    r = random.Random(seed)
    header = header or HEADER
    lines = [",".join(_quote(h, quote_all) for h in header)]
    for i in range(rows):
        lines.append(",".join(_quote(_cell(r, f, i, mess, odd), quote_all) for f in header))
    if blank_at is not None:
        lines.insert(blank_at, "")
    end = "\r\n" if crlf else "\n"
    text = end.join(lines) + end + (end if trailing_blank else "")
    qdir = folder / f"quarter={Q.label}"
    qdir.mkdir(parents=True, exist_ok=True)
    (qdir / "dossiers.csv").write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    procs = [",".join(PROC_HEADER), "P1,SO_TP,Thủ tục 1,toan_trinh,1,1,1,1,1,1,1,1,10"]
    (folder / "procedures.csv").write_text("\n".join(procs) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("seed", range(6))
def test_clean_exports_are_read_the_fast_way(tmp_path, seed):
    exports = write_export(tmp_path / "exports", seed, rows=40, crlf=seed % 2 == 1, bom=seed % 3 == 0,
                           quote_all=seed % 4 < 2, trailing_blank=seed % 5 == 0)
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert _typed_used(typed[0]), typed[0].notes


@pytest.mark.parametrize("seed", range(30))
def test_untidy_and_bad_exports_read_the_same_both_ways(tmp_path, seed):
    r = random.Random(1000 + seed)
    exports = write_export(tmp_path / "exports", seed, rows=r.randint(1, 15),
                           mess=r.choice([0.01, 0.05, 0.2]), crlf=r.random() < 0.3, bom=r.random() < 0.5,
                           quote_all=r.random() < 0.3,
                           blank_at=r.choice([None, None, None, 2, 5]), trailing_blank=r.random() < 0.15)
    _assert_same(*_ingest_both(tmp_path, exports))


@pytest.mark.parametrize("seed", range(10))
def test_bad_values_on_the_fast_way_are_rejected_as_the_mapping_rejects_them(tmp_path, seed):
    r = random.Random(2000 + seed)
    exports = write_export(tmp_path / "exports", seed, rows=r.randint(5, 30), mess=r.choice([0.02, 0.1, 0.3]),
                           crlf=r.random() < 0.3, bom=r.random() < 0.5, quote_all=r.random() < 0.3,
                           odd=READER_BAD)
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert _typed_used(typed[0]), typed[0].notes


def test_only_a_bad_value_takes_the_fast_way_with_its_reason(tmp_path):
    """Rows the mapping rejects for a value the reader cannot type stay on the fast way."""
    exports = write_export(tmp_path / "exports", 3, rows=30)
    path = exports / f"quarter={Q.label}" / "dossiers.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[7].split(",")
    cells[HEADER.index("KenhThucHien")] = "9"
    cells[HEADER.index("NgayHenTra")] = "31/02/2025 08:00:00"
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert _typed_used(typed[0])
    rejects = typed[1]["portal_rejects"].to_pylist()
    assert {(r["row_number"], r["field"], r["value"]) for r in rejects} == {
        (8, "KenhThucHien", "9"), (8, "NgayHenTra", "31/02/2025 08:00:00")}


@pytest.mark.parametrize("change, why", [
    ({"NgayCapNhat": "20250405083000"}, "untidy but valid"),   # another accepted date form
    ({"MaCoQuan": "  "}, "empty or unreadable"),                 # required, empty after trimming
    ({"SoLanBoSung": "1.5"}, "empty or unreadable"),             # a whole number with decimals
    ({"NgayTiepNhan": "05/07/2025 08:30:00"}, "outside the quarter"),
    # received before the quarter and finished before it too: not a dossier it carries over
    ({"NgayTiepNhan": "05/03/2025 08:30:00", "TrangThaiHoSo": "4", "NgayKetThucXuLy": "20/03/2025 17:00:00"},
     "ended before it"),
])
def test_what_the_reader_cannot_judge_goes_through_the_mapping(tmp_path, change, why):
    exports = write_export(tmp_path / "exports", 5, rows=20)
    path = exports / f"quarter={Q.label}" / "dossiers.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[4].split(",")
    for field, value in change.items():
        cells[HEADER.index(field)] = value
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert not _typed_used(typed[0]) and any(why in n for n in typed[0].notes), typed[0].notes


def test_a_dossier_carried_over_from_before_the_quarter_stays_on_the_fast_way(tmp_path):
    """Received in March, still open on 1 April: the quarter's export carries it, and the typed
    scan keeps it as the mapping does (its file's statistics show the earlier receipt; a look
    at the written rows finds nothing ended before the quarter)."""
    exports = write_export(tmp_path / "exports", 5, rows=20)
    path = exports / f"quarter={Q.label}" / "dossiers.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[4].split(",")
    for field, value in {"NgayTiepNhan": "05/03/2025 08:30:00", "TrangThaiHoSo": "2", "NgayKetThucXuLy": "",
                         "NgayTraKetQua": "", "NgayDungXuLy": ""}.items():
        cells[HEADER.index(field)] = value
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert _typed_used(typed[0]), typed[0].notes
    assert typed[1]["portal_dossiers"].num_rows == 20


def test_a_blank_line_before_a_rejected_line_keeps_the_mappings_row_numbers(tmp_path):
    exports = write_export(tmp_path / "exports", 9, rows=20, blank_at=3)
    path = exports / f"quarter={Q.label}" / "dossiers.csv"
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    cells = lines[10].split(",")
    cells[HEADER.index("KenhThucHien")] = "9"
    lines[10] = ",".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert any("blank line" in n for n in typed[0].notes), typed[0].notes


def test_too_many_rejected_lines_go_through_the_mapping(tmp_path, monkeypatch):
    monkeypatch.setattr(portal_typed, "REJECTS_LIMIT", 3)
    exports = write_export(tmp_path / "exports", 2, rows=30, mess=0.3)
    typed, reference = _ingest_both(tmp_path, exports)
    _assert_same(typed, reference)
    assert not _typed_used(typed[0])


def test_missing_required_column_fails_alike(tmp_path):
    exports = write_export(tmp_path / "exports", 4, rows=5, header=[h for h in HEADER if h != "MaCoQuan"])
    typed, reference = _ingest_both(tmp_path, exports)
    assert typed[1] is None and typed[0] == reference[0]
    assert "required portal field(s) MaCoQuan" in typed[0]
