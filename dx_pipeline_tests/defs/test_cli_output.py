"""What `dx-pipeline run` prints at the end: the ranking per peer group, unranked units too,
under the published revision's state (a computed result is said not to be official)."""

import json

import pandas as pd

from dx_pipeline.cli.pipeline import print_ranking
from dx_pipeline.publish.layout import period_dir
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, write_partition

Q = Quarter.parse("2025-Q2")


def test_ranking_lists_ranked_units_first_and_shows_unranked_ones_with_a_dash(tmp_path, capsys):
    home = DxHome(str(tmp_path))  # a plain string works as well as a Path
    rows = pd.DataFrame({
        "framework_id": ["dti_department"] * 3,
        "peer_group": ["department"] * 3,
        "agency_code": ["SO-TP", "BAN-DT", "SO-YT"],
        "agency_name": ["Sở Tư pháp", "Ban Dân tộc", "Sở Y tế"],
        "total_points": [700.0, 650.0, 800.0],
        "max_points": [1000.0] * 3,
        "rank": pd.array([2, None, 1], dtype="Int32"),
        "band": ["Khá", "Trung bình", "Tốt"],
        "previous_rank": pd.array([1, None, 2], dtype="Int32"),
        "rank_change": pd.array([-1, None, 1], dtype="Int32"),
        "revision": [1] * 3,
        "published_at": pd.Timestamp("2025-07-16 02:00"),
    })
    write_partition(home, "ranking_snapshot", Q, rows)
    print_ranking(home, Q, top=10)
    out = capsys.readouterr().out
    assert "revision 1: trạng thái / status unknown: revision 1 is not in the published folder" in out
    lines = [line for line in out.splitlines() if "(SO-" in line or "(BAN-" in line]
    assert [line.split()[0] for line in lines] == ["1", "2", "-"]
    assert "+1" in lines[0] and "-1" in lines[1]
    assert "Ban Dân tộc (BAN-DT)" in lines[2]


def test_the_ranking_says_its_revision_is_computed_and_not_an_official_ranking(tmp_path, capsys):
    home = DxHome(tmp_path)
    rows = pd.DataFrame({
        "framework_id": ["dti_department"], "peer_group": ["department"], "agency_code": ["SO-YT"],
        "agency_name": ["Sở Y tế"], "total_points": [800.0], "max_points": [1000.0],
        "rank": pd.array([1], dtype="Int32"), "band": ["Tốt"],
        "previous_rank": pd.array([None], dtype="Int32"),
        "rank_change": pd.array([None], dtype="Int32"), "revision": [2],
        "published_at": pd.Timestamp("2025-07-16 02:00"),
    })
    write_partition(home, "ranking_snapshot", Q, rows)
    for revision, status in ((1, "final"), (2, "computed")):  # the newest is what the table holds
        folder = period_dir(home, Q) / f"rev={revision}"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({"status": status}), encoding="utf-8")
    print_ranking(home, Q)
    out = capsys.readouterr().out
    assert ("2025-Q2 lần công bố / revision 2: trạng thái / status computed: Kết quả tính toán, chưa thẩm "
            "định / computed, not yet appraised") in out
    assert "Not an official ranking (not approved)." in out
    assert "Xếp hạng / Ranking 2025-Q2 [computed] — dti_department — department (1 units)" in out
