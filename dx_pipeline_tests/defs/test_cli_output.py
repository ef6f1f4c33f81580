"""What `dx-pipeline run` prints at the end: the ranking per peer group, unranked units too."""

import pandas as pd

from dx_pipeline.cli.pipeline import print_ranking
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
    lines = [line for line in capsys.readouterr().out.splitlines() if "(SO-" in line or "(BAN-" in line]
    assert [line.split()[0] for line in lines] == ["1", "2", "-"]
    assert "+1" in lines[0] and "-1" in lines[1]
    assert "Ban Dân tộc (BAN-DT)" in lines[2]
