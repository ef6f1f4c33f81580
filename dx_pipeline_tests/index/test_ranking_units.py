"""The ranking's units part made apart (``units_for_ranking``): the same ranking whether it is
made first or inside ``rank_units``, from Arrow-backed or object columns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.index import load_builtin
from dx_pipeline.index.ranking import rank_units, units_for_ranking


def _units(n: int, arrow: bool) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    codes = [f"Đ{i:03d}" if i % 7 else f"A{i:03d}" for i in rng.permutation(n)]
    groups = np.array(["zeta", "Alpha", "beta", "Ä"], dtype=object)[rng.integers(0, 4, n)]
    names = np.array([f"Tên {c}" if i % 5 else None for i, c in enumerate(codes)], dtype=object)
    frame = pd.DataFrame({"agency_code": np.array(codes, dtype=object), "agency_name": names,
                          "peer_group": groups, "ranked": rng.random(n) > 0.1, "rank_group": groups})
    if not arrow:
        for col in ("agency_code", "agency_name", "peer_group", "rank_group"):
            frame[col] = frame[col].astype(object)
    return frame


@pytest.mark.parametrize("ties", ["shared", "consecutive"])
def test_units_made_first_rank_as_units_made_inside(ties):
    fw = load_builtin("qd766")
    fw = dataclasses.replace(fw, ranking=dataclasses.replace(fw.ranking, ties=ties))
    rng = np.random.default_rng(9)
    arrow, plain = _units(60, True), _units(60, False)
    assert isinstance(arrow["agency_code"].array, pd.arrays.ArrowStringArray)
    assert arrow["agency_code"].dtype != plain["agency_code"].dtype
    totals = pd.Series(np.round(rng.integers(0, 8, 60) * 0.25, 2), index=arrow["agency_code"])
    most = pd.Series(np.where(rng.random(60) < 0.05, 0.0, 2.0), index=arrow["agency_code"])
    inside = rank_units(fw, plain, totals, most)
    first = rank_units(fw, arrow, totals, most, prepared=units_for_ranking(fw, arrow))
    pd.testing.assert_frame_equal(first, inside, check_exact=True)
    assert inside["rank"].notna().any() and inside["rank"].isna().any()
    assert inside["agency_name"].isna().any()
    # the order, by Python's own comparisons: ranking group, rank (unranked last), agency code
    keys = [(g, np.inf if pd.isna(r) else r, c)
            for g, r, c in zip(first["peer_group"], first["rank"], first["agency_code"], strict=True)]
    assert keys == sorted(keys)
    # each rank as the rule says, within the group
    for _, g in first.dropna(subset=["rank"]).groupby("peer_group"):
        pts = g["total_points"].tolist()
        if ties == "shared":
            assert g["rank"].tolist() == [1 + sum(x > p for x in pts) for p in pts]
        else:
            assert sorted(g["rank"].tolist()) == list(range(1, len(g) + 1))
