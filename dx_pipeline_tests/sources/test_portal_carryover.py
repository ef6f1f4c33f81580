"""Issue 14: a quarter's export carries the dossiers received earlier and still open at its start.

The ingest keeps them in the quarter's own partition, where the judged KPIs (on time, overdue,
satisfaction) count them and the received ones do not; a dossier received earlier that had
already ended before the quarter is rejected with its file, row, field and reason - from export
files and over the portal API alike.
"""

from __future__ import annotations

from dx_pipeline.kpis.dossier_kpis import portal_kpis
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.sources.portal_client import pull_portal_quarter
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.storage import DxHome, read_partition

from .portal_fixtures import HEADER, dossier_rows, write_exports

Q = "2025-Q2"
TOKEN = "tok-carry"
OWN, CARRIED = 20, 6
ENDED = dict(MaHoSo="OLD-ENDED", MaCoQuan="SO_TP", MaTTHC="P1", KenhThucHien="1",
             NgayTiepNhan="10/03/2025 08:30:00", NgayHenTra="20/03/2025 17:00:00",
             NgayKetThucXuLy="20/03/2025 10:00:00", TrangThaiHoSo="4", ThoiHanGiaiQuyet="10",
             NgayCapNhat="20/03/2025 10:00:00")
ENDED_REASON = ("received before 2025-Q2 and ended before it began (NgayKetThucXuLy 20/03/2025 10:00:00): "
                "only dossiers still open on 01/04/2025 are carried over into 2025-Q2")


def _export(home: DxHome, ended: bool) -> None:
    """The quarter's export: dossiers received in March still open on 1 April (each ends in
    April or is still open: the fixture dates every end in the month after receipt), the
    quarter's own receipts, and optionally a March dossier that had ended in March."""
    carried = [[f"C{r[0]}", *r[1:]] for r in dossier_rows(CARRIED, seed=6, month=3)]
    rows = [_export_date(r) for r in carried + dossier_rows(OWN, seed=5)]
    if ended:
        rows.append([ENDED.get(h, "") for h in HEADER])
    write_exports(home.root, Q, rows=rows, bad_rows=False)


def _export_date(row: list[str]) -> list[str]:
    """The fixture's NgayCapNhat (yyyyMMddHHmmss) in the export files' own format, so that a clean
    file takes the typed scan."""
    d = row[HEADER.index("NgayCapNhat")]
    row[HEADER.index("NgayCapNhat")] = f"{d[6:8]}/{d[4:6]}/{d[:4]} {d[8:10]}:{d[10:12]}:{d[12:14]}"
    return row


def _totals(home: DxHome) -> dict[str, float]:
    k = portal_kpis(home, Q)
    return {
        "received": k.loc[k.kpi_code == "dossiers_received", "numerator"].sum(),
        "judged": k.loc[k.kpi_code == "on_time_rate", "denominator"].sum(),
    }


def test_carried_over_dossiers_are_judged_not_received_and_keep_the_fast_way(tmp_path):
    home = DxHome(tmp_path / "home")
    _export(home, ended=False)
    result = ingest_portal_files(home, Q)
    assert result.notes == () and result.dossier_rows == OWN + CARRIED and result.rejected_rows == 0
    stored = read_partition(home, "portal_dossiers", Q)
    assert (stored["received_at"] < "2025-04-01").sum() == CARRIED
    # every dossier of the fixture is judged (none withdrawn, all with a due date)
    assert _totals(home) == {"received": OWN, "judged": OWN + CARRIED}


def test_an_earlier_dossier_that_had_ended_is_rejected_naming_file_row_and_field(tmp_path):
    home = DxHome(tmp_path / "home")
    _export(home, ended=True)
    result = ingest_portal_files(home, Q)
    assert result.dossier_rows == OWN + CARRIED and result.rejected_rows == 1
    assert any("ended before it" in n for n in result.notes), result.notes  # read by the mapping
    [reject] = read_partition(home, "portal_rejects", Q).to_dict("records")
    keys = ("source_file", "row_number", "dossier_id", "field", "value", "reason")
    assert {k: reject[k] for k in keys} == {
        "source_file": "portal_exports/quarter=2025-Q2/dossiers.csv",
        "row_number": 1 + CARRIED + OWN + 1,  # the header is line 1
        "dossier_id": "OLD-ENDED", "field": "NgayTiepNhan", "value": "10/03/2025 08:30:00",
        "reason": ENDED_REASON,
    }
    assert _totals(home) == {"received": OWN, "judged": OWN + CARRIED}


def test_the_portal_api_serves_the_carried_over_dossiers_and_the_client_judges_them_alike(tmp_path):
    source, target = DxHome(tmp_path / "portal"), DxHome(tmp_path / "pipeline")
    _export(source, ended=True)
    with serve_portal(source, token=TOKEN) as server:
        result = pull_portal_quarter(target, Q, server.url, TOKEN, backoff_base=0.001, page_size=10)
    assert result.dossier_rows == OWN + CARRIED and result.rejected_rows == 1
    [reject] = read_partition(target, "portal_rejects", Q).to_dict("records")
    assert reject["source_file"].endswith("dossiers-p00003.json") and reject["row_number"] == 7
    assert (reject["dossier_id"], reject["field"], reject["value"]) == (
        "OLD-ENDED", "NgayTiepNhan", "20250310083000")
    assert reject["reason"] == ENDED_REASON.replace("20/03/2025 10:00:00", "20250320100000")
    assert _totals(target) == {"received": OWN, "judged": OWN + CARRIED}
