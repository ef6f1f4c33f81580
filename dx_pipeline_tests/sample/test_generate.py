"""The sample province generator: determinism, registry shape, exports, submissions, defects."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import unicodedata
import zipfile

import openpyxl
import pandas as pd
import pytest

from dx_pipeline.reference import schemas
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.carryover import carried_over
from dx_pipeline.sample.dossiers import generate_dossiers
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sample.portal_export import portal_fields
from dx_pipeline.sample.procedures import build_catalogue
from dx_pipeline.sample.profiles import build_profiles
from dx_pipeline.sample.registry import build_registry
from dx_pipeline.storage.home import DxHome

SEED = 777
SCALE = 0.01
QUARTERS = [Quarter(2024, 1), Quarter(2025, 4)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    home = DxHome(tmp_path_factory.mktemp("dx_home"))
    (home.warehouse / "agencies").mkdir(parents=True)
    keep = home.warehouse / "agencies" / "keep.txt"
    keep.write_text("not the generator's")
    manifest = generate_sample(home, seed=SEED, scale=SCALE, quarters=QUARTERS)
    return home, manifest


def _shas(manifest):
    return {f["path"]: f["sha256"] for f in manifest["files"]}


def _dossiers(home, q):
    return pd.read_csv(home.portal_exports / f"quarter={q.label}" / "dossiers.csv", dtype=str,
                       keep_default_na=False, encoding="utf-8-sig")


def test_same_seed_gives_identical_files_and_other_seed_differs(sample, tmp_path):
    home, manifest = sample
    again = generate_sample(DxHome(tmp_path / "a"), seed=SEED, scale=SCALE, quarters=QUARTERS)
    assert _shas(again) == _shas(manifest)
    for f in manifest["files"]:  # the manifest tells the truth about the files on disk
        import hashlib
        assert hashlib.sha256((home.root / f["path"]).read_bytes()).hexdigest() == f["sha256"], f["path"]
    other = generate_sample(DxHome(tmp_path / "b"), seed=SEED + 1, scale=SCALE, quarters=QUARTERS[:1])
    a, b = _shas(manifest), _shas(other)
    common = [p for p in b if p in a and p.startswith("portal_exports/quarter")]
    assert common and all(a[p] != b[p] for p in common)


def test_rerun_replaces_old_output_and_never_touches_warehouse(sample, tmp_path):
    home = DxHome(tmp_path / "h")
    generate_sample(home, seed=1, scale=0.002, quarters=[Quarter(2024, 1), Quarter(2024, 2)])
    (home.warehouse / "t").mkdir(parents=True)
    (home.warehouse / "t" / "x.parquet").write_bytes(b"x")
    generate_sample(home, seed=2, scale=0.002, quarters=[Quarter(2024, 2), Quarter(2024, 3)])
    assert not (home.portal_exports / "quarter=2024-Q1").exists()
    assert (home.warehouse / "t" / "x.parquet").read_bytes() == b"x"
    listed = {f["path"] for f in json.loads((home.sample / "manifest.json").read_text())["files"]}
    on_disk = {str(p.relative_to(home.root)) for p in home.root.rglob("*") if p.is_file()}
    assert on_disk - listed == {"sample/manifest.json", "warehouse/t/x.parquet"}


def test_registry_shape(sample):
    home, _ = sample
    reg = pd.read_csv(home.registry_file, dtype=str, keep_default_na=False)
    assert list(reg.columns) == schemas.AGENCIES.names
    assert reg.agency_code.is_unique
    assert set(reg.provides_public_services) == {"true", "false"}
    own = reg[~reg.peer_group.str.endswith("-ps") & (reg.agency_code != "UBND-PS")]
    counts = own.level.value_counts()
    assert counts["province"] == 1 and 18 <= counts["department"] <= 24 and counts["district"] == 11
    old = reg[(reg.level == "commune") & (reg.valid_to == "2025-06-30")]
    new = reg[(reg.level == "commune") & (reg.valid_from == "2025-07-01")]
    assert 220 <= len(old) <= 240 and 120 <= len(new) <= 130
    assert set(old.successor_code) <= set(new.agency_code) and set(new.agency_code) <= set(old.successor_code)
    assert (reg[reg.level == "district"].valid_to == "2025-06-30").all()
    by_code = reg.set_index("agency_code")
    for code, succ, valid_to in reg.loc[
        reg.successor_code != "", ["agency_code", "successor_code", "valid_to"]
    ].itertuples(index=False):
        s = by_code.loc[succ]
        next_day = (dt.date.fromisoformat(valid_to) + dt.timedelta(days=1)).isoformat()
        assert s.valid_from <= next_day and (s.valid_to == "" or s.valid_to >= next_day), code
    assert (
        by_code.loc["SO-TTTT", "valid_to"] == "2025-02-28"
        and by_code.loc["SO-TTTT", "successor_code"] == "SO-KHCN"
    )
    assert by_code.loc["SO-TNMT", "successor_code"] == by_code.loc["SO-NNPTNT", "successor_code"] == "SO-NNMT"
    assert by_code.loc["SO-NNMT", "valid_from"] == "2025-03-01"
    assert by_code.loc["BAN-DT", "provides_public_services"] == "false"
    has_marks = reg.name_vi.map(
        lambda s: any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", s))
    )
    assert has_marks.mean() > 0.9
    assert reg.peer_group.isin(["province", "department", "district", "commune",
                                "department-ps", "district-ps", "commune-ps"]).all()


def test_the_neighbouring_province_merges_into_this_one_on_2025_07_01(sample):
    """Two provinces' units under one registry: the neighbour and everything under it end on
    2025-06-30; its departments' work passes to this province's departments, its communes to
    new communes of the merged province; until then its units are ranked apart."""
    home, _ = sample
    reg = pd.read_csv(home.registry_file, dtype=str, keep_default_na=False).set_index("agency_code")
    assert reg.loc["UBND-PS", "level"] == "province" and reg.loc["UBND-PS", "valid_to"] == "2025-06-30"
    assert reg.loc["UBND-PS", "successor_code"] == "UBND-TINH" and reg.loc["UBND-TINH", "valid_to"] == ""

    def province_of(code):
        while reg.loc[code, "level"] != "province":
            code = reg.loc[code, "parent_code"]
        return code

    theirs = [c for c in reg.index if c != "UBND-PS" and province_of(c) == "UBND-PS"]
    assert {reg.loc[c, "level"] for c in theirs} == {"department", "district", "commune"}
    assert all(reg.loc[c, "valid_to"] and reg.loc[c, "valid_to"] <= "2025-06-30" for c in theirs)
    assert all(reg.loc[c, "peer_group"].endswith("-ps") for c in theirs)
    ends = {}
    for c in theirs:
        code = c
        while reg.loc[code, "successor_code"]:
            code = reg.loc[code, "successor_code"]
        ends[c] = code
    departments = [c for c in theirs if reg.loc[c, "level"] == "department"]
    assert len(departments) >= 10
    assert {province_of(ends[c]) for c in departments} == {"UBND-TINH"}
    assert all(reg.loc[ends[c], "valid_to"] == "" for c in departments)
    assert ends["SO-KHDT-PS"] == "SO-TC"  # merged within its own province on 2025-03-01 first
    communes = [c for c in theirs if reg.loc[c, "level"] == "commune"]
    assert len(communes) == 60 and all(reg.loc[ends[c], "valid_from"] == "2025-07-01" for c in communes)
    new_communes = {ends[c] for c in communes}
    assert len(new_communes) == 30 and {reg.loc[c, "parent_code"] for c in new_communes} == {"UBND-TINH"}
    # new communes are formed within one former province, never across the border
    own_old = [c for c in reg.index if reg.loc[c, "level"] == "commune" and reg.loc[c, "valid_to"]
               and province_of(c) == "UBND-TINH"]
    assert not new_communes & {reg.loc[c, "successor_code"] for c in own_old}


def test_the_merged_provinces_dossiers_go_to_the_successors(sample):
    home, _ = sample
    before, after = (_dossiers(home, q) for q in QUARTERS)
    assert before.MaCoQuan.str.endswith("-PS").any()
    assert not after.MaCoQuan.str.endswith("-PS").any()


def test_dossier_exports_use_portal_field_names_and_catalogue(sample):
    home, manifest = sample
    raw = (home.portal_exports / f"quarter={QUARTERS[0].label}" / "dossiers.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    procs = pd.read_csv(
        home.portal_exports / "procedures.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    assert list(procs.columns) == list(portal_fields()["procedure_fields"])
    for q in QUARTERS:
        df = _dossiers(home, q)
        assert list(df.columns) == list(portal_fields()["fields"])
        assert 1000 < len(df) < 4000
        assert set(df.KenhThucHien) <= {"1", "2", "3"} and set(df.TrangThaiHoSo) <= set("1234567")
        assert set(df.MaTTHC) <= set(procs.MaTTHC)
        received = pd.to_datetime(df.NgayTiepNhan, format="%d/%m/%Y %H:%M:%S", errors="coerce")
        updated = pd.to_datetime(df.NgayCapNhat, format="%d/%m/%Y %H:%M:%S")
        ok = received.notna()
        assert (received[ok] < pd.Timestamp(q.end)).all() and (updated[ok] >= received[ok]).all()
        # received before the quarter: carried over, still open at its start, as this export shows it
        carried = ok & (received < pd.Timestamp(q.start))
        assert 0.03 < carried.mean() < 0.2
        ends = [pd.to_datetime(df.loc[carried, f], format="%d/%m/%Y %H:%M:%S")
                for f in ("NgayKetThucXuLy", "NgayTraKetQua", "NgayDungXuLy")]
        assert all((e.isna() | (e >= pd.Timestamp(q.start))).all() for e in ends)
        assert df.TrangThaiHoSo[carried].isin(list("4567")).any()
        open_ = df.TrangThaiHoSo.isin(["1", "2", "3"])
        assert open_.any() and (df.NgayKetThucXuLy[open_] == "").all()
        assert (df.NgayKetThucXuLy[df.TrangThaiHoSo.isin(["4", "5"])] != "").all()
        assert 0.2 < (df.MucDoHaiLong != "").mean() < 0.6
    reg = pd.read_csv(home.registry_file, dtype=str, keep_default_na=False)
    late = _dossiers(home, QUARTERS[1])
    new_communes = set(reg.agency_code[reg.valid_from == "2025-07-01"])
    assert late.MaCoQuan.isin(new_communes).mean() > 0.5
    assert not late.MaCoQuan.isin({"SO-TTTT", "SO-GTVT"}).any()


def test_the_dossiers_open_at_a_quarters_end_are_in_the_next_export_as_they_stand_then():
    """Issue 14: the export of 2025-Q3 carries 2025-Q2's dossiers still open on 1 July, with
    their state at Q3's export, under the agency that holds them after the reform; the
    quarter's own receipts are what they were, and the same seed gives the same rows."""
    registry = build_registry(SEED)
    profiles = build_profiles(registry, SEED)
    catalogue = build_catalogue(registry, profiles, SEED)
    q2, q3 = Quarter(2025, 2), Quarter(2025, 3)
    before = generate_dossiers(registry, profiles, catalogue, q2, SCALE, SEED, timeline=True)
    carried = carried_over(before, q3, registry, profiles, SEED)
    pd.testing.assert_frame_equal(carried, carried_over(before, q3, registry, profiles, SEED))
    own = generate_dossiers(registry, profiles, catalogue, q3, SCALE, SEED)
    assert list(carried.columns) == list(own.columns)
    was = before.set_index("dossier_id").loc[carried["dossier_id"]]
    assert len(carried) > 50 and was["status"].isin([1, 2, 3]).all()
    assert (carried["received_at"] == was["received_at"].to_numpy()).all()
    start, end = pd.Timestamp(q3.start), pd.Timestamp(q3.end)
    for col in ("finished_at", "returned_at", "stopped_at"):
        assert (carried[col].isna() | ((carried[col] >= start) & (carried[col] < end))).all(), col
    assert 5 in set(carried["status"]) and (carried["updated_at"] < end).all()
    assert (carried.loc[carried["status"].isin([4, 5]), "finished_at"].notna()).all()
    # on 1 July merged agencies' open dossiers pass to their successors; the districts, dissolved
    # with none, leave theirs out of the next export
    alive = registry[registry["valid_to"].isna() | (registry["valid_to"] >= q3.start)]
    assert carried["agency_code"].isin(alive["agency_code"]).all()
    was_open = before[before["status"].isin([1, 2, 3])]
    assert (~was_open["agency_code"].isin(alive["agency_code"])
            & was_open["dossier_id"].isin(carried["dossier_id"])).any()
    left = was_open[~was_open["dossier_id"].isin(carried["dossier_id"])]
    level = registry.set_index("agency_code")["level"]
    assert len(left) and set(level[left["agency_code"]]) == {"district"}


