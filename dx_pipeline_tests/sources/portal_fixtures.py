"""A tiny portal export written by the tests themselves (independent of the sample generator)."""

from __future__ import annotations

import random
from pathlib import Path

HEADER = [
    "MaHoSo", "MaCoQuan", "MaTTHC", "MucDoDVC", "KenhThucHien", "NgayTiepNhan", "NgayHenTra",
    "NgayKetThucXuLy", "NgayTraKetQua", "NgayDungXuLy", "TrangThaiHoSo", "SoLanBoSung",
    "SoNgayBoSung", "ThoiHanGiaiQuyet", "CoNghiaVuTaiChinh", "PhiLePhi", "DuocThanhToanTrucTuyen",
    "CoKetQuaDienTu", "DaSoHoaThanhPhan", "TaiSuDungDuLieu", "SuDungDuLieuDanCu", "DongBoCongQG",
    "MucDoHaiLong", "CoPhanAnh", "NgayCapNhat",
]
PROC_HEADER = [
    "MaTTHC", "MaCoQuan", "TenTTHC", "MucDoDVC", "DuDieuKienToanTrinh", "CoNghiaVuTaiChinh",
    "TichHopThanhToan", "TichHopCongQG", "DungTrenDiDong", "CongKhaiDungHan", "CapNhatDungHan",
    "DayDuNoiDung", "ThoiHanGiaiQuyet",
]
AGENCIES = ["SO_TP", "SO_XD", "XA_01"]


def dossier_rows(n: int = 60, seed: int = 7, month: int = 4, year: int = 2025) -> list[list[str]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        day = rnd.randint(1, 28)
        due = min(day + rnd.randint(1, 10), 28)
        status = rnd.choice(["4", "4", "5", "2", "3", "6"])
        fin = (
            f"{min(day + rnd.randint(0, 12), 28):02d}/{month + 1:02d}/{year} 10:00:00"
            if status == "4"
            else ""
        )
        fee = rnd.choice(["0", "50000", ""])
        rows.append(
            [
                f"H{i:05d}",
                rnd.choice(AGENCIES),
                f"P{rnd.randint(1, 4)}",
                rnd.choice(["toan_trinh", "mot_phan", ""]),
                rnd.choice(["1", "2", "3", ""]),
                f"{day:02d}/{month:02d}/{year} 08:30:00",
                f"{due:02d}/{month + 1:02d}/{year} 17:00:00",
                fin,
                f"{due:02d}/{month + 1:02d}/{year} 09:00:00" if status == "5" else "",
                f"{due:02d}/{month + 1:02d}/{year} 09:00:00" if status == "6" else "",
                status,
                str(rnd.choice([0, 0, 1, 2])),
                str(rnd.choice([0, 0, 1.5, 3])),
                "10",
                "1" if fee != "" else "0",
                fee,
                rnd.choice(["0", "1", "2"]) if fee else "0",
                rnd.choice("01"),
                rnd.choice("01"),
                rnd.choice("01"),
                rnd.choice("01"),
                rnd.choice("01"),
                rnd.choice(["", "1", "2", "3"]),
                rnd.choice("0001"),
                f"{year}{month + 1:02d}{day:02d}120000",
            ]
        )
    return rows


def write_exports(root: Path, quarter: str = "2025-Q2", rows=None, bom: bool = True,
                  bad_rows: bool = True) -> Path:
    """portal_exports/quarter=<q>/dossiers.csv (+ procedures.csv) as the portal writes them."""
    rows = list(rows if rows is not None else dossier_rows())
    if bad_rows:
        bad = list(rows[0])
        bad[0], bad[4], bad[5] = "BAD1", "9", "31/02/2025 08:00:00"
        rows.append(bad)
        rows.append(list(rows[1]))  # an exact duplicate dossier: kept for the quality gate
    folder = root / "portal_exports" / f"quarter={quarter}"
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(",".join(r) for r in [HEADER] + rows) + "\n"
    (folder / "dossiers.csv").write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    procs = [
        [
            f"P{i}",
            a,
            f"Thủ tục {i}",
            ["toan_trinh", "mot_phan", "khac", "toan_trinh"][i - 1],
            "1" if i != 3 else "0",
            "1" if i % 2 else "0",
            "1" if i == 1 else "0",
            "1",
            "1" if i == 1 else "0",
            "1",
            "0" if i == 2 else "1",
            "1",
            "10",
        ]
        for a in AGENCIES
        for i in range(1, 5)
    ]
    ptext = "\n".join(",".join(r) for r in [PROC_HEADER] + procs) + "\n"
    (root / "portal_exports" / "procedures.csv").write_text(ptext, encoding="utf-8")
    return folder