def test_improvement_over_time(sample):
    home, _ = sample
    first, last = (_dossiers(home, q) for q in QUARTERS)
    online = [(d.KenhThucHien == "2").mean() for d in (first, last)]
    digit = [(d.DaSoHoaThanhPhan == "1").mean() for d in (first, last)]
    assert online[1] > online[0] + 0.1 and digit[1] > digit[0] + 0.1


def test_every_planted_defect_is_in_the_files(sample):
    home, manifest = sample
    defects = json.loads((home.sample / "defects.json").read_text(encoding="utf-8"))
    kinds = {d["kind"] for d in defects}
    assert kinds >= {"duplicate_dossier", "missing_received_at", "due_before_received", "unknown_agency",
                     "agency_not_valid", "percent_over_100", "not_a_number", "unknown_indicator",
                     "corrupt_file", "empty_file", "volume_drop"}
    reg = pd.read_csv(home.registry_file, dtype=str, keep_default_na=False)
    for d in defects:
        path = home.root / d["file"]
        assert path.exists(), d
        if d["kind"] in (
            "duplicate_dossier",
            "missing_received_at",
            "due_before_received",
            "unknown_agency",
            "agency_not_valid",
        ):
            df = _dossiers(home, Quarter.parse(d["quarter"]))
            row = df.iloc[d["row"] - 1]
            assert row.MaHoSo == d["dossier_id"]
            assert row[d["field"]] == d["value"], d
            if d["kind"] == "duplicate_dossier":
                assert (df.MaHoSo == d["value"]).sum() == 2
            if d["kind"] == "due_before_received":
                assert pd.to_datetime(row.NgayHenTra, dayfirst=True) < pd.to_datetime(
                    row.NgayTiepNhan, dayfirst=True
                )
            if d["kind"] == "unknown_agency":
                assert d["value"] not in set(reg.agency_code)
            if d["kind"] == "agency_not_valid":
                r = reg.set_index("agency_code").loc[d["value"]]
                q = Quarter.parse(d["quarter"])
                assert r.valid_from > q.last_day.isoformat() or (
                    r.valid_to and r.valid_to < q.start.isoformat()
                )
        elif d["kind"] == "volume_drop":
            q = Quarter.parse(d["quarter"])
            df = _dossiers(home, q)
            received = pd.to_datetime(df.NgayTiepNhan, format="%d/%m/%Y %H:%M:%S", errors="coerce")
            own = received >= pd.Timestamp(q.start)
            assert (own & (df.MaCoQuan == d["agency_code"])).sum() == d["actual"]
            assert d["actual"] < 0.3 * d["expected_about"]
        elif d["kind"] == "empty_file":
            assert path.stat().st_size == 0
        elif d["kind"] == "corrupt_file":
            with pytest.raises(zipfile.BadZipFile):
                openpyxl.load_workbook(path)
        else:
            cell = _submission_cell(path, d["row"], d["field"])
            assert cell == d["value"], d
    dossier_defects = [d for d in defects if d.get("dossier_id")]
    assert len(dossier_defects) / manifest["total_dossiers"] < 0.01


def _submission_cell(path, row, field):
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path)["BaoCao"]
        headers = [str(c.value).split(" / ")[0] for c in ws[7]]
        return ws.cell(row=row, column=headers.index(field) + 1).value
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1258"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    text = unicodedata.normalize("NFC", text)
    delim = ";" if text.splitlines()[0].count(";") > 1 else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    return rows[row - 1][rows[0].index(field)]


def test_submissions_mostly_present_some_missing_late_and_resubmitted(sample):
    home, manifest = sample
    subs = [f for f in manifest["files"] if f["kind"] == "submission" and f.get("agency_code")]
    con = sqlite3.connect(home.sample / "reporting.db")
    db = pd.read_sql("select * from dx_indicator_reports", con)
    con.close()
    reg = pd.read_csv(home.registry_file, dtype=str, keep_default_na=False)
    for q in QUARTERS:
        reporters = reg[(reg.level != "province") & (reg.valid_from <= q.last_day.isoformat())
                        & ((reg.valid_to == "") | (reg.valid_to >= q.last_day.isoformat()))]
        got = {f["agency_code"] for f in subs if f["quarter"] == q.label} | set(
            db.agency_code[db.period == q.label]
        )
        assert got <= set(reporters.agency_code)
        assert 0.85 < len(got) / len(reporters) < 0.995
    assert any(f["late"] for f in subs) and any(not f["late"] for f in subs)
    assert any(f["version"] == 2 for f in subs)
    assert {f["format"] for f in subs} == {"xlsx", "csv"}
    assert {"windows-1258", "cp1252"} & {f["encoding"] for f in subs}
    one = next(f for f in subs if f["format"] == "xlsx" and "defect" not in f)
    path = home.root / one["path"]
    ws = openpyxl.load_workbook(path)["BaoCao"]
    assert ws["B3"].value == one["agency_code"] and ws["B4"].value == one["quarter"]
    report_day = dt.datetime.strptime(ws["B5"].value, "%d/%m/%Y").date()
    assert report_day == dt.date.fromisoformat(one["submitted_at"][:10])
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone(dt.timedelta(hours=7)))
    assert mtime.replace(tzinfo=None).isoformat() == one["submitted_at"]
    codes = {str(c.value) for c in ws["B"][7:]}
    assert "work_records_online_rate" in codes and len(db) > 0 and db.indicator_code.notna().all()
